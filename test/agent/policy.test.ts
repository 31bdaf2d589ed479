import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { AgentMode } from "../../src/api/desired-state.js";
import { RemediationPolicySpec, type PolicyRule } from "../../src/api/policy.js";
import { DEFAULT_POLICY } from "../../src/api/default-policy.js";
import {
  INTERPRETERS,
  WRAPPERS,
  classifyShell,
  decide,
  matchPattern,
  type PolicyDecision,
  type PolicyRequest,
} from "../../src/agent/policy.js";
import type { AgentScope } from "../../src/agent/ownership.js";
import {
  container,
  controllerRef,
  dockerWorldScope,
  kubernetesWorldScope,
  pod,
  replicaSet,
  workload,
} from "../support/scopes.js";

/** Project etcd declares etcd0–2; prometheus is in the project but not declared; payments is another project's. */
const DOCKER_SCOPE: AgentScope = dockerWorldScope({
  project: "etcd",
  services: ["etcd0", "etcd1", "etcd2"],
  containers: [
    container("etcd0", { project: "etcd", service: "etcd0" }),
    container("etcd1", { project: "etcd", service: "etcd1" }),
    container("etcd2", { project: "etcd", service: "etcd2" }),
    container("prometheus", { project: "etcd", service: "prometheus" }),
    container("payments", { project: "shop", service: "payments" }),
  ],
  facts: { etcd0: { secrets: [], endpoints: ["http://127.0.0.1:2379"] } },
});
/** Namespace shop declares Deployment/web, which owns pod web-1 through its ReplicaSet; payments and db-0 are not declared. */
const KUBE_SCOPE: AgentScope = kubernetesWorldScope({
  services: ["Deployment/web"],
  view: {
    workloads: [workload("Deployment", "web"), workload("Deployment", "payments")],
    replicaSets: [replicaSet("web-7d9", "web")],
    pods: [pod("web-1", { owners: [controllerRef("ReplicaSet", "web-7d9")] }), pod("db-0")],
  },
});
const scopeFor = (request: PolicyRequest): AgentScope => (request.tool.startsWith("kube") ? KUBE_SCOPE : DOCKER_SCOPE);
const MODES: readonly AgentMode[] = ["off", "observe", "approve", "auto"];

const policyOf = (...rules: [PolicyRule["decision"], string][]): RemediationPolicySpec =>
  RemediationPolicySpec.parse({ rules: rules.map(([decision, command]) => ({ decision, command })) });

/** A shell-tool call, classified the way the session classifies it. */
function shell(argv: readonly string[]): PolicyRequest {
  return { tool: "shell", argv, mutating: classifyShell(argv).mutating, touches: [] };
}

function typed(tool: "docker_start" | "docker_restart", container: string): PolicyRequest {
  return { tool, argv: ["docker", tool.slice("docker_".length), container], mutating: true, touches: [container] };
}

function kube(tool: string, argv: readonly string[], touches: string): PolicyRequest {
  return { tool, argv, mutating: true, touches: [touches] };
}

function run(
  request: PolicyRequest,
  mode: AgentMode = "auto",
  policy: RemediationPolicySpec = DEFAULT_POLICY,
): PolicyDecision {
  return decide(request, policy, { mode, scope: scopeFor(request) });
}

