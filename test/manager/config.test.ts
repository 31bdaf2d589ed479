import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readFileSync } from "node:fs";
import { Command } from "commander";
import { flagsOf, settingOption } from "../../src/cli/setting-options.js";
import { resolveRunConfig, resolveStoreKind, SETTINGS, type SettingName } from "../../src/manager/config.js";
import { settingsTable, withSettingsTable } from "../../scripts/lib/settings-doc.js";

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
      /configuration: --targets \(STEWARD_TARGETS\) \[1\]: Invalid option: expected one of "docker"\|"kubernetes"/,
    );
    assert.throws(
      () => resolveRunConfig({ ...base, targets: "," }, {}),
      /configuration: --targets \(STEWARD_TARGETS\)/,
    );
  });

  it("watch namespaces: all when unset, else the comma-separated list; a bad name is a clear error", () => {
    assert.deepEqual(resolveRunConfig(base, {}).watchNamespaces, []);
    assert.deepEqual(resolveRunConfig({ ...base, watchNamespace: "shop, payments,shop" }, {}).watchNamespaces, [
      "shop",
      "payments",
    ]);
    assert.deepEqual(resolveRunConfig(base, { STEWARD_WATCH_NAMESPACE: "shop" }).watchNamespaces, ["shop"]);
    assert.throws(
      () => resolveRunConfig({ ...base, watchNamespace: "shop,Pay_Ments" }, {}),
      /configuration: --watch-namespace \(STEWARD_WATCH_NAMESPACE\) \[1\]: expected a namespace name, got "shop,Pay_Ments"/,
    );
  });

  it("a remote Prometheus is refused unless allowed explicitly", () => {
    assert.equal(resolveRunConfig(base, {}).prometheusAllowRemote, false);
    assert.equal(resolveRunConfig(base, { STEWARD_PROMETHEUS_ALLOW_REMOTE: "true" }).prometheusAllowRemote, true);
    assert.throws(
      () => resolveRunConfig({ ...base, prometheusAllowRemote: "yes" }, {}),
      /--prometheus-allow-remote \(STEWARD_PROMETHEUS_ALLOW_REMOTE\): expected true or false, got "yes"/,
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
      /--leader-elect \(STEWARD_LEADER_ELECT\): expected true, false or auto, got "yes"/,
    );
    assert.throws(
      () => resolveRunConfig({ ...base, store: "kubernetes", leaseName: "Not_A_Name" }, {}),
      /--lease-name \(STEWARD_LEASE_NAME\): expected a DNS name like steward, got "Not_A_Name"/,
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
      /configuration: --max-openings-per-minute \(STEWARD_MAX_OPENINGS_PER_MINUTE\): .*got "-1"/,
    );
    assert.throws(
      () => resolveRunConfig({ ...base, breakerThreshold: "many" }, {}),
      /configuration: --breaker-threshold \(STEWARD_BREAKER_THRESHOLD\): .*got "many"/,
    );
    assert.throws(
      () => resolveRunConfig({ ...base, breakerOpenFor: "soon" }, {}),
      /configuration: --breaker-open-for \(STEWARD_BREAKER_OPEN_FOR\): .*got "soon"/,
    );
  });
});

