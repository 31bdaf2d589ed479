import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";

/**
 * What the operator's packaging promises, read from the files themselves (the e2e tests
 * operator-image and manifests run them for real): non-root, read-only root filesystem, no
 * privilege, and RBAC with no wildcard, no Secrets and no way to grant itself more.
 */

const ROOT = new URL("../../", import.meta.url).pathname;

type Obj = Record<string, unknown>;

async function documents(path: string): Promise<Obj[]> {
  return parseAllDocuments(await readFile(`${ROOT}${path}`, "utf8")).map((d) => d.toJS() as Obj);
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

describe("the operator image and Deployment", () => {
  it("the image's last USER is a fixed non-root uid", async () => {
    const users = (await readFile(`${ROOT}docker/Dockerfile`, "utf8")).split("\n").filter((l) => /^USER\s/.test(l));
    assert.match(users.at(-1) ?? "", /^USER 10001:10001$/);
  });

  it("the pod runs as that uid, non-root, read-only root filesystem, no privilege escalation, no capabilities", async () => {
    const [deployment] = await documents("manifests/deployment.yaml");
    const pod = (deployment as { spec: { template: { spec: Obj } } }).spec.template.spec as {
      securityContext: Obj;
      containers: { securityContext: Obj; volumeMounts: { mountPath: string; readOnly?: boolean }[] }[];
      volumes: { name: string; emptyDir?: unknown }[];
      hostNetwork?: boolean;
      hostPID?: boolean;
    };
    assert.deepEqual(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, 10001);
    assert.equal(pod.hostNetwork ?? false, false);
    assert.equal(pod.hostPID ?? false, false);
    for (const container of pod.containers) {
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.equal(container.securityContext.allowPrivilegeEscalation, false);
      assert.deepEqual((container.securityContext.capabilities as { drop: string[] }).drop, ["ALL"]);
      assert.equal(container.securityContext.privileged ?? false, false);
      // Writable: the state dir and /tmp, both emptyDirs; nothing from the host.
      assert.deepEqual(container.volumeMounts.map((m) => m.mountPath).sort(), ["/tmp", "/var/lib/steward"]);
    }
    assert.ok(
      pod.volumes.every((v) => v.emptyDir !== undefined),
      "only emptyDir volumes",
    );
  });
});

describe("RBAC (manifests/rbac.yaml)", () => {
  const rules = async (): Promise<Rule[]> =>
    (await documents("manifests/rbac.yaml"))
      .filter((d) => d.kind === "ClusterRole" || d.kind === "Role")
      .flatMap((d) => d.rules as Rule[]);

  it("no wildcard anywhere", async () => {
    for (const rule of await rules()) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs])
        assert.ok(!field.includes("*"), JSON.stringify(rule));
    }
  });

  it("no Secrets or ConfigMaps, no exec, no RBAC objects, and no verb that grants more (escalate, bind, impersonate)", async () => {
    for (const rule of await rules()) {
      for (const resource of rule.resources) {
        assert.ok(
          !["secrets", "configmaps", "pods/exec", "pods/attach", "serviceaccounts/token", "nodes/proxy"].includes(
            resource,
          ),
          `${resource}: ${JSON.stringify(rule)}`,
        );
      }
      assert.ok(!rule.apiGroups.includes("rbac.authorization.k8s.io"), JSON.stringify(rule));
      for (const verb of ["escalate", "bind", "impersonate"])
        assert.ok(!rule.verbs.includes(verb), JSON.stringify(rule));
    }
  });

  it("the controller cannot write what people declare: DesiredStates and policies are read-only to it, and it deletes no steward.dev object", async () => {
    for (const rule of (await rules()).filter((r) => r.apiGroups.includes("steward.dev"))) {
      for (const resource of rule.resources.filter((r) =>
        ["desiredstates", "remediationpolicies", "notificationpolicies"].includes(r),
      )) {
        assert.deepEqual([...rule.verbs].sort(), ["get", "list", "watch"], resource);
      }
      assert.ok(!rule.verbs.includes("delete") && !rule.verbs.includes("deletecollection"), JSON.stringify(rule));
    }
  });

  it("the Lease rule that may update is limited to the Lease steward", async () => {
    for (const rule of (await rules()).filter(
      (r) => r.resources.includes("leases") && r.verbs.some((v) => v !== "create"),
    )) {
      assert.deepEqual(rule.resourceNames, ["steward"]);
    }
  });
});
