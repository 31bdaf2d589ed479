/**
 * The policy matcher against hostile argv (issue 6, item 3): no metacharacter, quoting,
 * escaping, look-alike, invisible or control character, and no arrangement of argv (global
 * flags before the verb, an absolute program path, extra arguments) gets a command past a
 * deny rule; kubectl never runs through `shell`; the kube_* tools refuse hostile names;
 * and what the policy judged is exactly what the program receives from spawn.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import type { AgentMode } from "../../src/api/desired-state.js";
import { RemediationPolicySpec, type PolicyRule } from "../../src/api/policy.js";
import { DEFAULT_POLICY } from "../../src/api/default-policy.js";
import { classifyShell, decide, matchGuardPattern, screenArgv, type PolicyDecision } from "../../src/agent/policy.js";
import { dirname } from "node:path";
import { KUBERNETES_ONLY_TOOLS } from "../../src/agent/kube-tools.js";
import { PROGRAM_DIRECTORIES, ProgramPaths } from "../../src/agent/programs.js";
import { shell as shellTool } from "../../src/agent/shell-tool.js";
import type { ToolDefinition, ToolEnvironment } from "../../src/agent/tools.js";
import { container, dockerWorldScope } from "../support/scopes.js";

const SCOPE = dockerWorldScope({
  project: "etcd",
  services: ["etcd0", "etcd1"],
  containers: [
    container("etcd0", { project: "etcd", service: "etcd0" }),
    container("etcd1", { project: "etcd", service: "etcd1" }),
  ],
  facts: { etcd0: { secrets: [], endpoints: ["http://127.0.0.1:2379"] } },
});
const MODES: readonly AgentMode[] = ["off", "observe", "approve", "auto"];

const policyOf = (...rules: [PolicyRule["decision"], string][]): RemediationPolicySpec =>
  RemediationPolicySpec.parse({ rules: rules.map(([decision, command]) => ({ decision, command })) });

function judge(argv: readonly string[], policy: RemediationPolicySpec, mode: AgentMode = "auto"): PolicyDecision {
  return decide({ tool: "shell", argv, mutating: classifyShell(argv).mutating, touches: [] }, policy, {
    mode,
    scope: SCOPE,
  });
}

/** A policy that allows everything it does not guard: the worst case for a deny rule. */
const BROAD_ALLOWS: [PolicyRule["decision"], string][] = [
  ["allow", "*"],
  ["allow", "docker *"],
  ["allow", "/usr/bin/docker *"],
  ["allow", "etcdctl *"],
];

/** Commands a deny rule names, and the rule. */
const DENIED: [string, readonly string[]][] = [
  ["docker rm *", ["docker", "rm", "-f", "etcd0"]],
  ["docker stop *", ["docker", "stop", "etcd0"]],
  ["docker kill *", ["docker", "kill", "--signal=KILL", "etcd1"]],
  ["docker restart etcd0", ["docker", "restart", "etcd0"]],
  ["etcdctl member remove *", ["etcdctl", "member", "remove", "8e9e05c52164694d"]],
  ["etcdctl * del *", ["etcdctl", "--endpoints=http://127.0.0.1:2379", "del", "/registry"]],
];

/** Ways to write the same command that a positional matcher would not recognise. */
const globalFlag = fc.constantFrom(
  ["--debug"],
  ["-D"],
  ["--log-level=debug"],
  ["-l", "debug"],
  ["-H", "unix:///var/run/docker.sock"],
  ["--context", "default"],
  ["--config=/root/.docker"],
  ["--endpoints=http://127.0.0.1:2379"],
  ["--dial-timeout", "5s"],
);
const trick = fc.record({
  flags: fc.array(globalFlag, { maxLength: 3 }).map((f) => f.flat()),
  absolute: fc.constantFrom("", "/usr/bin/", "/usr/local/bin/"),
  extra: fc.array(fc.constantFrom("etcd1", "-f", "--time=1", "x"), { maxLength: 2 }),
});

function rewrite(argv: readonly string[], t: { flags: string[]; absolute: string; extra: string[] }): string[] {
  const [program = "", ...rest] = argv;
  return [`${t.absolute}${program}`, ...t.flags, ...rest, ...t.extra];
}

