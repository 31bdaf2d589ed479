/**
 * What the Messages API's prompt cache would have served, computed from the requests the
 * scripted server recorded. Pure (test/bench/prompt-cache.test.ts).
 *
 * The model of the cache, after Anthropic's prompt-caching documentation: a request is a
 * sequence of blocks (tools, then system, then each message's content); a block marked
 * `cache_control` writes the prefix ending there to the cache; a later request reads the
 * longest prefix that is byte-identical to a written one and ends at one of its own
 * breakpoints or up to 20 blocks before one. Sizes are in characters of the blocks' JSON
 * (tokens are about a quarter of that; the share is the same). The TTL (5 minutes) is
 * longer than any bench scenario and is not modelled.
 */

const LOOKBACK_BLOCKS = 20;

export interface CachedRequest {
  /** The request's JSON body as sent. */
  json: unknown;
}

export interface CacheShare {
  /** Requests that carry an earlier turn of their conversation (messages beyond the first user message). */
  laterTurns: number;
  /** Of those requests' input characters, the share a cache read would have served. */
  laterTurnsShare: number;
  /** First requests of a conversation after the first one: the share served from earlier conversations (system + tools). */
  firstTurns: number;
  firstTurnsShare: number;
}

interface Block {
  text: string;
  breakpoint: boolean;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The blocks of a request in cache order, each as its JSON without the cache_control marker. */
export function blocksOf(json: unknown): Block[] {
  if (!isObj(json)) return [];
  const blocks: Block[] = [];
  const push = (value: unknown, prefix: string): void => {
    if (!isObj(value)) {
      blocks.push({ text: prefix + JSON.stringify(value), breakpoint: false });
      return;
    }
    const { cache_control: marker, ...rest } = value;
    blocks.push({ text: prefix + JSON.stringify(rest), breakpoint: marker !== undefined && marker !== null });
  };
  for (const tool of Array.isArray(json.tools) ? json.tools : []) push(tool, "tool:");
  if (typeof json.system === "string") push({ type: "text", text: json.system }, "system:");
  for (const block of Array.isArray(json.system) ? json.system : []) push(block, "system:");
  for (const message of Array.isArray(json.messages) ? json.messages : []) {
    if (!isObj(message)) continue;
    const role = String(message.role);
    const content = typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    for (const block of Array.isArray(content) ? content : []) push(block, `${role}:`);
  }
  return blocks;
}

/** Characters a cache read would serve for `blocks`, given the prefixes written so far; then writes this request's. */
function serve(blocks: readonly Block[], written: Set<string>): number {
  const prefixes: string[] = [];
  const ends: number[] = [];
  let prefix = "";
  for (const block of blocks) {
    prefix += `${block.text}\u0000`;
    prefixes.push(prefix);
    ends.push(prefix.length);
  }
  let served = 0;
  blocks.forEach((block, b) => {
    if (!block.breakpoint) return;
    for (let i = b; i >= Math.max(0, b - LOOKBACK_BLOCKS); i--) {
      if (written.has(prefixes[i] ?? "")) {
        served = Math.max(served, ends[i] ?? 0);
        break;
      }
    }
  });
  blocks.forEach((block, b) => {
    if (block.breakpoint) written.add(prefixes[b] ?? "");
  });
  return served;
}

function messagesOf(json: unknown): number {
  return isObj(json) && Array.isArray(json.messages) ? json.messages.length : 0;
}

/** The cache-read shares over a run's requests, in the order they were sent. */
export function cacheShare(requests: readonly CachedRequest[]): CacheShare {
  const written = new Set<string>();
  const later = { n: 0, served: 0, total: 0 };
  const first = { n: 0, served: 0, total: 0 };
  let conversations = 0;
  for (const request of requests) {
    const blocks = blocksOf(request.json);
    const total = blocks.reduce((sum, b) => sum + b.text.length + 1, 0);
    const served = serve(blocks, written);
    if (messagesOf(request.json) > 1) {
      later.n++;
      later.served += served;
      later.total += total;
    } else {
      conversations++;
      if (conversations === 1) continue;
      first.n++;
      first.served += served;
      first.total += total;
    }
  }
  return {
    laterTurns: later.n,
    laterTurnsShare: later.total > 0 ? later.served / later.total : Number.NaN,
    firstTurns: first.n,
    firstTurnsShare: first.total > 0 ? first.served / first.total : Number.NaN,
  };
}
