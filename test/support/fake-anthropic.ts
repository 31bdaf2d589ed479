/**
 * A scripted fake of the Anthropic Messages API, the only fake in Steward's tests. The real
 * SDK talks to it over HTTP on 127.0.0.1 (`baseURL`), so retries, headers and error classes
 * are the SDK's own. Each POST /v1/messages is recorded, checked for the request shape the
 * real API accepts (a malformed request gets the 400 the API would give, and consumes no
 * script step), and answered by the next script step in the real response shape. When the
 * script runs out it answers a 500 marked not-retryable, so a test fails loudly and at once.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type Anthropic from "@anthropic-ai/sdk";

export type FakeBlock =
  { type: "text"; text: string } | { type: "tool_use"; id?: string; name: string; input: Record<string, unknown> };
export interface FakeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}
export interface FakeReply {
  content: FakeBlock[];
  // `string`: a test may answer with a stop_reason the API adds later.
  stop_reason:
    | "end_turn"
    | "tool_use"
    | "max_tokens"
    | "stop_sequence"
    | "pause_turn"
    | "refusal"
    | "model_context_window_exceeded"
    | (string & {});
  usage?: Partial<FakeUsage>;
}
/** An HTTP error; `body` defaults to the API's error shape for the status. */
export interface FakeHttpError {
  status: number;
  headers?: Record<string, string>;
  message?: string;
  body?: unknown;
}
export type FakeAnswer = FakeReply | FakeHttpError;
export type ScriptStep = FakeAnswer | ((request: RecordedRequest) => FakeAnswer | Promise<FakeAnswer>);

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The parsed JSON body, whatever its shape. */
  json: unknown;
  /** Set when the request passed the shape checks. */
  body: Anthropic.MessageCreateParamsNonStreaming | undefined;
  /** Why the request was rejected with a 400, when it was. */
  problem?: string;
  /** Bedrock and Vertex: the model named in the path. */
  model?: string;
  status?: number;
  /** When the request's body had arrived, and when its answer was sent (ms since the epoch): the bench times Steward's share. */
  receivedAt?: number;
  answeredAt?: number;
}

export const text = (t: string): FakeBlock => ({ type: "text", text: t });
export const toolUse = (name: string, input: Record<string, unknown>, id?: string): FakeBlock =>
  id === undefined ? { type: "tool_use", name, input } : { type: "tool_use", id, name, input };

/**
 * The usual scripted step: an assistant turn that calls tools (stop_reason tool_use), each
 * reporting `usage`. `const turn = toolTurns(USAGE); turn(text("…"), toolUse("docker_ps", {}))`.
 */
export function toolTurns(usage: Partial<FakeUsage>): (...content: FakeBlock[]) => FakeReply {
  return (...content) => ({ content, stop_reason: "tool_use", usage });
}

/** The tool_result blocks of the request's last user message, with their text. */
export function lastToolResults(request: RecordedRequest): { toolUseId: string; isError: boolean; text: string }[] {
  const last = request.body?.messages.at(-1);
  if (last?.role !== "user" || typeof last.content === "string") return [];
  return last.content.flatMap((b) =>
    b.type !== "tool_result"
      ? []
      : [
          {
            toolUseId: b.tool_use_id,
            isError: b.is_error === true,
            text:
              typeof b.content === "string"
                ? b.content
                : (b.content ?? []).map((c) => (c.type === "text" ? c.text : "")).join(""),
          },
        ],
  );
}

class ShapeProblem extends Error {}
function need(condition: boolean, message: string): asserts condition {
  if (!condition) throw new ShapeProblem(message);
}
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  529: "overloaded_error",
};
const BLOCK_TYPES = ["text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"];

function checkCacheControl(block: Obj, path: string): number {
  if (block.cache_control === undefined || block.cache_control === null) return 0;
  const cc = block.cache_control;
  need(
    isObj(cc) && cc.type === "ephemeral" && Object.keys(cc).every((k) => k === "type" || k === "ttl"),
    `${path}.cache_control: must be {"type":"ephemeral"} (optionally with ttl)`,
  );
  need(cc.ttl === undefined || cc.ttl === "5m" || cc.ttl === "1h", `${path}.cache_control.ttl: must be "5m" or "1h"`);
  return 1;
}

