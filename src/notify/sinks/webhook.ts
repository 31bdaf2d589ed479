import { createHmac } from "node:crypto";
import type { Notice } from "../notice.js";
import type { RenderedRequest } from "./rendered.js";

export const SIGNATURE_HEADER = "x-steward-signature";

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it with
 * the shared key and rejects a stale `t`, so a captured request cannot be replayed later.
 */
export function signature(key: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", key).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/**
 * The generic webhook: the notice as JSON, with `Idempotency-Key` (the same on every retry
 * and after restarts: a receiver that keeps the keys it has seen gets each notification
 * once) and, with a signing key, the signature header.
 */
export function renderWebhook(
  notice: Notice,
  target: { url: URL; signingKey?: string },
  nowMs: number,
): RenderedRequest {
  const body = JSON.stringify(notice);
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "idempotency-key": notice.idempotencyKey,
    "x-steward-event": notice.event,
  };
  if (target.signingKey !== undefined)
    headers[SIGNATURE_HEADER] = signature(target.signingKey, body, Math.floor(nowMs / 1000));
  return { url: target.url, headers, body };
}
