import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withCacheBreakpoint } from "../../src/agent/session.js";
import { cacheShare } from "../../bench/lib/prompt-cache.js";

describe("the prompt-cache breakpoint on the conversation", () => {
  it("marks the last block of the last message, on a copy: the stored conversation keeps no marker", () => {
    const messages = [
      { role: "user" as const, content: "the incident" },
      { role: "assistant" as const, content: [{ type: "tool_use" as const, id: "t1", name: "docker_ps", input: {} }] },
      {
        role: "user" as const,
        content: [{ type: "tool_result" as const, tool_use_id: "t1", content: "etcd0 running" }],
      },
    ];
    const sent = withCacheBreakpoint(messages);
    assert.deepEqual(sent.at(-1)?.content, [
      { type: "tool_result", tool_use_id: "t1", content: "etcd0 running", cache_control: { type: "ephemeral" } },
    ]);
    assert.equal(JSON.stringify(messages).includes("cache_control"), false);
    assert.deepEqual(withCacheBreakpoint([{ role: "user", content: "hi" }]), [
      { role: "user", content: [{ type: "text", text: "hi", cache_control: { type: "ephemeral" } }] },
    ]);
    assert.deepEqual(withCacheBreakpoint([]), []);
  });

  it("lets each turn read the conversation before it from the cache (simulated over three turns)", () => {
    const tools = [{ name: "docker_ps", description: "list containers", input_schema: { type: "object" } }];
    const system = [{ type: "text", text: "S".repeat(3000), cache_control: { type: "ephemeral" } }];
    const turn = (n: number): unknown[] => [
      { role: "assistant", content: [{ type: "tool_use", id: `t${n}`, name: "docker_ps", input: {} }] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: `t${n}`, content: "R".repeat(800) }] },
    ];
    const conversation = [{ role: "user", content: "I".repeat(4000) }];
    const requests = [0, 1, 2].map((n) => {
      const messages = [...conversation, ...Array.from({ length: n }, (_, k) => turn(k + 1)).flat()];
      return { json: { tools, system, messages: withCacheBreakpoint(messages as never) } };
    });
    const share = cacheShare(requests);
    assert.equal(share.laterTurns, 2);
    assert.ok(share.laterTurnsShare >= 0.8, `turns ≥ 2 read ${share.laterTurnsShare} from the cache`);
  });
});
