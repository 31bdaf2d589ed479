import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { STATE_EVENT_FILTER, affectsState } from "../../../src/observe/docker/event-lines.js";

describe("the events-stream filter sent to the daemon", () => {
  it("asks for every action that can change a snapshot", () => {
    for (const action of STATE_EVENT_FILTER) assert.ok(affectsState(action), action);
    for (const action of ["start", "die", "destroy", "oom", "health_status: unhealthy"]) {
      assert.ok(
        STATE_EVENT_FILTER.some((f) => action === f || action.startsWith(`${f}:`)),
        action,
      );
    }
  });

  it("leaves out healthcheck execs and other actions that change nothing", () => {
    for (const action of [
      "exec_create: etcdctl endpoint health",
      "exec_start: etcdctl",
      "exec_die",
      "attach",
      "resize",
      "top",
    ]) {
      assert.ok(!STATE_EVENT_FILTER.includes(action), action);
      assert.ok(!affectsState(action), action);
    }
  });
});
