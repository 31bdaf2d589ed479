import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { KubeConfig } from "@kubernetes/client-node";
import { KINDS } from "../../src/api/resources.js";
import { KubernetesStore, type KindInformerEvent } from "../../src/store/kubernetes/kubernetes-store.js";
import type { WatchEvent } from "../../src/store/store.js";
import { waitFor } from "../../scripts/lib/wait.js";
import { restartApiServer } from "../support/control-plane.js";
import { cluster } from "../support/kube.js";
import { desiredState, projectOf } from "../store/contract.js";

const NAMESPACE = "default";

/** A store with its watch events and informer reports recorded. */
async function recordedStore(
  kubeConfig: KubeConfig,
  options: { watchdogMs?: number } = {},
): Promise<{ store: KubernetesStore; events: WatchEvent[]; reports: KindInformerEvent[] }> {
  const events: WatchEvent[] = [];
  const reports: KindInformerEvent[] = [];
  const store = new KubernetesStore(kubeConfig, {
    namespaces: [NAMESPACE],
    ...options,
    onInformerEvent: (r) => reports.push(r),
  });
  store.watch((e) => events.push(e));
  await store.start();
  return { store, events, reports };
}

async function emptyNamespace(): Promise<KubernetesStore> {
  const direct = new KubernetesStore(await cluster(), { namespaces: [NAMESPACE] });
  for (const kind of Object.values(KINDS)) {
    for (const object of await direct.list(kind.kind)) await direct.delete(kind.kind, object.metadata);
  }
  return direct;
}

function seen(events: WatchEvent[], type: WatchEvent["type"], name: string, project?: string): boolean {
  return events.some(
    (e) =>
      e.type === type && e.object.metadata.name === name && (project === undefined || projectOf(e.object) === project),
  );
}

function watchingAll(reports: KindInformerEvent[], since = 0): boolean {
  const kinds = new Set(
    reports
      .slice(since)
      .filter((r) => r.type === "watching")
      .map((r) => r.kind),
  );
  return Object.values(KINDS).every((k) => kinds.has(k.kind));
}

describe("KubernetesStore informers when kube-apiserver restarts", () => {
  it("a listener sees objects created and changed after the restart", async (t) => {
    const direct = await emptyNamespace();
    const { store, events, reports } = await recordedStore(await cluster());
    await direct.apply(desiredState("before"));
    await waitFor(() => seen(events, "ADDED", "before"), 5_000, "ADDED before the restart");
    const since = reports.length;

    await restartApiServer();
    const ready = Date.now();
    await direct.apply(desiredState("after"));
    await direct.apply(desiredState("before", "moved"));
    await waitFor(
      () => seen(events, "ADDED", "after") && seen(events, "MODIFIED", "before", "moved"),
      30_000,
      "ADDED and MODIFIED made after the restart",
    );
    t.diagnostic(`events made after /readyz reached the listener ${Date.now() - ready} ms after /readyz`);
    assert.ok(
      reports.slice(since).some((r) => r.type === "interrupted" && r.reason !== "ended"),
      "the restart was noticed as an interruption, not a normal end",
    );
    await waitFor(() => watchingAll(reports, since), 30_000, "every informer watching again");
    await store.close();
    await direct.close();
  });
});

/**
 * A TCP proxy to the API server that can go silent the way a dead NAT entry or a broken
 * load balancer does: connections stay open (no FIN, no RST) and carry nothing.
 */
class SilenceableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly dead = new WeakSet<Socket>();
  private silent = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.pipe(client));
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    if (!address || typeof address === "string") throw new Error("proxy has no port");
    return address.port;
  }

  /** Every open connection, and every new one until heal(), carries nothing more. */
  silence(): void {
    this.silent = true;
    for (const socket of this.sockets) this.dead.add(socket);
  }

  /** New connections work again; the silenced ones stay dead, as they would on a real network. */
  heal(): void {
    this.silent = false;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      if (this.silent) this.dead.add(socket);
      socket.on("error", () => socket.destroy());
      socket.on("close", () => this.sockets.delete(socket));
    }
    client.on("data", (chunk: Buffer) => (this.dead.has(client) ? undefined : upstream.write(chunk)));
    upstream.on("data", (chunk: Buffer) => (this.dead.has(upstream) ? undefined : client.write(chunk)));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  }
}

/** The same credentials, reaching the API server through `port` on 127.0.0.1 (its certificate names 127.0.0.1). */
function throughProxy(base: KubeConfig, port: number): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: base.clusters.map((c) =>
      c.name === base.getCurrentCluster()?.name ? { ...c, server: `https://127.0.0.1:${port}` } : c,
    ),
    users: base.users,
    contexts: base.contexts,
    currentContext: base.currentContext,
  });
  return kubeConfig;
}

describe("KubernetesStore informer watchdog", () => {
  let proxy: SilenceableProxy;
  let proxied: KubeConfig;

  before(async () => {
    const base = await cluster();
    const server = new URL(base.getCurrentCluster()?.server ?? "");
    proxy = new SilenceableProxy({ host: server.hostname, port: Number(server.port) });
    proxied = throughProxy(base, await proxy.start());
  });

  after(async () => {
    await proxy.close();
  });

  it("restarts a watch that went silent, and one whose request is never answered; events flow again", async () => {
    const direct = await emptyNamespace();
    // Far below the API server's one bookmark a minute: a healthy idle watch restarts too, which is harmless.
    const { store, events, reports } = await recordedStore(proxied, { watchdogMs: 1_500 });
    await waitFor(() => watchingAll(reports), 10_000, "every informer watching through the proxy");

    proxy.silence();
    const since = reports.length;
    await direct.apply(desiredState("during"));
    // Two watchdog expiries of one informer: the silenced watch, then the retry that got no answer.
    await waitFor(
      () =>
        reports
          .slice(since)
          .filter((r) => r.kind === "DesiredState" && r.type === "interrupted" && r.reason === "watchdog").length >= 2,
      30_000,
      "the watchdog to abort the silent watch and the unanswered retry",
    );
    assert.equal(seen(events, "ADDED", "during"), false, "nothing can arrive through a silent proxy");

    proxy.heal();
    await waitFor(() => seen(events, "ADDED", "during"), 60_000, "the object created while the watch was silent");
    await direct.apply(desiredState("during", "moved"));
    await waitFor(() => seen(events, "MODIFIED", "during", "moved"), 60_000, "a change made after the watch recovered");
    await store.close();
    await direct.close();
  });
});