describe("matchPattern", () => {
  const cases: [string, readonly string[], boolean][] = [
    ["docker start *", ["docker", "start", "etcd0"], true],
    ["docker start *", ["docker", "start"], true],
    ["docker start *", ["docker", "start", "a", "b"], true],
    ["docker start *", ["docker", "startx"], false],
    ["docker start *", ["docker", "startx", "etcd0"], false],
    ["docker start *", ["docker"], false],
    ["docker start *", ["Docker", "start", "x"], false],
    ["docker start etcd0", ["docker", "start", "etcd0"], true],
    ["docker start etcd0", ["docker", "start", "etcd0", "etcd1"], false],
    ["docker start etcd0", ["docker", "start", "etcd01"], false],
    ["docker start etcd*", ["docker", "start", "etcd1"], true],
    ["docker start etcd*", ["docker", "start", "other"], false],
    ["docker start a b", ["docker", "start", "a b"], false],
    ["docker start a b", ["docker", "start", "a", "b"], true],
    ["docker start * x", ["docker", "start", "a b", "x"], true],
    ["docker start * x", ["docker", "start", "a", "b", "x"], false],
    // A lone `*` never stands for a flag that chooses the destination or credentials.
    ["etcdctl * endpoint health *", ["etcdctl", "--endpoints=http://127.0.0.1:2379", "endpoint", "health"], false],
    ["etcdctl endpoint health *", ["etcdctl", "endpoint", "health", "--endpoints=http://x:1"], false],
    ["etcdctl endpoint health *", ["etcdctl", "endpoint", "health", "--user=root"], false],
    ["etcdctl endpoint health *", ["etcdctl", "endpoint", "health", "-w", "table"], true],
    ["docker ps *", ["docker", "ps", "-H", "tcp://x:2375"], false],
    ["etcdctl * endpoint health *", ["etcdctl", "endpoint", "health"], false],
    ["etcdctl --endpoints=* member list", ["etcdctl", "--endpoints=http://x", "member", "list"], true],
    ["docker  start\t*", ["docker", "start", "x"], true],
    ["docker start ?", ["docker", "start", "x"], false],
    ["docker start x.y", ["docker", "start", "xzy"], false],
    ["docker start e.*", ["docker", "start", "etcd"], false],
    ["docker start e.*", ["docker", "start", "e.cd"], true],
    ["docker start *-(1)", ["docker", "start", "a-(1)"], true],
    ["*", [], true],
    ["   ", ["docker"], false],
  ];
  for (const [pattern, argv, expected] of cases) {
    it(`${JSON.stringify(pattern)} ${expected ? "matches" : "does not match"} ${JSON.stringify(argv)}`, () => {
      assert.equal(matchPattern(pattern, argv), expected);
    });
  }
});

describe("classifyShell", () => {
  const cases: [readonly string[], boolean, string[]][] = [
    [["docker", "ps", "-a"], false, []],
    [["docker", "inspect", "etcd0"], false, ["etcd0"]],
    [["docker", "logs", "--tail=50", "etcd0"], false, ["etcd0"]],
    [["docker", "top", "etcd0"], false, ["etcd0"]],
    [["docker", "stats", "--no-stream"], false, []],
    [["docker", "stats"], true, []],
    [["docker", "start", "etcd0"], true, ["etcd0"]],
    [["docker", "rm", "-f", "etcd0", "etcd1"], true, ["etcd0", "etcd1"]],
    [["docker", "-H", "x", "start", "y"], true, ["start", "y"]],
    [["etcdctl", "--endpoints=http://127.0.0.1:2379", "endpoint", "health"], false, []],
    [["etcdctl", "endpoint", "status", "-w", "table"], false, []],
    [["etcdctl", "member", "list"], false, []],
    [["etcdctl", "--endpoints", "http://x", "endpoint", "health"], true, []],
    [["etcdctl", "get", "/secret"], true, []],
    [["etcdctl", "member", "remove", "abc"], true, []],
    [["cat", "/proc/loadavg"], false, []],
    [["cat", "/etc/shadow"], true, []],
    [["uptime"], false, []],
    [["df", "-h"], false, []],
    [["free", "-m"], false, []],
    [["/tmp/x/df"], true, []],
    [["kubectl", "delete", "x"], true, []],
  ];
  for (const [argv, mutating, containers] of cases) {
    it(`${argv.join(" ")}: ${mutating ? "mutating" : "read-only"}, touches [${containers.join(", ")}]`, () => {
      assert.deepEqual(classifyShell(argv), { mutating, containers });
    });
  }
});

