/**
 * Real-dockerd fixtures for the Docker observer tests: a local busybox image (nothing can
 * be pulled here), labelled host-network containers that are always removed, a tap on the
 * events stream to simulate a dropped connection, and a daemon that never answers.
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type Dockerode from "dockerode";
import { errorMessage } from "../../../src/errors.js";
import {
  createDockerClient,
  describeDockerEndpoint,
  resolveDockerEndpoint,
} from "../../../src/observe/docker/client.js";
import type { ObserverLogger } from "../../../src/observe/docker/observer.js";
import type { DockerObserverEvent } from "../../../src/observe/types.js";

const run = promisify(execFile);

export const TEST_IMAGE = "steward-test/busybox:latest";
const BUSYBOX = "/bin/busybox";
const APPLETS = ["sh", "sleep", "cat", "echo", "true", "false"];
const TEST_LABEL = "steward.test";
const SUITE_LABEL = "steward.test.suite";
const PID_LABEL = "steward.test.pid";

export interface RecordedEvent {
  /** performance.now() when the listener got it. */
  at: number;
  event: DockerObserverEvent;
}

/** Keeps log lines in memory (tests never assert on them); STEWARD_TEST_LOGS=1 prints them. */
export function recordingLogger(): ObserverLogger & { lines: string[] } {
  const lines: string[] = [];
  const log =
    (level: string) =>
    (message: string, meta?: Record<string, unknown>): void => {
      const line = `${level} ${message} ${meta ? JSON.stringify(meta) : ""}`;
      lines.push(line);
      if (process.env["STEWARD_TEST_LOGS"]) console.log(line);
    };
  return { lines, info: log("info"), warn: log("warn"), debug: log("debug") };
}

export class DockerFixture {
  readonly docker = createDockerClient();
  readonly image = TEST_IMAGE;
  private readonly created = new Set<string>();
  private readonly prefix: string;

  constructor(private readonly suite: string) {
    this.prefix = `steward-test-${suite}-${process.pid}`;
  }

  name(short: string): string {
    return `${this.prefix}-${short}`;
  }

  /** Fails (never skips) with how to start dockerd when it is not reachable. */
  async setUp(): Promise<void> {
    const endpoint = describeDockerEndpoint(resolveDockerEndpoint(process.env["DOCKER_HOST"]));
    try {
      await Promise.race([
        this.docker.ping(),
        new Promise((_resolve, reject) => setTimeout(() => reject(new Error("no answer within 5 s")), 5_000).unref()),
      ]);
    } catch (err) {
      throw new Error(
        `dockerd is not reachable at ${endpoint}: ${errorMessage(err)}. ` +
          "Start it with `bash scripts/engines.sh up` (dockerd --bridge=none --iptables=false), then re-run.",
        { cause: err },
      );
    }
    await this.ensureImage();
    await this.removeLeftovers();
  }

  async run(short: string, options: Partial<Dockerode.ContainerCreateOptions>): Promise<Dockerode.Container> {
    const container = await this.docker.createContainer({
      Image: TEST_IMAGE,
      ...options,
      name: this.name(short),
      Labels: { ...options.Labels, [TEST_LABEL]: "true", [SUITE_LABEL]: this.suite, [PID_LABEL]: String(process.pid) },
      HostConfig: { ...options.HostConfig, NetworkMode: "host" },
    });
    this.created.add(container.id);
    await container.start();
    return container;
  }

  async tearDown(): Promise<void> {
    await Promise.all([...this.created].map((id) => this.remove(id)));
    this.created.clear();
  }

