import type { Resource } from "../api/resources.js";

export interface StewardEvent {
  type: "Normal" | "Warning";
  /** CamelCase, machine-readable: `SimpleFixApplied`, `RemediationOpened`… */
  reason: string;
  /** What Steward did or is doing: `Start`, `Open`, `Resolve`… */
  action: string;
  note: string;
}

/**
 * Records what Steward did to or about an object where people look for it: Kubernetes
 * Events (`kubectl describe`) in the kubernetes store. Fire and forget: recording never
 * fails a reconcile, and a lost event loses nothing the status does not also hold.
 */
export interface EventRecorder {
  record(object: Resource, event: StewardEvent): void;
}
