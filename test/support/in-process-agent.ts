/**
 * The agent in this process, for tests of runSession and AgentRunner: the real Anthropic SDK
 * talking to the scripted fake Messages API, a real file store in a temp dir holding the
 * remediation, and the real status writer (the remediation controller's) over it.
 */
import Anthropic from "@anthropic-ai/sdk";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DesiredState } from "../../src/api/desired-state.js";
import { RemediationPolicySpec, type PolicyRule } from "../../src/api/policy.js";
import { AgentRemediation, type RemediationStatus } from "../../src/api/remediation.js";
import { DEFAULT_MODEL } from "../../src/manager/config.js";
import { RemediationStatusWriter } from "../../src/reconcile/remediation-status.js";
import { emptyRemediationStatus } from "../../src/reconcile/remediations.js";
import type { EventRecorder, StewardEvent } from "../../src/store/events.js";
import { FileStore } from "../../src/store/file/file-store.js";
import type { FakeMessagesServer } from "./fake-anthropic.js";

/** Steward's default model, so the SDK sees the name it would in production. */
export const MODEL = DEFAULT_MODEL;

/** The SDK as Steward builds it, pointed at the fake; no retries unless a test asks for them. */
export function modelClient(fake: FakeMessagesServer, maxRetries = 0): Anthropic {
  return new Anthropic({ apiKey: "test-key-not-secret", baseURL: fake.baseURL, maxRetries, timeout: 10_000 });
}

export function policy(rules: PolicyRule[] = [], budgets: Record<string, unknown> = {}): RemediationPolicySpec {
  return RemediationPolicySpec.parse({ rules, budgets, model: MODEL });
}

/** A DesiredState over the containers labelled `selector` (one service per name). */
export function desiredState(selector: Record<string, string>, services: readonly string[]): DesiredState {
  return DesiredState.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "DesiredState",
    metadata: { name: "app", namespace: "default" },
    spec: {
      target: { docker: { selector } },
      services: services.map((name) => ({ name })),
      remediation: { simpleFixes: [] },
    },
  });
}

/** An open remediation of `desiredState` for the stopped container `container`. */
export function remediation(
  mode: "auto" | "approve",
  container: string,
  options: { maxAttempts?: number; status?: Partial<RemediationStatus> } = {},
): AgentRemediation {
  const since = new Date().toISOString();
  return AgentRemediation.parse({
    apiVersion: "steward.dev/v1alpha1",
    kind: "AgentRemediation",
    metadata: { name: `app-${container}`, namespace: "default" },
    spec: {
      desiredStateRef: { name: "app" },
      fingerprint: `app/ContainerStopped/container/${container}`,
      reason: "NoSimpleFix",
      drift: [
        { type: "ContainerStopped", subject: `container/${container}`, expected: "running", observed: "exited", since },
      ],
      mode,
      maxAttempts: options.maxAttempts ?? 2,
    },
    status: { ...emptyRemediationStatus(), openedAt: since, ...options.status },
  });
}

/** The Events recorded on remediations, as `kubectl describe` would list them. */
export class RecordedEvents implements EventRecorder {
  readonly events: StewardEvent[] = [];
  record(_object: unknown, event: StewardEvent): void {
    this.events.push(event);
  }
  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }
}

/** A file store (temp dir) holding `object`, and the owner's status writer for it as stored now. */
export async function storedRemediation(object: AgentRemediation): Promise<{
  store: FileStore;
  events: RecordedEvents;
  /** A writer over the remediation as the store holds it now: what one reconcile of its owner gets. */
  writer: () => Promise<RemediationStatusWriter>;
  stored: () => Promise<AgentRemediation>;
}> {
  const store = new FileStore(await mkdtemp(join(tmpdir(), "steward-agent-")));
  await store.create(object);
  const events = new RecordedEvents();
  const stored = async (): Promise<AgentRemediation> => {
    const current = await store.get("AgentRemediation", object.metadata);
    if (!current) throw new Error(`remediation ${object.metadata.name} is gone from the store`);
    return current;
  };
  return {
    store,
    events,
    stored,
    writer: async () => new RemediationStatusWriter(await stored(), { store, events }),
  };
}
