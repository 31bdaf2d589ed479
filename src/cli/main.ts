import { Argument, Command, CommanderError } from "commander";
import { DEFAULT_NAMESPACE } from "../api/meta.js";
import { COMPLETE_COMMAND, SHELLS, complete, completionScript, type Shell } from "./completion.js";
import { versionText } from "./version.js";
import { resolveRunConfig, resolveStoreKind, stateDirOf, type SettingFlags } from "../manager/config.js";
import { ValidationError, errorMessage } from "../errors.js";
import { escapeInvisible } from "../text/escape.js";
import type { StoreKind } from "../store/open.js";
import type { Store } from "../store/store.js";
import { applyCommand, deleteCommand, describeCommand, getCommand, watchCommand, type Output } from "./commands.js";
import { auditVerifyCommand, decideCommand, logsCommand, type DecisionRequest } from "./agent-commands.js";
import { flagsOf, settingOption } from "./setting-options.js";
import { registerConsoleCommand } from "../console/command.js";

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
      "Keeps Docker containers and Kubernetes workloads in their declared state, with Prometheus invariants and a policy-gated Claude agent.\n\n" +
        "Resources (DesiredState, AgentRemediation, RemediationPolicy) live in a state directory, or with --store kubernetes in a Kubernetes cluster as custom resources of steward.dev: kubectl get, apply, explain and wait work on them too. In a cluster, install with Helm (charts/steward) or kubectl apply -k manifests/.",
    )
    .version(versionText(), "-V, --version", "print the version, the commit it was built from and the Node version")
    .option(
      "-n, --namespace <ns>",
      "namespace (default: the kubeconfig context's with --store kubernetes, else default)",
    )
    .option("--verbose", "print stack traces on errors")
    .showHelpAfterError()
    .exitOverride();
  for (const name of flagsOf("global")) program.addOption(settingOption(name));
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  const stateDir = (): string => stateDirOf(globals(), process.env);
  const storeKind = (): StoreKind => resolveStoreKind(globals(), process.env);
  // Imported when a command needs them: the Kubernetes client and the controller take most of
  // a second to load, which every command (and every TAB of shell completion) would pay.
  const store = async (): Promise<Store> => (await import("../store/open.js")).openStore(storeKind(), stateDir());
  const namespace = async (): Promise<string> => globals().namespace ?? (await defaultNamespace(storeKind()));

  const run = program.command("run").description("run the controller until SIGTERM/SIGINT");
  for (const name of flagsOf("run")) run.addOption(settingOption(name));
  run.action(async (flags: SettingFlags) => {
    const config = resolveRunConfig({ ...globals(), ...flags }, process.env);
    const { createLogger } = await import("../telemetry/logging.js");
    const { startSteward } = await import("../manager/steward.js");
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
    .option("-A, --all-namespaces", "list across all namespaces, with a NAMESPACE column")
    .action(async (type: string | undefined, name: string | undefined, opts: GetFlags) => {
      const options = { output: opts.output, namespace: await namespace(), allNamespaces: opts.allNamespaces };
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
      describeCommand(await store(), { type, name }, await namespace(), stdout),
    );

  program
    .command("delete")
    .description("delete resources by type and name, or those in -f files")
    .argument("[type]")
    .argument("[names...]")
    .option("-f, --filename <path...>", "file or directory")
    .action(async (type: string | undefined, names: string[], opts: { filename?: string[] }) =>
      deleteCommand(await store(), { type, names, files: opts.filename ?? [] }, await namespace(), stdout),
    );
  program
    .command("approve")
    .description("approve the pending agent action(s) of a remediation")
    .argument("<name>")
    .option("--id <id>", "approve one pending call (default: all pending)")
    .option("--as <user>", "who approves (default: the current user)")
    .action(async (name: string, opts: Omit<DecisionRequest, "name" | "approve">) =>
      decideCommand(await store(), { ...opts, name, approve: true, namespace: await namespace() }, stdout),
    );

  program
    .command("deny")
    .description("deny the pending agent action(s) of a remediation; the model is told")
    .argument("<name>")
    .option("--id <id>", "deny one pending call (default: all pending)")
    .option("--reason <text>", "why, for the model and the audit trail")
    .option("--as <user>", "who denies (default: the current user)")
    .action(async (name: string, opts: Omit<DecisionRequest, "name" | "approve">) =>
      decideCommand(await store(), { ...opts, name, approve: false, namespace: await namespace() }, stdout),
    );

  program
    .command("logs")
    .description("show a remediation's agent session as a reasoning chain")
    .argument("<name>")
    .action(async (name: string) => logsCommand(stateDir(), name, await namespace(), stdout));

  program
    .command("audit")
    .description("audit trail tools")
    .command("verify")
    .description("check a remediation's audit hash chain and its end; names the first bad line")
    .argument("<name>")
    .action(async (name: string) =>
      auditVerifyCommand({ store: await store(), stateDir: stateDir(), name, namespace: await namespace() }, stdout),
    );

  program
    .command("completion")
    .description("print a shell completion script: source <(steward completion bash)")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .action((shell: Shell) => stdout.out(completionScript(shell).trimEnd()));

  program
    .command(COMPLETE_COMMAND, { hidden: true })
    .description("the candidates for the last word typed (what the completion scripts call)")
    .argument("[words...]")
    .helpOption(false)
    .action((words: string[]) => {
      for (const candidate of complete(program, words)) stdout.out(candidate);
    });
  registerConsoleCommand(program, {
    storeKind,
    stateDir,
    // The console reads -n as given; without it, its own default.
    namespace: () => globals().namespace,
    untilSignal: waitForSignal,
    out: (text) => stdout.out(text),
  });
  return program;
}

interface GetFlags {
  output?: string;
  watch?: boolean;
  allNamespaces?: boolean;
}

/** The namespace without -n: the kubeconfig context's with the kubernetes store, as kubectl does; else default. */
async function defaultNamespace(store: StoreKind): Promise<string> {
  if (store !== "kubernetes") return DEFAULT_NAMESPACE;
  return (await import("../kube/config.js")).contextNamespace() ?? DEFAULT_NAMESPACE;
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
