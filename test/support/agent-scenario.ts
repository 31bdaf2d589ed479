import { ensureCluster } from "../../scripts/lib/cluster.js";
import { etcdDesiredState, writeManifest } from "./desired-states.js";
import { FakeMessagesServer, type FakePlatform, type ScriptStep } from "./fake-anthropic.js";
import { FakeGoogleMetadata } from "./fake-google-metadata.js";
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
  /** Claude through Bedrock or Vertex (steward run --provider) instead of the Anthropic API. */
  provider?: "bedrock" | "vertex";
}

/** The AWS credentials and region a Bedrock scenario gives Steward's environment (the AWS chain's first link). */
export const TEST_AWS = { accessKeyId: "AKIAFAKEFORSTEWARD01", region: "eu-west-3" } as const;
export const TEST_VERTEX = { project: "steward-test-project", region: "us-east5" } as const;

interface ModelEndpoint {
  fake: FakeMessagesServer;
  env: Record<string, string>;
  close(): Promise<void>;
}

/** The fake Messages API of the provider, and the environment that points Steward's SDK and credential chain at it. */
async function modelEndpoint(
  script: ScriptStep[],
  provider: AgentScenarioOptions["provider"],
  stateDir: string,
): Promise<ModelEndpoint> {
  if (provider === "vertex") {
    const metadata = new FakeGoogleMetadata(TEST_VERTEX.project);
    const metadataHost = await metadata.start();
    const platform: FakePlatform = { type: "vertex", ...TEST_VERTEX, token: () => metadata.lastToken() };
    const fake = new FakeMessagesServer(script, platform);
    const url = await fake.start();
    const env = {
      STEWARD_PROVIDER: "vertex",
      CLOUD_ML_REGION: TEST_VERTEX.region,
      ANTHROPIC_VERTEX_BASE_URL: `${url}/v1`,
      GCE_METADATA_HOST: metadataHost,
      // No gcloud credentials file of the machine's user: the chain must end at the metadata server.
      CLOUDSDK_CONFIG: stateDir,
    };
    return { fake, env, close: async () => (await fake.close(), await metadata.close()) };
  }
  if (provider === "bedrock") {
    const fake = new FakeMessagesServer(script, { type: "bedrock", ...TEST_AWS });
    const url = await fake.start();
    const env = {
      STEWARD_PROVIDER: "bedrock",
      AWS_REGION: TEST_AWS.region,
      AWS_ACCESS_KEY_ID: TEST_AWS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: "fake/secret/for/steward/tests/only0000",
      ANTHROPIC_BEDROCK_BASE_URL: url,
    };
    return { fake, env, close: () => fake.close() };
  }
  const fake = new FakeMessagesServer(script);
  const url = await fake.start();
  return {
    fake,
    env: { ANTHROPIC_API_KEY: "test-key-not-secret", ANTHROPIC_BASE_URL: url },
    close: () => fake.close(),
  };
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
  const state = await tempStateDir();
  const endpoint = await modelEndpoint(options.script, options.provider, state);
  const { fake } = endpoint;
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
  const steward = new StewardProcess(state, ["--verify-timeout", "3s", ...(options.extraArgs ?? [])], endpoint.env);
  await steward.start();
  const scenario: AgentScenario = {
    state,
    steward,
    fake,
    // The test may replace `steward` (a restart); stop whichever runs now.
    async stop(): Promise<void> {
      await scenario.steward.stop();
      await endpoint.close();
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
