import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveRunConfig } from "../src/config.js";

const base = { stateDir: "/tmp/steward-config-test" };

describe("resolveRunConfig", () => {
  it("targets: docker with the file store, docker and kubernetes with the kubernetes store", () => {
    assert.deepEqual(resolveRunConfig({ ...base, store: "file" }, {}).targets, ["docker"]);
    assert.deepEqual(resolveRunConfig({ ...base, store: "kubernetes", leaderElect: "false" }, {}).targets, ["docker", "kubernetes"]);
  });

  it("targets from the flag win over the environment; duplicates and blanks are dropped", () => {
    assert.deepEqual(resolveRunConfig({ ...base, targets: "kubernetes, kubernetes," }, { STEWARD_TARGETS: "docker" }).targets, ["kubernetes"]);
    assert.deepEqual(resolveRunConfig(base, { STEWARD_TARGETS: "docker,kubernetes" }).targets, ["docker", "kubernetes"]);
  });

  it("an unknown target is a clear error", () => {
    assert.throws(() => resolveRunConfig({ ...base, targets: "docker,nomad" }, {}), /configuration: targets\[1\]: Invalid option: expected one of "docker"|"kubernetes"/);
    assert.throws(() => resolveRunConfig({ ...base, targets: "," }, {}), /configuration: targets/);
  });

  it("a remote Prometheus is refused unless allowed explicitly", () => {
    assert.equal(resolveRunConfig(base, {}).prometheusAllowRemote, false);
    assert.equal(resolveRunConfig(base, { STEWARD_PROMETHEUS_ALLOW_REMOTE: "true" }).prometheusAllowRemote, true);
    assert.throws(() => resolveRunConfig({ ...base, prometheusAllowRemote: "yes" }, {}), /prometheusAllowRemote: expected true or false, got "yes"/);
  });
});
