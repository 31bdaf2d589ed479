/**
 * The agent's reach (ownership.ts): the declared services' objects, or, for a remediation
 * an Alertmanager alert opened, the whole target — never anything outside it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POLICY } from "../../src/api/default-policy.js";
import { dockerScope, kubernetesScope, resolveReference, type Reach } from "../../src/agent/ownership.js";
import { container, controllerRef, desiredState, pod, replicaSet, workload } from "../support/scopes.js";

const HOST = [
  container("etcd-etcd1-1", { project: "etcd", service: "etcd1" }),
  container("etcd-etcd2-1", { project: "etcd", service: "etcd2" }),
  container("shop-db-1", { project: "shop", service: "db" }),
];

function dockerReach(reach: Reach, services: readonly string[]): Record<string, string> {
  const scope = dockerScope({
    desiredState: desiredState({ docker: { project: "etcd" } }, services),
    policy: DEFAULT_POLICY,
    containers: HOST,
    facts: new Map(),
    reach,
  });
  return Object.fromEntries(
    HOST.map((c) => {
      const r = resolveReference(scope, c.name, "change");
      return [c.name, r.ok ? "change" : "denied"];
    }),
  );
}

describe("the agent's reach", () => {
  it("services: only the declared services' containers may be changed", () => {
    assert.deepEqual(dockerReach("services", ["etcd1"]), {
      "etcd-etcd1-1": "change",
      "etcd-etcd2-1": "denied",
      "shop-db-1": "denied",
    });
  });

  it("target (an alert's remediation): every container the target selects, and nothing outside it", () => {
    assert.deepEqual(dockerReach("target", []), {
      "etcd-etcd1-1": "change",
      "etcd-etcd2-1": "change",
      "shop-db-1": "denied",
    });
  });

  it("target on Kubernetes: the target's workloads and the pods they own; another namespace's are out of reach", () => {
    const web = workload("Deployment", "web");
    const rs = replicaSet("web-7d9", "web");
    const own = pod("web-7d9-abcde", {
      owners: [controllerRef("ReplicaSet", rs.name, rs.uid)],
      labels: { app: "web" },
    });
    const scope = kubernetesScope({
      desiredState: desiredState({ kubernetes: { namespace: "shop" } }, []),
      policy: DEFAULT_POLICY,
      view: { synced: true, workloads: [web], replicaSets: [rs], pods: [own] },
      reach: "target",
    });
    assert.equal(resolveReference(scope, "deployment/web", "change").ok, true);
    assert.equal(resolveReference(scope, `pod/${own.name}`, "change").ok, true);
    const services = kubernetesScope({
      desiredState: desiredState({ kubernetes: { namespace: "shop" } }, []),
      policy: DEFAULT_POLICY,
      view: { synced: true, workloads: [web], replicaSets: [rs], pods: [own] },
      reach: "services",
    });
    assert.equal(resolveReference(services, "deployment/web", "change").ok, false, "no service declared: no change");
  });
});
