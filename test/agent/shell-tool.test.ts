/**
 * The shell tool is contained (issue 11): its program comes from fixed directories found at
 * start, never from Steward's PATH; it sees no environment but that PATH; a program that
 * ignores SIGTERM is killed with its whole process group after the grace period and the
 * call is reported as timed out, an error; output past the cap stops it. Real processes,
 * no engine.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { KILL_GRACE_MS, shell } from "../../src/agent/shell-tool.js";
import { PROGRAM_DIRECTORIES, ProgramPaths } from "../../src/agent/programs.js";
import type { AgentScope } from "../../src/agent/ownership.js";
import type { ToolEnvironment } from "../../src/agent/tools.js";

const SCOPE: AgentScope = { target: "docker", objects: [], endpoints: [], secrets: ["scope-secret-value"] };

function environment(programs: ProgramPaths, overrides: Partial<ToolEnvironment> = {}): ToolEnvironment {
  return {
    prometheus: undefined,
    timeoutMs: 10_000,
    outputCapBytes: 64 * 1024,
    dryRun: false,
    scope: () => Promise.resolve(SCOPE),
    programs,
    ...overrides,
  };
}

/** Whether a process is still running (a zombie has ended: it only waits to be reaped). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  if (stat === "") return false;
  const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

describe("the shell tool", () => {
  let programs: ProgramPaths;
  before(async () => {
    programs = await ProgramPaths.scan();
  });

  it("a program that ignores SIGTERM is killed with its children after the grace period, and the call is a timeout error", async () => {
    const env = environment(programs, { timeoutMs: 500 });
    const started = Date.now();
    // The shell and its background sleep both ignore SIGTERM (an ignored signal stays ignored across exec).
    const result = await shell.run(
      { argv: ["sh", "-c", 'trap "" TERM; echo "$$"; sleep 30 & echo "$!"; wait; wait'] },
      env,
      new AbortController().signal,
    );
    const elapsed = Date.now() - started;
    assert.equal(result.isError, true, result.output);
    assert.match(result.output, /timed out after 500 ms: the program was sent SIGTERM, and SIGKILL 1000 ms later/);
    assert.ok(elapsed < 500 + KILL_GRACE_MS + 5_000, `the call took ${elapsed} ms; the program would have run 30 s`);
    const pids = result.output.split("\n").slice(0, 2).map(Number);
    assert.equal(pids.length, 2);
    for (const pid of pids) assert.equal(await alive(pid), false, `process ${pid} outlived the call`);
  });

  it("the session's own deadline for the call counts as a timeout too, and a shutdown says so", async () => {
    const env = environment(programs);
    const timedOut = await shell.run({ argv: ["sleep", "30"] }, env, AbortSignal.timeout(300));
    assert.equal(timedOut.isError, true);
    assert.match(timedOut.output, /timed out after/);
    const stop = new AbortController();
    setTimeout(() => stop.abort(new Error("lease lost")), 300);
    const stopped = await shell.run({ argv: ["sleep", "30"] }, env, stop.signal);
    assert.equal(stopped.isError, true);
    assert.match(stopped.output, /stopped: the session ended while the program ran/);
  });

  it("output past the cap stops the program: an error, not a truncated success", async () => {
    const env = environment(programs, { outputCapBytes: 1_000 });
    const result = await shell.run({ argv: ["yes"] }, env, new AbortController().signal);
    assert.equal(result.isError, true);
    assert.match(result.output, /more than 1000 bytes of output: the program was stopped/);
  });

  it("the program sees only the fixed directories as PATH, and nothing else of Steward's environment", async () => {
    const result = await shell.run({ argv: ["printenv"] }, environment(programs), new AbortController().signal);
    assert.equal(result.isError, false, result.output);
    assert.equal(result.output, `PATH=${PROGRAM_DIRECTORIES.join(":")}`);
  });

  it("reports a non-zero exit as an error with its code, and hands the scope's secrets to the redactor", async () => {
    const result = await shell.run({ argv: ["false"] }, environment(programs), new AbortController().signal);
    assert.deepEqual([result.isError, result.exitCode], [true, 1]);
    assert.deepEqual(result.secrets, ["scope-secret-value"]);
  });

  it("runs only programs found in the fixed directories at start", async () => {
    const env = environment(programs);
    for (const program of ["./sh", "bin/sh", "/tmp/sh", "no-such-program-xyz", "/usr/bin/../bin/sh"]) {
      const result = await shell.run({ argv: [program] }, env, new AbortController().signal);
      assert.equal(result.isError, true, program);
      assert.match(result.output, /is not one of the programs found in \/usr\/local\/sbin, .* when Steward started/);
    }
    const absolute = programs.resolve("sh");
    assert.ok(absolute.ok && absolute.path.startsWith("/"));
  });
});

describe("ProgramPaths", () => {
  it("keeps the executables of each directory, the first directory winning, as they were at the scan", async () => {
    const [first, second] = [await mkdtemp(join(tmpdir(), "bin-a-")), await mkdtemp(join(tmpdir(), "bin-b-"))];
    const script = "#!/bin/sh\necho hi\n";
    await writeFile(join(first, "tool"), script);
    await chmod(join(first, "tool"), 0o755);
    await writeFile(join(second, "tool"), script);
    await chmod(join(second, "tool"), 0o755);
    await writeFile(join(second, "notes"), "not a program");
    const paths = await ProgramPaths.scan([first, second, "/nonexistent-dir"]);
    assert.deepEqual(paths.resolve("tool"), { ok: true, path: join(first, "tool") });
    assert.deepEqual(paths.resolve(join(second, "tool")), { ok: true, path: join(second, "tool") });
    assert.equal(paths.resolve("notes").ok, false, "a file without the execute bit is no program");
    await writeFile(join(first, "planted"), script);
    await chmod(join(first, "planted"), 0o755);
    assert.equal(paths.resolve("planted").ok, false, "a program added after the scan is not picked up");
    assert.equal(paths.searchPath, `${first}:${second}:/nonexistent-dir`);
  });
});
