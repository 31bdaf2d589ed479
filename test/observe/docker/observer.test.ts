/**
 * The Docker observer and actions against the real dockerd (never a mock): containers are
 * created from a tiny local busybox image, on host networking, labelled and removed after.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type Dockerode from "dockerode";
import { DockerodeActions } from "../../../src/act/docker.js";
import {
  createDockerClient,
  describeDockerEndpoint,
  resolveDockerEndpoint,
} from "../../../src/observe/docker/client.js";
import { DockerEventObserver } from "../../../src/observe/docker/observer.js";
import type { EventStream } from "../../../src/observe/docker/event-stream.js";
import type { ContainerSnapshot, DockerObserverEvent } from "../../../src/observe/types.js";
import { waitFor } from "../../../scripts/lib/wait.js";
import { DockerFixture, EventsTap, recordingLogger, type RecordedEvent } from "./docker-fixture.js";

const fixture = new DockerFixture("observer");
let observer: DockerEventObserver;
const recorded: RecordedEvent[] = [];

/** Waits until the cached snapshot of `id` satisfies `done`; the failure shows the last one. */
async function waitForContainer(
  id: string,
  done: (c: ContainerSnapshot | undefined) => boolean,
  timeoutMs: number,
  description: string,
): Promise<ContainerSnapshot | undefined> {
  let last: ContainerSnapshot | undefined;
  try {
    await waitFor(() => done((last = observer.containers().find((c) => c.id === id))), timeoutMs, description);
  } catch (err) {
    throw new Error(`${(err as Error).message}; last snapshot: ${JSON.stringify(last)}`);
  }
  return last;
}

void describe("DockerEventObserver against the real dockerd", () => {
  before(async () => {
    await fixture.setUp();
    observer = new DockerEventObserver({ docker: fixture.docker, logger: recordingLogger() });
    observer.subscribe((event) => recorded.push({ at: performance.now(), event }));
    // A throwing listener must not stop the others or the observer.
    observer.subscribe(() => {
      throw new Error("listener bug");
    });
    await observer.start();
  });
  after(async () => {
    await observer?.close();
    await fixture.tearDown();
  });

  void it("is synced and connected once start() resolves", () => {
    assert.equal(observer.synced(), true);
    assert.equal(observer.connection().state, "connected");
    assert.ok(recorded.some((r) => r.event.type === "resynced"));
  });

  void it("shows a started container as running, with its labels and compose project, within 2 s", async () => {
    const labels = { "com.docker.compose.project": "obs", "com.docker.compose.service": "web" };
    const container = await fixture.run("web", { Cmd: ["sleep", "300"], Labels: labels });
    const seen = await waitForContainer(
      container.id,
      (c) => c?.state === "running",
      2_000,
      "the container to be running",
    );
    assert.equal(seen?.project, "obs");
    assert.equal(seen?.service, "web");
    assert.equal(seen?.labels["steward.test"], "true");
    assert.equal(seen?.name, fixture.name("web"));
    assert.equal(seen?.image, fixture.image);
    assert.ok(seen?.startedAt);
  });

  void it("observes `docker kill` as exited with code 137, and reports the previous snapshot", async (t) => {
    const container = await fixture.run("killed", { Cmd: ["sleep", "300"] });
    await waitForContainer(container.id, (c) => c?.state === "running", 2_000, "running before the kill");
    const killedAt = performance.now();
    await container.kill();
    const seen = await waitForContainer(container.id, (c) => c?.state === "exited", 2_000, "exited after the kill");
    const event = recorded.find(
      (r) =>
        r.at >= killedAt &&
        r.event.type === "container" &&
        r.event.id === container.id &&
        r.event.snapshot?.state === "exited",
    );
    assert.equal(seen?.exitCode, 137);
    assert.ok(seen?.finishedAt);
    assert.ok(event && event.event.type === "container");
    assert.equal(event.event.previous?.state, "running");
    t.diagnostic(`kill → exited observed after ${(event.at - killedAt).toFixed(1)} ms`);
    console.log(`detection latency (docker kill → cache exited): ${(event.at - killedAt).toFixed(1)} ms`);
  });

  void it("follows a failing healthcheck to unhealthy, then drops the container when it is removed", async () => {
    const container = await fixture.run("sick", {
      Cmd: ["sleep", "300"],
      Healthcheck: { Test: ["CMD-SHELL", "exit 1"], Interval: 200e6, Timeout: 1e9, Retries: 1 },
    });
    await waitForContainer(container.id, (c) => c?.health === "unhealthy", 5_000, "health unhealthy");
    await container.remove({ force: true });
    await waitForContainer(container.id, (c) => c === undefined, 2_000, "the removed container to leave the cache");
    assert.ok(recorded.some((r) => r.event.type === "container" && r.event.id === container.id && !r.event.snapshot));
  });

  void it("records exit code 1 of a bad command, and logs() returns its stderr", async () => {
    const container = await fixture.run("bad", { Cmd: ["cat", "/does-not-exist"] });
    await waitForContainer(container.id, (c) => c?.state === "exited" && c.exitCode === 1, 2_000, "exited with 1");
    const lines = await new DockerodeActions(fixture.docker).logs(fixture.name("bad"), 10);
    assert.deepEqual(lines, ["cat: can't open '/does-not-exist': No such file or directory"]);
  });

  for (const tty of [false, true]) {
    void it(`logs() with tail 3 returns exactly the last 3 of 10 lines (${tty ? "TTY" : "multiplexed"} output)`, async () => {
      const container = await fixture.run(`ten-${tty}`, {
        // stdout only: Docker copies stdout and stderr on separate pipes, so their relative
        // order in the log is not guaranteed for lines written microseconds apart.
        Cmd: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do echo line-$i; done"],
        Tty: tty,
      });
      await waitForContainer(container.id, (c) => c?.state === "exited", 2_000, "the printer to finish");
      const actions = new DockerodeActions(fixture.docker);
      assert.deepEqual(await actions.logs(container.id, 3), ["line-8", "line-9", "line-10"]);
      assert.deepEqual(await actions.logs(container.id, 0), []);
      assert.deepEqual(
        await actions.logs(container.id, 100),
        Array.from({ length: 10 }, (_, i) => `line-${i + 1}`),
      );
    });
  }

  void it("start() treats an already running container as success and starts a stopped one", async () => {
    const actions = new DockerodeActions(fixture.docker);
    const container = await fixture.run("startable", { Cmd: ["sleep", "300"] });
    await actions.start(container.id);
    await container.kill();
    await waitForContainer(container.id, (c) => c?.state === "exited", 2_000, "killed");
    await actions.start(fixture.name("startable"));
    await waitForContainer(container.id, (c) => c?.state === "running", 2_000, "running again after start()");
  });

  void it("restart() restarts within the container's stop timeout", async () => {
    const actions = new DockerodeActions(fixture.docker);
    const container = await fixture.run("restartable", { Cmd: ["sleep", "300"], StopTimeout: 1 });
    const first = await waitForContainer(container.id, (c) => c?.state === "running", 2_000, "running");
    await actions.restart(container.id);
    await waitForContainer(
      container.id,
      (c) => c?.state === "running" && c.startedAt !== first?.startedAt,
      2_000,
      "a new start time after restart()",
    );
  });

  void it("rejects actions on a container that does not exist, naming the step", async () => {
    const actions = new DockerodeActions(fixture.docker);
    await assert.rejects(
      actions.start("steward-test-no-such-container"),
      /^StewardError: start container steward-test-no-such-container: .*no such container/i,
    );
    await assert.rejects(
      actions.logs("steward-test-no-such-container", 5),
      /logs of container steward-test-no-such-container: inspect: .*no such container/i,
    );
  });
});

