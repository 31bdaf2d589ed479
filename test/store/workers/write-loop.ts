/**
 * A child process for test/store/file-crash.test.ts: writes to a FileStore in a tight loop
 * until it is killed, printing `ack <i> <ms>` (synchronously, so a SIGKILL cannot lose a
 * line already acknowledged) after write i has returned. Write i is crashWrite(i).
 * argv: <state dir> <first i>
 */
import { writeSync } from "node:fs";
import { FileStore } from "../../../src/store/file/file-store.js";
import { crashWrite } from "./crash-writes.js";

const [dir = "", first = "0"] = process.argv.slice(2);
const store = new FileStore(dir);
for (let i = Number(first); ; i++) {
  const started = Date.now();
  const write = crashWrite(i);
  if (write.op === "apply") await store.apply(write.resource);
  else await store.updateStatus("DesiredState", { namespace: "default", name: write.name }, write.status);
  writeSync(1, `ack ${i} ${Date.now() - started}\n`);
}
