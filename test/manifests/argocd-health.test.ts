/**
 * The Argo CD health checks (manifests/argocd/*.lua, issue 13.3) run by Lua 5.1 — the
 * language of Argo CD's interpreter — with only the libraries Argo CD opens for them
 * (argocd-health-harness.lua), on objects as Steward stores them: each status is written
 * through the file store by the code `steward run` writes it with (the DesiredState
 * condition functions, the remediation status writer) and read back as JSON. The health
 * is one of Argo CD's: Healthy, Progressing, Degraded or Suspended.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { DesiredState, type Drift } from "../../src/api/desired-state.js";
import type { AgentRemediation } from "../../src/api/remediation.js";
import {
  desiredStateConditions,
  invalidSpecConditions,
  setCondition,
  type ConditionInput,
  type DesiredStateConditionInput,
} from "../../src/reconcile/conditions.js";
import { RemediationStatusWriter, type RemediationStatusChange } from "../../src/reconcile/remediation-status.js";
import { newRemediation, type OpenStep } from "../../src/reconcile/remediations.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { ARGOCD_PATCH, argocdConfigMapPatch, HEALTH_CHECKS, healthKey } from "../../scripts/lib/argocd-health.js";

const HARNESS = new URL("./argocd-health-harness.lua", import.meta.url).pathname;
const [DESIRED_STATE_CHECK, REMEDIATION_CHECK] = HEALTH_CHECKS.map((c) => c.script);
const NOW = new Date("2026-12-01T10:00:00.000Z");
const REF = { namespace: "default", name: "etcd" };

interface Health {
  status: string;
  message: string;
}

/** What the health check at `script` says of `object`, as Argo CD would run it. */
function health(script: string | undefined, object: unknown): Health {
  assert.ok(script, "a health check script");
  const out = execFileSync("lua5.1", [HARNESS, script], {
    input: JSON.stringify(object),
    encoding: "utf8",
    stdio: ["pipe", "pipe", "pipe"],
    timeout: 10_000,
  });
  const result = JSON.parse(out) as Health;
  assert.equal(typeof result.message, "string", "Argo CD reads message as a string");
  return result;
}

async function newStore(): Promise<FileStore> {
  return new FileStore(await mkdtemp(join(tmpdir(), "steward-argocd-")));
}

const desiredState = (services: string[]): DesiredState =>
  DesiredState.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: REF,
    spec: { target: { docker: { project: "etcd" } }, services: services.map((name) => ({ name })) },
  });

const stopped: Drift = {
  type: "ContainerStopped",
  subject: "container/etcd1",
  expected: "running",
  observed: "exited (code 137)",
  since: NOW.toISOString(),
};

/** Writes the status a reconcile with `input` writes (desired-state-reconciler.ts), over the stored one. */
async function reconciled(store: FileStore, input: Partial<DesiredStateConditionInput> = {}): Promise<DesiredState> {
  const stored = await store.get("DesiredState", REF);
  assert.ok(stored);
  const generation = stored.metadata.generation ?? 1;
  const conditions = desiredStateConditions({
    generation,
    drift: [],
    invariants: [],
    activeRemediation: undefined,
    degradations: [],
    ...input,
  });
  return writeConditions(store, stored, conditions, [...(input.drift ?? [])]);
}

async function writeConditions(
  store: FileStore,
  stored: DesiredState,
  next: ConditionInput[],
  drift: Drift[],
): Promise<DesiredState> {
  const before = stored.status ?? { conditions: [], drift: [], invariants: [], fixes: [] };
  const conditions = next.reduce((list, c) => setCondition(list, c, NOW), before.conditions);
  const status = { ...before, observedGeneration: stored.metadata.generation, conditions, drift };
  return store.updateStatus("DesiredState", REF, status);
}

