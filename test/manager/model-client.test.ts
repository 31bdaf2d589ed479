import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { modelClient } from "../../src/manager/model-client.js";
import { resolveRunConfig } from "../../src/manager/config.js";
import { FakeMessagesServer, text } from "../support/fake-anthropic.js";
import { FakeGoogleMetadata } from "../support/fake-google-metadata.js";

const request = {
  model: "",
  max_tokens: 64,
  messages: [{ role: "user" as const, content: "the etcd cluster lost a member" }],
};
const reply = { content: [text("looking")], stop_reason: "end_turn" };

describe("modelClient: the official SDK of each provider, against a fake of its HTTP API", () => {
  const saved = { ...process.env };
  let stateDir = "";

  before(async () => {
    stateDir = await mkdtemp(join(tmpdir(), "steward-model-client-"));
  });
  after(() => {
    process.env = saved;
  });

  it("bedrock: POST /model/{id}/invoke, SigV4-signed with the AWS chain's credentials (the environment here)", async () => {
    const fake = new FakeMessagesServer([reply], {
      type: "bedrock",
      accessKeyId: "AKIAFAKEFORSTEWARD01",
      region: "eu-west-3",
    });
    const url = await fake.start();
    try {
      process.env.AWS_ACCESS_KEY_ID = "AKIAFAKEFORSTEWARD01";
      process.env.AWS_SECRET_ACCESS_KEY = "fake/secret/for/steward/tests/only0000";
      delete process.env.AWS_BEARER_TOKEN_BEDROCK;
      const config = resolveRunConfig(
        { stateDir, provider: "bedrock" },
        { AWS_REGION: "eu-west-3", ANTHROPIC_BEDROCK_BASE_URL: url },
      );
      const client = await modelClient(config);
      const answer = await client?.messages.create({ ...request, model: config.model });
      assert.equal(answer?.content[0]?.type, "text");
      const [sent] = fake.requests;
      assert.equal(sent?.path, "/model/global.anthropic.claude-sonnet-5-5/invoke");
      assert.equal(sent?.problem, undefined);
      assert.match(
        String(sent?.headers.authorization),
        /^AWS4-HMAC-SHA256 Credential=AKIAFAKEFORSTEWARD01\/\d{8}\/eu-west-3\/bedrock\/aws4_request/,
      );
      assert.equal((sent?.json as { anthropic_version?: string }).anthropic_version !== undefined, true);
    } finally {
      await fake.close();
    }
  });

  it("vertex: POST …/publishers/anthropic/models/{m}:rawPredict with the token of Google's ADC (a metadata server here)", async () => {
    const metadata = new FakeGoogleMetadata("steward-test-project");
    const metadataHost = await metadata.start();
    const fake = new FakeMessagesServer([reply], {
      type: "vertex",
      project: "steward-test-project",
      region: "us-east5",
      token: () => metadata.lastToken(),
    });
    const url = await fake.start();
    try {
      process.env.GCE_METADATA_HOST = metadataHost;
      process.env.CLOUDSDK_CONFIG = stateDir;
      delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
      const config = resolveRunConfig(
        { stateDir, provider: "vertex" },
        { CLOUD_ML_REGION: "us-east5", ANTHROPIC_VERTEX_BASE_URL: `${url}/v1` },
      );
      const client = await modelClient(config);
      await client?.messages.create({ ...request, model: config.model });
      const [sent] = fake.requests;
      assert.equal(
        sent?.path,
        "/v1/projects/steward-test-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-5-5:rawPredict",
      );
      assert.equal(sent?.problem, undefined);
      assert.equal(sent?.headers.authorization, `Bearer ${metadata.lastToken()}`);
      assert.ok(metadata.requests.includes("/computeMetadata/v1/instance/service-accounts/default/token"));
    } finally {
      await fake.close();
      await metadata.close();
    }
  });
});
