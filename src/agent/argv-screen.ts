/**
 * The argv screen: the checks every shell-tool and typed mutating-tool call passes BEFORE
 * any policy rule is consulted. A rule author writes `docker start *` and means "start a
 * container"; the screen makes sure no argv can mean something else while still matching
 * that rule (a second command smuggled into an element, a program that runs another
 * program, a look-alike of `docker`).
 *
 * Commands run with spawn and no shell, so the metacharacters below have no effect by
 * themselves. They are rejected anyway: their only legitimate use is in a shell, so their
 * presence means the model is trying to compose commands, and rejecting them keeps the
 * argv a person reads in an approval prompt identical to what they would type.
 */

export type ScreenResult = { ok: true } | { ok: false; reason: string };

/** Characters with a meaning to some shell, glob or history expansion. */
const METACHARACTERS = new Set([...";|&`$()><*?[]{}~!#\\'\""]);

/** Programs that interpret a script or a command string: a shell by another name. */
export const INTERPRETERS: ReadonlySet<string> = new Set([
  "sh",
  "bash",
  "dash",
  "zsh",
  "ksh",
  "csh",
  "tcsh",
  "ash",
  "mksh",
  "rbash",
  "fish",
  "busybox",
  "python",
  "node",
  "nodejs",
  "deno",
  "bun",
  "perl",
  "ruby",
  "php",
  "lua",
  "awk",
  "gawk",
  "mawk",
  "nawk",
  // sed's `e` command and `s///e` flag run their text through a shell.
  "sed",
  "tclsh",
  "wish",
  "expect",
  "osascript",
  "pwsh",
  "powershell",
]);

/** Programs that run another program (given as their arguments) or change who runs it. */
export const WRAPPERS: ReadonlySet<string> = new Set([
  "sudo",
  "su",
  "doas",
  "pkexec",
  "env",
  "xargs",
  "nohup",
  "timeout",
  "nice",
  "ionice",
  "stdbuf",
  "setsid",
  "chroot",
  "nsenter",
  "unshare",
  "strace",
  "watch",
  "time",
  "exec",
  "eval",
  "command",
  "builtin",
  "script",
  "ssh",
]);

/**
 * Subcommands that run a command of the caller's choosing inside a container: shells in
 * disguise (`docker exec etcd0 sh -c …` is `sh -c …` with root in the container, and
 * `docker run -v /:/host …` is root on the host). `create` is `run` in two steps
 * (create with any entrypoint, then start). Matched as ANY element after the program, not
 * only the verb position, so global flags (`docker -H x exec`, `docker compose -f f run`)
 * cannot move the verb out of sight; the cost is that a container literally named `run`
 * or `exec` cannot be targeted.
 */
const COMMAND_RUNNING_SUBCOMMANDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  ["docker", new Set(["exec", "run", "create", "debug"])],
  ["docker-compose", new Set(["exec", "run", "create"])],
  ["podman", new Set(["exec", "run", "create"])],
  ["nerdctl", new Set(["exec", "run", "create"])],
  ["kubectl", new Set(["exec", "run", "debug", "attach"])],
]);

const LEADING_ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

/** `/usr/bin/python3.11`, `python-3.11`, `kubectl1.30` → `python`, `kubectl`: versioned names are the same program. */
export function programName(program: string): string {
  const base = program.slice(program.lastIndexOf("/") + 1).toLowerCase();
  const unversioned = base.replace(/[-_]?[\d.]+$/, "");
  return unversioned === "" ? base : unversioned;
}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The first character of `element` that no argv element may contain, described. */
function badCharacter(element: string): string | undefined {
  for (const ch of element) {
    const code = ch.codePointAt(0) ?? 0;
    if (code < 0x20 || code === 0x7f) return `the control character ${codePoint(ch)}`;
    // Non-ASCII: fullwidth and Cyrillic look-alikes of `docker`, zero-width characters,
    // bidi overrides. No command Steward governs needs them, and a person approving
    // `dоcker start x` cannot see the difference.
    if (code > 0x7e) return `the non-ASCII character ${codePoint(ch)}`;
    if (METACHARACTERS.has(ch)) return `the shell metacharacter ${JSON.stringify(ch)}`;
  }
  return undefined;
}

function screenProgram(program: string): string | undefined {
  if (LEADING_ASSIGNMENT.test(program)) {
    return `argv[0] ${JSON.stringify(program)} is an environment assignment (VAR=value); run the program directly`;
  }
  if (program === "." || program === ".." || (program.includes("/") && !program.startsWith("/"))) {
    return `program ${JSON.stringify(program)} is a relative path; use the program's name or an absolute path`;
  }
  const name = programName(program);
  if (INTERPRETERS.has(name)) {
    return `program ${JSON.stringify(program)} is a shell or interpreter (${name}); give the command itself as argv`;
  }
  if (WRAPPERS.has(name)) {
    return `program ${JSON.stringify(program)} runs another program or changes privileges (${name}); give the command itself as argv`;
  }
  return undefined;
}

function screenSubcommand(argv: readonly string[]): string | undefined {
  const name = programName(argv[0] ?? "");
  const forbidden = COMMAND_RUNNING_SUBCOMMANDS.get(name);
  const hit = forbidden && argv.slice(1).find((element) => forbidden.has(element));
  if (hit === undefined) return undefined;
  return `"${name} ${hit}" runs an arbitrary command inside a container, which is a shell in disguise; use the typed tools or a specific command`;
}

/**
 * Rejects an argv that no rule may allow, before any rule is matched: empty argv or
 * program; an element with a shell metacharacter, a control character (newline, CR, NUL…)
 * or any non-ASCII character; a leading `VAR=value`; a relative program path; a shell,
 * interpreter, wrapper or privilege program (by basename, case-insensitive, version
 * suffix ignored: `/bin/sh`, `python3.11`, `SUDO`); and `docker exec|run|create` and
 * friends. The reason names what was rejected, for the audit trail and for the model.
 */
export function screenArgv(argv: readonly string[]): ScreenResult {
  const program = argv[0];
  if (program === undefined) return { ok: false, reason: "empty argv: there is no program to run" };
  if (program === "") return { ok: false, reason: "empty program name in argv[0]" };
  for (const [i, element] of argv.entries()) {
    const bad = badCharacter(element);
    if (bad !== undefined) return { ok: false, reason: `argv[${i}] ${JSON.stringify(element)} contains ${bad}` };
  }
  const reason = screenProgram(program) ?? screenSubcommand(argv);
  return reason === undefined ? { ok: true } : { ok: false, reason };
}