  /** A unix socket that accepts connections and never answers: a hung daemon. */
  async hungDaemon(): Promise<{ socketPath: string; close(): Promise<void> }> {
    const dir = await mkdtemp(join(tmpdir(), "steward-hung-"));
    const socketPath = join(dir, "docker.sock");
    const sockets = new Set<Socket>();
    const server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return {
      socketPath,
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => server.close(resolve));
        await rm(dir, { recursive: true, force: true });
      },
    };
  }

  private async remove(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }

  /** Containers this suite left behind in a run that crashed (another pid). */
  private async removeLeftovers(): Promise<void> {
    const stale = await this.docker.listContainers({ all: true, filters: { label: [`${SUITE_LABEL}=${this.suite}`] } });
    await Promise.all(stale.filter((c) => c.Labels[PID_LABEL] !== String(process.pid)).map((c) => this.remove(c.Id)));
  }

  /** `docker import` of a rootfs with static busybox: a few hundred ms, no registry. */
  private async ensureImage(): Promise<void> {
    try {
      await this.docker.getImage(TEST_IMAGE).inspect();
      return;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
    const dir = await mkdtemp(join(tmpdir(), "steward-busybox-"));
    try {
      const root = join(dir, "root");
      await mkdir(join(root, "bin"), { recursive: true });
      await copyFile(BUSYBOX, join(root, "bin", "busybox"));
      await chmod(join(root, "bin", "busybox"), 0o755);
      await Promise.all(APPLETS.map((applet) => symlink("busybox", join(root, "bin", applet))));
      const tar = join(dir, "rootfs.tar");
      await run("tar", ["--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", tar, "."]);
      await run("docker", ["import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin", tar, TEST_IMAGE]);
    } catch (err) {
      throw new Error(
        `building ${TEST_IMAGE} from ${BUSYBOX} failed (is busybox-static installed?): ${errorMessage(err)}`,
        { cause: err },
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

type EventStream = NodeJS.ReadableStream & { destroy?: () => void };

type Inspect = (options?: Dockerode.ContainerInspectOptions) => Promise<Dockerode.ContainerInspectInfo>;

/**
 * A client whose events stream the test can cut (`destroyCurrent`) and refuse to reopen
 * (`outage`), and whose inspects can be made stale (`holdInspects`), so races are staged
 * against the real daemon without a test hook in the observer.
 */
export class EventsTap {
  readonly docker: Dockerode = createDockerClient();
  readonly calls: Dockerode.GetEventsOptions[] = [];
  /** Ids whose inspect answer was read and is being held back. */
  readonly heldInspects: string[] = [];
  /** The bytes the observer's stream listener was handed, each chunk once it returned: what it has seen. */
  readonly delivered: string[] = [];
  outage = false;
  private current: EventStream | undefined;
  private hold: { promise: Promise<void>; release: () => void } | undefined;
  private holdingNew = false;

  constructor(real: Dockerode) {
    const getEvents = async (options?: Dockerode.GetEventsOptions): Promise<EventStream> => {
      this.calls.push({ ...options });
      if (this.outage) throw new Error("simulated outage: the daemon refuses the events stream");
      this.current = this.recordDeliveries(await real.getEvents(options));
      return this.current;
    };
    this.docker.getEvents = getEvents as Dockerode["getEvents"];
    this.docker.getContainer = (id: string): Dockerode.Container => {
      const container = real.getContainer(id);
      const inspect = container.inspect.bind(container) as Inspect;
      const held: Inspect = async (options) => {
        const hold = this.holdingNew ? this.hold : undefined;
        const info = await inspect(options);
        if (hold) {
          this.heldInspects.push(id);
          await hold.promise;
        }
        return info;
      };
      container.inspect = held as Dockerode.Container["inspect"];
      return container;
    };
  }

  /** Complete event lines the observer has handled, parsed. */
  deliveredEvents(): { id?: string; Action?: string }[] {
    return this.delivered
      .join("")
      .split("\n")
      .slice(0, -1)
      .flatMap((line) => (line.trim() === "" ? [] : [JSON.parse(line) as { id?: string; Action?: string }]));
  }

  /** Wraps each "data" listener so that `delivered` grows after the listener has run. */
  private recordDeliveries(stream: EventStream): EventStream {
    const on = stream.on.bind(stream);
    stream.on = ((event: string, listener: (...args: unknown[]) => void) =>
      event === "data"
        ? on(event, (chunk: unknown) => {
            listener(chunk);
            this.delivered.push(String(chunk));
          })
        : on(event, listener)) as EventStream["on"];
    return stream;
  }

  destroyCurrent(): void {
    this.current?.destroy?.();
  }

  /** Inspects started from now on read the daemon at once but answer only at release. */
  holdInspects(): void {
    let release = (): void => undefined;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.hold = { promise, release };
    this.holdingNew = true;
  }

  /** Inspects started from now on answer at once; those already held stay held. */
  stopHoldingNew(): void {
    this.holdingNew = false;
  }

  releaseInspects(): void {
    this.hold?.release();
    this.hold = undefined;
    this.holdingNew = false;
  }
}
