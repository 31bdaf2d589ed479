/**
 * The policy engine: decides, for every tool call the agent makes, allow / ask / deny.
 * It is the guarantee (the system prompt only informs the model), so it is a pure
 * function of the call, the policy and the mode, and it fails closed: anything it does not
 * recognise is denied.
 */
import type { AgentMode } from "../api/desired-state.js";
import type { PolicyDecisionKind, PolicyRule, RemediationPolicySpec } from "../api/policy.js";
import { programName, screenArgv } from "./argv-screen.js";
import { flagClass, modelChosenDestination } from "./destinations.js";
import { resolveReference, type AgentScope } from "./ownership.js";
import { classifyShell } from "./shell-forms.js";

export { INTERPRETERS, WRAPPERS, programName, screenArgv, type ScreenResult } from "./argv-screen.js";
export { classifyShell, type ShellClass } from "./shell-forms.js";

export interface PolicyRequest {
  /** Tool name: `shell`, `docker_start`, `docker_ps`, … */
  tool: string;
  /** The argv the call runs (shell) or stands for (`docker_start{x}` is `docker start x`). */
  argv: readonly string[];
  mutating: boolean;
  /** What the call changes, as the model named it: a container, or `deployment/web`, `pod/web-1`. */
  touches: readonly string[];
  /** What a read-only tool reads, as the model named it (`docker_logs` of `x`, `kube_logs` of `pod/x`). */
  reads?: readonly string[];
}

export interface PolicyContext {
  mode: AgentMode;
  /**
   * What the DesiredState owns and may read, observed at the time of the call, by identity
   * (ownership.ts): every reference in `touches` must resolve to an object it may change,
   * every one in `reads` to one it may read; and the endpoints a shell command may name.
   */
  scope: AgentScope;
}

/** Where the decision was made, for the audit trail. */
export type PolicyStage = "screen" | "mode" | "destination" | "target" | "rule" | "default";

export interface PolicyDecision {
  decision: PolicyDecisionKind;
  reason: string;
  /** The rule that matched, when a rule decided. */
  rule?: PolicyRule;
  stage: PolicyStage;
}

/**
 * Typed read-only tools: allowed (except in mode `off`) for what the scope lets them read,
 * without screening or rules. They are safe to allow unasked because each is bounded
 * (fixed query shape, tail and output caps, per-tool timeout), reads only the target's
 * objects (unless the policy sets `reads: all`) through the local Docker socket, a
 * loopback Prometheus or the API server within the target's namespace, and its output is
 * stripped, redacted and wrapped as untrusted data before the model sees it. A PromQL query legitimately contains `{`, `(` and `"`, which the argv
 * screen exists to reject, so screening them would only break them.
 */
export const READ_ONLY_TOOLS: ReadonlySet<string> = new Set([
  "query_prometheus",
  "docker_ps",
  "docker_inspect",
  "docker_logs",
  "kube_get",
  "kube_events",
  "kube_logs",
]);

/** Typed tools that always mutate, whatever the caller says. */
const MUTATING_TOOLS: ReadonlySet<string> = new Set([
  "docker_start",
  "docker_restart",
  "kube_scale",
  "kube_rollout_restart",
  "kube_delete_pod",
]);

function globToken(token: string, element: string): boolean {
  if (!token.includes("*")) return token === element;
  if (token === "*") return true;
  const body = token
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[\\s\\S]*");
  return new RegExp(`^${body}$`).test(element);
}

/**
 * Matches a rule pattern like `docker start *` against an argv. The pattern is split on
 * whitespace into tokens; each token matches exactly one argv element, whole and
 * case-sensitive, where `*` inside a token matches any run of characters (`--endpoints=*`);
 * a final token that is exactly `*` matches zero or more remaining elements. Other glob
 * characters (`?`, `[`) are literal. Matching is on the argv array, never on a joined
 * string, so `["docker","start","a b"]` is one argument and `docker start *` does not match
 * `["docker","startx"]`. An empty pattern matches nothing. A token that is only `*` (the
 * final one included) never matches a flag that chooses a destination or credentials
 * (destinations.ts): a rule that allows one names it, as in `--endpoints=*`.
 */
