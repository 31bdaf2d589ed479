import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { demuxDockerStream, splitLogLines } from "../../src/act/docker.js";

/** One frame of Docker's multiplexed log stream. */
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header.writeUInt8(stream, 0);
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

void describe("demuxDockerStream", () => {
  const cases: [string, Buffer, string][] = [
    ["nothing", Buffer.alloc(0), ""],
    [
      "stdout and stderr frames, in order",
      Buffer.concat([frame(1, "out 1\n"), frame(2, "err 1\n"), frame(1, "out 2\n")]),
      "out 1\nerr 1\nout 2\n",
    ],
    ["an empty frame", Buffer.concat([frame(1, ""), frame(1, "x\n")]), "x\n"],
    [
      "a UTF-8 character split across two frames",
      Buffer.concat([
        frame(1, "caf"),
        Buffer.from([1, 0, 0, 0, 0, 0, 0, 1, 0xc3]),
        Buffer.from([1, 0, 0, 0, 0, 0, 0, 1, 0xa9]),
        frame(1, "\n"),
      ]),
      "café\n",
    ],
    ["a truncated last frame keeps what arrived", frame(1, "partial line").subarray(0, 8 + 7), "partial"],
    ["bytes that are not a frame are kept as they are", Buffer.from("plain tty text\n"), "plain tty text\n"],
  ];
  for (const [name, input, expected] of cases) {
    void it(`strips the framing: ${name}`, () => {
      assert.equal(demuxDockerStream(input).toString("utf8"), expected);
    });
  }
});

void describe("splitLogLines", () => {
  const cases: [string, string, string[]][] = [
    ["", "", []],
    ["one line with newline", "a\n", ["a"]],
    ["a last line without newline", "a\nb", ["a", "b"]],
    ["TTY CRLF", "a\r\nb\r\n", ["a", "b"]],
    ["blank lines kept (they are output)", "a\n\nb\n", ["a", "", "b"]],
  ];
  for (const [name, text, expected] of cases) {
    void it(`splits ${name || "empty output"}`, () => {
      assert.deepEqual(splitLogLines(text), expected);
    });
  }
});
