import type { z } from "zod";
import { AgentRemediation } from "./remediation.js";
import { DesiredState } from "./desired-state.js";
import { RemediationPolicy } from "./policy.js";
import { NotificationPolicy } from "./notification-policy.js";

export type Resource = DesiredState | AgentRemediation | RemediationPolicy | NotificationPolicy;
export type Kind = Resource["kind"];
export type ResourceOf<K extends Kind> = Extract<Resource, { kind: K }>;

export interface KindInfo {
  kind: Kind;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  schema: z.ZodType<Resource>;
  hasStatus: boolean;
}

/** Every kind Steward serves, with the names kubectl would accept for it. */
export const KINDS: Readonly<Record<Kind, KindInfo>> = {
  DesiredState: {
    kind: "DesiredState",
    plural: "desiredstates",
    singular: "desiredstate",
    shortNames: ["ds"],
    schema: DesiredState,
    hasStatus: true,
  },
  AgentRemediation: {
    kind: "AgentRemediation",
    plural: "remediations",
    singular: "remediation",
    shortNames: ["rem", "agentremediation", "agentremediations"],
    schema: AgentRemediation,
    hasStatus: true,
  },
  RemediationPolicy: {
    kind: "RemediationPolicy",
    plural: "remediationpolicies",
    singular: "remediationpolicy",
    shortNames: ["policy", "policies", "rp"],
    schema: RemediationPolicy,
    hasStatus: false,
  },
  NotificationPolicy: {
    kind: "NotificationPolicy",
    plural: "notificationpolicies",
    singular: "notificationpolicy",
    shortNames: ["notifications", "np"],
    schema: NotificationPolicy,
    hasStatus: false,
  },
};

/** Resolves what a user typed (`rem`, `remediations`, `DesiredState`…) to a kind. */
export function resolveKind(typed: string): Kind | undefined {
  const lower = typed.toLowerCase();
  for (const info of Object.values(KINDS)) {
    const names = [info.kind.toLowerCase(), info.plural, info.singular, ...info.shortNames];
    if (names.includes(lower)) return info.kind;
  }
  return undefined;
}

/** The work-queue and store key of an object: `Kind/namespace/name`. */
export function objectKey(kind: Kind, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