/** Checks one content block; returns the cache breakpoints it carries. */
function checkBlock(b: unknown, role: unknown, path: string): number {
  need(
    isObj(b) && typeof b.type === "string" && BLOCK_TYPES.includes(b.type),
    `${path}.type: expected one of ${BLOCK_TYPES.join(", ")}`,
  );
  if (b.type === "text")
    need(typeof b.text === "string" && b.text !== "", `${path}: text content blocks must be non-empty`);
  if (b.type === "tool_use") {
    need(role === "assistant", `${path}: tool_use blocks are only allowed in assistant messages`);
    need(
      typeof b.id === "string" && typeof b.name === "string" && isObj(b.input),
      `${path}: tool_use needs id, name and an input object`,
    );
  }
  if (b.type === "tool_result") {
    need(role === "user", `${path}: tool_result blocks are only allowed in user messages`);
    need(typeof b.tool_use_id === "string", `${path}.tool_use_id: Field required`);
    need(b.is_error === undefined || typeof b.is_error === "boolean", `${path}.is_error: must be a boolean`);
    const c = b.content;
    need(
      c === undefined ||
        typeof c === "string" ||
        (Array.isArray(c) && c.every((x) => isObj(x) && (x.type === "text" || x.type === "image"))),
      `${path}.content: must be a string or text/image blocks`,
    );
    if (Array.isArray(c))
      return c.reduce(
        (n: number, x, j) => n + checkBlock(x, "nested", `${path}.content.${j}`),
        checkCacheControl(b, path),
      );
  }
  return checkCacheControl(b, path);
}

function blocksOf(m: Obj, path: string): Obj[] {
  if (typeof m.content === "string") return m.content === "" ? [] : [{ type: "text", text: m.content }];
  need(Array.isArray(m.content), `${path}.content: must be a string or an array of content blocks`);
  return m.content.filter(isObj);
}

