import { Budgets, RemediationPolicySpec, type PolicyDecisionKind, type PolicyRule } from "./policy.js";

function rule(decision: PolicyDecisionKind, command: string, description: string): PolicyRule {
  return { decision, command, description };
}

/**
 * The built-in policy `default`: read-only commands allowed; start/restart of the
 * target's own containers, and scale / rollout restart / pod deletion of its own workloads
 * (the target stage sees to "own") need a person; everything
 * destructive denied explicitly, and everything else denied as unmatched. Frozen: it is
 * shared by every session that has no policy of its own.
 *
 * Least privilege, so no broader than the words:
 * - `docker ps`, `docker inspect` and `docker logs` are not allowed through `shell`: the
 *   typed tools read only the target's containers and redact their secrets; the shell forms
 *   would show every container on the host, with its command line and env values.
 * - The etcdctl reads are exact: their words and nothing after them, and at most an
 *   `--endpoints=…` flag before them, whose value the destination stage holds to the
 *   endpoints Steward knows (the members' advertised client URLs, the policy's endpoints).
 *   A trailing `*` would accept `--endpoints`, `--discovery-srv` or `--user` after the words,
 *   and `etcdctl * endpoint health *` also matched `etcdctl del endpoint health`, a range
 *   delete that mode `auto` would have run unasked.
 */
export const DEFAULT_POLICY: RemediationPolicySpec = freeze(
  RemediationPolicySpec.parse({
    rules: [
      rule("allow", "etcdctl endpoint health", "etcd member health"),
      rule("allow", "etcdctl --endpoints=* endpoint health", "etcd member health"),
      rule("allow", "etcdctl endpoint status", "etcd member status"),
      rule("allow", "etcdctl --endpoints=* endpoint status", "etcd member status"),
      rule("allow", "etcdctl member list", "etcd membership"),
      rule("allow", "etcdctl --endpoints=* member list", "etcd membership"),
      rule("ask", "docker start *", "start a stopped container"),
      rule("ask", "docker restart *", "restart a container"),
      rule("deny", "docker rm *", "removing a container loses its state"),
      rule("deny", "docker kill *", "destructive"),
      rule("deny", "docker stop *", "stopping a container causes drift; it never fixes it"),
      rule("deny", "rm *", "deleting files"),
      rule("ask", "kubectl scale *", "scale a workload"),
      rule("ask", "kubectl rollout restart *", "replace a workload's pods"),
      rule("ask", "kubectl delete pod *", "delete a pod so its controller replaces it"),
      rule("deny", "kubectl delete deployment *", "deleting a workload"),
      rule("deny", "kubectl delete statefulset *", "deleting a workload"),
    ],
    budgets: Budgets.parse({}),
    dryRun: false,
  }),
);

function freeze(spec: RemediationPolicySpec): RemediationPolicySpec {
  for (const r of spec.rules) Object.freeze(r);
  Object.freeze(spec.rules);
  Object.freeze(spec.budgets);
  Object.freeze(spec.endpoints);
  return Object.freeze(spec);
}
