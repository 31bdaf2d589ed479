import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { blocksOf, cacheShare } from "../../bench/lib/prompt-cache.js";

const tools = [{ name: "docker_ps", description: "list", input_schema: { type: "object" } }];
const system = [{ type: "text", text: "S".repeat(4000), cache_control: { type: "ephemeral" } }];
const incident = { role: "user", content: "I".repeat(2000) };
const answer = (n: number): unknown => ({
  role: "assistant",
  content: [{ type: "tool_use", id: `t${n}`, name: "docker_ps", input: {} }],
});
const result = (n: number, marked = false): unknown => ({
  role: "user",
  content: [
    {
      type: "tool_result",
      tool_use_id: `t${n}`,
      content: "R".repeat(500),
      ...(marked ? { cache_control: { type: "ephemeral" } } : {}),
    },
  ],
});

describe("prompt-cache share", () => {
  it("splits a request into tools, system and message blocks, marking breakpoints", () => {
    const blocks = blocksOf({ tools, system, messages: [incident] });
    assert.deepEqual(
      blocks.map((b) => b.breakpoint),
      [false, true, false],
    );
    assert.ok(!blocks[1]?.text.includes("cache_control"), "the marker itself is not part of the cached bytes");
  });

  it("with a breakpoint on the system prompt only, later turns read just tools + system", () => {
    const turn1 = { tools, system, messages: [incident] };
    const turn2 = { tools, system, messages: [incident, answer(1), result(1)] };
    const share = cacheShare([{ json: turn1 }, { json: turn2 }]);
    assert.equal(share.laterTurns, 1);
    assert.ok(share.laterTurnsShare > 0.5 && share.laterTurnsShare < 0.7, String(share.laterTurnsShare));
  });

  it("a breakpoint on the last block of each request lets the next turn read the whole conversation so far", () => {
    const marked = {
      ...incident,
      content: [{ type: "text", text: incident.content, cache_control: { type: "ephemeral" } }],
    };
    const turn1 = { tools, system, messages: [marked] };
    const turn2 = {
      tools,
      system,
      messages: [{ ...incident, content: [{ type: "text", text: incident.content }] }, answer(1), result(1, true)],
    };
    const share = cacheShare([{ json: turn1 }, { json: turn2 }]);
    assert.ok(share.laterTurnsShare > 0.9, String(share.laterTurnsShare));
  });

  it("a system prompt that differs by one byte between conversations is not read from the cache", () => {
    const other = [{ ...system[0], text: `${"S".repeat(3999)}T` }];
    const same = cacheShare([
      { json: { tools, system, messages: [incident] } },
      { json: { tools, system, messages: [incident] } },
    ]);
    const changed = cacheShare([
      { json: { tools, system, messages: [incident] } },
      { json: { tools, system: other, messages: [incident] } },
    ]);
    assert.equal(same.firstTurns, 1);
    assert.ok(same.firstTurnsShare > 0.6);
    assert.equal(changed.firstTurnsShare, 0);
  });
});
