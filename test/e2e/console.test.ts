import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { containerState, docker, ensureCluster } from "../../scripts/lib/cluster.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { APPROVE } from "../../src/api/approvals.js";
import { startAgentScenario, waitForPhase, type AgentScenario } from "../support/agent-scenario.js";
import { launchBrowser, newWatchedPage, type PageWatch } from "../support/browser.js";
import { ConsoleProcess } from "../support/console.js";
import { etcdDesiredState, writeManifest } from "../support/desired-states.js";
import { lastToolResults, text, toolUse } from "../support/fake-anthropic.js";
import { getDesiredState, listRemediations } from "../support/status.js";
import { cli, StewardProcess, tempStateDir } from "../support/steward.js";

/**
 * `steward console` in a real browser (Debian's Chromium, headless) against Steward on the
 * real etcd cluster; the model is the scripted fake Messages API. Screenshots go to the
 * test's temp dir, or to docs/ (for the README) with STEWARD_UPDATE_SCREENSHOTS=1.
 */

const USAGE = { input_tokens: 1200, output_tokens: 150, cache_read_input_tokens: 900, cache_creation_input_tokens: 0 };
const ME = userInfo().username;
const DOCS = new URL("../../docs/", import.meta.url).pathname;

/** Text a browser would run if the console put it into the page as markup. */
const HOSTILE_LOGS = [
  `<script>window.__pwned = "script tag"</script>`,
  `<img src=x onerror="window.__pwned = 1">`,
  `</pre><script>window.__pwned = "forged closing tag"</script><pre>`,
];
const HOSTILE_MODEL_TEXT = `etcd1 is down. <img src=x onerror="window.__pwned = 'model text'"></p><script>window.__pwned = "model"</script>`;

