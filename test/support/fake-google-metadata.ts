/**
 * A scripted stand-in for the Google Compute Engine metadata server, the end of Google's
 * Application Default Credentials chain (what GKE Workload Identity serves pods). Steward
 * is started with GCE_METADATA_HOST pointing here, so the real google-auth-library finds
 * it, checks its Metadata-Flavor header, and asks it for the project and an access token.
 * Every request must carry `Metadata-Flavor: Google`, as the real server requires.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class FakeGoogleMetadata {
  /** The paths asked for, in order. */
  readonly requests: string[] = [];
  /** Tokens issued so far; the last is what a Vertex request must carry. */
  readonly tokens: string[] = [];
  private server: Server | undefined;

  constructor(readonly project = "steward-test-project") {}

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const path = (req.url ?? "").split("?")[0] ?? "";
      this.requests.push(path);
      const reply = (status: number, body: string, type = "text/plain"): void => {
        res.writeHead(status, { "metadata-flavor": "Google", "content-type": type });
        res.end(body);
      };
      if (req.headers["metadata-flavor"] !== "Google") return reply(403, "Missing Metadata-Flavor: Google header");
      if (path === "/computeMetadata/v1/instance" || path === "/computeMetadata/v1/instance/") return reply(200, "");
      if (path === "/computeMetadata/v1/project/project-id") return reply(200, this.project);
      if (path === "/computeMetadata/v1/universe/universe-domain") return reply(200, "googleapis.com");
      if (path === "/computeMetadata/v1/instance/service-accounts/default/token") {
        const token = `ya29.fake-${randomBytes(12).toString("hex")}`;
        this.tokens.push(token);
        return reply(
          200,
          JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }),
          "application/json",
        );
      }
      if (path.startsWith("/computeMetadata/v1/instance/service-accounts/default/email"))
        return reply(200, "steward@steward-test-project.iam.gserviceaccount.com");
      return reply(404, "not found");
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  lastToken(): string | undefined {
    return this.tokens.at(-1);
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
