import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import type { AgentRemediation } from "../../src/api/remediation.js";
import { deliveryLedger } from "../../src/api/notifications.js";
import { OPEN_FENCE } from "../../src/kube/fence.js";
import { NotificationReconciler } from "../../src/notify/notifier.js";
import { PolicySecrets } from "../../src/notify/secrets.js";
import { SinkSender } from "../../src/notify/send.js";
import { Controller } from "../../src/reconcile/controller.js";
import { WorkQueue } from "../../src/reconcile/queue.js";
import { FileStore } from "../../src/store/file/file-store.js";
import { createLogger } from "../../src/telemetry/logging.js";
import { StewardMetrics } from "../../src/telemetry/metrics.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { HttpReceiver } from "../support/receiver.js";
import { AT, policy, remediation } from "./fixtures.js";

const KEY = "AgentRemediation/default/etcd-etcd1-a1b2c3";
const SIGNING_KEY = "s1gning-k3y-for-tests";

/** A notifier as `steward run` builds it, over a file store: its own controller, queue and metrics. */
class Notifier {
  readonly metrics = new StewardMetrics();
  private readonly queue = new WorkQueue();
  private readonly controller: Controller;

  constructor(readonly store: FileStore) {
    this.controller = new Controller({
      name: "notify",
      reconciler: new NotificationReconciler({
        store,
        sender: new SinkSender(new PolicySecrets(undefined)),
        access: { store: "file", stateDir: store.dir },
        metrics: this.metrics,
        fence: OPEN_FENCE,
      }),
      queue: this.queue,
      logger: createLogger({ format: "json", level: "error" }),
      metrics: this.metrics,
      workers: 1,
      reconcileTimeoutMs: 60_000,
    });
  }

  start(): void {
    this.controller.start();
    this.queue.add(KEY);
  }

  poke(): void {
    this.queue.add(KEY);
  }

  async stop(): Promise<void> {
    await this.controller.stop();
  }

  async count(result: string): Promise<number> {
    const text = await this.metrics.registry.metrics();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`steward_notifications_total{sink="webhook",result="${result}"}`));
    return Number(line?.split(" ")[1] ?? NaN);
  }
}

interface Setup {
  store: FileStore;
  receiver: HttpReceiver;
  notifiers: Notifier[];
}

async function setup(
  answers: ConstructorParameters<typeof HttpReceiver>[0],
  sink: Record<string, unknown> = {},
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "steward-notify-"));
  const receiver = new HttpReceiver(answers);
  const url = await receiver.start();
  await writeFile(join(dir, "hook-url"), `${url}/hooks/steward\n`);
  await writeFile(join(dir, "hook-key"), SIGNING_KEY);
  const store = new FileStore(dir);
  await store.start();
  await store.apply(
    policy({
      sinks: [
        {
          name: "ops",
          webhook: { url: { file: join(dir, "hook-url") }, signingKey: { file: join(dir, "hook-key") } },
          ...sink,
        },
      ],
    }),
  );
  const opened: AgentRemediation = remediation();
  opened.status = {
    phase: "Pending",
    attempts: [],
    actions: [],
    pendingApproval: [],
    conditions: [],
    notifications: [{ id: "Opened-1", event: "Opened", at: AT, reason: "SimpleFixDisabled" }],
  };
  await store.create(opened);
  return { store, receiver, notifiers: [] };
}

async function deliveryOf(store: FileStore, record = "Opened-1"): Promise<Record<string, unknown> | undefined> {
  const r = await store.get("AgentRemediation", { namespace: "default", name: "etcd-etcd1-a1b2c3" });
  return r ? deliveryLedger(r)[record]?.["oncall/ops"] : undefined;
}