describe("deny and ask rules against argv tricks (property)", () => {
  it("a command a deny rule names is never allowed, however its argv is arranged", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DENIED),
        trick,
        fc.subarray(BROAD_ALLOWS, { minLength: 1 }),
        fc.constantFrom(...MODES),
        ([rule, argv], t, allows, mode) => {
          const tricked = rewrite(argv, t);
          const got = judge(tricked, policyOf(["deny", rule], ...allows), mode);
          assert.equal(got.decision, "deny", `${JSON.stringify(tricked)} under deny "${rule}": ${got.reason}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("a command an ask rule names is never run without a person, however its argv is arranged", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(["docker", "start", "etcd0"], ["docker", "restart", "etcd1"]),
        trick,
        fc.subarray(BROAD_ALLOWS, { minLength: 1 }),
        (argv, t, allows) => {
          const tricked = rewrite(argv, t);
          const got = judge(tricked, policyOf(["ask", `docker ${argv[1] ?? ""} *`], ...allows));
          assert.notEqual(got.decision, "allow", `${JSON.stringify(tricked)}: ${got.reason}`);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a guard still meets the command exactly as written, and an unmatched argv stays denied", () => {
    assert.equal(matchGuardPattern("docker rm *", ["docker", "rm", "x"]), true);
    assert.equal(matchGuardPattern("docker rm *", ["docker", "ps"]), false);
    assert.equal(matchGuardPattern("docker rm *", ["dockerd", "rm"]), false);
    assert.equal(matchGuardPattern("/usr/bin/docker rm *", ["docker", "rm"]), false);
    assert.equal(matchGuardPattern("*", []), true);
    assert.equal(matchGuardPattern(" ", ["docker"]), false);
    // Unmatched stays denied: loose ask matching only ever stops an allowed argv.
    assert.equal(judge(["/usr/bin/docker", "start", "etcd0"], DEFAULT_POLICY).stage, "default");
  });

  it("no argv element holding a character outside printable ASCII, or a shell metacharacter, is ever allowed", () => {
    const printable = fc.stringMatching(/^[ -~]{0,10}$/);
    const hostile = fc.oneof(
      fc.string({ unit: "binary", minLength: 1, maxLength: 6 }).filter((s) => /[^ -~]/.test(s)),
      fc.constantFrom(..."; | & ` $ ( ) > < * ? [ ] { } ~ ! # \\ ' \"".split(" ")),
      fc.constantFrom(
        "$(id)",
        "`id`",
        "${IFS}",
        "$'\\x72m'",
        "'rm'",
        '"rm"',
        "r\\m",
        "\\\n",
        "\u0000",
        "\u00a0",
        "\u2215",
        "\uff0f",
        "d\u043ecker",
        "\u202erm",
        "rm\u200b",
      ),
    );
    fc.assert(
      fc.property(
        fc.array(printable, { minLength: 1, maxLength: 4 }),
        fc.nat(),
        hostile,
        fc.constantFrom(...MODES),
        (argv, at, bad, mode) => {
          const i = at % argv.length;
          const poisoned = argv.map((a, j) => (j === i ? `${a}${bad}` : a));
          for (const tool of ["shell", "docker_start", "kube_scale"]) {
            const got = decide({ tool, argv: poisoned, mutating: true, touches: [] }, policyOf(["allow", "*"]), {
              mode,
              scope: SCOPE,
            });
            assert.notEqual(got.decision, "allow", `${tool} ${JSON.stringify(poisoned)}`);
            assert.ok(!screenArgv(poisoned).ok);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("kubectl and the kube_* tools (property)", () => {
  it("kubectl through shell is denied under any policy, in any mode, by any path, case or version", () => {
    const kubectl = fc
      .tuple(
        fc.constantFrom("", "/usr/bin/", "/usr/local/bin/", "/snap/bin/"),
        fc.constantFrom("kubectl", "KUBECTL", "Kubectl"),
        fc.constantFrom("", "1.30", "-1.30", "_1.34.4"),
      )
      .map(([dir, name, version]) => `${dir}${name}${version}`);
    const arg = fc.stringMatching(/^[-a-z0-9=/.:]{1,16}$/);
    fc.assert(
      fc.property(
        kubectl,
        fc.array(arg, { maxLength: 5 }),
        fc.constantFrom(DEFAULT_POLICY, policyOf(["allow", "*"]), policyOf(["allow", "kubectl *"])),
        fc.constantFrom(...MODES),
        (program, args, policy, mode) => {
          const got = judge([program, ...args], policy, mode);
          assert.equal(got.decision, "deny", `${program} ${args.join(" ")}: ${got.reason}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  const tools = new Map(
    KUBERNETES_ONLY_TOOLS.map((t) => [t.name, t as unknown as ToolDefinition<Record<string, unknown>>]),
  );
  /** Each kube tool's name-like fields, and a valid input to put a hostile name into. */
  const NAMED: [string, string, Record<string, unknown>][] = [
    ["kube_get", "name", { kind: "pods" }],
    ["kube_events", "object", {}],
    ["kube_logs", "pod", {}],
    ["kube_logs", "container", { pod: "web-1" }],
    ["kube_delete_pod", "pod", {}],
    ["kube_scale", "workload", { replicas: 1 }],
    ["kube_rollout_restart", "workload", {}],
  ];
  const HOSTILE_NAMES = [
    "../web",
    "..",
    ".",
    "web/../../secrets",
    "default/web",
    "kube-system/coredns",
    "-n=kube-system",
    "--namespace=kube-system",
    "-n",
    "--all-namespaces",
    "Web",
    "WEB-1",
    "wéb",
    "web\u200b",
    "web\n",
    "web ",
    " web",
    "",
    "web;rm",
    "deployment/../web",
    "deployment/Web",
    "Deployment/web",
    "pod/web-1",
    "deployment/web/x",
    "deployment/",
    "deployment/-web",
    "statefulset/db\u0000",
    "web-",
    "-web",
    "a".repeat(254),
  ];

  it("refuse hostile object names in every name field", () => {
    for (const [tool, field, base] of NAMED) {
      const input = tools.get(tool)?.input;
      assert.ok(input, tool);
      for (const name of HOSTILE_NAMES) {
        const value = field === "workload" && !name.includes("/") ? `deployment/${name}` : name;
        assert.equal(
          input.safeParse({ ...base, [field]: value }).success,
          false,
          `${tool}.${field} accepted ${JSON.stringify(value)}`,
        );
      }
    }
  });

  it("accept only lower-case DNS names, whose argv passes the screen and names no other namespace (property)", () => {
    const anyName = fc.oneof(
      fc.string({ unit: "binary", maxLength: 20 }),
      fc.stringMatching(/^[-a-zA-Z0-9./=_ ]{0,20}$/),
      fc.constantFrom(...HOSTILE_NAMES),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...NAMED),
        anyName,
        fc.constantFrom("", "deployment/", "statefulset/"),
        ([tool, field, base], name, prefix) => {
          const definition = tools.get(tool);
          assert.ok(definition);
          const parsed = definition.input.safeParse({ ...base, [field]: `${prefix}${name}` });
          if (!parsed.success) return;
          const value = String(parsed.data[field]);
          const bare = field === "workload" ? value.replace(/^(deployment|statefulset)\//, "") : value;
          assert.match(bare, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
          assert.ok(bare.length <= 253);
          const argv = definition.argv(parsed.data);
          assert.ok(screenArgv(argv).ok, JSON.stringify(argv));
          assert.ok(
            !argv.some((a) => /^-n$|^--namespace|^--context|^--server|^--kubeconfig|^-A$|^--all-namespaces/.test(a)),
            JSON.stringify(argv),
          );
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("the policy and spawn agree on argv (property)", () => {
  let env: ToolEnvironment;
  const PRINTF = "/usr/bin/printf";

  before(async () => {
    env = {
      prometheus: undefined,
      timeoutMs: 10_000,
      outputCapBytes: 1 << 20,
      dryRun: false,
      scope: () => Promise.resolve(SCOPE),
      programs: await ProgramPaths.scan([...PROGRAM_DIRECTORIES, dirname(process.execPath)]),
    };
  });

  /** Runs `printf '[%s]\0' args…` through the shell tool and reads back what printf received. */
  async function received(args: readonly string[]): Promise<string[]> {
    const result = await shellTool.run({ argv: [PRINTF, "[%s]\\0", ...args] }, env, AbortSignal.timeout(10_000));
    assert.equal(result.isError, false, result.output);
    if (args.length === 0) return [];
    const parts = result.output.split("\0");
    assert.equal(parts.pop(), "", JSON.stringify(result.output));
    return parts.map((p) => p.slice(1, -1));
  }

  it("every argument reaches the program as one element, byte for byte: no splitting, globbing, expansion or quote removal", async () => {
    // printable ASCII (screen-clean or not, as spawn must not care), a space, and UTF-8.
    const element = fc.oneof(
      fc.stringMatching(/^[ -~]{0,12}$/),
      fc.constantFrom(
        "*",
        "/etc/*",
        "~",
        "~root",
        "$HOME",
        "${PATH}",
        "$(id)",
        "`id`",
        "a b",
        " lead",
        "trail ",
        "'q'",
        '"q"',
        "a\\ b",
        "{a,b}",
        "[ab]",
        "?",
        "!!",
        "-n",
        "--",
        "%s",
        "é日🙂",
        "\t",
        "\n",
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 6 }), async (args) => {
        const judged = ["docker", "ps", ...args];
        const decision = judge(judged, DEFAULT_POLICY, "auto");
        assert.deepEqual(await received(args), args, `policy ${decision.decision}: ${JSON.stringify(judged)}`);
      }),
      { numRuns: 60 },
    );
  });

  it("an argv the policy allows reaches a real program exactly as the policy judged it (node prints its argv)", async () => {
    const safe = fc.stringMatching(/^[-a-zA-Z0-9._=:/@%+,^ ]{0,12}$/);
    await fc.assert(
      fc.asyncProperty(fc.array(safe, { minLength: 1, maxLength: 5 }), async (args) => {
        // A broad shell allow: whatever it lets through reaches the program unchanged.
        const judged = ["docker", "ps", ...args];
        fc.pre(judge(judged, policyOf(["allow", "docker ps *"])).decision === "allow");
        const result = await shellTool.run(
          {
            argv: [
              process.execPath,
              "-e",
              "process.stdout.write(JSON.stringify(process.argv.slice(1)))",
              "--",
              ...args,
            ],
          },
          env,
          AbortSignal.timeout(10_000),
        );
        assert.deepEqual(JSON.parse(result.output), args);
      }),
      { numRuns: 8 },
    );
  });

  it("spawn refuses an argument with NUL instead of cutting it short", async () => {
    const result = await shellTool.run({ argv: [PRINTF, "%s", "docker\u0000rm"] }, env, AbortSignal.timeout(10_000));
    assert.equal(result.isError, true);
    assert.match(result.output, /null bytes/);
  });
});

describe("argv tricks: regressions found by the properties", () => {
  // Before the fix, each was allowed by a policy that allows `docker *` (or the absolute
  // path) and denies, or asks for, the command it runs.
  const policy = policyOf(
    ["allow", "docker *"],
    ["allow", "/usr/bin/docker *"],
    ["deny", "docker rm *"],
    ["ask", "docker start *"],
  );
  const cases: [readonly string[], PolicyDecision["decision"]][] = [
    [["docker", "--debug", "rm", "-f", "etcd0"], "deny"],
    [["docker", "-H", "unix:///var/run/docker.sock", "rm", "etcd0"], "deny"],
    [["/usr/bin/docker", "rm", "etcd0"], "deny"],
    [["docker", "--log-level=info", "start", "etcd0"], "ask"],
    [["docker", "start", "etcd0"], "ask"],
    [["docker", "ps"], "allow"],
  ];
  for (const [argv, expected] of cases) {
    it(`${argv.join(" ")} → ${expected}`, () => assert.equal(judge(argv, policy).decision, expected));
  }

  it("a versioned kubectl with a dash is still kubectl (kubectl-1.30)", () => {
    assert.equal(judge(["kubectl-1.30", "delete", "pod", "x"], policyOf(["allow", "*"])).stage, "target");
  });
});
