/**
 * The Docker actions Steward takes itself (simple fixes) and the log evidence it gathers,
 * each bounded by a deadline so a hung daemon cannot stall a reconcile.
 */
import type { IncomingMessage } from "node:http";
import type Dockerode from "dockerode";
import { StewardError } from "../errors.js";
import { isContainerReference } from "../api/object-names.js";
import { secretArguments, secretLabelValues } from "../text/redact.js";
import { OPEN_FENCE, type Fence } from "../kube/fence.js";
import type { DockerActions } from "./types.js";
import { DOCKER_CALL_TIMEOUT_MS, statusCodeOf } from "../observe/docker/client.js";
import { withDeadline } from "../resilience/deadline.js";

/** Docker's own stop grace period when the container sets none (`docker stop -t`). */
export const DEFAULT_STOP_SECONDS = 10;
/** `docker logs --tail` counts lines, but a line may be huge; this bounds the memory. */
export const LOGS_MAX_BYTES = 16 * 1024 * 1024;

const FRAME_HEADER_BYTES = 8;

/** `fence` is checked right before each request that changes a container (see Fence). */
export class DockerodeActions implements DockerActions {
  constructor(
    private readonly docker: Dockerode,
    private readonly fence: Fence = OPEN_FENCE,
  ) {}

  async start(nameOrId: string, signal?: AbortSignal): Promise<void> {
    this.fence.check(`start container ${nameOrId}`);
    try {
      await withDeadline(
        `start container ${nameOrId}`,
        DOCKER_CALL_TIMEOUT_MS,
        (s) => this.container(nameOrId).start({ abortSignal: s }),
        signal,
      );
    } catch (err) {
      // 304 Not Modified: it is already running, which is what start asks for.
      if (statusCodeOf(err) === 304) return;
      throw err;
    }
  }

  /**
   * Restarts with the container's own stop grace period (compose `stop_grace_period`),
   * which Docker applies when no `t` is given; the deadline allows for it plus the start.
   */
  async restart(nameOrId: string, signal?: AbortSignal): Promise<void> {
    const container = this.container(nameOrId);
    const info = await withDeadline(
      `restart container ${nameOrId}: inspect`,
      DOCKER_CALL_TIMEOUT_MS,
      (s) => container.inspect({ abortSignal: s }),
      signal,
    );
    const stopSeconds = (info.Config as { StopTimeout?: number }).StopTimeout ?? DEFAULT_STOP_SECONDS;
    this.fence.check(`restart container ${nameOrId}`);
    await withDeadline(
      `restart container ${nameOrId}`,
      stopSeconds * 1000 + DOCKER_CALL_TIMEOUT_MS,
      (s) => container.restart({ abortSignal: s }),
      signal,
    );
  }

  async logs(nameOrId: string, tail: number, signal?: AbortSignal): Promise<string[]> {
    if (!Number.isInteger(tail) || tail < 0) {
      throw new StewardError(`logs of container ${nameOrId}: tail must be a non-negative integer, got ${tail}`);
    }
    if (tail === 0) return [];
    const info = await withDeadline(
      `logs of container ${nameOrId}: inspect`,
      DOCKER_CALL_TIMEOUT_MS,
      (s) => this.container(nameOrId).inspect({ abortSignal: s }),
      signal,
    );
    const body = await withDeadline(
      `logs of container ${nameOrId}`,
      DOCKER_CALL_TIMEOUT_MS,
      (s) => this.rawLogs(info.Id, tail, s),
      signal,
    );
    // A TTY container's log is the raw terminal output; otherwise it is framed per stream.
    const text = (info.Config.Tty ? body : demuxDockerStream(body)).toString("utf8");
    return splitLogLines(text).slice(-tail);
  }

  async secretValues(nameOrId: string, signal?: AbortSignal): Promise<string[]> {
    const info = await withDeadline(
      `secrets of container ${nameOrId}: inspect`,
      DOCKER_CALL_TIMEOUT_MS,
      (s) => this.container(nameOrId).inspect({ abortSignal: s }),
      signal,
    );
    return containerSecretValues(info);
  }

  /**
   * dockerode puts the reference into the URL path as it is: only a valid name or ID gets
   * that far, and encoded (a no-op for a valid one, kept so the path never depends on the check).
   */
  private container(nameOrId: string): Dockerode.Container {
    if (!isContainerReference(nameOrId)) {
      throw new StewardError(
        `not a container name or ID: ${JSON.stringify(nameOrId)} (expected [a-zA-Z0-9][a-zA-Z0-9_.-]+ or 64 hex digits)`,
      );
    }
    return this.docker.getContainer(encodeURIComponent(nameOrId));
  }

  /**
   * dockerode's own logs() (without follow) runs the body through JSON.parse and returns
   * the parsed value when that succeeds, so a TTY container that printed `42` would come
   * back as a number. Dialling as a stream gets the bytes unchanged.
   */
  private rawLogs(id: string, tail: number, signal: AbortSignal): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.docker.modem.dial(
        {
          path: `/containers/${encodeURIComponent(id)}/logs?`,
          method: "GET",
          options: { stdout: true, stderr: true, follow: false, tail },
          isStream: true,
          abortSignal: signal,
          statusCodes: { 200: true, 404: "no such container", 500: "server error" },
        },
        (err, result) => {
          if (err) reject(err);
          else readBounded(result as IncomingMessage, LOGS_MAX_BYTES).then(resolve, reject);
        },
      );
    });
  }
}

async function readBounded(stream: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream) {
    const bytes = chunk as Buffer;
    total += bytes.length;
    if (total > maxBytes) {
      stream.destroy();
      throw new StewardError(`more than ${maxBytes} bytes of logs; ask for fewer lines`);
    }
    chunks.push(bytes);
  }
  return Buffer.concat(chunks);
}

/** What an inspect result holds that is secret by default (see DockerActions.secretValues). */
export function containerSecretValues(
  info: Pick<Dockerode.ContainerInspectInfo, "Path" | "Args"> & {
    Config: { Env?: string[] | null; Labels?: Record<string, string> | null };
  },
): string[] {
  return [
    ...(info.Config.Env ?? []).map((entry) => entry.slice(entry.indexOf("=") + 1)),
    ...secretArguments([info.Path ?? "", ...(info.Args ?? [])]),
    ...secretLabelValues(info.Config.Labels),
  ].filter((value) => value.length > 0);
}

/**
 * Strips Docker's multiplexing: each frame is an 8-byte header (stream type 0/1/2, three
 * zero bytes, big-endian payload length) and the payload. stdout and stderr stay
 * interleaved in the order Docker wrote them. Bytes that do not look like a frame end the
 * framing and are kept as they are, so a misdetected TTY stream is not lost.
 */
export function demuxDockerStream(data: Buffer): Buffer {
  const payloads: Buffer[] = [];
  let offset = 0;
  while (offset < data.length) {
    const type = data[offset];
    const isHeader =
      offset + FRAME_HEADER_BYTES <= data.length &&
      (type === 0 || type === 1 || type === 2) &&
      data[offset + 1] === 0 &&
      data[offset + 2] === 0 &&
      data[offset + 3] === 0;
    if (!isHeader) {
      payloads.push(data.subarray(offset));
      break;
    }
    const length = data.readUInt32BE(offset + 4);
    const start = offset + FRAME_HEADER_BYTES;
    payloads.push(data.subarray(start, Math.min(start + length, data.length)));
    offset = start + length;
  }
  return Buffer.concat(payloads);
}

/** Lines without their newline (and without the `\r` a TTY adds). */
export function splitLogLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n").map((line) => line.replace(/\r$/, ""));
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}