describe("decide: the adversarial set, default policy, auto mode", () => {
  const cases: [string, PolicyRequest, PolicyDecision["decision"], PolicyDecision["stage"], RegExp][] = [
    ["rm -rf /", shell(["rm", "-rf", "/"]), "deny", "rule", /deny rule "rm \*"/],
    ["docker rm -f etcd0", shell(["docker", "rm", "-f", "etcd0"]), "deny", "rule", /deny rule "docker rm \*"/],
    ['sh -c "docker ps"', shell(["sh", "-c", "docker ps"]), "deny", "screen", /"sh" is a shell or interpreter/],
    [
      "x; as its own element",
      shell(["docker", "start", "x;", "curl", "evil"]),
      "deny",
      "screen",
      /argv\[2\] "x;" contains the shell metacharacter ";"/,
    ],
    ["x; curl evil in one element", shell(["docker", "start", "x; curl evil"]), "deny", "screen", /metacharacter ";"/],
    ["FOO=1 docker ps", shell(["FOO=1", "docker", "ps"]), "deny", "screen", /"FOO=1" is an environment assignment/],
    [
      "/usr/bin/env docker ps",
      shell(["/usr/bin/env", "docker", "ps"]),
      "deny",
      "screen",
      /"\/usr\/bin\/env" runs another program/,
    ],
    ["xargs docker start", shell(["xargs", "docker", "start"]), "deny", "screen", /"xargs" runs another program/],
    [
      "sudo docker start etcd0",
      shell(["sudo", "docker", "start", "etcd0"]),
      "deny",
      "screen",
      /"sudo" runs another program or changes privileges/,
    ],
    [
      "docker start other-container",
      shell(["docker", "start", "other-container"]),
      "deny",
      "target",
      /"other-container" is not one of this DesiredState's own containers: nothing by that name is observed in its target now/,
    ],
    ["docker_start other-container", typed("docker_start", "other-container"), "deny", "target", /"other-container"/],
    [
      "fullwidth ｄｏｃｋｅｒ",
      shell(["ｄｏｃｋｅｒ", "start", "etcd0"]),
      "deny",
      "screen",
      /non-ASCII character U\+FF44/,
    ],
    ["Cyrillic dоcker", shell(["d\u043ecker", "start", "etcd0"]), "deny", "screen", /non-ASCII character U\+043E/],
    [
      "zero-width joiner in docker",
      shell(["doc\u200dker", "start", "etcd0"]),
      "deny",
      "screen",
      /non-ASCII character U\+200D/,
    ],
    ["RTL override", shell(["docker", "start", "\u202e0dcte"]), "deny", "screen", /U\+202E/],
    [
      "docker exec etcd0 sh",
      shell(["docker", "exec", "etcd0", "sh"]),
      "deny",
      "screen",
      /"docker exec" runs an arbitrary command .* shell in disguise/,
    ],
    ["docker run", shell(["docker", "run", "--rm", "busybox"]), "deny", "screen", /"docker run"/],
    ["docker container exec", shell(["docker", "container", "exec", "etcd0", "ls"]), "deny", "screen", /"docker exec"/],
    ["docker compose run", shell(["docker", "compose", "run", "etcd0"]), "deny", "screen", /"docker run"/],
    [
      "docker -H x exec",
      shell(["docker", "-H", "unix:///x", "exec", "etcd0", "ls"]),
      "deny",
      "screen",
      /"docker exec"/,
    ],
    ["docker start etcd0", shell(["docker", "start", "etcd0"]), "ask", "rule", /ask rule "docker start \*"/],
    ["docker_start etcd0", typed("docker_start", "etcd0"), "ask", "rule", /ask rule "docker start \*"/],
    ["docker_restart etcd1", typed("docker_restart", "etcd1"), "ask", "rule", /ask rule "docker restart \*"/],
    [
      "docker ps -a (shell): every container on the host, so not in the default policy",
      shell(["docker", "ps", "-a"]),
      "deny",
      "default",
      /no policy rule matches/,
    ],
    [
      "etcdctl endpoint health",
      shell(["etcdctl", "--endpoints=http://127.0.0.1:2379", "endpoint", "health"]),
      "allow",
      "rule",
      /allow rule/,
    ],
    [
      "unmatched crictl rm x",
      shell(["crictl", "rm", "x"]),
      "deny",
      "default",
      /no policy rule matches "crictl rm x"; unmatched commands are denied/,
    ],
    [
      "kubectl through shell, even a rule's form",
      shell(["kubectl", "scale", "deployment/web", "--replicas=3"]),
      "deny",
      "target",
      /kubectl through shell is not bound to the target's namespace/,
    ],
    [
      "kubectl through shell to another namespace",
      shell(["kubectl", "-n", "prod", "delete", "pod", "web-1"]),
      "deny",
      "target",
      /use the kube_\* tools/,
    ],
    [
      "/usr/local/bin/kubectl through shell",
      shell(["/usr/local/bin/kubectl", "get", "secrets"]),
      "deny",
      "target",
      /kubectl through shell/,
    ],
    [
      "kube_scale of our workload",
      kube("kube_scale", ["kubectl", "scale", "deployment/web", "--replicas=3"], "deployment/web"),
      "ask",
      "rule",
      /ask rule "kubectl scale \*"/,
    ],
    [
      "kube_rollout_restart of our workload",
      kube("kube_rollout_restart", ["kubectl", "rollout", "restart", "deployment/web"], "deployment/web"),
      "ask",
      "rule",
      /ask rule "kubectl rollout restart \*"/,
    ],
    [
      "kube_delete_pod of our pod",
      kube("kube_delete_pod", ["kubectl", "delete", "pod", "web-1"], "pod/web-1"),
      "ask",
      "rule",
      /ask rule "kubectl delete pod \*"/,
    ],
    [
      "kube_scale of another workload",
      kube("kube_scale", ["kubectl", "scale", "deployment/payments", "--replicas=0"], "deployment/payments"),
      "deny",
      "target",
      /"deployment\/payments" is not one of this DesiredState's own/,
    ],
    [
      "kube_delete_pod of another pod",
      kube("kube_delete_pod", ["kubectl", "delete", "pod", "db-0"], "pod/db-0"),
      "deny",
      "target",
      /"pod\/db-0"/,
    ],
    [
      "kube_get is read-only",
      { tool: "kube_get", argv: ["kubectl", "get", "pods"], mutating: false, touches: [] },
      "allow",
      "mode",
      /read-only tool/,
    ],
    [
      "kube_scale claiming to be read-only is still a mutation",
      {
        tool: "kube_scale",
        argv: ["kubectl", "scale", "deployment/payments", "--replicas=0"],
        mutating: false,
        touches: ["deployment/payments"],
      },
      "deny",
      "target",
      /deployment\/payments/,
    ],
    ["docker stop etcd0", shell(["docker", "stop", "etcd0"]), "deny", "rule", /deny rule "docker stop \*"/],
    ["docker kill etcd0", shell(["docker", "kill", "etcd0"]), "deny", "rule", /deny rule "docker kill \*"/],
    ["empty argv", shell([]), "deny", "screen", /empty argv/],
    ["empty program", shell(["", "ps"]), "deny", "screen", /empty program/],
    ["newline", shell(["docker", "ps\n", "rm"]), "deny", "screen", /control character U\+000A/],
    ["NUL", shell(["docker", "ps\u0000"]), "deny", "screen", /control character U\+0000/],
    ["relative program", shell(["./docker", "ps"]), "deny", "screen", /"\.\/docker" is a relative path/],
    ["parent-relative program", shell(["../bin/docker", "ps"]), "deny", "screen", /relative path/],
    ["/bin/sh by basename", shell(["/bin/sh", "-c", "x"]), "deny", "screen", /\(sh\)/],
    ["versioned interpreter", shell(["/usr/bin/python3.11", "-V"]), "deny", "screen", /\(python\)/],
    ["upper-case wrapper", shell(["SUDO", "ls"]), "deny", "screen", /\(sudo\)/],
    ["sed can execute", shell(["sed", "-n", "p", "/etc/hosts"]), "deny", "screen", /"sed" is a shell or interpreter/],
    [
      "absolute docker is not docker",
      shell(["/usr/bin/docker", "start", "etcd0"]),
      "deny",
      "default",
      /no policy rule matches/,
    ],
  ];
  for (const [name, request, decision, stage, reason] of cases) {
    it(`${name} → ${decision} at ${stage}`, () => {
      const got = run(request);
      assert.equal(got.decision, decision, got.reason);
      assert.equal(got.stage, stage, got.reason);
      assert.match(got.reason, reason);
    });
  }
});

