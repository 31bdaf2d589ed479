import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  diffSnapshots,
  sameSnapshot,
  toContainerSnapshot,
  type InspectLike,
} from "../../../src/observe/docker/snapshot.js";
import type { ContainerSnapshot } from "../../../src/observe/types.js";

const ZERO = "0001-01-01T00:00:00Z";

/** An inspect result as Docker 20.10 returns it, trimmed to the fields we read. */
function inspect(
  overrides: {
    state?: Partial<NonNullable<InspectLike["State"]>> | null;
    labels?: Record<string, string> | null;
    top?: Partial<InspectLike>;
  } = {},
): InspectLike {
  return {
    Id: "c0ffee",
    Name: "/etcd0",
    Image: "sha256:b07c95dba535",
    RestartCount: 0,
    State:
      overrides.state === null
        ? null
        : {
            Status: "running",
            Running: true,
            Paused: false,
            Restarting: false,
            OOMKilled: false,
            Dead: false,
            Pid: 42,
            ExitCode: 0,
            Error: "",
            StartedAt: "2026-11-24T06:50:00.123456789Z",
            FinishedAt: ZERO,
            ...overrides.state,
          },
    Config: { Image: "steward-demo/etcd:3.4", Labels: overrides.labels === undefined ? {} : overrides.labels },
    ...overrides.top,
  };
}

const RUNNING: ContainerSnapshot = {
  id: "c0ffee",
  name: "etcd0",
  image: "steward-demo/etcd:3.4",
  labels: {},
  state: "running",
  health: "none",
  exitCode: 0,
  restartCount: 0,
  oomKilled: false,
  startedAt: "2026-11-24T06:50:00.123456789Z",
};

void describe("toContainerSnapshot", () => {
  const cases: { name: string; input: InspectLike; expected: ContainerSnapshot }[] = [
    { name: "a running container without labels or healthcheck", input: inspect(), expected: RUNNING },
    {
      name: "compose labels become project and service",
      input: inspect({
        labels: { "com.docker.compose.project": "etcd", "com.docker.compose.service": "etcd0", x: "y" },
      }),
      expected: {
        ...RUNNING,
        labels: { "com.docker.compose.project": "etcd", "com.docker.compose.service": "etcd0", x: "y" },
        project: "etcd",
        service: "etcd0",
      },
    },
    { name: "null labels (the daemon sends null for none)", input: inspect({ labels: null }), expected: RUNNING },
    {
      name: "an exited container: exit code, finishedAt, restart count",
      input: inspect({
        state: { Status: "exited", Running: false, ExitCode: 137, FinishedAt: "2026-11-24T06:51:00Z" },
        top: { RestartCount: 3 },
      }),
      expected: { ...RUNNING, state: "exited", exitCode: 137, restartCount: 3, finishedAt: "2026-11-24T06:51:00Z" },
    },
    {
      name: "an OOM-killed container",
      input: inspect({ state: { Status: "exited", Running: false, OOMKilled: true, ExitCode: 137 } }),
      expected: { ...RUNNING, state: "exited", exitCode: 137, oomKilled: true },
    },
    {
      name: "created but never started: both zero times become undefined",
      input: inspect({ state: { Status: "created", Running: false, StartedAt: ZERO } }),
      expected: { ...RUNNING, state: "created", startedAt: undefined },
    },
    {
      name: "a failed start keeps Docker's error",
      input: inspect({
        state: { Status: "created", Running: false, ExitCode: 127, StartedAt: ZERO, Error: 'exec: "nope": not found' },
      }),
      expected: { ...RUNNING, state: "created", exitCode: 127, startedAt: undefined, error: 'exec: "nope": not found' },
    },
    ...(["starting", "healthy", "unhealthy"] as const).map((health) => ({
      name: `health ${health}`,
      input: inspect({ state: { Health: { Status: health, FailingStreak: 0, Log: [] } } }),
      expected: { ...RUNNING, health },
    })),
    {
      name: "an unknown health status is none",
      input: inspect({ state: { Health: { Status: "sleepy", FailingStreak: 0, Log: [] } } }),
      expected: RUNNING,
    },
    {
      name: "paused",
      input: inspect({ state: { Status: "paused", Paused: true } }),
      expected: { ...RUNNING, state: "paused" },
    },
    {
      name: "an unknown status string falls back to the flags, never to running by default",
      input: inspect({ state: { Status: "hibernating", Running: false, Restarting: true } }),
      expected: { ...RUNNING, state: "restarting" },
    },
    {
      name: "no State at all",
      input: inspect({ state: null }),
      expected: { ...RUNNING, state: "exited", startedAt: undefined },
    },
    {
      name: "no Config.Image falls back to the image id",
      input: { ...inspect(), Config: null },
      expected: { ...RUNNING, image: "sha256:b07c95dba535" },
    },
  ];
  for (const c of cases) {
    void it(`converts ${c.name}`, () => {
      const expected = Object.fromEntries(Object.entries(c.expected).filter(([, v]) => v !== undefined));
      assert.deepEqual(toContainerSnapshot(c.input), expected);
    });
  }

  void it("copies the labels, so a later change to the inspect object does not leak in", () => {
    const input = inspect({ labels: { a: "1" } });
    const snapshot = toContainerSnapshot(input);
    (input.Config?.Labels ?? {})["a"] = "2";
    assert.equal(snapshot.labels["a"], "1");
  });
});

void describe("sameSnapshot and diffSnapshots", () => {
  const exited: ContainerSnapshot = { ...RUNNING, state: "exited", exitCode: 1 };

  void it("treats equal fields and labels as the same, whatever the object identity", () => {
    assert.equal(
      sameSnapshot({ ...RUNNING, labels: { a: "1", b: "2" } }, { ...RUNNING, labels: { b: "2", a: "1" } }),
      true,
    );
    assert.equal(sameSnapshot(undefined, undefined), true);
  });

  const different: { name: string; b: ContainerSnapshot | undefined }[] = [
    { name: "state", b: exited },
    { name: "a label value", b: { ...RUNNING, labels: { a: "2" } } },
    { name: "an extra label", b: { ...RUNNING, labels: { a: "1", b: "1" } } },
    { name: "an optional field appearing", b: { ...RUNNING, labels: { a: "1" }, error: "x" } },
    { name: "absence", b: undefined },
  ];
  for (const c of different) {
    void it(`tells snapshots apart by ${c.name}`, () => {
      assert.equal(sameSnapshot({ ...RUNNING, labels: { a: "1" } }, c.b), false);
    });
  }

  void it("lists what appeared, changed and disappeared, and nothing that stayed the same", () => {
    const before = new Map([
      ["same", { ...RUNNING, id: "same" }],
      ["changed", { ...RUNNING, id: "changed" }],
      ["gone", { ...RUNNING, id: "gone" }],
    ]);
    const after = new Map([
      ["same", { ...RUNNING, id: "same" }],
      ["changed", { ...exited, id: "changed" }],
      ["new", { ...RUNNING, id: "new" }],
    ]);
    assert.deepEqual(diffSnapshots(before, after), [
      { id: "changed", previous: before.get("changed"), snapshot: after.get("changed") },
      { id: "new", previous: undefined, snapshot: after.get("new") },
      { id: "gone", previous: before.get("gone"), snapshot: undefined },
    ]);
  });
});