void describe("DockerEventObserver after a dropped events stream", () => {
  let tap: EventsTap;
  let reconnecting: DockerEventObserver;
  const events: DockerObserverEvent[] = [];

  before(async () => {
    await fixture.setUp();
    tap = new EventsTap(createDockerClient());
    reconnecting = new DockerEventObserver({
      docker: tap.docker,
      logger: recordingLogger(),
      backoff: { baseMs: 100, maxMs: 400 },
    });
    reconnecting.subscribe((event) => events.push(event));
    await reconnecting.start();
  });
  after(async () => {
    await reconnecting?.close();
    await fixture.tearDown();
  });

  const find = (id: string): ContainerSnapshot | undefined => reconnecting.containers().find((c) => c.id === id);

  void it("re-lists everything after reconnecting, passing `since`, and reports the connection", async () => {
    const killed = await fixture.run("r-killed", { Cmd: ["sleep", "300"] });
    const removed = await fixture.run("r-removed", { Cmd: ["sleep", "300"] });
    await waitFor(
      () => find(killed.id)?.state === "running" && find(removed.id)?.state === "running",
      2_000,
      "both running",
    );
    const beforeDrop = Math.floor(Date.now() / 1000);
    const firstCall = events.length;

    tap.outage = true;
    tap.destroyCurrent();
    await waitFor(() => reconnecting.connection().state === "disconnected", 2_000, "disconnected");
    // A stream of the test's own: the daemon published what the observer cannot hear.
    const published = new Set<string>();
    const watcher = (await fixture.docker.getEvents({
      filters: { container: [killed.id, removed.id], event: ["die", "destroy"] },
    })) as EventStream;
    watcher.on("data", (chunk: Buffer) => {
      for (const line of chunk.toString("utf8").split("\n").filter(Boolean))
        published.add((JSON.parse(line) as { Action: string }).Action);
    });
    await killed.kill();
    await removed.remove({ force: true });
    const added = await fixture.run("r-added", { Cmd: ["sleep", "300"] });
    await waitFor(
      () => published.has("die") && published.has("destroy"),
      5_000,
      "the daemon to publish die and destroy",
    );
    watcher.destroy?.();
    // Nothing can update the cache without a stream: it is stale until the re-list.
    assert.equal(find(killed.id)?.state, "running");
    assert.ok(find(removed.id));

    tap.outage = false;
    await waitFor(() => reconnecting.connection().state === "connected", 5_000, "connected again");
    assert.equal(find(killed.id)?.state, "exited");
    assert.equal(find(killed.id)?.exitCode, 137);
    assert.equal(find(removed.id), undefined);
    assert.equal(find(added.id)?.state, "running");

    const states = events.slice(firstCall).flatMap((e) => (e.type === "connection" ? [e.connection.state] : []));
    assert.equal(states[0], "disconnected");
    assert.deepEqual(states.slice(-2), ["connecting", "connected"]);
    const lost = events.slice(firstCall).find((e) => e.type === "connection" && e.connection.state === "disconnected");
    assert.ok(
      lost?.type === "connection" && lost.connection.state === "disconnected" && lost.connection.error.length > 0,
    );
    assert.ok(events.slice(firstCall).some((e) => e.type === "resynced"));
    const since = tap.calls.at(-1)?.since;
    assert.ok(typeof since === "number" && since >= beforeDrop - 1 && since <= Date.now() / 1000, `since=${since}`);
  });

  void it("keeps an event that arrives during the full list (the list's older read must not win)", async () => {
    const victim = await fixture.run("r-during-list", { Cmd: ["sleep", "300"] });
    await waitFor(() => find(victim.id)?.state === "running", 2_000, "the victim running");
    // Reconnecting passes `since` (whole seconds), so the daemon replays that second; a
    // marker container in a later second keeps the victim's own events out of the replay,
    // which would otherwise re-inspect it and hide the race this test stages.
    const victimSecond = Math.floor(Date.parse(find(victim.id)?.startedAt ?? "") / 1000);
    await waitFor(() => Date.now() / 1000 >= victimSecond + 1, 2_000, "a second after the victim's start");
    const marker = await fixture.run("r-marker", { Cmd: ["true"] });
    await waitFor(() => find(marker.id)?.state === "exited", 2_000, "the marker seen");
    const resyncs = events.filter((e) => e.type === "resynced").length;

    tap.holdInspects();
    tap.destroyCurrent();
    await waitFor(() => tap.heldInspects.includes(victim.id), 5_000, "the re-list to have read the victim as running");
    tap.stopHoldingNew();
    await victim.kill();
    // The die reached the observer while its re-list still holds the victim's older read.
    await waitFor(
      () => tap.deliveredEvents().some((e) => e.id === victim.id && e.Action === "die"),
      2_000,
      "the observer to have handled the die",
    );
    tap.releaseInspects();

    await waitFor(() => events.filter((e) => e.type === "resynced").length > resyncs, 2_000, "the re-list to finish");
    await waitFor(
      () => find(victim.id)?.state === "exited",
      2_000,
      "the victim exited, as the event said, not running as the list read",
    );
  });
});

