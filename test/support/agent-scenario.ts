import { ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState, writeManifest } from "./desired-states.js";
import { FakeMessagesServer, type ScriptStep } from "./fake-anthropic.js";
import { listRemediations } from "./status.js";
import { cli, StewardProcess, tempStateDir } from "./steward.js";
import { waitFor } from "../../scripts/lib/wait.js";
import type { AgentRemediation } from "../../src/api/remediation.js";

export interface AgentScenarioOptions {
  script: ScriptStep[];
  mode: "auto" | "approve" | "observe";
  /** A RemediationPolicy named "test" to apply; the DesiredState then refers to it. */
  policy?: string;
  maxAttempts?: number;
  members?: readonly string[];
  extraArgs?: string[];
}

export interface AgentScenario {
  state: string;
  steward: StewardProcess;
  fake: FakeMessagesServer;
  stop(): Promise<void>;
}

/**
 * Steward with a scripted fake Messages API, a DesiredState over the etcd cluster with
 * simple fixes disabled (so every drift goes to the agent), and the given policy.
 */
export async function startAgentScenario(options: AgentScenarioOptions): Promise<AgentScenario> {
  await ensureCluster();
  const fake = new FakeMessagesServer(options.script);
  const baseURL = await fake.start();
  const state = await tempStateDir();
  const manifests: string[] = [];
  if (options.policy) manifests.push(await writeManifest(state, "policy.yaml", options.policy));
  manifests.push(
    await writeManifest(
      state,
      "ds.yaml",
      etcdDesiredState({
        simpleFixes: [],
        members: options.members,
        agent: {
          mode: options.mode,
          policyRef: options.policy ? "test" : "default",
          maxAttempts: options.maxAttempts ?? 2,
        },
        cooldown: "0s",
      }),
    ),
  );
  const applied = await cli(state, "apply", ...manifests.flatMap((m) => ["-f", m]));
  if (applied.code !== 0) throw new Error(`apply failed: ${applied.stderr}`);
  const steward = new StewardProcess(state, ["--verify-timeout", "3s", ...(options.extraArgs ?? [])], {
    ANTHROPIC_API_KEY: "test-key-not-secret",
    ANTHROPIC_BASE_URL: baseURL,
  });
  await steward.start();
  const scenario: AgentScenario = {
    state,
    steward,
    fake,
    // The test may replace `steward` (a restart); stop whichever runs now.
    async stop(): Promise<void> {
      await scenario.steward.stop();
      await fake.close();
    },
  };
  return scenario;
}

export async function waitForPhase(
  state: string,
  phases: readonly string[],
  timeoutMs = 30_000,
): Promise<AgentRemediation> {
  return waitFor(
    async () => {
      const [remediation] = await listRemediations(state);
      return remediation && phases.includes(remediation.status?.phase ?? "") ? remediation : undefined;
    },
    timeoutMs,
    `a remediation in phase ${phases.join(" or ")}`,
  );
}

export const POLICY_AUTO_START = `apiVersion: steward.dev/v1alpha1
kind: RemediationPolicy
metadata: {name: test}
spec:
  rules:
    - {decision: deny, command: "docker rm *"}
    - {decision: allow, command: "docker start *"}
    - {decision: allow, command: "docker ps *"}
`;