export function matchPattern(pattern: string, argv: readonly string[]): boolean {
  const tokens = pattern.split(/\s+/).filter((t) => t !== "");
  if (tokens.length === 0) return false;
  const rest = tokens[tokens.length - 1] === "*";
  const fixed = rest ? tokens.slice(0, -1) : tokens;
  if (rest ? argv.length < fixed.length : argv.length !== fixed.length) return false;
  const program = argv[0] ?? "";
  const wildcardMay = (element: string): boolean => flagClass(program, element) === undefined;
  if (rest && !argv.slice(fixed.length).every(wildcardMay)) return false;
  return fixed.every((token, i) => globToken(token, argv[i] ?? "") && (token !== "*" || wildcardMay(argv[i] ?? "")));
}

/**
 * How a guarding rule (`deny`, `ask`) matches: more loosely than `allow`, so that no
 * arrangement of argv runs a command a guard names without meeting the guard. The program
 * token also matches argv[0]'s basename (`docker …` meets `/usr/bin/docker …`), and the
 * other tokens must match argv elements in order but not necessarily adjacent, with
 * anything after them: global flags and their values cannot push the verb out of place
 * (`docker --debug rm x`, `docker -H h rm x` meet `deny docker rm *`), and neither can
 * extra arguments (`deny docker rm etcd0` meets `docker rm etcd0 etcd1`). It fails closed:
 * a guard also meets a command that merely mentions its words as arguments (`docker logs
 * rm` under `deny docker rm *`). `allow` rules keep the exact matchPattern form.
 */
export function matchGuardPattern(pattern: string, argv: readonly string[]): boolean {
  const tokens = pattern.split(/\s+/).filter((t) => t !== "");
  if (tokens.length === 0) return false;
  const [program, ...words] = tokens[tokens.length - 1] === "*" ? tokens.slice(0, -1) : tokens;
  if (program === undefined) return true;
  if (argv[0] === undefined || !programMatches(program, argv[0])) return false;
  return wordsInOrder(words, argv.slice(1));
}

/** Whether each word matches some argument, in order, with anything between them. */
function wordsInOrder(words: readonly string[], args: readonly string[]): boolean {
  let next = 0;
  for (const word of words) {
    while (next < args.length && !globToken(word, args[next] ?? "")) next++;
    if (next >= args.length) return false;
    next++;
  }
  return true;
}

/** `docker` matches `docker` and `/usr/bin/docker`; a token with a slash matches only that path. */
function programMatches(token: string, program: string): boolean {
  if (globToken(token, program)) return true;
  return !token.includes("/") && globToken(token, program.slice(program.lastIndexOf("/") + 1));
}

/**
 * The first rule matching `argv`: every deny rule (loosely, see matchGuardPattern), then
 * ask, then allow. An argv an allow rule matches still needs a person when an ask rule
 * meets it loosely (`docker --debug start x` under `ask docker start *`); loose ask
 * matching never turns an unmatched argv, which is denied, into a question.
 */
export function matchRule(rules: readonly PolicyRule[], argv: readonly string[]): PolicyRule | undefined {
  const find = (tier: PolicyDecisionKind, matches: typeof matchPattern): PolicyRule | undefined =>
    rules.find((r) => r.decision === tier && matches(r.command, argv));
  const guard = find("deny", matchGuardPattern) ?? find("ask", matchPattern);
  if (guard) return guard;
  const allow = find("allow", matchPattern);
  return allow && (find("ask", matchGuardPattern) ?? allow);
}

/** argv as a person would type it, with elements that contain spaces quoted. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (a === "" || /\s/.test(a) ? JSON.stringify(a) : a)).join(" ");
}

/**
 * The engine never trusts the caller to have classified a call: it only adds. A typed
 * mutating tool is mutating; a shell command is mutating if the caller or classifyShell
 * says so, and touches the containers it names as well as those the caller listed.
 */
function effective(request: PolicyRequest): { mutating: boolean; touches: string[] } {
  const derived =
    request.tool === "shell" || MUTATING_TOOLS.has(request.tool) ? classifyShell(request.argv) : undefined;
  const mutating = request.mutating || MUTATING_TOOLS.has(request.tool) || (derived?.mutating ?? false);
  const touches = [...new Set([...request.touches, ...(derived?.containers ?? [])])];
  return { mutating, touches };
}

