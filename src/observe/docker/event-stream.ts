/**
 * The events stream as the observer sees it: a byte stream fed to the line splitter until
 * it ends, errors, or its link is aborted — whichever comes first ends it for good.
 */
import { StewardError, wrapError } from "../../errors.js";
import { EventLineSplitter, type SplitResult } from "./event-lines.js";

/** What dockerode's getEvents resolves to: an http.IncomingMessage, typed loosely. */
export type EventStream = NodeJS.ReadableStream & { destroy?: (error?: Error) => void };

/**
 * Feeds complete lines to `onLines` until the stream is lost, then destroys it and
 * resolves (never rejects) with the reason. Aborting `link` ends it; the stream ending
 * aborts `link`, so every call made on the link's behalf stops with it.
 */
export function followEventStream(
  stream: EventStream,
  link: AbortController,
  onLines: (result: SplitResult) => void,
): Promise<unknown> {
  const splitter = new EventLineSplitter();
  return new Promise((resolve) => {
    const finish = (reason: unknown): void => {
      if (!link.signal.aborted) link.abort(reason);
      stream.destroy?.();
      resolve(link.signal.reason);
    };
    stream.on("data", (chunk: Buffer | string) => {
      if (!link.signal.aborted) onLines(splitter.push(chunk));
    });
    // Kept for the stream's lifetime: an 'error' without a listener would crash the process.
    stream.on("error", (err: unknown) => finish(wrapError("docker events stream", err)));
    stream.once("end", () => {
      if (!link.signal.aborted) onLines(splitter.end());
      finish(new StewardError("docker events stream: the daemon ended it"));
    });
    stream.once("close", () => finish(new StewardError("docker events stream: the connection closed")));
    link.signal.addEventListener("abort", () => finish(link.signal.reason), { once: true });
  });
}
