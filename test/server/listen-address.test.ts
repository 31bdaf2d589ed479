import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveRunConfig } from "../../src/manager/config.js";
import { parseListenAddress } from "../../src/server/http.js";

describe("metrics and health listen on loopback unless told otherwise", () => {
  it("the default --metrics-addr is 127.0.0.1:9477", () => {
    assert.equal(resolveRunConfig({ stateDir: "/tmp/x" }, {}).metricsAddr, "127.0.0.1:9477");
    assert.deepEqual(parseListenAddress(resolveRunConfig({ stateDir: "/tmp/x" }, {}).metricsAddr), {
      host: "127.0.0.1",
      port: 9477,
    });
  });

  it(":PORT means loopback, never every interface", () => {
    assert.deepEqual(parseListenAddress(":9477"), { host: "127.0.0.1", port: 9477 });
    assert.deepEqual(parseListenAddress(":0"), { host: "127.0.0.1", port: 0 });
  });

  it("every interface only when asked by address", () => {
    assert.deepEqual(parseListenAddress("0.0.0.0:9477"), { host: "0.0.0.0", port: 9477 });
    assert.deepEqual(parseListenAddress("[::]:9477"), { host: "::", port: 9477 });
  });

  it("anything else is a clear error", () => {
    for (const bad of ["9477", "localhost", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1"]) {
      assert.throws(() => parseListenAddress(bad), /--metrics-addr: expected host:port like 127\.0\.0\.1:9477/, bad);
    }
  });
});
