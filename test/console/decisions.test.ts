import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { APPROVE, APPROVED_BY, DENIED_BY, DENY, DENY_REASON } from "../../src/api/approvals.js";
import { AgentRemediation } from "../../src/api/remediation.js";
import { planDecision, type DecisionForm } from "../../src/console/decisions.js";

function remediation(options: {
  phase?: string;
  pending?: string[];
  annotations?: Record<string, string>;
  actions?: { id: string; decision: "ask" | "deny"; approver: string }[];
}): AgentRemediation {
  return AgentRemediation.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: "r", namespace: "default", annotations: options.annotations },
    spec: { desiredStateRef: { name: "etcd" }, fingerprint: "f", reason: "NoSimpleFix", mode: "approve", drift: [] },
    status: {
      phase: options.phase ?? "AwaitingApproval",
      pendingApproval: (options.pending ?? ["toolu_1"]).map((id) => ({
        id,
        tool: "docker_start",
        command: ["docker", "start", "etcd1"],
        reason: "ask",
        requestedAt: "2026-01-01T00:00:00Z",
      })),
      actions: (options.actions ?? []).map((a) => ({
        ...a,
        tool: "docker_start",
        command: ["docker", "start", "etcd1"],
        time: "2026-01-01T00:00:00Z",
      })),
    },
  });
}

const approve = (...ids: string[]): DecisionForm => ({ approve: true, ids });
const deny = (reason: string, ...ids: string[]): DecisionForm => ({ approve: false, ids, reason });

describe("planDecision: what Approve and Deny on a page do", () => {
  const cases: {
    name: string;
    r: AgentRemediation;
    form: DecisionForm;
    expect: ReturnType<typeof planDecision> | string;
  }[] = [
    {
      name: "approves exactly the call the page showed, as the given user",
      r: remediation({}),
      form: approve("toolu_1"),
      expect: {
        type: "write",
        calls: remediation({}).status?.pendingApproval ?? [],
        annotations: { [APPROVE]: "toolu_1", [APPROVED_BY]: "alice" },
      },
    },
    {
      name: "denies with the reason, trimmed",
      r: remediation({}),
      form: deny("  maintenance  ", "toolu_1"),
      expect: {
        type: "write",
        calls: remediation({}).status?.pendingApproval ?? [],
        annotations: { [DENY]: "toolu_1", [DENIED_BY]: "alice", [DENY_REASON]: "maintenance" },
      },
    },
    {
      name: "a stale page: the shown call is no longer pending, a newer one is",
      r: remediation({ pending: ["toolu_2"] }),
      form: approve("toolu_1"),
      expect: "refused 409 out of date: toolu_1",
    },
    {
      name: "a stale page: nothing pending any more",
      r: remediation({ phase: "Resolved", pending: [] }),
      form: approve("toolu_1"),
      expect: "refused 409 nothing is waiting",
    },
    {
      name: "pressed twice before Steward acted: already",
      r: remediation({ annotations: { [APPROVE]: "toolu_1", [APPROVED_BY]: "bob" } }),
      form: approve("toolu_1"),
      expect: "already",
    },
    {
      name: "pressed again after Steward acted: already",
      r: remediation({
        phase: "Resolved",
        pending: [],
        actions: [{ id: "toolu_1", decision: "ask", approver: "bob" }],
      }),
      form: approve("toolu_1"),
      expect: "already",
    },
    {
      name: "deny again after the denial was acted on: already",
      r: remediation({
        phase: "Escalated",
        pending: [],
        actions: [{ id: "toolu_1", decision: "deny", approver: "bob" }],
      }),
      form: deny("x", "toolu_1"),
      expect: "already",
    },
    {
      name: "approve a call someone already denied: refused, naming them",
      r: remediation({ annotations: { [DENY]: "toolu_1", [DENIED_BY]: "bob" } }),
      form: approve("toolu_1"),
      expect: "refused 409 already denied by bob",
    },
    { name: "no id", r: remediation({}), form: approve(), expect: "refused 400 no pending call id" },
    { name: '"all" is not a call id', r: remediation({}), form: approve("all"), expect: "refused 400 names one call" },
    {
      name: "an id list smuggled in one field",
      r: remediation({ pending: ["toolu_1", "toolu_2"] }),
      form: approve("toolu_1,toolu_2"),
      expect: "refused 400 names one call",
    },
    {
      name: "a reason over the cap",
      r: remediation({}),
      form: deny("x".repeat(1001), "toolu_1"),
      expect: "refused 400 longer than",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const plan = planDecision(c.r, c.form, "alice");
      if (typeof c.expect !== "string") return assert.deepEqual(plan, c.expect);
      const [type, status, ...words] = c.expect.split(" ");
      assert.equal(plan.type, type);
      if (plan.type === "refused") {
        assert.equal(String(plan.status), status);
        assert.ok(plan.message.includes(words.join(" ")), plan.message);
      }
    });
  }
});