describe("the notifier against a real HTTP receiver on 127.0.0.1", () => {
  let current: Setup | undefined;

  afterEach(async () => {
    for (const n of current?.notifiers ?? []) await n.stop();
    await current?.receiver.stop();
    await current?.store.close();
    current = undefined;
  });

  const start = (s: Setup): Notifier => {
    const notifier = new Notifier(s.store);
    s.notifiers.push(notifier);
    notifier.start();
    return notifier;
  };

  it("a receiver that fails 3 times then succeeds: 4 sends with one Idempotency-Key and valid signatures, then Delivered", async () => {
    current = await setup([{ status: 500 }, { status: 503 }, { status: 502 }, { status: 200, body: "ok" }]);
    const notifier = start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore))?.state === "Delivered",
      30_000,
      "Delivered",
    );
    const { requests } = current.receiver;
    assert.equal(requests.length, 4);
    const uid = (await current.store.get("AgentRemediation", { namespace: "default", name: "etcd-etcd1-a1b2c3" }))
      ?.metadata.uid;
    assert.ok(uid);
    assert.deepEqual(new Set(requests.map((r) => r.headers["idempotency-key"])), new Set([`${uid}/Opened-1`]));
    for (const request of requests) {
      assert.equal(request.path, "/hooks/steward");
      const [t, v1] = String(request.headers["x-steward-signature"])
        .split(",")
        .map((p) => p.split("=")[1]);
      assert.equal(v1, createHmac("sha256", SIGNING_KEY).update(`${t}.${request.body}`).digest("hex"));
    }
    // Backoff between attempts: at least 1 s each (DELIVERY_BACKOFF's floor), never at once.
    const gaps = requests.slice(1).map((r, i) => r.at - (requests[i]?.at ?? 0));
    assert.ok(
      gaps.every((gap) => gap >= 950),
      `gaps ${gaps.join(", ")}`,
    );
    const delivery = await deliveryOf(current.store);
    assert.equal(delivery?.attempts, 4);
    assert.equal(delivery?.lastError, undefined);
    assert.equal(await notifier.count("retry"), 3);
    assert.equal(await notifier.count("delivered"), 1);
  });

  it("honours Retry-After on a 429", async () => {
    current = await setup([{ status: 429, headers: { "retry-after": "3" } }, { status: 200 }]);
    start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore))?.state === "Delivered",
      30_000,
      "Delivered",
    );
    const [first, second] = current.receiver.requests;
    assert.ok((second?.at ?? 0) - (first?.at ?? 0) >= 2_900, "waited the 3 s the sink asked for");
  });

  it("dead-letters after maxAttempts with the sink's answer, never its URL", async () => {
    current = await setup([{ status: 503, body: "overloaded" }], { maxAttempts: 2 });
    const notifier = start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore))?.state === "DeadLettered",
      30_000,
      "DeadLettered",
    );
    const delivery = await deliveryOf(current.store);
    assert.deepEqual(delivery, {
      state: "DeadLettered",
      attempts: 2,
      lastError: "HTTP 503: overloaded",
    });
    assert.equal(current.receiver.requests.length, 2);
    assert.equal(await notifier.count("dead_letter"), 1);
  });

  it("a permanent refusal (404) is dead-lettered at once", async () => {
    current = await setup([{ status: 404, body: "no_service" }]);
    start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore))?.state === "DeadLettered",
      10_000,
      "DeadLettered",
    );
    assert.equal(current.receiver.requests.length, 1);
    assert.equal((await deliveryOf(current.store))?.lastError, "HTTP 404: no_service");
  });

  it("a receiver down across a restart of the notifier: sent once it is back, by the new process", async () => {
    current = await setup([{ status: 200 }]);
    await current.receiver.stop();
    const first = start(current);
    await waitFor(
      async () => Number((await deliveryOf(current?.store as FileStore))?.attempts) >= 1,
      10_000,
      "a failed attempt recorded",
    );
    assert.equal((await deliveryOf(current.store))?.lastError, "connection refused");
    await first.stop();
    await current.receiver.start();
    start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore))?.state === "Delivered",
      30_000,
      "Delivered",
    );
    assert.equal(current.receiver.requests.length, 1);
  });

  it("never sent again once acknowledged: a new notifier sends the next record and not the delivered one", async () => {
    current = await setup([{ status: 200 }]);
    const first = start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore))?.state === "Delivered",
      10_000,
      "Delivered",
    );
    await first.stop();
    const ref = { namespace: "default", name: "etcd-etcd1-a1b2c3" };
    const stored = await current.store.get("AgentRemediation", ref);
    assert.ok(stored?.status);
    await current.store.updateStatus("AgentRemediation", ref, {
      ...stored.status,
      phase: "Resolved",
      notifications: [...(stored.status.notifications ?? []), { id: "Resolved-2", event: "Resolved", at: AT }],
    });
    start(current);
    await waitFor(
      async () => (await deliveryOf(current?.store as FileStore, "Resolved-2"))?.state === "Delivered",
      10_000,
      "Resolved delivered",
    );
    assert.deepEqual(
      current.receiver.requests.map((r) => r.headers["x-steward-event"]),
      ["Opened", "Resolved"],
    );
  });
});
