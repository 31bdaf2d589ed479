import { NotificationPolicy } from "../../src/api/notification-policy.js";
import type { NotificationRecord } from "../../src/api/notifications.js";
import type { AgentRemediation } from "../../src/api/remediation.js";

export const AT = "2026-12-01T10:00:00.000Z";

/** An approve-mode remediation of etcd1 stopped, with container evidence. */
export function remediation(over: Partial<AgentRemediation["spec"]> = {}): AgentRemediation {
  return {
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: "etcd-etcd1-a1b2c3", namespace: "default", uid: "5f0c1e2a-0000-4000-8000-000000000001" },
    spec: {
      desiredStateRef: { name: "etcd", namespace: "default" },
      fingerprint: "0123456789abcdef",
      reason: "SimpleFixDisabled",
      drift: [
        {
          type: "ContainerStopped",
          subject: "container/etcd1",
          expected: "running",
          observed: "exited (exit code 0)",
          since: AT,
          evidence: {
            containers: [
              {
                name: "etcd1",
                state: "exited",
                exitCode: 0,
                restartCount: 0,
                oomKilled: false,
                logs: ["a", "b", "c", "etcd stopped"],
              },
            ],
          },
        },
      ],
      policyRef: "default",
      mode: "approve",
      maxAttempts: 2,
      severity: "critical",
      ...over,
    },
    status: { phase: "AwaitingApproval", attempts: [], actions: [], pendingApproval: [], conditions: [] },
  };
}

export const awaiting: NotificationRecord = {
  id: "AwaitingApproval-2",
  event: "AwaitingApproval",
  at: AT,
  reason: "ApprovalRequired",
  message: "docker start etcd1 waits for a person",
  pending: [{ id: "toolu_01ABC", command: "docker start etcd1" }],
};

export function policy(spec: unknown, name = "oncall", namespace = "default"): NotificationPolicy {
  return NotificationPolicy.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "NotificationPolicy",
    metadata: { name, namespace },
    spec,
  });
}
