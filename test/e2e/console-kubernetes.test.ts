import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { APPROVE, APPROVED_BY } from "../../src/api/approvals.js";
import { AgentRemediation } from "../../src/api/remediation.js";
import { KubernetesStore } from "../../src/store/kubernetes/kubernetes-store.js";
import { launchBrowser, newWatchedPage } from "../support/browser.js";
import { ConsoleProcess } from "../support/console.js";
import { writeManifest } from "../support/desired-states.js";
import { cluster } from "../support/kube.js";
import { kubectlOk } from "../support/kubectl.js";
import { tempStateDir } from "../support/steward.js";

/**
 * The console on the kubernetes store acts with the kubeconfig's own credentials: RBAC
 * decides, and `approved-by` is the API server's name for the user (a SelfSubjectReview).
 * Two ServiceAccounts on the real kube-apiserver: one may read remediations only, one may
 * also patch them.
 */

const ns = `console-${randomBytes(3).toString("hex")}`;
const NAME = "etcd-container-etcd1-k1";
const READ = `{apiGroups: [steward.dev], resources: [desiredstates, remediations, remediationpolicies], verbs: [get, list, watch]}`;

function rbac(user: string, rules: string): string {
  return `apiVersion: v1
kind: ServiceAccount
metadata: {name: ${user}, namespace: ${ns}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: ${user}, namespace: ${ns}}
rules: ${rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ${user}, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: ${user}}
subjects: [{kind: ServiceAccount, name: ${user}, namespace: ${ns}}]
`;
}

/** A kubeconfig for the ServiceAccount: the admin's cluster, a token from the TokenRequest API. */
async function kubeconfigFor(dir: string, user: string): Promise<string> {
  const token = (await kubectlOk("create", "token", user, "-n", ns, "--duration", "1h")).trim();
  const server = (await cluster()).getCurrentCluster();
  assert.ok(server?.caData);
  return writeManifest(
    dir,
    `${user}.kubeconfig`,
    `apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "${server.server}", certificate-authority-data: ${server.caData}}}]
users: [{name: ${user}, user: {token: ${token}}}]
contexts: [{name: ${user}, context: {cluster: test, user: ${user}, namespace: ${ns}}}]
current-context: ${user}
`,
  );
}

describe("steward console on the kubernetes store, as the user's own identity", () => {
  let browser: Browser;
  let admin: KubernetesStore;
  let dir = "";

  before(async () => {
    const kubeConfig = await cluster();
    dir = await tempStateDir();
    await kubectlOk("create", "namespace", ns);
    await kubectlOk(
      "apply",
      "-f",
      await writeManifest(
        dir,
        "rbac.yaml",
        `${rbac("viewer", `[${READ}]`)}---\n${rbac("approver", `[${READ}, {apiGroups: [steward.dev], resources: [remediations], verbs: [patch]}]`)}`,
      ),
    );
    admin = new KubernetesStore(kubeConfig, { namespaces: [ns] });
    await admin.create(
      AgentRemediation.parse({
        apiVersion: "steward.dev/v1alpha1",
        kind: "AgentRemediation",
        metadata: { name: NAME, namespace: ns },
        spec: {
          desiredStateRef: { name: "etcd" },
          fingerprint: "f",
          reason: "NoSimpleFix",
          mode: "approve",
          drift: [],
        },
        status: {
          phase: "AwaitingApproval",
          openedAt: new Date().toISOString(),
          pendingApproval: [
            {
              id: "toolu_k1",
              tool: "docker_start",
              command: ["docker", "start", "etcd1"],
              reason: "ask",
              requestedAt: new Date().toISOString(),
            },
          ],
        },
      }),
    );
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
  });

  async function approveAs(user: string): Promise<{ status: number | undefined; notice: string; header: string }> {
    const consoleProcess = new ConsoleProcess(["--store", "kubernetes", "-n", ns, "--state-dir", dir], {
      KUBECONFIG: await kubeconfigFor(dir, user),
    });
    await consoleProcess.start();
    try {
      const { page, watch } = await newWatchedPage(browser);
      await page.goto(consoleProcess.loginUrl);
      await page.goto(`${consoleProcess.baseUrl}/remediations/${ns}/${NAME}`);
      await page.locator('#live-status[data-state="live"]').waitFor({ timeout: 10_000 });
      const header = (await page.locator("header .who").textContent()) ?? "";
      const posted = page.waitForResponse((r) => r.request().method() === "POST");
      await page.locator('button[data-action="approve"]').click();
      const status = (await posted).status();
      await page.locator("#notice").waitFor();
      const notice = (await page.locator("#notice").textContent()) ?? "";
      assert.deepEqual(
        watch.problems.filter((p) => !p.includes("403")),
        [],
      );
      await page.close();
      return { status, notice, header };
    } finally {
      await consoleProcess.stop();
    }
  }

  it("a user whose RBAC lacks patch on remediations sees Approve refused with the API server's message", async () => {
    const result = await approveAs("viewer");
    assert.match(result.header, new RegExp(`acting as system:serviceaccount:${ns}:viewer`));
    assert.equal(result.status, 403);
    assert.match(result.notice, /not recorded: .*HTTP 403 Forbidden/);
    assert.match(
      result.notice,
      new RegExp(`"system:serviceaccount:${ns}:viewer" cannot patch resource "remediations"`),
    );
    const stored = await admin.get("AgentRemediation", { namespace: ns, name: NAME });
    assert.equal(stored?.metadata.annotations?.[APPROVE], undefined, "nothing was written");
  });

  it("a user allowed to patch approves, and approved-by is the API server's name for them, not input", async () => {
    const result = await approveAs("approver");
    assert.equal(result.status, 303, "recorded, then back to the page");
    assert.match(result.notice, /Approved/);
    const stored = await admin.get("AgentRemediation", { namespace: ns, name: NAME });
    assert.equal(stored?.metadata.annotations?.[APPROVE], "toolu_k1");
    assert.equal(stored?.metadata.annotations?.[APPROVED_BY], `system:serviceaccount:${ns}:approver`);
  });
});
