import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../../scripts/lib/wait.js";
import { APPROVE, APPROVED_BY } from "../../src/api/approvals.js";
import { AgentRemediation } from "../../src/api/remediation.js";
import { ConsoleAuth } from "../../src/console/auth.js";
import { ChangeFeed } from "../../src/console/live.js";
import { ConsoleServer } from "../../src/console/server.js";
import { CachedStore } from "../../src/store/cache.js";
import { FileStore } from "../../src/store/file/file-store.js";

/** The console's HTTP surface against a real file store, no engines: login, CSRF, decisions, the event stream. */

const NAME = "etcd-container-etcd1-x1";
const PAGE = `/remediations/default/${NAME}`;

function awaitingRemediation(): AgentRemediation {
  return AgentRemediation.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: NAME, namespace: "default" },
    spec: {
      desiredStateRef: { name: "etcd" },
      fingerprint: "f",
      reason: "NoSimpleFix",
      mode: "approve",
      drift: [
        {
          type: "ContainerStopped",
          subject: "container/etcd1",
          expected: "running",
          observed: "exited",
          since: "2026-01-01T00:00:00Z",
          evidence: { containers: [{ name: "etcd1", state: "exited", logs: ["<script>alert(1)</script>"] }] },
        },
      ],
    },
    status: {
      phase: "AwaitingApproval",
      openedAt: new Date().toISOString(),
      pendingApproval: [
        {
          id: "toolu_1",
          tool: "docker_start",
          command: ["docker", "start", "etcd1"],
          reason: "ask",
          requestedAt: "2026-01-01T00:00:00Z",
        },
      ],
    },
  });
}

describe("the console's HTTP surface (file store)", () => {
  let store: FileStore;
  let cached: CachedStore;
  let feed: ChangeFeed;
  let server: ConsoleServer;
  let base = "";
  let cookie = "";
  const auth = new ConsoleAuth();

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-console-"));
    store = new FileStore(dir);
    cached = new CachedStore(store);
    feed = new ChangeFeed(cached);
    feed.start();
    await cached.start();
    await store.create(awaitingRemediation());
    server = new ConsoleServer({
      sources: { store: cached, stateDir: dir, namespace: "default", now: () => new Date() },
      store,
      feed,
      auth,
      identity: "alice",
      scope: "file store",
      host: "127.0.0.1",
      port: 0,
    });
    base = await server.start();
  });

  after(async () => {
    await server.close();
    feed.close();
    await cached.close();
  });

  it("refuses everything but the static files without a session, and a wrong token", async () => {
    assert.equal((await fetch(`${base}/`)).status, 401);
    assert.equal((await fetch(`${base}/?token=not-the-token`)).status, 401);
    assert.equal((await fetch(`${base}/events`)).status, 401);
    const css = await fetch(`${base}/static/console.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  });

  it("trades the login token for an HttpOnly, SameSite=Strict session cookie and drops the token from the URL", async () => {
    const res = await fetch(`${base}/?token=${auth.loginToken}`, { redirect: "manual" });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get("location"), "/");
    const setCookie = res.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^steward_console_\d+=[\w-]+; HttpOnly; SameSite=Strict; Path=\/$/);
    cookie = setCookie.split(";")[0] ?? "";
    const overview = await fetch(`${base}/`, { headers: { cookie } });
    assert.equal(overview.status, 200);
    assert.match(overview.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.match(await overview.text(), /Waiting for you/);
  });

  it("renders untrusted text escaped", async () => {
    const page = await (await fetch(`${base}${PAGE}`, { headers: { cookie } })).text();
    assert.ok(!page.includes("<script>alert(1)"), "no raw script tag from the logs");
    assert.ok(page.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  });

  it("a POST without the CSRF token, or from another origin, is refused and writes nothing", async () => {
    const post = (body: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${base}${PAGE}/decision`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie, ...headers },
        body: new URLSearchParams(body),
      });
    assert.equal((await post({ id: "toolu_1", decision: "approve" })).status, 403);
    const csrf = await csrfOf(base, cookie);
    assert.equal(
      (await post({ csrf, id: "toolu_1", decision: "approve" }, { origin: "http://127.0.0.1:1" })).status,
      403,
    );
    assert.equal(
      (await store.get("AgentRemediation", { namespace: "default", name: NAME }))?.metadata.annotations?.[APPROVE],
      undefined,
    );
  });

  it("approves the shown call as the console's identity; again is a no-op; a call not shown is refused as stale", async () => {
    const csrf = await csrfOf(base, cookie);
    const post = (id: string): Promise<Response> =>
      fetch(`${base}${PAGE}/decision`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie },
        body: new URLSearchParams({ csrf, id, decision: "approve" }),
      });
    const stale = await post("toolu_2");
    assert.equal(stale.status, 409);
    assert.match(await stale.text(), /out of date.*toolu_2.*waiting now: toolu_1/s);
    const first = await post("toolu_1");
    assert.equal(first.status, 303);
    assert.equal(first.headers.get("location"), `${PAGE}?done=approved`);
    const annotations = (await store.get("AgentRemediation", { namespace: "default", name: NAME }))?.metadata
      .annotations;
    assert.equal(annotations?.[APPROVE], "toolu_1");
    assert.equal(annotations?.[APPROVED_BY], "alice");
    const second = await post("toolu_1");
    assert.equal(second.headers.get("location"), `${PAGE}?done=already`);
  });

  it("the event stream says 'change' when the store changes", async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/events?page=${encodeURIComponent(PAGE)}`, {
      headers: { cookie },
      signal: controller.signal,
    });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let received = "";
    const read = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        received += Buffer.from(value).toString("utf8");
      }
    };
    const reading = read().catch(() => undefined);
    await waitFor(() => received.includes("event: change\ndata: 1\n"), 2_000, "the first change event");
    await store.annotate("AgentRemediation", { namespace: "default", name: NAME }, { note: "x" });
    await waitFor(() => received.includes("event: change\ndata: 2\n"), 2_000, "a change event after a write");
    controller.abort();
    await reading;
  });
});

async function csrfOf(base: string, cookie: string): Promise<string> {
  const page = await (await fetch(`${base}${PAGE}`, { headers: { cookie } })).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, "the page carries a CSRF token");
  return csrf;
}