void describe("DockerEventObserver without a daemon", () => {
  void it("rejects start() with how to start dockerd when the socket does not exist", async () => {
    const docker = createDockerClient("unix:///nonexistent/docker.sock");
    const lonely = new DockerEventObserver({ docker, logger: recordingLogger() });
    await assert.rejects(
      lonely.start(),
      /cannot reach the Docker daemon at \/nonexistent\/docker\.sock: .*ENOENT.*bash scripts\/engines\.sh up/,
    );
    await lonely.close();
  });

  void it("rejects start() within its call timeout when the daemon accepts but never answers", async () => {
    const hung = await fixture.hungDaemon();
    try {
      const lonely = new DockerEventObserver({
        docker: createDockerClient(`unix://${hung.socketPath}`),
        logger: recordingLogger(),
        callTimeoutMs: 300,
      });
      const startedAt = Date.now();
      await assert.rejects(lonely.start(), /cannot reach the Docker daemon .*no answer within 300 ms/);
      assert.ok(Date.now() - startedAt < 2_000);
      await lonely.close();
    } finally {
      await hung.close();
    }
  });
});

void describe("createDockerClient", () => {
  const allowed: [string | undefined, string][] = [
    [undefined, "/var/run/docker.sock"],
    ["", "/var/run/docker.sock"],
    ["unix://", "/var/run/docker.sock"],
    ["unix:///run/user/1000/docker.sock", "/run/user/1000/docker.sock"],
    ["tcp://127.0.0.1:2375", "http://127.0.0.1:2375"],
  ];
  for (const [value, endpoint] of allowed) {
    void it(`accepts DOCKER_HOST=${String(value)}`, () => {
      assert.equal(describeDockerEndpoint(resolveDockerEndpoint(value)), endpoint);
      assert.ok(createDockerClient(value));
    });
  }
  for (const value of [
    "tcp://10.0.0.5:2375",
    "tcp://localhost:2375",
    "ssh://me@host",
    "unix://relative.sock",
    "tcp://127.0.0.1:99999",
    "npipe:////./pipe/docker_engine",
  ]) {
    void it(`refuses DOCKER_HOST=${value}: only a unix socket or 127.0.0.1`, () => {
      assert.throws(() => createDockerClient(value), /only over a unix socket or 127\.0\.0\.1/);
    });
  }

  void it("talks to the daemon through the default socket", async () => {
    const docker: Dockerode = createDockerClient();
    assert.ok((await docker.listContainers({ limit: 1 })) instanceof Array);
  });
});