describe("decide: modes", () => {
  const allowStart = policyOf(["allow", "docker start *"]);
  const cases: [AgentMode, RemediationPolicySpec, string, PolicyDecision["decision"], PolicyDecision["stage"]][] = [
    ["off", allowStart, "allow rule", "deny", "mode"],
    ["observe", allowStart, "allow rule", "deny", "mode"],
    ["approve", allowStart, "allow rule", "ask", "rule"],
    ["auto", allowStart, "allow rule", "allow", "rule"],
    ["off", DEFAULT_POLICY, "default policy", "deny", "mode"],
    ["observe", DEFAULT_POLICY, "default policy", "deny", "mode"],
    ["approve", DEFAULT_POLICY, "default policy", "ask", "rule"],
    ["auto", DEFAULT_POLICY, "default policy", "ask", "rule"],
  ];
  for (const [mode, policy, label, decision, stage] of cases) {
    it(`docker start etcd0 in ${mode} mode with the ${label} → ${decision}`, () => {
      for (const request of [shell(["docker", "start", "etcd0"]), typed("docker_start", "etcd0")]) {
        const got = run(request, mode, policy);
        assert.deepEqual([got.decision, got.stage], [decision, stage], got.reason);
      }
    });
  }

  it("observe mode says why it denies a mutation", () => {
    assert.match(run(typed("docker_start", "etcd0"), "observe").reason, /observe mode allows read-only tools only/);
  });

  it("approve mode says a person approves every change", () => {
    assert.match(
      run(typed("docker_start", "etcd0"), "approve", allowStart).reason,
      /approve mode: every change is approved by a person/,
    );
  });

  it("a read-only shell command allowed by a rule stays allowed in observe and approve modes", () => {
    for (const mode of ["observe", "approve", "auto"] as const) {
      assert.equal(run(shell(["etcdctl", "endpoint", "health"]), mode).decision, "allow", mode);
    }
  });

  it("read-only typed tools are allowed in every mode but off, even with no rules and unscreenable input", () => {
    const empty = policyOf();
    const reads: PolicyRequest[] = [
      {
        tool: "query_prometheus",
        argv: ["query_prometheus", 'count(up{job="etcd"} == 1) > 0'],
        mutating: false,
        touches: [],
      },
      { tool: "docker_ps", argv: ["docker", "ps", "-a"], mutating: false, touches: [] },
      { tool: "docker_inspect", argv: ["docker", "inspect", "not-ours"], mutating: false, touches: [] },
      { tool: "docker_logs", argv: ["docker", "logs", "--tail", "100", "etcd0"], mutating: false, touches: [] },
    ];
    for (const request of reads) {
      for (const mode of MODES) {
        const got = run(request, mode, empty);
        assert.equal(got.decision, mode === "off" ? "deny" : "allow", `${request.tool} in ${mode}`);
        assert.equal(got.stage, "mode");
      }
    }
  });
});

