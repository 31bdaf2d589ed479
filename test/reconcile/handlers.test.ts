import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AgentRemediation } from "../../src/api/remediation.js";
import {
  enqueueForStoreEvent,
  enqueueNotificationsForStoreEvent,
  enqueueRemediationsForStoreEvent,
  isOwnStatusWrite,
  OpenRemediationIndex,
  remediationConcernsDesiredState,
} from "../../src/reconcile/handlers.js";
import { WorkQueue } from "../../src/reconcile/queue.js";
import type { WatchEvent } from "../../src/store/store.js";
import { desiredState } from "../store/contract.js";
import { openRemediation } from "./fixtures.js";

const AT = "2026-11-24T10:00:00.000Z";

const remediation = openRemediation;

const modified = (previous: AgentRemediation, object: AgentRemediation): WatchEvent => ({
  type: "MODIFIED",
  previous,
  object,
});
const usage = { inputTokens: 10, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, estimatedCostUSD: 0.01 };

/** Everything a queue holds, in order. */
async function drain(queue: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (queue.length > 0) {
    const key = await queue.get();
    if (key === undefined) break;
    keys.push(key);
    queue.done(key);
  }
  return keys;
}

describe("a remediation's change and its DesiredState", () => {
  const investigating = remediation({ phase: "Investigating", sessionId: "S1" });
  const cases: { name: string; event: WatchEvent; concerns: boolean }[] = [
    { name: "created", event: { type: "ADDED", object: investigating }, concerns: true },
    { name: "deleted", event: { type: "DELETED", object: investigating }, concerns: true },
    {
      name: "regression: a model turn (usage only) does not reconcile the DesiredState",
      event: modified(investigating, remediation({ phase: "Investigating", sessionId: "S1", usage })),
      concerns: false,
    },
    {
      name: "a change recorded, a message: no",
      event: modified(investigating, remediation({ phase: "Investigating", sessionId: "S1", message: "running" })),
      concerns: false,
    },
    {
      name: "a phase change: yes",
      event: modified(investigating, remediation({ phase: "Escalated", closedAt: AT })),
      concerns: true,
    },
    {
      name: "the opening status arriving (the kubernetes store's second write): yes",
      event: modified(remediation(undefined), remediation({})),
      concerns: true,
    },
    {
      name: "a MODIFIED without the object before it: yes, to be safe",
      event: { type: "MODIFIED", object: investigating },
      concerns: true,
    },
  ];
  for (const c of cases) {
    it(`${c.name}`, async () => {
      assert.equal(remediationConcernsDesiredState(c.event), c.concerns);
      const queue = new WorkQueue();
      enqueueForStoreEvent(c.event, queue);
      assert.deepEqual(await drain(queue), c.concerns ? ["DesiredState/default/ds"] : []);
    });
  }
});

describe("a remediation's change and the notifier", () => {
  const investigating = remediation({ phase: "Investigating", sessionId: "S1" });
  const record = { id: "r-1-Escalated", event: "Escalated" as const, at: AT, phase: "Escalated" as const };
  const cases: { name: string; event: WatchEvent; concerns: boolean }[] = [
    { name: "created", event: { type: "ADDED", object: investigating }, concerns: true },
    {
      name: "deleted (its pending deliveries are forgotten)",
      event: { type: "DELETED", object: investigating },
      concerns: true,
    },
    {
      name: "regression: a model turn (usage only) is nothing to send",
      event: modified(investigating, remediation({ phase: "Investigating", sessionId: "S1", usage })),
      concerns: false,
    },
    {
      name: "a transition's outbox record: yes",
      event: modified(investigating, remediation({ phase: "Escalated", notifications: [record] })),
      concerns: true,
    },
    {
      name: "the delivery ledger written: yes (the next due delivery is planned from it)",
      event: modified(
        investigating,
        remediation({ phase: "Investigating" }, { annotations: { "steward.dev/notifications": "{}" } }),
      ),
      concerns: true,
    },
    {
      name: "an approval annotation: no",
      event: modified(
        investigating,
        remediation({ phase: "Investigating" }, { annotations: { "steward.dev/approve": "all" } }),
      ),
      concerns: false,
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const queue = new WorkQueue();
      enqueueNotificationsForStoreEvent(c.event, queue);
      assert.deepEqual(await drain(queue), c.concerns ? ["AgentRemediation/default/r"] : []);
    });
  }
});

describe("a remediation's change and its owner", () => {
  const waiting = remediation({ phase: "AwaitingApproval" });
  it("its own status writes do not bring it back", () => {
    assert.equal(isOwnStatusWrite(modified(waiting, remediation({ phase: "AwaitingApproval", usage }))), true);
  });
  it("an approval (annotations) does", () => {
    const approved = remediation({ phase: "AwaitingApproval" }, { annotations: { "steward.dev/approve": "all" } });
    assert.equal(isOwnStatusWrite(modified(waiting, approved)), false);
  });
  it("its opening status (the creator's write) does", () => {
    assert.equal(isOwnStatusWrite(modified(remediation(undefined), remediation({}))), false);
  });
  it("a spec change does", () => {
    assert.equal(
      isOwnStatusWrite(modified(waiting, remediation({ phase: "AwaitingApproval" }, { generation: 2 }))),
      false,
    );
  });
});

describe("OpenRemediationIndex: a DesiredState's change enqueues its open remediations", () => {
  const ds = desiredState("ds");
  const dsEvent = (type: WatchEvent["type"]): WatchEvent => ({ type, object: ds });

  it("open ones are enqueued on a change or the deletion of their DesiredState; closed ones no longer", async () => {
    const index = new OpenRemediationIndex();
    const queue = new WorkQueue();
    const a = remediation({ phase: "Pending" }, { name: "a" });
    const b = remediation({ phase: "AwaitingApproval" }, { name: "b" });
    for (const object of [a, b]) index.apply({ type: "ADDED", object });
    enqueueRemediationsForStoreEvent(dsEvent("MODIFIED"), index, queue);
    assert.deepEqual(await drain(queue), ["AgentRemediation/default/a", "AgentRemediation/default/b"]);

    index.apply(modified(a, remediation({ phase: "Resolved", closedAt: AT }, { name: "a" })));
    enqueueRemediationsForStoreEvent(dsEvent("DELETED"), index, queue);
    assert.deepEqual(await drain(queue), ["AgentRemediation/default/b"]);
  });

  it("another DesiredState's change enqueues none of them", async () => {
    const index = new OpenRemediationIndex();
    const queue = new WorkQueue();
    index.apply({ type: "ADDED", object: remediation({}) });
    const other = desiredState("other");
    enqueueRemediationsForStoreEvent({ type: "MODIFIED", object: other }, index, queue);
    assert.deepEqual(await drain(queue), []);
  });
});
