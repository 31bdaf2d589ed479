import { Command, CommanderError } from "commander";
import { resolveRunConfig, resolveStoreKind, stateDirOf, type SettingFlags } from "../manager/config.js";
import { ValidationError, errorMessage } from "../errors.js";
import { escapeInvisible } from "../text/escape.js";
import { createLogger } from "../telemetry/logging.js";
import { openStore, type StoreKind } from "../store/open.js";
import type { Store } from "../store/store.js";
import { applyCommand, deleteCommand, describeCommand, getCommand, watchCommand, type Output } from "./commands.js";
import { auditVerifyCommand, decideCommand, logsCommand, type DecisionRequest } from "./agent-commands.js";
import { startSteward } from "../manager/steward.js";
import { flagsOf, settingOption } from "./setting-options.js";

/** The exit code of a replica that lost its leader lease and could not stop acting in time (a last resort). */
const EXIT_LEASE_LOST = 3;

const stdout: Output = { out: (text) => process.stdout.write(`${text}\n`) };

interface GlobalOptions extends SettingFlags {
  verbose?: boolean;
  namespace?: string;
}

function buildProgram(): Command {
  const program = new Command("steward")
    .description(
      "Keeps Docker containers and Kubernetes workloads in their declared state, with Prometheus invariants and a policy-gated Claude agent.",
    )
    .option("-n, --namespace <ns>", "namespace", "default")
    .option("--verbose", "print stack traces on errors")
    .showHelpAfterError()
    .exitOverride();
  for (const name of flagsOf("global")) program.addOption(settingOption(name));
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const stateDir = (): string => stateDirOf(globals(), process.env);
  const storeKind = (): StoreKind => resolveStoreKind(globals(), process.env);
  const store = (): Promise<Store> => openStore(storeKind(), stateDir());
  const namespace = (): string | undefined => globals().namespace;

  const run = program.command("run").description("run the controller until SIGTERM/SIGINT");
  for (const name of flagsOf("run")) run.addOption(settingOption(name));
  run.action(async (flags: SettingFlags) => {
    const config = resolveRunConfig({ ...globals(), ...flags }, process.env);
    const logger = createLogger({
      format: config.logFormat,
      level: config.logLevel,
      secrets: config.anthropicApiKey ? [config.anthropicApiKey] : [],
    });
    const steward = await startSteward(config, logger);
    const lost = await Promise.race([waitForSignal().then(() => undefined), steward.leadershipLost]);
    // A replica that lost the lease stops acting and stands by; it exits only if its work would not stop (runWhileLeading).
    if (lost !== undefined) process.exit(EXIT_LEASE_LOST);
    await steward.stop();
  });

  program
    .command("apply")
    .description("create or update resources from YAML files or directories")
    .requiredOption("-f, --filename <path...>", "file or directory (repeatable)")
    .action(async (opts: { filename: string[] }) => applyCommand(await store(), opts.filename, stdout));

  program
    .command("get")
    .description("list resources: desiredstates (ds), remediations (rem), remediationpolicies (policy)")
    .argument("[type]")
    .argument("[name]")
    .option("-o, --output <format>", "wide, yaml, json or name")
    .option("-w, --watch", "after listing, print a line per change")
    .action(async (type: string | undefined, name: string | undefined, opts: { output?: string; watch?: boolean }) => {
      const options = { output: opts.output, namespace: namespace() };
      if (!opts.watch) return getCommand(await store(), { type, name }, options, stdout);
      const controller = new AbortController();
      void waitForSignal().then(() => controller.abort());
      return watchCommand(await store(), { type, name }, { ...options, signal: controller.signal }, stdout);
    });

  program
    .command("describe")
    .description("show a resource in detail: status, drift, evidence")
    .argument("[type]")
    .argument("[name]")
    .action(async (type?: string, name?: string) =>
      describeCommand(await store(), { type, name }, namespace(), stdout),
    );

  program
    .command("delete")
    .description("delete resources by type and name, or those in -f files")
    .argument("[type]")
    .argument("[names...]")
    .option("-f, --filename <path...>", "file or directory")
    .action(async (type: string | undefined, names: string[], opts: { filename?: string[] }) =>
      deleteCommand(await store(), { type, names, files: opts.filename ?? [] }, namespace(), stdout),
    );
  program
    .command("approve")
    .description("approve the pending agent action(s) of a remediation")
    .argument("<name>")
    .option("--id <id>", "approve one pending call (default: all pending)")
    .option("--as <user>", "who approves (default: the current user)")
    .action(async (name: string, opts: Omit<DecisionRequest, "name" | "approve">) =>
      decideCommand(await store(), { ...opts, name, approve: true, namespace: namespace() }, stdout),
    );

  program
    .command("deny")
    .description("deny the pending agent action(s) of a remediation; the model is told")
    .argument("<name>")
    .option("--id <id>", "deny one pending call (default: all pending)")
    .option("--reason <text>", "why, for the model and the audit trail")
    .option("--as <user>", "who denies (default: the current user)")
    .action(async (name: string, opts: Omit<DecisionRequest, "name" | "approve">) =>
      decideCommand(await store(), { ...opts, name, approve: false, namespace: namespace() }, stdout),
    );

  program
    .command("logs")
    .description("show a remediation's agent session as a reasoning chain")
    .argument("<name>")
    .action(async (name: string) => logsCommand(stateDir(), name, namespace(), stdout));

  program
    .command("audit")
    .description("audit trail tools")
    .command("verify")
    .description("check a remediation's audit hash chain; names the first bad line")
    .argument("<name>")
    .action(async (name: string) => auditVerifyCommand(stateDir(), name, namespace(), stdout));
  return program;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

/** The one place errors become exit codes: a one-line message, the stack only with --verbose. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 1;
    const verbose = argv.includes("--verbose");
    // Messages may quote what Docker, the API server or a file said: no raw control characters.
    if (err instanceof ValidationError)
      process.stderr.write(`error: ${escapeInvisible(err.problems.join("\nerror: "), "\n")}\n`);
    else process.stderr.write(`error: ${escapeInvisible(errorMessage(err), "\n")}\n`);
    if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
