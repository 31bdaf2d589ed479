/**
 * What a shell-tool argv does, as far as the policy engine needs to know: whether it can
 * change anything, and which containers it names. Both answers err on the safe side: an
 * unknown command is mutating, and anything that might be a container name counts as one
 * (a mutation naming a container that is not ours is denied, so over-counting only ever
 * denies more).
 */

export interface ShellClass {
  mutating: boolean;
  /** For `docker <verb> …`: the non-flag arguments after the verb; otherwise none. */
  containers: string[];
}

/** `docker <verb>` forms that only read. `docker stats` only with `--no-stream` (else it never ends). */
const READ_ONLY_DOCKER_VERBS = new Set(["ps", "inspect", "logs", "top"]);

/**
 * etcdctl commands that only report health and membership. `etcdctl get` is left out on
 * purpose: it does not change anything, but it reads arbitrary keys, which may hold secrets,
 * so it is not "read-only" in the sense that lets it run unasked.
 */
const READ_ONLY_ETCDCTL = [
  ["endpoint", "health"],
  ["endpoint", "status"],
  ["member", "list"],
];

/** Programs that only report on the host, with any arguments. */
const READ_ONLY_PROGRAMS = new Set(["uptime", "df", "free"]);

const isFlag = (element: string): boolean => element.startsWith("-");

function dockerReadOnly(args: readonly string[]): boolean {
  const [verb = "", ...rest] = args;
  if (READ_ONLY_DOCKER_VERBS.has(verb)) return true;
  return verb === "stats" && rest.includes("--no-stream");
}

/**
 * `etcdctl [--flag[=value]]… <command words> …`. Every element before the command words
 * must be a flag, so the command is the first positional argument; a flag that takes its
 * value as the next element (`--endpoints http://…`) makes the form unknown (mutating)
 * rather than risk reading the value as the command. After the words anything goes: these
 * commands have no subcommands that an extra argument could select.
 */
function etcdctlReadOnly(args: readonly string[]): boolean {
  const start = args.findIndex((a) => !isFlag(a));
  if (start < 0) return false;
  return READ_ONLY_ETCDCTL.some((words) => words.every((w, i) => args[start + i] === w));
}

function isReadOnly(argv: readonly string[]): boolean {
  // The program is compared exactly, not by basename: `/tmp/x/df` is not `df`.
  const [program = "", ...args] = argv;
  if (program === "docker") return dockerReadOnly(args);
  if (program === "etcdctl") return etcdctlReadOnly(args);
  if (program === "cat") return args.length === 1 && args[0] === "/proc/loadavg";
  return READ_ONLY_PROGRAMS.has(program);
}

/**
 * Flag values given as separate elements (`docker restart -t 10 etcd0`) count as container
 * names; write `--time=10` to keep them attached. When a global flag comes before the verb
 * (`docker -H x start y`) the first non-flag element is taken as the verb: the rest still
 * counts, so over-counting is the worst outcome.
 */
function dockerContainers(argv: readonly string[]): string[] {
  if (argv[0] !== "docker") return [];
  return argv
    .slice(1)
    .filter((a) => !isFlag(a))
    .slice(1);
}

/** Classifies a shell-tool argv; an unknown command is mutating (the safe default). */
export function classifyShell(argv: readonly string[]): ShellClass {
  return { mutating: !isReadOnly(argv), containers: dockerContainers(argv) };
}