async function screenshotDir(): Promise<string> {
  if (process.env.STEWARD_UPDATE_SCREENSHOTS === "1") return DOCS;
  const dir = join(await tempStateDir(), "screenshots");
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Nothing from the content ran: no flag set by a payload, only the console's own script, no CSP or page error. */
async function assertNothingRan(page: Page, watch: PageWatch): Promise<void> {
  assert.equal(await page.evaluate("window.__pwned"), undefined);
  assert.deepEqual(await page.evaluate('[...document.querySelectorAll("script")].map((s) => s.getAttribute("src"))'), [
    "/static/console.js",
  ]);
  assert.equal(await page.locator("main img").count(), 0, "no <img> element came from the content");
  assert.deepEqual(watch.problems, [], "no CSP violation or page error: nothing tried to run");
}

async function login(page: Page, consoleProcess: ConsoleProcess, path = "/"): Promise<void> {
  await page.goto(consoleProcess.loginUrl);
  assert.equal(new URL(page.url()).search, "", "the token leaves the address bar at once");
  if (path !== "/") await page.goto(`${consoleProcess.baseUrl}${path}`);
  await page.locator('#live-status[data-state="live"]').waitFor({ timeout: 10_000 });
}

describe("steward console in a real browser", () => {
  let browser: Browser;
  const stops: (() => Promise<unknown>)[] = [];

  before(async () => {
    browser = await launchBrowser();
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    await ensureCluster();
  });
  after(async () => {
    await browser.close();
  });

  it("the overview shows a DesiredState go Drifted, then Ready, live, without a reload", async (t) => {
    await ensureCluster();
    const state = await tempStateDir();
    const manifest = etcdDesiredState({ simpleFixes: [], agent: { mode: "off" } });
    const applied = await cli(state, "apply", "-f", await writeManifest(state, "ds.yaml", manifest));
    assert.equal(applied.code, 0, applied.stderr);
    const steward = new StewardProcess(state);
    await steward.start();
    stops.push(() => steward.stop());
    const consoleProcess = new ConsoleProcess(["--state-dir", state]);
    await consoleProcess.start();
    stops.push(() => consoleProcess.stop());
    const { page, watch } = await newWatchedPage(browser);
    await login(page, consoleProcess);
    const drifted = page.locator('[data-desiredstate="etcd"] [data-condition="Drifted"]');
    const ready = page.locator('[data-desiredstate="etcd"] [data-condition="Ready"]');
    await waitFor(async () => (await ready.getAttribute("data-status")) === "True", 30_000, "etcd Ready on the page");
    await page.evaluate("window.__sameDocument = true");

    await docker("stop", "-t", "1", "etcd1");
    await waitFor(async () => (await drifted.getAttribute("data-status")) === "True", 15_000, "Drifted on the page");
    const pageAt = Number(await page.locator("body").getAttribute("data-updated"));
    assert.equal(await drifted.textContent(), "Drifted");
    assert.equal(
      await page.locator('[data-desiredstate="etcd"] [data-drift-count]').getAttribute("data-drift-count"),
      "1",
    );
    // From when Steward decided (the condition's transition time, just before its status write) to the page showing it.
    const decidedAt = Date.parse(
      (await getDesiredState(state, "etcd"))?.status?.conditions.find((c) => c.type === "Drifted")
        ?.lastTransitionTime ?? "",
    );
    t.diagnostic(`Drifted decided → shown on the page: ${pageAt - decidedAt} ms`);

    await docker("start", "etcd1");
    await waitFor(async () => (await ready.getAttribute("data-status")) === "True", 30_000, "Ready again on the page");
    assert.equal(await drifted.getAttribute("data-status"), "False");
    assert.equal(
      await page.evaluate("window.__sameDocument"),
      true,
      "the same document all along: updated live, not reloaded",
    );
    assert.deepEqual(watch.problems, []);
  });

  it("approve mode: the remediation waits on the page; Approve runs the start, and the page shows Resolved", async () => {
    const scenario: AgentScenario = await startAgentScenario({
      mode: "approve",
      script: [
        {
          content: [text(HOSTILE_MODEL_TEXT), toolUse("docker_start", { container: "etcd1" }, "toolu_start1")],
          stop_reason: "tool_use",
          usage: USAGE,
        },
        (request) => {
          assert.match(lastToolResults(request)[0]?.text ?? "", /etcd1/);
          return {
            content: [text("Started; checking."), toolUse("resolve", { summary: "etcd1 was stopped; started it." })],
            stop_reason: "tool_use",
            usage: USAGE,
          };
        },
      ],
    });
    stops.push(() => scenario.stop());
    const consoleProcess = new ConsoleProcess(["--state-dir", scenario.state]);
    await consoleProcess.start();
    stops.push(() => consoleProcess.stop());
    const { page, watch } = await newWatchedPage(browser);
    await login(page, consoleProcess);

    await docker("stop", "-t", "1", "etcd1");
    const waiting = page.locator("#awaiting li[data-remediation]");
    await waiting.waitFor({ timeout: 30_000 });
    assert.match((await waiting.textContent()) ?? "", /docker start etcd1/);
    const shots = await screenshotDir();
    await page.screenshot({ path: join(shots, "console-overview.png"), fullPage: true });

    await waiting.locator("a").click();
    const approve = page.locator('button[data-action="approve"]');
    await approve.waitFor();
    await page.locator('[data-call="toolu_start1"] .policy').waitFor({ timeout: 10_000 });
    assert.match((await page.locator('[data-call="toolu_start1"] .policy').textContent()) ?? "", /ask/);
    assert.match(
      (await page.locator("#reasoning").textContent()) ?? "",
      /<img src=x onerror=/,
      "model text shown as text",
    );
    await page.screenshot({ path: join(shots, "console-remediation.png"), fullPage: true });
    const name = decodeURIComponent(new URL(page.url()).pathname.split("/").at(-1) ?? "");
    const action = await page.locator("form.approve-form").getAttribute("action");
    assert.ok(action);

    // CSRF: the same POST without the form's token, from this very page (cookie included), is refused.
    const withoutToken = await page.request.post(`${consoleProcess.baseUrl}${action}`, {
      form: { id: "toolu_start1", decision: "approve" },
    });
    assert.equal(withoutToken.status(), 403);
    assert.match(await withoutToken.text(), /CSRF token is missing or wrong/);
    // Another page on another loopback port posts a form at the console: refused as well.
    const attacker = await attackerPage(`${consoleProcess.baseUrl}${action}`);
    stops.push(() => new Promise((resolve) => attacker.server.close(resolve)));
    const crossSite = page.waitForResponse((r) => r.request().method() === "POST");
    await page.goto(attacker.url);
    assert.equal((await crossSite).status(), 403);
    await page.locator("#notice").waitFor();
    assert.match((await page.locator("#notice").textContent()) ?? "", /refused/);
    // A stale page: an id that is not pending now is refused, and nothing is approved.
    const csrf = await (async () => {
      await page.goto(`${consoleProcess.baseUrl}/remediations/default/${encodeURIComponent(name)}`);
      return page.locator('form.approve-form input[name="csrf"]').getAttribute("value");
    })();
    const stale = await page.request.post(`${consoleProcess.baseUrl}${action}`, {
      form: { csrf: csrf ?? "", id: "toolu_newer", decision: "approve" },
    });
    assert.equal(stale.status(), 409);
    assert.match(await stale.text(), /out of date/);
    const untouched = (await listRemediations(scenario.state))[0];
    assert.equal(untouched?.status?.phase, "AwaitingApproval");
    assert.equal(untouched?.metadata.annotations?.[APPROVE], undefined, "nothing was approved");
    assert.equal(await containerState("etcd1"), "exited");
    assert.equal(scenario.fake.requests.length, 1);

    await page.locator('#live-status[data-state="live"]').waitFor();
    await page.locator('button[data-action="approve"]').click();
    await page.waitForURL(/done=approved/).catch(async () => assert.fail(`approved? ${await page.content()}`));
    await page.locator('h1 [data-phase="Resolved"]').waitFor({ timeout: 45_000 });
    assert.equal(await containerState("etcd1"), "running");
    const resolved = await waitForPhase(scenario.state, ["Resolved"]);
    assert.deepEqual(
      resolved.status?.actions.map((a) => [a.command.join(" "), a.decision, a.approver]),
      [["docker start etcd1", "ask", ME]],
      "approved as the user running the console",
    );
    await page.locator('[data-call="toolu_start1"] .approval').waitFor({ timeout: 10_000 });
    assert.match(
      (await page.locator('[data-call="toolu_start1"] .approval').textContent()) ?? "",
      new RegExp(`approved by ${ME}`),
    );
    await page.locator('[data-audit="verified"]').waitFor({ timeout: 10_000 });

    // Idempotent: the same approval sent again changes nothing and says so.
    const again = await page.request.post(`${consoleProcess.baseUrl}${action}`, {
      form: { csrf: csrf ?? "", id: "toolu_start1", decision: "approve" },
    });
    assert.equal(again.status(), 200);
    assert.match(again.url(), /done=already/);
    assert.equal(scenario.fake.requests.length, 2, "the conversation went on once");
    await assertNothingRan(page, watch);
  });

  it("approve mode: Deny with a reason reaches the model, which escalates; nothing runs", async () => {
    const scenario = await startAgentScenario({
      mode: "approve",
      script: [
        {
          content: [toolUse("docker_start", { container: "etcd1" }, "toolu_start2")],
          stop_reason: "tool_use",
          usage: USAGE,
        },
        (request) => {
          const result = lastToolResults(request)[0]?.text ?? "";
          assert.match(result, new RegExp(`denied by ${ME}: maintenance window until 14:00`));
          return {
            content: [toolUse("escalate", { reason: "a person denied the start (maintenance window)" })],
            stop_reason: "tool_use",
            usage: USAGE,
          };
        },
      ],
    });
    stops.push(() => scenario.stop());
    const consoleProcess = new ConsoleProcess(["--state-dir", scenario.state]);
    await consoleProcess.start();
    stops.push(() => consoleProcess.stop());
    await docker("stop", "-t", "1", "etcd1");
    const awaiting = await waitForPhase(scenario.state, ["AwaitingApproval"]);
    const { page, watch } = await newWatchedPage(browser);
    await login(page, consoleProcess, `/remediations/default/${encodeURIComponent(awaiting.metadata.name)}`);
    await page.locator('input[name="reason"]').fill("maintenance window until 14:00");
    await page.locator('button[data-action="deny"]').click();
    await page.waitForURL(/done=denied/).catch(async () => assert.fail(`denied? ${await page.content()}`));
    await page.locator('h1 [data-phase="Escalated"]').waitFor({ timeout: 30_000 });
    await page.locator('[data-call="toolu_start2"] .approval').waitFor({ timeout: 10_000 });
    assert.match(
      (await page.locator('[data-call="toolu_start2"] .approval').textContent()) ?? "",
      /denied by .*: maintenance window until 14:00/,
    );
    assert.match((await page.locator("p.message").textContent()) ?? "", /a person denied the start/);
    assert.equal(await containerState("etcd1"), "exited");
    assert.equal(scenario.fake.requests.length, 2);
    await assertNothingRan(page, watch);
  });

  it("a container whose logs hold <script>, <img onerror> and a forged closing tag: shown as text, nothing runs", async () => {
    const id = randomBytes(4).toString("hex");
    const container = `steward-console-xss-${id}`;
    const script = [...HOSTILE_LOGS.map((line) => `echo '${line}'`), "exit 3"].join("; ");
    await docker(
      "run",
      "-d",
      "--name",
      container,
      "--label",
      "steward.test=true",
      "--label",
      `steward-console=${id}`,
      "--network",
      "none",
      "--entrypoint",
      "/bin/sh",
      "steward-demo/etcd:3.4",
      "-c",
      script,
    );
    stops.push(() => docker("rm", "-f", container));
    const state = await tempStateDir();
    const manifest = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: hostile}
spec:
  target: {docker: {selector: {steward-console: "${id}"}}}
  interval: 2s
  services:
    - {name: ${container}}
  remediation: {simpleFixes: [], agent: {mode: approve}}
`;
    const applied = await cli(state, "apply", "-f", await writeManifest(state, "ds.yaml", manifest));
    assert.equal(applied.code, 0, applied.stderr);
    const steward = new StewardProcess(state);
    await steward.start();
    stops.push(() => steward.stop());
    const remediation = await waitFor(async () => (await listRemediations(state))[0], 30_000, "a remediation");
    const consoleProcess = new ConsoleProcess(["--state-dir", state]);
    await consoleProcess.start();
    stops.push(() => consoleProcess.stop());
    const { page, watch } = await newWatchedPage(browser);
    await login(page, consoleProcess, `/remediations/default/${encodeURIComponent(remediation.metadata.name)}`);
    const logs = page.locator(`[data-container="${container}"] pre.logs`);
    await logs.waitFor({ timeout: 10_000 });
    assert.equal(await logs.textContent(), HOSTILE_LOGS.join("\n"), "every line exactly as the container wrote it");
    assert.equal(await page.locator("pre.logs").count(), 1, "the forged </pre> did not close the block");
    await page.goto(consoleProcess.baseUrl);
    await page.locator('[data-desiredstate="hostile"]').waitFor();
    await assertNothingRan(page, watch);
  });
});

/** A page on another loopback origin that posts a decision form at the console as soon as it loads. */
async function attackerPage(target: string): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(`<!doctype html><form method="post" action="${target}">
<input type="hidden" name="id" value="toolu_start1"><input type="hidden" name="decision" value="approve"></form>
<script>document.forms[0].submit()</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