const deny = (stage: PolicyStage, reason: string): PolicyDecision => ({ decision: "deny", reason, stage });

function fromRule(rule: PolicyRule, mutating: boolean, mode: AgentMode): PolicyDecision {
  const why = `matches ${rule.decision} rule "${rule.command}"${rule.description ? ` (${rule.description})` : ""}`;
  if (rule.decision === "allow" && mutating && mode === "approve") {
    return {
      decision: "ask",
      reason: `${why}; approve mode: every change is approved by a person`,
      rule,
      stage: "rule",
    };
  }
  return { decision: rule.decision, reason: why, rule, stage: "rule" };
}

/**
 * Decides one tool call, in this order; the first stage that decides wins:
 * 1. typed read-only tools: deny in mode `off`; deny a read of anything that does not
 *    resolve to an object of the scope the call may read; else allow, no screening or rules;
 * 2. screen: screenArgv failure → deny;
 * 3. destination: a shell command naming credentials, or a destination that is not one of
 *    the scope's endpoints → deny (destinations.ts), in every mode;
 * 4. mode: `off` → deny everything; `observe` → deny every mutating call;
 * 5. target: kubectl through `shell` → deny (it is not bound to the target's namespace);
 *    a mutating call whose references do not each resolve to one object the DesiredState
 *    owns now → deny (ownership.ts);
 * 6. rules: deny rules, then ask, then allow; first match within a tier wins; deny
 *    rules match loosely (matchGuardPattern), and so do ask rules over an allowed argv;
 * 7. default: no rule matched → deny.
 * Then the mode adjusts a rule's answer: in `approve` an allowed mutation becomes `ask`
 * (every change is approved by a person); in `auto` it runs, and `ask` still waits.
 */
export function decide(request: PolicyRequest, policy: RemediationPolicySpec, context: PolicyContext): PolicyDecision {
  const { mode } = context;
  if (READ_ONLY_TOOLS.has(request.tool) && !request.mutating) return decideRead(request, context);
  const unfit = screenAndDestination(request, context);
  if (unfit) return unfit;
  if (mode === "off") return deny("mode", "agent mode is off: no tool may run");
  const { mutating, touches } = effective(request);
  const shown = displayArgv(request.argv);
  if (mode === "observe" && mutating)
    return deny("mode", `observe mode allows read-only tools only; "${shown}" may change the system`);
  const outside = outsideTarget(request, { mutating, touches }, context);
  if (outside) return deny("target", outside);
  const rule = matchRule(policy.rules, request.argv);
  if (!rule) return deny("default", `no policy rule matches "${shown}"; unmatched commands are denied`);
  return fromRule(rule, mutating, mode);
}

/** The screen (stage 2), then the destinations a shell command names (stage 3). */
function screenAndDestination(request: PolicyRequest, context: PolicyContext): PolicyDecision | undefined {
  const screened = screenArgv(request.argv);
  if (!screened.ok) return deny("screen", screened.reason);
  const destination =
    request.tool === "shell" ? modelChosenDestination(request.argv, context.scope.endpoints) : undefined;
  return destination ? deny("destination", destination) : undefined;
}

function decideRead(request: PolicyRequest, context: PolicyContext): PolicyDecision {
  if (context.mode === "off") return deny("mode", "agent mode is off: no tool may run");
  for (const reference of request.reads ?? []) {
    const resolved = resolveReference(context.scope, reference, "read");
    if (!resolved.ok) return deny("target", resolved.reason);
  }
  return {
    decision: "allow",
    reason: `${request.tool} is a read-only tool (bounded, within the target, output redacted)`,
    stage: "mode",
  };
}

/** Why a call reaches past the DesiredState's own objects, if it does. */
function outsideTarget(
  request: PolicyRequest,
  call: { mutating: boolean; touches: readonly string[] },
  context: PolicyContext,
): string | undefined {
  if (request.tool === "shell" && programName(request.argv[0] ?? "") === "kubectl") {
    return "kubectl through shell is not bound to the target's namespace; use the kube_* tools";
  }
  if (!call.mutating) return undefined;
  for (const reference of call.touches) {
    const resolved = resolveReference(context.scope, reference, "change");
    if (!resolved.ok) return resolved.reason;
  }
  return undefined;
}