describe("Argo CD health of a DesiredState (manifests/argocd/health-desiredstate.lua)", () => {
  it("Progressing until Steward has reconciled it; Healthy once everything is as declared", async () => {
    const store = await newStore();
    const { object } = await store.apply(desiredState(["etcd0", "etcd1"]));
    assert.deepEqual(health(DESIRED_STATE_CHECK, object), {
      status: "Progressing",
      message: "Waiting for Steward to reconcile it",
    });
    const healthy = health(DESIRED_STATE_CHECK, await reconciled(store));
    assert.equal(healthy.status, "Healthy");
    assert.match(healthy.message, /^AsDeclared: /);
  });

  it("Progressing while Steward fixes drift or waits for a source; Healthy again once fixed", async () => {
    const store = await newStore();
    await store.apply(desiredState(["etcd0", "etcd1"]));
    const drifting = health(DESIRED_STATE_CHECK, await reconciled(store, { drift: [stopped] }));
    assert.deepEqual(drifting, {
      status: "Progressing",
      message: "Drifted: container/etcd1: expected running, observed exited (code 137)",
    });
    const remediating = await reconciled(store, { drift: [stopped], activeRemediation: "etcd-etcd1" });
    assert.equal(health(DESIRED_STATE_CHECK, remediating).status, "Progressing");
    const degradations = [{ reason: "PrometheusUnavailable" as const, message: "connect ECONNREFUSED 127.0.0.1:9090" }];
    const blind = health(DESIRED_STATE_CHECK, await reconciled(store, { degradations }));
    assert.deepEqual(blind, {
      status: "Progressing",
      message: "PrometheusUnavailable: connect ECONNREFUSED 127.0.0.1:9090",
    });
    assert.equal(health(DESIRED_STATE_CHECK, await reconciled(store)).status, "Healthy");
  });

  it("Degraded when a person must act: an escalated remediation, or one no agent works on", async () => {
    const store = await newStore();
    await store.apply(desiredState(["etcd0", "etcd1"]));
    const escalated = health(DESIRED_STATE_CHECK, await reconciled(store, { drift: [stopped], escalated: [stopped] }));
    assert.equal(escalated.status, "Degraded");
    assert.match(escalated.message, /^Escalated: the remediation of container\/etcd1 was escalated/);
    const unattended = [{ name: "etcd-etcd1", reason: "NoModelConfigured" }];
    const waiting = health(DESIRED_STATE_CHECK, await reconciled(store, { drift: [stopped], unattended }));
    assert.deepEqual(waiting, {
      status: "Degraded",
      message:
        "WaitingForPerson: AgentRemediation etcd-etcd1 waits for a person (NoModelConfigured): no agent will work on it",
    });
  });

  it("Degraded with InvalidSpec and its problem when the spec is invalid, over a Healthy status", async () => {
    const store = await newStore();
    await store.apply(desiredState(["etcd0"]));
    const before = await reconciled(store);
    const problem = "spec.services[0].name: a Kubernetes target's service is Deployment/<name> or StatefulSet/<name>";
    const invalid = await writeConditions(store, before, invalidSpecConditions([problem], 1), []);
    const result = health(DESIRED_STATE_CHECK, invalid);
    assert.equal(result.status, "Degraded");
    assert.equal(result.message, `InvalidSpec: the spec is invalid, so Steward does not act on it: ${problem}`);
  });

  it("Progressing after a spec change until Steward has reconciled the new generation", async () => {
    const store = await newStore();
    await store.apply(desiredState(["etcd0"]));
    await reconciled(store);
    const { object } = await store.apply(desiredState(["etcd0", "etcd1"]));
    assert.equal(object.metadata.generation, 2);
    assert.deepEqual(health(DESIRED_STATE_CHECK, await store.get("DesiredState", REF)), {
      status: "Progressing",
      message: "Waiting for Steward to reconcile generation 2",
    });
    assert.equal(health(DESIRED_STATE_CHECK, await reconciled(store)).status, "Healthy");
  });
});

/** A remediation of etcd1's stopped container as the DesiredState controller creates it, and its status writer. */
async function opened(modelConfigured = true): Promise<{ store: FileStore; write: Writer }> {
  const store = await newStore();
  const ds = (await store.apply(desiredState(["etcd0", "etcd1"]))).object;
  const step: OpenStep = {
    type: "open",
    drift: stopped,
    fingerprint: "f1",
    reason: "NoSimpleFix",
    message: "",
    fixesTried: 0,
  };
  const context = { now: NOW, agent: { modelConfigured } };
  const remediation = newRemediation(ds, step, { ...stopped, evidence: {} }, context);
  const created = await store.create(remediation);
  const writer = new RemediationStatusWriter(created, { store });
  const ref = { namespace: created.metadata.namespace, name: created.metadata.name };
  return {
    store,
    write: async (change) => {
      if (change) await writer.apply(change);
      const stored = await store.get("AgentRemediation", ref);
      assert.ok(stored);
      return stored;
    },
  };
}
type Writer = (change?: RemediationStatusChange) => Promise<AgentRemediation>;

const AT = NOW.toISOString();
const pending = {
  id: "toolu_1",
  tool: "docker_start",
  command: ["docker", "start", "etcd1"],
  reason: "ask",
  requestedAt: AT,
};

