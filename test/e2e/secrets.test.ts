import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { containerState, docker } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { writeManifest } from "../support/desired-states.js";
import { FakeMessagesServer, lastToolResults, text, toolUse, type RecordedRequest } from "../support/fake-anthropic.js";
import { listRemediations } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * Secrets never leave Steward: a container whose environment, labels and logs hold an
 * Anthropic key, a bearer token, URL credentials, a password pair, a PEM private key and an
 * opaque value; Steward given its own API key; a remediation with evidence, an agent session
 * (inspect, logs, a denied shell read, an approved start) and a verified Resolved. Then
 * everything Steward wrote is scanned for every secret: its logs (debug level), every file
 * in its state dir, /metrics, the CLI's output, and every request body it sent to the model.
 */

const id = randomBytes(4).toString("hex");
const hex = (n: number): string => randomBytes(n).toString("hex");
const container = `steward-secrets-${id}`;
const USAGE = { input_tokens: 500, output_tokens: 50, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 };

const pemBody = [hex(24), hex(24), hex(24)].map((h) => Buffer.from(h).toString("base64"));
const secrets = {
  anthropicKey: `sk-ant-api03-${hex(20)}`,
  bearer: `eyJ${hex(16)}.${hex(16)}.${hex(12)}`,
  urlPassword: `pw${hex(10)}`,
  labelPassword: `lbl${hex(10)}`,
  password: `hunter${hex(8)}`,
  opaque: `opaque${hex(10)}`,
  pem: `-----BEGIN RSA PRIVATE KEY-----\n${pemBody.join("\n")}\n-----END RSA PRIVATE KEY-----`,
  stewardKey: `sk-ant-api03-${hex(24)}-steward`,
};
/** What must never appear: every secret, and the distinctive parts of the composite ones. */
const FORBIDDEN: [string, string][] = [
  ["the container's Anthropic key", secrets.anthropicKey],
  ["the bearer token", secrets.bearer],
  ["the URL password", secrets.urlPassword],
  ["the label's URL password", secrets.labelPassword],
  ["the password= value", secrets.password],
  ["the opaque env value", secrets.opaque],
  ...pemBody.map((line, i): [string, string] => [`PEM line ${i + 1}`, line]),
  ["Steward's own API key", secrets.stewardKey],
  ["Steward's API key without its prefix", secrets.stewardKey.slice("sk-ant-api03-".length)],
];

