/**
 * A real HTTP receiver on 127.0.0.1 standing in for Slack, PagerDuty or any webhook
 * endpoint: it records every request (method, path, headers, body) and answers from a
 * script (status, headers, body per request; the last answer repeats), or holds a request
 * unanswered. It can be stopped and started again on the same port to play a sink that is down.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ReceiverAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Record the request but never answer it (until stop): a sink that took it and has not acknowledged it yet. */
  hold?: boolean;
}

export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  private server: Server | undefined;
  private port = 0;
  private answered = 0;

  constructor(private answers: ReceiverAnswer[] = [{ status: 200, body: "ok" }]) {}

  /** Replaces the script; counting starts again. */
  script(answers: ReceiverAnswer[]): void {
    this.answers = answers;
    this.answered = 0;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        this.requests.push({
          method: req.method ?? "",
          path: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          at: Date.now(),
        });
        const answer = this.answers[Math.min(this.answered, this.answers.length - 1)] ?? { status: 200 };
        this.answered += 1;
        if (answer.hold) return;
        res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
        res.end(answer.body ?? "");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The parsed JSON bodies of the requests to `path`. */
  bodies<T = unknown>(path?: string): T[] {
    return this.requests.filter((r) => path === undefined || r.path === path).map((r) => JSON.parse(r.body) as T);
  }
}