/** Tool pairing as the API enforces it: results answer exactly the previous message's tool_use ids, first. */
function checkToolResults(blocks: Obj[], pending: Set<string>, path: string): void {
  const answered = new Set<string>();
  let other = false;
  blocks.forEach((b, j) => {
    if (b.type !== "tool_result") return void (other = true);
    const id = String(b.tool_use_id);
    need(
      !other,
      `${path}.content.${j}: tool_result blocks must come FIRST in the user message, before any other content`,
    );
    need(
      pending.has(id),
      `${path}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
    );
    need(!answered.has(id), `${path}.content.${j}: more than one tool_result for ${id}`);
    answered.add(id);
  });
  const missing = [...pending].filter((id) => !answered.has(id));
  need(
    missing.length === 0,
    `${path}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
  );
}

function checkMessages(messages: unknown): { breakpoints: number; usesTools: boolean } {
  need(Array.isArray(messages) && messages.length > 0, "messages: at least one message is required");
  let pending = new Set<string>();
  let breakpoints = 0;
  let usesTools = false;
  messages.forEach((m: unknown, i) => {
    const path = `messages.${i}`;
    need(isObj(m), `${path}: must be an object`);
    need(
      m.role === (i % 2 === 0 ? "user" : "assistant"),
      `${path}.role: roles must alternate between "user" and "assistant", starting with "user" (got ${JSON.stringify(m.role)})`,
    );
    const blocks = blocksOf(m, path);
    need(
      blocks.length > 0 || (i === messages.length - 1 && m.role === "assistant"),
      `${path}: all messages must have non-empty content except for the optional final assistant message`,
    );
    breakpoints += Array.isArray(m.content)
      ? m.content.reduce((n: number, b: unknown, j) => n + checkBlock(b, m.role, `${path}.content.${j}`), 0)
      : 0;
    usesTools ||= blocks.some((b) => b.type === "tool_use" || b.type === "tool_result");
    if (m.role === "user") checkToolResults(blocks, pending, path);
    pending = new Set(
      m.role === "assistant" ? blocks.filter((b) => b.type === "tool_use").map((b) => String(b.id)) : [],
    );
  });
  need(
    pending.size === 0,
    `messages.${messages.length - 1}: the final assistant message has tool_use blocks with no tool_result after them`,
  );
  return { breakpoints, usesTools };
}

function checkTools(tools: unknown): number {
  if (tools === undefined) return 0;
  need(Array.isArray(tools), "tools: must be an array");
  const names = new Set<string>();
  return tools.reduce((n: number, t: unknown, i) => {
    need(
      isObj(t) && typeof t.name === "string" && /^[a-zA-Z0-9_-]{1,128}$/.test(t.name),
      `tools.${i}.name: must match ^[a-zA-Z0-9_-]{1,128}$`,
    );
    need(!names.has(t.name), `tools: tool names must be unique (${t.name})`);
    names.add(t.name);
    // The API allows a missing description; Steward's tools must explain themselves to the model.
    need(
      typeof t.description === "string" && t.description !== "",
      `tools.${i}.description: required (a check of this fake, not of the API)`,
    );
    need(isObj(t.input_schema) && t.input_schema.type === "object", `tools.${i}.input_schema.type: must be "object"`);
    return n + checkCacheControl(t, `tools.${i}`);
  }, 0);
}

function checkSystem(system: unknown): number {
  if (system === undefined || typeof system === "string") return 0;
  need(Array.isArray(system), "system: must be a string or an array of text blocks");
  return system.reduce((n: number, b: unknown, i) => {
    need(
      isObj(b) && b.type === "text" && typeof b.text === "string" && b.text !== "",
      `system.${i}: must be a non-empty text block`,
    );
    return n + checkCacheControl(b, `system.${i}`);
  }, 0);
}

/** The Anthropic API's own headers: the key, and the API version. */
function checkAnthropicHeaders(headers: IncomingHttpHeaders): void {
  // SDK 1.x sends an apiKey as "authorization: Bearer …"; older SDKs and curl use x-api-key.
  const bearer = /^Bearer \S+$/.test(headers.authorization ?? "");
  need(
    bearer || (typeof headers["x-api-key"] === "string" && headers["x-api-key"] !== ""),
    "authentication: an x-api-key header or authorization: Bearer <key> is required",
  );
  need(typeof headers["anthropic-version"] === "string", "anthropic-version header is required");
}

/** The request problems the real API answers with a 400, as its message, or undefined. */
function findProblem(json: unknown, checkHeaders: () => void): string | undefined {
  try {
    checkHeaders();
    need(isObj(json), "the body must be a JSON object");
    need(typeof json.model === "string" && json.model !== "", "model: Field required");
    need(
      typeof json.max_tokens === "number" && Number.isInteger(json.max_tokens) && json.max_tokens > 0,
      "max_tokens: must be a positive integer",
    );
    need(json.stream !== true, "stream: this fake answers only non-streaming requests");
    const tc = json.tool_choice;
    need(
      tc === undefined || (isObj(tc) && ["auto", "any", "tool", "none"].includes(String(tc.type))),
      "tool_choice.type: must be auto, any, tool or none",
    );
    const { breakpoints, usesTools } = checkMessages(json.messages);
    const cached = breakpoints + checkTools(json.tools) + checkSystem(json.system);
    need(cached <= 4, `A maximum of 4 blocks with cache_control may be provided. Found ${cached}.`);
    need(
      !usesTools || (Array.isArray(json.tools) && json.tools.length > 0),
      "Requests which include `tool_use` or `tool_result` blocks must define tools.",
    );
    return undefined;
  } catch (err) {
    if (err instanceof ShapeProblem) return err.message;
    throw err;
  }
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

const errorAnswer = (status: number, message: string, headers: Record<string, string> = {}): Answer => ({
  status,
  headers,
  body: {
    type: "error",
    error: { type: ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error"), message },
  },
});

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Where the fake stands: the Anthropic API (`POST /v1/messages`, an API key); Amazon
 * Bedrock (`POST /model/{id}/invoke`, SigV4-signed with the AWS credentials the test gave
 * Steward's environment, the model in the path and `anthropic_version` in the body); or
 * Vertex AI (`POST /v1/projects/{p}/locations/{r}/publishers/anthropic/models/{m}:rawPredict`,
 * a bearer token the test's metadata server issued). The Messages body and answer are the
 * same on all three, as the real platforms have them.
 */
export type FakePlatform =
  | { type: "anthropic" }
  | { type: "bedrock"; accessKeyId: string; region: string }
  | { type: "vertex"; project: string; region: string; token: () => string | undefined };

const BEDROCK_PATH = /^\/model\/([^/]+)\/invoke$/;
const VERTEX_PATH = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/anthropic\/models\/([^/:]+):rawPredict$/;
const SIGV4 =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/bedrock\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}$/;

/**
 * A platform request in the Anthropic shape: the model taken from the path, the headers
 * checked the platform's way. Throws a ShapeProblem for what the platform would refuse.
 */
function platformRequest(platform: FakePlatform, record: RecordedRequest): { json: unknown; check: () => void } {
  if (platform.type === "anthropic") {
    need(record.path === "/v1/messages", `${record.method} ${record.path}: this fake serves only POST /v1/messages`);
    return { json: record.json, check: () => checkAnthropicHeaders(record.headers) };
  }
  const match = (platform.type === "bedrock" ? BEDROCK_PATH : VERTEX_PATH).exec(record.path);
  need(match !== null, `${record.method} ${record.path}: not a ${platform.type} Messages endpoint`);
  const model = decodeURIComponent(match[platform.type === "bedrock" ? 1 : 3] ?? "");
  record.model = model;
  const check = (): void => {
    need(isObj(record.json), "the body must be a JSON object");
    need(record.json.model === undefined, "model: the model goes in the path, not the body");
    need(typeof record.json.anthropic_version === "string", "anthropic_version: Field required");
    if (platform.type === "bedrock") checkSigV4(platform, record.headers);
    else checkVertex(platform, match, record.headers);
  };
  return { json: isObj(record.json) ? { ...record.json, model, anthropic_version: undefined } : record.json, check };
}

function checkSigV4(platform: Extract<FakePlatform, { type: "bedrock" }>, headers: IncomingHttpHeaders): void {
  const signed = SIGV4.exec(headers.authorization ?? "");
  need(
    signed !== null,
    "authorization: a SigV4 signature (AWS4-HMAC-SHA256 Credential=…/bedrock/aws4_request) is required",
  );
  need(signed[1] === platform.accessKeyId, `authorization: signed by ${signed[1]}, not the test's access key`);
  need(signed[3] === platform.region, `authorization: signed for region ${signed[3]}, not ${platform.region}`);
  need(/^\d{8}T\d{6}Z$/.test(String(headers["x-amz-date"])), "x-amz-date header is required");
  const names = (signed[4] ?? "").split(";");
  need(names.includes("host") && names.includes("x-amz-date"), "SignedHeaders must cover host and x-amz-date");
  need(headers["x-api-key"] === undefined, "x-api-key must not reach Bedrock");
}

function checkVertex(
  platform: Extract<FakePlatform, { type: "vertex" }>,
  match: RegExpExecArray,
  headers: IncomingHttpHeaders,
): void {
  need(match[1] === platform.project && match[2] === platform.region, `project/location ${match[1]}/${match[2]}`);
  const token = platform.token();
  need(
    token !== undefined && headers.authorization === `Bearer ${token}`,
    "authorization: the metadata server's token is required",
  );
  need(headers["x-api-key"] === undefined, "x-api-key must not reach Vertex");
}

export class FakeMessagesServer {
  readonly requests: RecordedRequest[] = [];
  private readonly script: ScriptStep[];
  private used = 0;
  private ids = 0;
  private server: Server | undefined;

  constructor(
    script: ScriptStep[] = [],
    private readonly platform: FakePlatform = { type: "anthropic" },
  ) {
    this.script = [...script];
  }

  /** Adds steps to the end of the script. */
  enqueue(...steps: ScriptStep[]): void {
    this.script.push(...steps);
  }

  /** The URL start() returned, for a Steward process started with ANTHROPIC_BASE_URL. */
  get baseURL(): string {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === "string")
      throw new Error("FakeMessagesServer: call start() first");
    return `http://127.0.0.1:${address.port}`;
  }

  /** Steps not yet used: a test can assert the agent took every scripted turn. */
  get remaining(): number {
    return this.script.length - this.used;
  }

  /**
   * Listens on 127.0.0.1 on a free port, or on `port` (a test that stopped the fake to play
   * an outage starts it again where Steward expects it); returns the baseURL for the SDK.
   */
  async start(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    return this.baseURL;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    // The SDK keeps connections alive; without this close() would wait for them to idle out.
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every request body, joined: assert that a secret never reached the model. */
  allRequestBodies(): string {
    return this.requests.map((r) => r.rawBody).join("\n");
  }

  private nextId(prefix: string): string {
    this.ids += 1;
    return `${prefix}_01FAKE${String(this.ids).padStart(18, "0")}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let answer: Answer & { record?: RecordedRequest };
    try {
      answer = await this.answer(req);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      answer = errorAnswer(500, `fake-anthropic: a script step threw: ${message}`, { "x-should-retry": "false" });
    }
    res.writeHead(answer.status, {
      "content-type": "application/json",
      "request-id": this.nextId("req"),
      ...answer.headers,
    });
    res.end(JSON.stringify(answer.body));
    if (answer.record) answer.record.answeredAt = Date.now();
  }

  private async answer(req: IncomingMessage): Promise<Answer & { record: RecordedRequest }> {
    const rawBody = await readBody(req);
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      json = undefined;
    }
    const record: RecordedRequest = {
      method: req.method ?? "",
      path: (req.url ?? "").split("?")[0] ?? "",
      headers: req.headers,
      rawBody,
      json,
      body: undefined,
      receivedAt: Date.now(),
    };
    this.requests.push(record);
    const answer = await this.respond(record);
    record.status = answer.status;
    return { ...answer, record };
  }

  private async respond(record: RecordedRequest): Promise<Answer> {
    let request: { json: unknown; check: () => void };
    try {
      need(record.method === "POST", `${record.method} ${record.path}: this fake serves only POST`);
      request = platformRequest(this.platform, record);
    } catch (err) {
      if (err instanceof ShapeProblem) return errorAnswer(404, err.message);
      throw err;
    }
    record.problem = findProblem(request.json, request.check);
    if (record.problem !== undefined) return errorAnswer(400, record.problem);
    record.body = request.json as Anthropic.MessageCreateParamsNonStreaming;
    const step = this.script[this.used];
    if (step === undefined) {
      return errorAnswer(
        500,
        `fake-anthropic: script exhausted: request ${this.requests.length} arrived after all ${this.script.length} steps were used`,
        { "x-should-retry": "false" },
      );
    }
    this.used += 1;
    const answer = typeof step === "function" ? await step(record) : step;
    if ("status" in answer) {
      return answer.body !== undefined
        ? { status: answer.status, headers: answer.headers ?? {}, body: answer.body }
        : errorAnswer(answer.status, answer.message ?? `fake ${answer.status}`, answer.headers);
    }
    return { status: 200, headers: {}, body: this.message(answer, record) };
  }

  private message(reply: FakeReply, record: RecordedRequest): unknown {
    const content = reply.content.map((b) =>
      b.type === "text" ? b : { type: "tool_use", id: b.id ?? this.nextId("toolu"), name: b.name, input: b.input },
    );
    const usage: FakeUsage = {
      // Defaults near the real tokenizer's ~4 characters per token, so cost code sees plausible numbers.
      input_tokens: Math.ceil(record.rawBody.length / 4),
      output_tokens: Math.ceil(JSON.stringify(content).length / 4),
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      ...reply.usage,
    };
    return {
      id: this.nextId("msg"),
      type: "message",
      role: "assistant",
      model: record.model ?? record.body?.model,
      content,
      stop_reason: reply.stop_reason,
      stop_sequence: null,
      usage,
    };
  }
}
