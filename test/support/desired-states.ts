import { writeFile } from "node:fs/promises";
import { join } from "node:path";

export interface EtcdStateOptions {
  name?: string;
  members?: readonly string[];
  simpleFixes?: readonly string[];
  budget?: { max: number; window: string };
  invariants?: string;
  interval?: string;
  healthy?: boolean;
  agent?: { mode: string; policyRef?: string; maxAttempts?: number };
  cooldown?: string;
}

/** A DesiredState over the demo etcd project, shaped like examples/etcd but with short windows. */
export function etcdDesiredState(options: EtcdStateOptions = {}): string {
  const members = options.members ?? ["etcd0", "etcd1", "etcd2"];
  const budget = options.budget ?? { max: 3, window: "10m" };
  const services = members
    .map(
      (m) =>
        `    - {name: ${m}, healthy: ${String(options.healthy ?? false)}, restartBudget: {max: ${budget.max}, window: ${budget.window}}}`,
    )
    .join("\n");
  return `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: ${options.name ?? "etcd"}}
spec:
  target: {docker: {project: etcd}}
  interval: ${options.interval ?? "2s"}
  services:
${services || "    []"}
  invariants:
${options.invariants ?? "    []"}
  remediation:
    simpleFixes: [${(options.simpleFixes ?? ["start", "restart"]).join(", ")}]
    agent: {mode: ${options.agent?.mode ?? "approve"}, policyRef: ${options.agent?.policyRef ?? "default"}, maxAttempts: ${options.agent?.maxAttempts ?? 2}}
    cooldown: ${options.cooldown ?? "5m"}
`;
}

export const ALL_MEMBERS_UP = `    - name: all-members-up
      query: count(up{job="etcd"} == 1)
      condition: "== 3"
      for: 4s
      onMissingData: unknown
      description: Prometheus can scrape all three etcd members.
`;

export async function writeManifest(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}
