/**
 * A child process for test/store/file-lock.test.ts: says it is ready (a file
 * `<file>.ready.<pid>`), then in each round waits until the test opens it (the number in
 * `<round file>` passes the round's), and increments the counter in `file` once under
 * withFileLock. argv: <file> <rounds> <round file>
 */
import { readFile, writeFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { withFileLock, writeFileAtomic } from "../../../src/store/file/atomic.js";

const [file = "", rounds = "0", roundFile = ""] = process.argv.slice(2);

async function opened(round: number): Promise<boolean> {
  return Number(await readFile(roundFile, "utf8").catch(() => "0")) > round;
}

await writeFile(`${file}.ready.${process.pid}`, "");
for (let round = 0; round < Number(rounds); round++) {
  // A short poll: every worker must be at the lock within a few ms of the others.
  while (!(await opened(round))) await sleep(2);
  await withFileLock(file, async () => {
    const count = Number(await readFile(file, "utf8"));
    await writeFileAtomic(file, String(count + 1));
  });
}