describe("Argo CD health of an AgentRemediation (manifests/argocd/health-agentremediation.lua)", () => {
  it("Progressing while open, Suspended while it awaits approval, Healthy once resolved", async () => {
    const { write } = await opened();
    assert.equal(health(REMEDIATION_CHECK, await write()).status, "Progressing");
    const investigating = await write({ type: "sessionStarted", sessionId: "S1", message: "investigating", at: AT });
    assert.equal(health(REMEDIATION_CHECK, investigating).status, "Progressing");
    const awaiting = await write({ type: "awaitingApproval", pending, message: "docker start etcd1 needs approval" });
    assert.deepEqual(health(REMEDIATION_CHECK, awaiting), {
      status: "Suspended",
      message:
        "ApprovalRequired: 1 call(s) wait for a person's decision: toolu_1 (steward approve, or the steward.dev/approve annotation)",
    });
    const action = { ...pending, decision: "allow" as const, approvedBy: "alice", time: AT, state: "Started" as const };
    const remediating = await write({ type: "actionStarted", action, message: "running docker start etcd1" });
    assert.deepEqual(health(REMEDIATION_CHECK, remediating), {
      status: "Progressing",
      message: "Remediating: running docker start etcd1",
    });
    const resolved = await write({ type: "sessionEnded", end: { type: "resolved", summary: "started etcd1" }, at: AT });
    assert.equal(resolved.status?.phase, "Resolved");
    assert.equal(health(REMEDIATION_CHECK, resolved).status, "Healthy");
  });

  it("Degraded once escalated or interrupted: a person owns the incident", async () => {
    const escalation = await opened();
    await escalation.write({ type: "sessionStarted", sessionId: "S1", message: "investigating", at: AT });
    const escalated = await escalation.write({
      type: "sessionEnded",
      end: { type: "escalated", reason: "maxTurns reached" },
      at: AT,
    });
    const result = health(REMEDIATION_CHECK, escalated);
    assert.equal(result.status, "Degraded");
    assert.match(result.message, /^Escalated: /);
    const interruption = await opened();
    const interrupted = await interruption.write({
      type: "sessionEnded",
      end: { type: "interrupted", reason: "two changes were interrupted" },
      at: AT,
    });
    assert.equal(health(REMEDIATION_CHECK, interrupted).status, "Degraded");
  });

  it("Healthy once cancelled (its DesiredState was deleted: nothing is left to do)", async () => {
    const { write } = await opened();
    const message = "the DesiredState was deleted";
    const cancelled = await write({ type: "cancelled", reason: "DesiredStateDeleted", message, at: AT });
    assert.deepEqual(health(REMEDIATION_CHECK, cancelled), {
      status: "Healthy",
      message: `Ended Cancelled: ${message}`,
    });
  });

  it("Progressing when no model is configured: the DesiredState is the one that says a person must act", async () => {
    const { write } = await opened(false);
    const born = await write();
    assert.equal(born.status?.reason, "NoModelConfigured");
    assert.equal(health(REMEDIATION_CHECK, born).status, "Progressing");
  });

  it("Progressing before Steward has written any status", () => {
    const object = { apiVersion: "steward.dev/v1alpha1", kind: "AgentRemediation", metadata: { name: "r" } };
    assert.deepEqual(health(REMEDIATION_CHECK, object), {
      status: "Progressing",
      message: "Waiting for Steward to take it up",
    });
  });
});

describe("the harness runs a script as Argo CD does", () => {
  it("without the string library: a check that uses it fails (so the shipped ones do not)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-argocd-"));
    const script = join(dir, "uses-string.lua");
    await writeFile(script, 'return { status = ("Healthy"):lower() }\n');
    assert.throws(() => health(script, {}), /attempt to index a string value/);
  });
});

describe("manifests/argocd/argocd-cm-patch.yaml", () => {
  it("carries each script under the key Argo CD reads, as generated (run npm run gen:manifests)", async () => {
    const committed = await readFile(ARGOCD_PATCH, "utf8");
    assert.equal(committed, await argocdConfigMapPatch(), "stale: run npm run gen:manifests");
    const patch = parse(committed) as { metadata: { name: string; namespace: string }; data: Record<string, string> };
    assert.deepEqual(patch.metadata, { name: "argocd-cm", namespace: "argocd" });
    for (const check of HEALTH_CHECKS) {
      assert.equal(patch.data[healthKey(check.kind)], await readFile(check.script, "utf8"));
    }
    assert.deepEqual(Object.keys(patch.data), [
      "resource.customizations.health.steward.dev_DesiredState",
      "resource.customizations.health.steward.dev_AgentRemediation",
    ]);
  });
});
