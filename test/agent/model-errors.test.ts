import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { isTransientApiError } from "../../src/agent/model-errors.js";

const apiError = (status: number): Error =>
  Anthropic.APIError.generate(
    status,
    { type: "error", error: { type: "x", message: `status ${status}` } },
    undefined,
    new Headers(),
  );

describe("isTransientApiError: an outage, or this request's fault?", () => {
  const cases: { name: string; err: unknown; transient: boolean }[] = [
    {
      name: "no connection (the API is down, DNS, refused)",
      err: new Anthropic.APIConnectionError({ message: "Connection error." }),
      transient: true,
    },
    { name: "a timeout", err: new Anthropic.APIConnectionTimeoutError(), transient: true },
    { name: "529 overloaded", err: apiError(529), transient: true },
    { name: "500", err: apiError(500), transient: true },
    { name: "503", err: apiError(503), transient: true },
    { name: "429 rate limited", err: apiError(429), transient: true },
    { name: "408 request timeout", err: apiError(408), transient: true },
    { name: "400 bad request (every retry fails the same)", err: apiError(400), transient: false },
    { name: "401 bad key", err: apiError(401), transient: false },
    { name: "404 unknown model", err: apiError(404), transient: false },
    { name: "our own abort (shutdown, lost lease)", err: new Anthropic.APIUserAbortError(), transient: false },
    { name: "anything else", err: new Error("boom"), transient: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(isTransientApiError(c.err), c.transient));
});