describe("decide: rules", () => {
  it("deny rules win over ask and allow whatever their order in the list", () => {
    const policy = policyOf(["allow", "docker start *"], ["ask", "docker start etcd0"], ["deny", "docker start etcd*"]);
    const got = run(shell(["docker", "start", "etcd0"]), "auto", policy);
    assert.deepEqual([got.decision, got.rule?.command], ["deny", "docker start etcd*"]);
  });

  it("ask wins over allow", () => {
    const policy = policyOf(["allow", "docker start *"], ["ask", "docker start etcd0"]);
    assert.equal(run(shell(["docker", "start", "etcd0"]), "auto", policy).decision, "ask");
  });

  it("the first matching rule within a tier is reported", () => {
    const policy = policyOf(["allow", "docker restart etcd*"], ["allow", "docker restart *"]);
    assert.equal(run(typed("docker_restart", "etcd2"), "auto", policy).rule?.command, "docker restart etcd*");
  });

  it("the target check comes before rules: an allow-everything rule cannot reach another container", () => {
    const got = run(shell(["docker", "restart", "etcd0", "prometheus"]), "auto", policyOf(["allow", "*"]));
    assert.deepEqual([got.decision, got.stage], ["deny", "target"]);
  });

  it("the engine re-derives what a shell command touches, whatever the caller says", () => {
    const request: PolicyRequest = {
      tool: "shell",
      argv: ["docker", "start", "intruder"],
      mutating: false,
      touches: [],
    };
    assert.equal(run(request, "auto", policyOf(["allow", "docker start *"])).stage, "target");
  });

  it("a typed mutating tool is mutating even if the caller says otherwise", () => {
    const request: PolicyRequest = { ...typed("docker_start", "etcd0"), mutating: false };
    assert.equal(run(request, "observe").decision, "deny");
  });
});