function assertClean(where: string, text: string): void {
  for (const [what, value] of FORBIDDEN) assert.ok(!text.includes(value), `${what} appears in ${where}`);
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe("secrets never in any output (end to end)", () => {
  const state = { dir: "", manifests: "" };
  let steward: StewardProcess;
  let fake: FakeMessagesServer;
  let remediation = "";

  before(async () => {
    state.dir = await tempStateDir();
    state.manifests = await tempStateDir();
    const script = [
      'echo "connecting with key $API_KEY"',
      'echo "Authorization: $AUTH_HEADER"',
      'echo "db=$DATABASE_URL"',
      'echo "password=$DB_PASSWORD"',
      'echo "$TLS_KEY"',
      'echo "opaque value $OPAQUE"',
      "exec sleep 3600",
    ].join("; ");
    await docker(
      "run",
      "-d",
      "--name",
      container,
      "--label",
      `steward-e2e=${id}`,
      "--label",
      `steward.test=true`,
      "--label",
      `com.example.dsn=postgres://report:${secrets.labelPassword}@db/reports`,
      "--network",
      "none",
      "-e",
      `API_KEY=${secrets.anthropicKey}`,
      "-e",
      `AUTH_HEADER=Bearer ${secrets.bearer}`,
      "-e",
      `DATABASE_URL=postgres://admin:${secrets.urlPassword}@db:5432/app`,
      "-e",
      `DB_PASSWORD=${secrets.password}`,
      "-e",
      `TLS_KEY=${secrets.pem}`,
      "-e",
      `OPAQUE=${secrets.opaque}`,
      "--entrypoint",
      "/bin/sh",
      "steward-demo/etcd:3.4",
      "-c",
      script,
    );
    await waitFor(
      async () => (await docker("logs", container)).includes("opaque value"),
      10_000,
      "the container to print its secrets",
    );
    fake = new FakeMessagesServer([
      {
        content: [
          text("Reading the container's configuration and logs."),
          toolUse("docker_inspect", { container }, "toolu_inspect"),
          toolUse("docker_logs", { container, tail: 50 }, "toolu_logs"),
          toolUse("shell", { argv: ["docker", "inspect", container] }, "toolu_shell"),
        ],
        stop_reason: "tool_use",
        usage: USAGE,
      },
      {
        content: [text("It was stopped; starting it."), toolUse("docker_start", { container }, "toolu_start")],
        stop_reason: "tool_use",
        usage: USAGE,
      },
      { content: [toolUse("resolve", { summary: `started ${container}` })], stop_reason: "tool_use", usage: USAGE },
    ]);
    const baseURL = await fake.start();
    const manifest = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: secrets}
spec:
  target: {docker: {selector: {steward-e2e: "${id}"}}}
  interval: 2s
  services:
    - {name: ${container}}
  remediation:
    simpleFixes: []
    agent: {mode: approve, policyRef: default, maxAttempts: 1}
    cooldown: 0s
`;
    const applied = await cli(state.dir, "apply", "-f", await writeManifest(state.manifests, "ds.yaml", manifest));
    assert.equal(applied.code, 0, applied.stderr);
    steward = new StewardProcess(state.dir, ["--verify-timeout", "5s"], {
      ANTHROPIC_API_KEY: secrets.stewardKey,
      ANTHROPIC_BASE_URL: baseURL,
    });
    await steward.start();
    await waitFor(
      async () => (await cli(state.dir, "get", "ds", "secrets")).stdout.includes("True"),
      30_000,
      "secrets Ready",
    );
    await docker("stop", "-t", "1", container);
    remediation = await waitFor(
      async () => {
        const [r] = await listRemediations(state.dir);
        return r?.status?.phase === "AwaitingApproval" ? r.metadata.name : undefined;
      },
      45_000,
      "a remediation awaiting approval of the start",
    );
    const approved = await cli(state.dir, "approve", remediation, "--as", "dana");
    assert.equal(approved.code, 0, approved.stderr);
    await waitFor(async () => (await listRemediations(state.dir))[0]?.status?.phase === "Resolved", 45_000, "Resolved");
    assert.equal(await containerState(container), "running");
  });

  after(async () => {
    await steward?.stop();
    await fake?.close();
    await docker("rm", "-f", container).catch(() => undefined);
  });

  it("the scenario really carried the secrets: evidence and tool results were sent, redacted", () => {
    const first = fake.requests[0];
    assert.ok(first?.body, first?.problem);
    const incident = JSON.stringify(first.body.messages[0]);
    assert.match(incident, /connecting with key \[REDACTED\]/, "the evidence's log lines reached the model, redacted");
    assert.match(incident, /opaque value \[REDACTED\]/, "an env value printed in the logs is redacted in the evidence");
    const results = lastToolResults(fake.requests[1] as RecordedRequest);
    const byId = new Map(results.map((r) => [r.toolUseId, r]));
    assert.match(byId.get("toolu_inspect")?.text ?? "", /"API_KEY=\[REDACTED\]"/);
    assert.match(byId.get("toolu_logs")?.text ?? "", /password=\[REDACTED\]/);
    assert.equal(
      byId.get("toolu_shell")?.isError,
      true,
      "the default policy sends shell docker inspect to the typed tool",
    );
    assert.equal(fake.requests.length, 3);
  });

  it("nothing Steward sent to the Messages API holds a secret; its key travels only in the authentication header", () => {
    // The SDK sends an API key as `authorization: Bearer …` (older SDKs: `x-api-key`).
    const AUTH = new Set(["authorization", "x-api-key"]);
    for (const [i, request] of fake.requests.entries()) {
      assertClean(`request ${i + 1}'s body`, request.rawBody);
      assert.ok(
        [request.headers.authorization, request.headers["x-api-key"]].some(
          (v) => v === secrets.stewardKey || v === `Bearer ${secrets.stewardKey}`,
        ),
        "the key authenticates the request",
      );
      const otherHeaders = Object.entries(request.headers).filter(([name]) => !AUTH.has(name));
      assertClean(`request ${i + 1}'s other headers`, JSON.stringify(otherHeaders));
    }
  });

  it("Steward's own logs (stdout and stderr, debug level) hold none", () => {
    assert.ok(
      steward.logs.some((l) => l.includes("remediation opened")),
      "the logs cover the incident",
    );
    assertClean("steward run's logs", steward.logs.join("\n"));
  });

  it("no file in the state dir (resources, sessions, audit trail) holds one", async () => {
    const files = await filesUnder(state.dir);
    assert.ok(
      files.some((f) => f.includes(`${join("audit", "default")}`)),
      "an audit trail was written",
    );
    assert.ok(
      files.some((f) => f.includes(`${join("sessions", "default")}`)),
      "a session was written",
    );
    for (const file of files) assertClean(file, await readFile(file, "utf8"));
  });

  it("/metrics, /healthz and /readyz hold none", async () => {
    for (const path of ["/metrics", "/healthz", "/readyz"]) {
      assertClean(path, await (await fetch(`http://${steward.metricsAddress}${path}`)).text());
    }
  });

  it("neither does any CLI output: get -o yaml|json|wide, describe, logs, audit verify", async () => {
    const commands = [
      ["get", "ds", "-o", "yaml"],
      ["get", "ds", "secrets", "-o", "json"],
      ["get", "rem", "-o", "yaml"],
      ["get", "rem", "-o", "json"],
      ["get", "rem", "-o", "wide"],
      ["describe", "ds", "secrets"],
      ["describe", "rem", remediation],
      ["logs", remediation],
      ["audit", "verify", remediation],
      ["get", "ds", "-o", "wide"],
    ];
    for (const args of commands) {
      const out = await cli(state.dir, ...args);
      assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
      assertClean(`steward ${args.join(" ")}`, `${out.stdout}\n${out.stderr}`);
    }
    const described = await cli(state.dir, "describe", "rem", remediation);
    assert.match(described.stdout, /\[REDACTED\]/, "describe shows the evidence, redacted");
  });
});
