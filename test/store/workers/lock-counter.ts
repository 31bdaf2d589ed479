/**
 * A child process for test/store/file-lock.test.ts: in each round, waits for the round's
 * start time, then increments the counter in `file` once under withFileLock.
 * argv: <file> <rounds> <first round at, epoch ms> <round period ms>
 */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { withFileLock, writeFileAtomic } from "../../../src/store/file/atomic.js";

const [file = "", rounds = "0", firstAt = "0", period = "0"] = process.argv.slice(2);
for (let round = 0; round < Number(rounds); round++) {
  await sleep(Math.max(0, Number(firstAt) + round * Number(period) - Date.now()));
  await withFileLock(file, async () => {
    const count = Number(await readFile(file, "utf8"));
    await writeFileAtomic(file, String(count + 1));
  });
}
