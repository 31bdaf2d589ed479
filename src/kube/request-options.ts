import {
  Observable,
  type ConfigurationOptions,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";
import { createHash } from "node:crypto";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";

export const MERGE_PATCH = "application/merge-patch+json";

/**
 * The client library makes a new agent for every call, so every call opened a new
 * connection (and, on https, a new TLS handshake): at a cold start of 1,000 DesiredStates
 * the connects were a large share of Steward's CPU (bench profile). Calls with the same TLS
 * identity share one keep-alive agent instead. Agents of other kinds (a proxy from the
 * kubeconfig's proxy-url) are left as they are.
 */
const sharedAgents = new Map<string, HttpAgent>();

/** Calls in flight to the API server at once; more wait for a free connection. */
const MAX_SOCKETS = 32;

function sharedAgent(fresh: HttpAgent | HttpsAgent | undefined): HttpAgent | HttpsAgent | undefined {
  if (!fresh) return fresh;
  const kind = fresh.constructor === HttpsAgent ? "https" : fresh.constructor === HttpAgent ? "http" : undefined;
  if (!kind) return fresh;
  const options = (fresh as HttpsAgent).options;
  const identity = createHash("sha256");
  const add = (part: unknown): void => {
    if (Array.isArray(part)) part.forEach(add);
    else identity.update(typeof part === "string" || Buffer.isBuffer(part) ? part : JSON.stringify(part ?? null));
    identity.update("\0");
  };
  [options.ca, options.cert, options.key, options.pfx, options.passphrase].forEach(add);
  const key = `${kind}|${String(options.rejectUnauthorized)}|${options.servername ?? ""}|${identity.digest("hex")}`;
  let agent = sharedAgents.get(key);
  if (!agent) {
    const reused = { ...options, keepAlive: true, maxSockets: MAX_SOCKETS };
    agent = kind === "https" ? new HttpsAgent(reused) : new HttpAgent(reused);
    sharedAgents.set(key, agent);
  }
  return agent;
}

/**
 * Per-call options for the generated Kubernetes clients: a deadline (every call has one),
 * an optional caller's signal, optionally a Content-Type (the patch flavour), and the
 * shared keep-alive agent.
 */
export function requestOptions(options: {
  timeoutMs: number;
  signal?: AbortSignal;
  contentType?: string;
}): ConfigurationOptions {
  const { timeoutMs, signal, contentType } = options;
  const middleware = {
    pre: (context: RequestContext) => {
      const agent = sharedAgent(context.getAgent());
      if (agent) context.setAgent(agent);
      const deadline = AbortSignal.timeout(timeoutMs);
      context.setSignal(signal ? AbortSignal.any([deadline, signal]) : deadline);
      if (contentType) context.setHeaderParam("Content-Type", contentType);
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: "append" };
}
