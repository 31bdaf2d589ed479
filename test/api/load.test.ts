import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadManifests, parseManifestText } from "../../src/api/load.js";
import { ValidationError } from "../../src/errors.js";

const GOOD = `apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: etcd}
spec:
  target: {docker: {project: etcd}}
  services: [{name: etcd0}]
`;

describe("loading manifests", () => {
  it("applies defaults the way the API server would", () => {
    const { resources, problems } = parseManifestText(GOOD, "a.yaml");
    assert.deepEqual(problems, []);
    const ds = resources[0]?.resource;
    assert.equal(ds?.kind, "DesiredState");
    if (ds?.kind !== "DesiredState") return;
    assert.equal(ds.metadata.namespace, "default");
    assert.deepEqual(ds.spec.services[0], { name: "etcd0", replicas: 1, running: true, healthy: false });
    assert.deepEqual(ds.spec.remediation.simpleFixes, ["start", "restart", "scale"]);
  });

  it("names the file, the document and the field path of a bad duration", () => {
    const text = `${GOOD}---
apiVersion: steward.dev/v1alpha1
kind: DesiredState
metadata: {name: two}
spec:
  target: {docker: {project: etcd}}
  invariants: [{name: q, query: up, condition: "== 3", for: soon}]
`;
    const { problems } = parseManifestText(text, "state.yaml");
    assert.deepEqual(problems, [
      'state.yaml: document 2: spec.invariants[0].for: expected a duration like "30s", got "soon"',
    ]);
  });

  const bad: [string, string, RegExp][] = [
    [
      "unknown kind",
      "apiVersion: steward.dev/v1alpha1\nkind: Nope\nmetadata: {name: x}\n",
      /document 1: kind: expected one of DesiredState, AgentRemediation, RemediationPolicy, NotificationPolicy, got "Nope"/,
    ],
    [
      "wrong apiVersion",
      "apiVersion: v1\nkind: DesiredState\n",
      /apiVersion: expected "steward.dev\/v1alpha1", got "v1"/,
    ],
    ["not a mapping", "- a\n- b\n", /expected a mapping with apiVersion and kind, got a list/],
    ["YAML syntax", "apiVersion: [unclosed\n", /document 1: invalid YAML/],
    ["unknown field", GOOD.replace("services:", "servics:"), /spec: Unrecognized key: "servics"/],
    [
      "two targets",
      GOOD.replace("{docker: {project: etcd}}", "{docker: {project: etcd}, kubernetes: {namespace: x}}"),
      /spec.target: expected exactly one of docker or kubernetes/,
    ],
    ["bad name", GOOD.replace("name: etcd}", "name: Etcd_0}"), /metadata.name: expected a lowercase DNS-1123 name/],
    [
      "replicas type",
      GOOD.replace("{name: etcd0}", "{name: etcd0, replicas: two}"),
      /spec.services\[0\].replicas: Invalid input: expected number/,
    ],
    [
      "duplicate service",
      GOOD.replace("[{name: etcd0}]", "[{name: a}, {name: a}]"),
      /spec.services\[1\].name: duplicate name "a"/,
    ],
    [
      "bad condition",
      GOOD.replace("services: [{name: etcd0}]", "invariants: [{name: q, query: up, condition: ~3}]"),
      /spec.invariants\[0\].condition: expected a comparison like "== 3"/,
    ],
    [
      "bad agent mode",
      GOOD.replace("services: [{name: etcd0}]", "remediation: {agent: {mode: yolo}}"),
      /spec.remediation.agent.mode/,
    ],
  ];
  for (const [title, text, expected] of bad) {
    it(`rejects ${title} with a message naming the field`, () => {
      const { problems, resources } = parseManifestText(text, "f.yaml");
      assert.equal(resources.length, 0);
      assert.match(problems.join("\n"), expected);
    });
  }

  it("rejects the whole set when one file of a directory is invalid", async () => {
    const dir = await mkdtemp(join(tmpdir(), "steward-load-"));
    await writeFile(join(dir, "a.yaml"), GOOD);
    await writeFile(
      join(dir, "b.yml"),
      "apiVersion: steward.dev/v1alpha1\nkind: DesiredState\nmetadata: {name: b}\nspec: {}\n",
    );
    await writeFile(join(dir, "notes.txt"), "ignored");
    await assert.rejects(loadManifests([dir]), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /b.yml: document 1: spec.target: Invalid input/);
      return true;
    });
  });

  it("reports a missing path", async () => {
    await assert.rejects(loadManifests(["/nonexistent/x.yaml"]), /\/nonexistent\/x.yaml: no such file or directory/);
  });
});
