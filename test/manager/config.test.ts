import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveRunConfig } from "../../src/manager/config.js";

const base = { stateDir: "/tmp/steward-config-test" };

describe("resolveRunConfig", () => {
  it("targets: docker with the file store, docker and kubernetes with the kubernetes store", () => {
    assert.deepEqual(resolveRunConfig({ ...base, store: "file" }, {}).targets, ["docker"]);
    assert.deepEqual(resolveRunConfig({ ...base, store: "kubernetes", leaderElect: "false" }, {}).targets, [
      "docker",
      "kubernetes",
    ]);
  });

  it("targets from the flag win over the environment; duplicates and blanks are dropped", () => {
    assert.deepEqual(
      resolveRunConfig({ ...base, targets: "kubernetes, kubernetes," }, { STEWARD_TARGETS: "docker" }).targets,
      ["kubernetes"],
    );
    assert.deepEqual(resolveRunConfig(base, { STEWARD_TARGETS: "docker,kubernetes" }).targets, [
      "docker",
      "kubernetes",
    ]);
  });

  it("an unknown target is a clear error", () => {
    assert.throws(
      () => resolveRunConfig({ ...base, targets: "docker,nomad" }, {}),
      /configuration: targets\[1\]: Invalid option: expected one of "docker"|"kubernetes"/,
    );
    assert.throws(() => resolveRunConfig({ ...base, targets: "," }, {}), /configuration: targets/);
  });

  it("a remote Prometheus is refused unless allowed explicitly", () => {
    assert.equal(resolveRunConfig(base, {}).prometheusAllowRemote, false);
    assert.equal(resolveRunConfig(base, { STEWARD_PROMETHEUS_ALLOW_REMOTE: "true" }).prometheusAllowRemote, true);
    assert.throws(
      () => resolveRunConfig({ ...base, prometheusAllowRemote: "yes" }, {}),
      /prometheusAllowRemote: expected true or false, got "yes"/,
    );
  });
});

describe("resolveRunConfig: leader election", () => {
  it("on by default with the kubernetes store, off with the file store", () => {
    const election = resolveRunConfig(
      { ...base, store: "kubernetes" },
      { POD_NAME: "steward-7d9f-abcde" },
    ).leaderElection;
    assert.equal(election?.leaseName, "steward");
    assert.match(election?.identity ?? "", /^steward-7d9f-abcde_[0-9a-f]{8}$/);
    assert.equal(resolveRunConfig({ ...base, store: "file" }, {}).leaderElection, undefined);
    assert.equal(
      resolveRunConfig({ ...base, store: "kubernetes", leaderElect: "false" }, {}).leaderElection,
      undefined,
    );
  });

  it("each process gets its own identity, so a restarted one never renews its predecessor's lease", () => {
    const identity = (): string | undefined =>
      resolveRunConfig({ ...base, store: "kubernetes" }, { POD_NAME: "p" }).leaderElection?.identity;
    assert.notEqual(identity(), identity());
  });

  it("lease name and namespace from flags or the environment", () => {
    const election = resolveRunConfig(
      { ...base, store: "kubernetes", leaseName: "steward-a" },
      { STEWARD_LEASE_NAMESPACE: "ops" },
    ).leaderElection;
    assert.equal(election?.leaseName, "steward-a");
    assert.equal(election?.leaseNamespace, "ops");
  });

  it("the file store cannot elect; a bad value or lease name is a clear error", () => {
    assert.throws(
      () => resolveRunConfig({ ...base, store: "file", leaderElect: "true" }, {}),
      /--leader-elect needs --store kubernetes/,
    );
    assert.throws(
      () => resolveRunConfig({ ...base, store: "kubernetes" }, { STEWARD_LEADER_ELECT: "yes" }),
      /leaderElect: expected true, false or auto, got "yes"/,
    );
    assert.throws(
      () => resolveRunConfig({ ...base, store: "kubernetes", leaseName: "Not_A_Name" }, {}),
      /leaderElection\.leaseName: expected a DNS name/,
    );
  });
});

describe("resolveRunConfig: storm controls", () => {
  it("defaults: 10 openings a minute, the breaker opens after 3 failed sessions for 2 minutes", () => {
    const config = resolveRunConfig(base, {});
    assert.equal(config.maxOpeningsPerMinute, 10);
    assert.equal(config.breakerThreshold, 3);
    assert.equal(config.breakerOpenForMs, 120_000);
  });

  it("flags win over the environment; 0 turns a control off", () => {
    const config = resolveRunConfig(
      { ...base, maxOpeningsPerMinute: "0", breakerOpenFor: "30s" },
      { STEWARD_MAX_OPENINGS_PER_MINUTE: "5", STEWARD_BREAKER_THRESHOLD: "0" },
    );
    assert.equal(config.maxOpeningsPerMinute, 0);
    assert.equal(config.breakerThreshold, 0);
    assert.equal(config.breakerOpenForMs, 30_000);
  });

  it("a bad value is a clear error", () => {
    assert.throws(
      () => resolveRunConfig({ ...base, maxOpeningsPerMinute: "-1" }, {}),
      /configuration: maxOpeningsPerMinute/,
    );
    assert.throws(() => resolveRunConfig({ ...base, breakerThreshold: "many" }, {}), /configuration: breakerThreshold/);
    assert.throws(() => resolveRunConfig({ ...base, breakerOpenFor: "soon" }, {}), /configuration: breakerOpenForMs/);
  });
});