describe("DEFAULT_POLICY", () => {
  it("is a valid, frozen spec with default budgets", () => {
    assert.deepEqual(RemediationPolicySpec.parse(DEFAULT_POLICY), DEFAULT_POLICY);
    assert.equal(DEFAULT_POLICY.dryRun, false);
    assert.deepEqual(DEFAULT_POLICY.budgets, RemediationPolicySpec.parse({}).budgets);
    assert.throws(() => DEFAULT_POLICY.rules.push({ decision: "allow", command: "*" }));
  });

  it("lets nothing run unasked that could change something, in any mode (least privilege)", () => {
    // Regression: `etcdctl * endpoint health *` matched these too, and auto mode ran them.
    const writes = [
      ["etcdctl", "del", "endpoint", "health"],
      ["etcdctl", "put", "endpoint", "status"],
      ["etcdctl", "del", "member", "list", "--prefix"],
      ["etcdctl", "--endpoints=http://127.0.0.1:2379", "del", "endpoint", "health"],
      ["etcdctl", "--endpoints", "http://127.0.0.1:2379", "endpoint", "health"],
      ["etcdctl", "get", "/registry/secrets"],
    ];
    for (const argv of writes) {
      for (const mode of MODES) assert.equal(run(shell(argv), mode).decision, "deny", `${argv.join(" ")} in ${mode}`);
    }
    for (const argv of [
      ["etcdctl", "endpoint", "health"],
      ["etcdctl", "--endpoints=http://127.0.0.1:2379", "member", "list"],
    ]) {
      assert.equal(run(shell(argv)).decision, "allow", argv.join(" "));
    }
  });

  it("sends container reads through the typed tools, which redact env values, not through shell", () => {
    for (const argv of [
      ["docker", "inspect", "etcd0"],
      ["docker", "inspect", "--format=json", "etcd0"],
      ["docker", "logs", "--tail=1000", "etcd0"],
    ]) {
      const got = run(shell(argv));
      assert.deepEqual([got.decision, got.stage], ["deny", "default"], argv.join(" "));
    }
    const inspect: PolicyRequest = {
      tool: "docker_inspect",
      argv: ["docker", "inspect", "etcd0"],
      mutating: false,
      touches: [],
    };
    assert.equal(run(inspect).decision, "allow");
  });

  it("every allow rule's own example is read-only: an allowed command never changes anything", () => {
    for (const r of DEFAULT_POLICY.rules.filter((x) => x.decision === "allow")) {
      const example = r.command
        .split(/\s+/)
        .filter((t) => t !== "*")
        .map((t) => t.replace("*", "http://127.0.0.1:2379"));
      assert.equal(classifyShell(example).mutating, false, `${r.command} → ${example.join(" ")}`);
    }
  });
});

describe("decide: properties", () => {
  const allowAll = policyOf(["allow", "*"]);
  const BAD = [
    ..."; | & ` $ ( ) > < * ? [ ] { } ~ ! # \\ ' \"".replace(/ /g, ""),
    "\n",
    "\r",
    "\u0000",
    "\u001b",
    "\u007f",
    "ｄ",
    "\u043e",
    "\u200d",
    "\u202e",
    "é",
  ];
  const word = fc.stringMatching(/^[a-z0-9._=:/-]{0,12}$/);

  it("no argv containing a metacharacter, control or non-ASCII character is ever allowed", () => {
    fc.assert(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 5 }),
        fc.tuple(fc.nat(), fc.nat()),
        fc.constantFrom(...BAD),
        fc.constantFrom(...MODES),
        (argv, [at, pos], bad, mode) => {
          const i = at % argv.length;
          const element = argv[i] ?? "";
          const p = pos % (element.length + 1);
          const poisoned = argv.map((a, j) => (j === i ? `${element.slice(0, p)}${bad}${element.slice(p)}` : a));
          for (const tool of ["shell", "docker_start"]) {
            const got = decide({ tool, argv: poisoned, mutating: false, touches: [] }, allowAll, {
              mode,
              scope: DOCKER_SCOPE,
            });
            assert.notEqual(got.decision, "allow", `${tool} ${JSON.stringify(poisoned)}`);
          }
        },
      ),
    );
  });

  it("never allows a program from the interpreter or wrapper lists, by any path or version", () => {
    const programs = [...INTERPRETERS, ...WRAPPERS];
    fc.assert(
      fc.property(
        fc.tuple(
          fc.constantFrom(...programs),
          fc.constantFrom("", "/bin/", "/usr/local/bin/"),
          fc.constantFrom("", "3", "5.1"),
        ),
        fc.array(word, { maxLength: 4 }),
        fc.constantFrom(...MODES),
        ([program, dir, version], args, mode) => {
          const argv = [`${dir}${program}${version}`, ...args];
          const got = decide({ tool: "shell", argv, mutating: classifyShell(argv).mutating, touches: [] }, allowAll, {
            mode,
            scope: DOCKER_SCOPE,
          });
          assert.notEqual(got.decision, "allow", JSON.stringify(argv));
        },
      ),
    );
  });
});
