import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Argument, Command, Option } from "commander";
import { FILES, complete } from "../../src/cli/completion.js";

/** A program shaped like steward's: global options, commands with options, a nested command. */
function program(): Command {
  const root = new Command("steward").option("-n, --namespace <ns>", "").option("--verbose", "");
  root.addOption(new Option("--store <store>", "").choices(["file", "kubernetes"]));
  root.command("get").argument("[type]").argument("[name]").option("-o, --output <format>", "").option("-w, --watch");
  root.command("apply").requiredOption("-f, --filename <path...>", "");
  root.command("run").addOption(new Option("--log-format <format>", "").choices(["json", "text"]));
  root.command("audit").command("verify").argument("<name>");
  root.command("completion").addArgument(new Argument("<shell>").choices(["bash", "zsh", "fish"]));
  root.command("__complete").argument("[words...]");
  return root;
}

describe("complete (what shell completion offers for the word being typed)", () => {
  const cases: [string, string[], string[]][] = [
    ["commands, never the hidden one", [""], ["get", "apply", "run", "audit", "completion"]],
    ["commands by prefix", ["a"], ["apply", "audit"]],
    ["a nested command", ["audit", ""], ["verify"]],
    [
      "resource types for a command whose first argument is a type",
      ["get", "r"],
      ["remediations", "remediation", "rem", "remediationpolicies", "remediationpolicy", "rp"],
    ],
    ["nothing once the type is given (names are not completed)", ["get", "ds", ""], []],
    ["an option's choices", ["run", "--log-format", ""], ["json", "text"]],
    ["a global option's choices after the command", ["get", "--store", "k"], ["kubernetes"]],
    ["-o formats", ["get", "-o", "y"], ["yaml"]],
    ["files for -f: the shell completes paths", ["apply", "-f", "exa"], [FILES]],
    ["an option's value is skipped, not taken for a command", ["--store", "file", "g"], ["get"]],
    [
      "options of the command and the global ones",
      ["get", "--"],
      ["--output", "--watch", "--namespace", "--verbose", "--store", "--help"],
    ],
    [
      "short options too",
      ["get", "-"],
      ["--output", "-o", "--watch", "-w", "--namespace", "-n", "--verbose", "--store", "--help"],
    ],
    ["an argument's choices", ["completion", ""], ["bash", "zsh", "fish"]],
    ["an unknown word leads nowhere", ["frobnicate", ""], []],
  ];
  for (const [what, words, expected] of cases) {
    it(`${what}: ${JSON.stringify(words)}`, () => assert.deepEqual(complete(program(), words), expected));
  }
});
