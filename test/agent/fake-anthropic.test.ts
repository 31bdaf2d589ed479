import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import Anthropic, { APIError } from "@anthropic-ai/sdk";
import { FakeMessagesServer, lastToolResults, text, toolUse, type ScriptStep } from "../support/fake-anthropic.js";

const MODEL = "claude-sonnet-5-5";
const tools: Anthropic.Tool[] = [
  {
    name: "docker_ps",
    description: "List containers.",
    input_schema: { type: "object", properties: { all: { type: "boolean" } } },
  },
];
const ask: Anthropic.MessageParam[] = [{ role: "user", content: "etcd1 is down; investigate." }];

let fake: FakeMessagesServer | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function clientFor(script: ScriptStep[]): Promise<{ client: Anthropic; server: FakeMessagesServer }> {
  const server = new FakeMessagesServer(script);
  fake = server;
  const baseURL = await server.start();
  return { client: new Anthropic({ apiKey: "test-key", baseURL, maxRetries: 2 }), server };
}

async function rejection(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof APIError, `expected an APIError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected the request to fail");
}

describe("FakeMessagesServer driven by the real SDK", () => {
  it("completes a tool_use round trip in the real response shape", async () => {
    const { client, server } = await clientFor([
      { content: [text("Let me look."), toolUse("docker_ps", { all: true })], stop_reason: "tool_use" },
      (request) => {
        const [result] = lastToolResults(request);
        return {
          content: [text(`Saw: ${result?.text ?? "nothing"}`)],
          stop_reason: "end_turn",
          usage: { cache_read_input_tokens: 7 },
        };
      },
    ]);
    const first = await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      tools,
      messages: ask,
      system: [{ type: "text", text: "You are Steward.", cache_control: { type: "ephemeral" } }],
    });
    assert.match(first.id, /^msg_/);
    assert.equal(first.type, "message");
    assert.equal(first.model, MODEL);
    assert.equal(first.stop_reason, "tool_use");
    assert.equal(first.stop_sequence, null);
    assert.ok(first.usage.input_tokens > 0 && first.usage.output_tokens > 0);
    assert.equal(first.usage.cache_creation_input_tokens, 0);
    assert.match(first._request_id ?? "", /^req_/);
    const call = first.content.find((b) => b.type === "tool_use");
    assert.ok(call?.type === "tool_use");
    assert.match(call.id, /^toolu_01/);
    assert.deepEqual(call.input, { all: true });

    const second = await client.messages.create({
      model: MODEL,
      max_tokens: 1024,
      tools,
      messages: [
        ...ask,
        {
          role: "assistant",
          content: first.content.map((b) =>
            b.type === "tool_use"
              ? { type: "tool_use" as const, id: b.id, name: b.name, input: b.input }
              : { type: "text" as const, text: b.type === "text" ? b.text : "" },
          ),
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: call.id, content: "etcd1 Exited (0)" }] },
      ],
    });
    assert.deepEqual(
      second.content.map((b) => (b.type === "text" ? b.text : b.type)),
      ["Saw: etcd1 Exited (0)"],
    );
    assert.equal(second.usage.cache_read_input_tokens, 7);
    assert.equal(server.requests.length, 2);
    // SDK 1.12 sends the API key as a bearer token, not as x-api-key.
    assert.equal(server.requests[0]?.headers.authorization, "Bearer test-key");
    assert.ok(server.requests[0]?.headers["anthropic-version"]);
    assert.equal(server.remaining, 0);
  });

  it("a 429 with retry-after: 0 is retried by the SDK, then succeeds", async () => {
    // SDK 1.12 treats retry-after: 0 as "no advice" and waits its default backoff (~0.5 s).
    const { client, server } = await clientFor([
      { status: 429, headers: { "retry-after": "0" } },
      { content: [text("ok")], stop_reason: "end_turn" },
    ]);
    const reply = await client.messages.create({ model: MODEL, max_tokens: 64, messages: ask });
    assert.equal(reply.stop_reason, "end_turn");
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[0]?.status, 429);
    assert.equal(server.requests[1]?.headers["x-stainless-retry-count"], "1");
  });

  it("a 529 overloaded is retried by the SDK, then succeeds", async () => {
    const { client, server } = await clientFor([
      { status: 529, headers: { "retry-after-ms": "1" } },
      { content: [text("ok")], stop_reason: "end_turn" },
    ]);
    await client.messages.create({ model: MODEL, max_tokens: 64, messages: ask });
    assert.deepEqual(
      server.requests.map((r) => r.status),
      [529, 200],
    );
  });

  it("a persistent 500 makes the SDK give up after its retries with an APIError", async () => {
    const err500: ScriptStep = { status: 500, headers: { "retry-after-ms": "1" }, message: "boom" };
    const { client, server } = await clientFor([err500, err500, err500]);
    const err = await rejection(client.messages.create({ model: MODEL, max_tokens: 64, messages: ask }));
    assert.equal(err.status, 500);
    assert.equal(err.type, "api_error");
    assert.equal(server.requests.length, 3, "one request and maxRetries=2 retries");
  });

  it("a 400 is not retried", async () => {
    const { client, server } = await clientFor([{ status: 400, message: "max_tokens: too large" }]);
    const err = await rejection(client.messages.create({ model: MODEL, max_tokens: 64, messages: ask }));
    assert.equal(err.status, 400);
    assert.equal(err.type, "invalid_request_error");
    assert.equal(server.requests.length, 1);
  });

  it("answers a tool_result that answers no tool_use with 400 invalid_request_error, consuming no step", async () => {
    const { client, server } = await clientFor([{ content: [text("unused")], stop_reason: "end_turn" }]);
    const err = await rejection(
      client.messages.create({
        model: MODEL,
        max_tokens: 64,
        tools,
        messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_nope", content: "x" }] }],
      }),
    );
    assert.equal(err.status, 400);
    assert.equal(err.type, "invalid_request_error");
    assert.match(err.apiMessage ?? "", /unexpected `tool_use_id`.*toolu_nope/);
    assert.equal(server.requests.length, 1);
    assert.equal(server.remaining, 1);
  });

  it("rejects an unanswered tool_use, text before tool_result, and a tool without description", async () => {
    const { client } = await clientFor([]);
    const used: Anthropic.MessageParam = {
      role: "assistant",
      content: [{ type: "tool_use", id: "toolu_a", name: "docker_ps", input: {} }],
    };
    const cases: [Anthropic.MessageCreateParamsNonStreaming, RegExp][] = [
      [
        { model: MODEL, max_tokens: 8, tools, messages: [...ask, used, { role: "user", content: "go on" }] },
        /without `tool_result` blocks/,
      ],
      [
        {
          model: MODEL,
          max_tokens: 8,
          tools,
          messages: [
            ...ask,
            used,
            {
              role: "user",
              content: [
                { type: "text", text: "here" },
                { type: "tool_result", tool_use_id: "toolu_a" },
              ],
            },
          ],
        },
        /must come FIRST/,
      ],
      [
        { model: MODEL, max_tokens: 8, tools: [{ name: "x", input_schema: { type: "object" } }], messages: ask },
        /description/,
      ],
      [{ model: MODEL, max_tokens: 8, messages: [...ask, { role: "user", content: "again" }] }, /roles must alternate/],
    ];
    for (const [params, reason] of cases) {
      const err = await rejection(client.messages.create(params));
      assert.equal(err.status, 400);
      assert.match(err.apiMessage ?? "", reason);
    }
  });

  it("fails loudly, without SDK retries, when the script is exhausted", async () => {
    const { client, server } = await clientFor([]);
    const err = await rejection(client.messages.create({ model: MODEL, max_tokens: 8, messages: ask }));
    assert.equal(err.status, 500);
    assert.match(err.apiMessage ?? "", /script exhausted/);
    assert.equal(server.requests.length, 1);
    assert.match(server.allRequestBodies(), /etcd1 is down/);
  });
});