describe("one declaration per setting", () => {
  it("the README's configuration table is the one generated from it (npm run gen:docs)", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    assert.equal(withSettingsTable(readme), readme, "README.md is stale: run npm run gen:docs");
    for (const name of Object.keys(SETTINGS) as SettingName[]) {
      assert.ok(settingsTable().includes(`\`${SETTINGS[name].env}\``), `${name} has a README line`);
    }
  });

  it("every flag is an option of its command, and its help names the variable and the default", () => {
    const run = new Command("run");
    for (const name of flagsOf("run")) run.addOption(settingOption(name));
    const help = run.helpInformation().replace(/\s+/g, " ");
    assert.match(help, /--reconcile-timeout <duration>\s+deadline of one DesiredState reconcile/);
    assert.match(help, /env STEWARD_RECONCILE_TIMEOUT, default 30s/);
    assert.equal(run.options.length, flagsOf("run").length);
  });

  it("a flag given wins over the environment, which wins over the default", () => {
    assert.equal(
      resolveRunConfig({ reconcileTimeout: "5s" }, { STEWARD_RECONCILE_TIMEOUT: "9s" }).reconcileTimeoutMs,
      5_000,
    );
    assert.equal(resolveRunConfig({}, { STEWARD_RECONCILE_TIMEOUT: "9s" }).reconcileTimeoutMs, 9_000);
    assert.equal(resolveRunConfig({}, {}).reconcileTimeoutMs, 30_000);
    assert.equal(resolveRunConfig({}, { DOCKER_HOST: "unix:///run/d.sock" }).dockerHost, "unix:///run/d.sock");
  });

  it("a store that is neither file nor kubernetes is an error, not a silent file store", () => {
    assert.equal(resolveStoreKind({}, {}), "file");
    assert.equal(resolveStoreKind({}, { STEWARD_STORE: "kubernetes" }), "kubernetes");
    assert.throws(
      () => resolveStoreKind({}, { STEWARD_STORE: "etcd" }),
      /--store \(STEWARD_STORE\): expected file or kubernetes, got "etcd"/,
    );
  });
});

describe("resolveRunConfig: providers and alerts (issue 12)", () => {
  it("anthropic by default: configured only with a key; the model defaults per provider", () => {
    const none = resolveRunConfig(base, {});
    assert.equal(none.provider, "anthropic");
    assert.equal(none.modelConfigured, false);
    assert.equal(none.model, "claude-sonnet-5-5");
    assert.equal(resolveRunConfig(base, { ANTHROPIC_API_KEY: "k" }).modelConfigured, true);
    const bedrock = resolveRunConfig({ ...base, provider: "bedrock" }, {});
    assert.equal(bedrock.modelConfigured, true, "the AWS chain is asked when a request is made");
    assert.equal(bedrock.model, "global.anthropic.claude-sonnet-5-5");
    assert.equal(bedrock.awsRegion, "us-east-1");
    const vertex = resolveRunConfig(base, {
      STEWARD_PROVIDER: "vertex",
      CLOUD_ML_REGION: "europe-west1",
      STEWARD_MODEL: "claude-x@1",
    });
    assert.deepEqual([vertex.provider, vertex.vertexRegion, vertex.model], ["vertex", "europe-west1", "claude-x@1"]);
  });

  it("an unknown provider is a clear error", () => {
    assert.throws(
      () => resolveRunConfig({ ...base, provider: "openai" }, {}),
      /--provider \(STEWARD_PROVIDER\): .*"openai"/,
    );
  });

  it("the alert receiver listens off loopback only with a token file", () => {
    assert.equal(resolveRunConfig({ ...base, alertsAddr: "127.0.0.1:9479" }, {}).alertsAddr, "127.0.0.1:9479");
    assert.equal(resolveRunConfig({ ...base, alertsAddr: ":9479" }, {}).alertsAddr, ":9479");
    assert.throws(
      () => resolveRunConfig({ ...base, alertsAddr: "0.0.0.0:9479" }, {}),
      /--alerts-addr \(STEWARD_ALERTS_ADDR\): "0.0.0.0:9479" is not a loopback address; set --alerts-token-file/,
    );
    assert.equal(
      resolveRunConfig({ ...base, alertsAddr: "0.0.0.0:9479", alertsTokenFile: "/etc/steward/token" }, {})
        .alertsTokenFile,
      "/etc/steward/token",
    );
  });

  it("runbook URL prefixes are a comma-separated list of URLs", () => {
    assert.deepEqual(
      resolveRunConfig(base, { STEWARD_RUNBOOK_URL_PREFIXES: "https://wiki/a/, https://wiki/b/" }).runbookUrlPrefixes,
      ["https://wiki/a/", "https://wiki/b/"],
    );
    assert.throws(() => resolveRunConfig({ ...base, runbookUrlPrefixes: "wiki" }, {}), /--runbook-url-prefixes/);
  });
});
