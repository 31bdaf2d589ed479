/**
 * SessionFiles: the conversation file a session resumes from. A session goes on while a save
 * it does not depend on is written, so saves asked for without waiting must still leave the
 * newest state on disk, never an older one over it.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SessionFiles } from "../../src/agent/session-store.js";
import type { SessionState } from "../../src/agent/session.js";

const state = (turns: number): SessionState => ({
  sessionId: "2026-12-07T00-00-00-00000000",
  model: "claude-test",
  attempt: 1,
  messages: [{ role: "user", content: `turn ${turns}` }],
  counters: {
    turns,
    toolCalls: 0,
    mutations: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    startedAtMs: 0,
  },
  nudges: 0,
});

describe("SessionFiles.save", () => {
  it("saves asked for without waiting leave the newest state on disk, and each resolves once it is there", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-sessions-"));
    const files = new SessionFiles(dir);
    const saves = Array.from({ length: 30 }, (_, k) => files.save("default", "r", state(k)));
    await Promise.all(saves);
    assert.equal((await files.load("default", "r"))?.counters.turns, 29);
  });

  it("a state changed after a save was asked for, before it began, is what that save writes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-sessions-"));
    const files = new SessionFiles(dir);
    const current = state(1);
    const saved = files.save("default", "r", current);
    current.counters.turns = 2;
    await saved;
    const text = await readFile(join(dir, "sessions", "default", "r.json"), "utf8");
    assert.equal((JSON.parse(text) as SessionState).counters.turns, 2);
  });

  it("a save after one resolved is written again (nothing is skipped once the earlier write began)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-sessions-"));
    const files = new SessionFiles(dir);
    const current = state(1);
    await files.save("default", "r", current);
    current.counters.turns = 5;
    await files.save("default", "r", current);
    assert.equal((await files.load("default", "r"))?.counters.turns, 5);
  });
});
