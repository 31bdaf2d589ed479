/**
 * The view of a text that matching runs on (the redactor, the untrusted-data tag check).
 * A reader, or a model, takes `ｐａｓｓｗｏｒｄ`, `pаssword` with a Cyrillic а and `p̸assword`
 * for `password`; a pattern written in ASCII does not. So before matching, each character is
 * compatibility-folded (NFKC: fullwidth, mathematical and small forms), loses its combining
 * marks, and a look-alike of an ASCII letter, digit, `<`, `/` or `-` becomes that character.
 * Matches are found in the view and replaced in the original text, which keeps its own
 * characters (Cyrillic logs stay Cyrillic); `start`/`end` map every view unit back.
 */

// Look-alikes NFKC leaves alone, by what they look like. Cyrillic and Greek letters that
// render as Latin ones (upper and lower case), other scripts' common look-alikes, and the
// brackets, slashes and dashes that read as `<`, `/` and `-`. Not all of Unicode's
// confusables: enough that a forged tag or a disguised key word needs more than one
// substitution the reader would notice; the per-call nonce of the untrusted-data wrapper
// (agent/untrusted.ts) is what makes a boundary unforgeable, not this table.
const CONFUSABLES: Readonly<Record<string, string>> = {
  ...letters("а", "a"),
  ...letters("ԁ", "d"),
  ...letters("е", "e"),
  ...letters("ё", "e"),
  ...letters("һ", "h"),
  ...letters("і", "i"),
  ...letters("ї", "i"),
  ...letters("ј", "j"),
  ...letters("к", "k"),
  ...letters("ӏ", "l"),
  ...letters("о", "o"),
  ...letters("р", "p"),
  ...letters("ԛ", "q"),
  ...letters("с", "c"),
  ...letters("ѕ", "s"),
  ...letters("т", "t"),
  ...letters("у", "y"),
  ...letters("х", "x"),
  ...letters("ԝ", "w"),
  ...letters("ү", "y"),
  ...letters("ɡ", "g"),
  ...letters("α", "a"),
  ...letters("β", "b"),
  ...letters("ε", "e"),
  ...letters("ζ", "z"),
  ...letters("η", "n"),
  ...letters("ι", "i"),
  ...letters("κ", "k"),
  ...letters("μ", "m"),
  ...letters("ν", "v"),
  ...letters("ο", "o"),
  ...letters("ρ", "p"),
  ...letters("τ", "t"),
  ...letters("υ", "u"),
  ...letters("χ", "x"),
  ...letters("ω", "w"),
  В: "B",
  Н: "H",
  М: "M",
  Ѕ: "S",
  ℓ: "l",
  ı: "i",
  ȷ: "j",
  ɑ: "a",
  ɩ: "i",
  ʏ: "y",
  ᴀ: "A",
  ᴅ: "D",
  ᴇ: "E",
  ᴛ: "T",
  ᴜ: "U",
  ꓲ: "I",
  ꓴ: "U",
  ꓓ: "D",
  ꓮ: "A",
  ꓰ: "E",
  ꓔ: "T",
  "\u2039": "<",
  "\u2329": "<",
  "\u3008": "<",
  "\u27e8": "<",
  "\u02c2": "<",
  "\u1438": "<",
  "\u276e": "<",
  "\u276c": "<",
  "\u2770": "<",
  "\u29fc": "<",
  "\u227a": "<",
  "\u2215": "/",
  "\u2044": "/",
  "\u29f8": "/",
  "\u2571": "/",
  "\u27cb": "/",
  "\u2010": "-",
  "\u2011": "-",
  "\u2012": "-",
  "\u2013": "-",
  "\u2014": "-",
  "\u2015": "-",
  "\u2212": "-",
  "\u2043": "-",
  "\u02d7": "-",
  "\u30fc": "-",
};

/** A lower-case look-alike and its upper case (when that is a look-alike too), to one Latin letter. */
function letters(lower: string, latin: string): Record<string, string> {
  const upper = lower.toUpperCase();
  return upper !== lower && /^[a-z]$/.test(latin)
    ? { [lower]: latin, [upper]: latin.toUpperCase() }
    : { [lower]: latin };
}

const COMBINING = /\p{M}/gu;
const PLAIN = /^[\x20-\x7e\t\n]*$/;

/**
 * How the view is built: `lowerCase` folds case; `joinLines` drops `\r` and `\n`, so a value
 * split over lines reads whole; `keep`, when given, drops every folded character it does
 * not match (so `< / u n t r u s t e d . d a t a` reads as `<untrusteddata`).
 */
export interface FoldOptions {
  lowerCase?: boolean;
  joinLines?: boolean;
  keep?: RegExp;
}

export interface FoldedText {
  /** The text matching runs on. */
  view: string;
  /**
   * For each UTF-16 unit of `view`: where the original character it came from starts and
   * ends. Absent when the view is the original text itself.
   */
  start?: Int32Array;
  end?: Int32Array;
}

/** One character's folded form: NFKC, combining marks removed, look-alikes made ASCII. */
export function foldCharacter(ch: string, options: FoldOptions = {}): string {
  if (options.joinLines && (ch === "\n" || ch === "\r")) return "";
  const folded = options.lowerCase ? lookAlikes(ch).toLowerCase() : lookAlikes(ch);
  const keep = options.keep;
  return keep ? [...folded].filter((c) => keep.test(c)).join("") : folded;
}

/** NFKC, combining marks removed, look-alikes made ASCII; ASCII itself is left as it is. */
function lookAlikes(ch: string): string {
  if (ch.length === 1 && ch.charCodeAt(0) < 0x7f) return ch;
  let folded = "";
  for (const c of ch.normalize("NFKC").replace(COMBINING, "")) folded += CONFUSABLES[c] ?? c;
  return folded;
}

/** `text` as a whole folded the same way (for what is matched against the view: a known secret), without the map. */
export function foldText(text: string, options: FoldOptions = {}): string {
  if (!options.keep && !/[\u0080-\uffff]/.test(text)) {
    const joined = options.joinLines ? text.replace(/[\r\n]/g, "") : text;
    return options.lowerCase ? joined.toLowerCase() : joined;
  }
  return foldForMatching(text, options).view;
}

/**
 * The folded view of `text` with its map back to the original. Text that folding leaves
 * unchanged (printable ASCII, unless case or lines are folded) is its own view. Runs of
 * ASCII are folded a run at a time: only other characters go through NFKC one by one.
 */
export function foldForMatching(text: string, options: FoldOptions = {}): FoldedText {
  if (!options.lowerCase && !options.joinLines && !options.keep && PLAIN.test(text)) return { view: text };
  const out = new ViewBuilder(text.length);
  for (let i = 0; i < text.length;) {
    const run = asciiRunEnd(text, i, options);
    if (run > i) {
      out.addRun(text, i, run, options);
      i = run;
      continue;
    }
    const ch = String.fromCodePoint(text.codePointAt(i) ?? 0);
    out.add(foldCharacter(ch, options), i, i + ch.length);
    i += ch.length;
  }
  return out.done();
}

/** Where the run of ASCII characters starting at `i` ends (line breaks end it when they are dropped). */
function asciiRunEnd(text: string, i: number, options: FoldOptions): number {
  let j = i;
  for (; j < text.length; j++) {
    const code = text.charCodeAt(j);
    if (code >= 0x80 || (options.joinLines && (code === 10 || code === 13))) break;
  }
  if (j === i && options.joinLines && (text[i] === "\n" || text[i] === "\r")) return i;
  return j;
}

/** The view and its map, grown as folded text is added. */
class ViewBuilder {
  private start: Int32Array<ArrayBuffer>;
  private end: Int32Array<ArrayBuffer>;
  private length = 0;
  private readonly pieces: string[] = [];

  constructor(capacity: number) {
    this.start = new Int32Array(capacity + 16);
    this.end = new Int32Array(capacity + 16);
  }

  /** `folded`, all of it from the original character at `[from, to)`. */
  add(folded: string, from: number, to: number): void {
    this.reserve(folded.length);
    this.start.fill(from, this.length, this.length + folded.length);
    this.end.fill(to, this.length, this.length + folded.length);
    this.length += folded.length;
    this.pieces.push(folded);
  }

  /** ASCII `text[from, to)`, one view unit per character (fewer with `keep`). */
  addRun(text: string, from: number, to: number, options: FoldOptions): void {
    const run = options.lowerCase ? text.slice(from, to).toLowerCase() : text.slice(from, to);
    const keep = options.keep;
    this.reserve(to - from);
    let kept = "";
    for (let k = 0; k < run.length; k++) {
      if (keep && !keep.test(run.charAt(k))) continue;
      this.start[this.length] = from + k;
      this.end[this.length] = from + k + 1;
      this.length++;
      if (keep) kept += run.charAt(k);
    }
    this.pieces.push(keep ? kept : run);
  }

  /** Units `[from, to)` of another view, each keeping where in the original it came from. */
  addView(view: FoldedText, from: number, to: number): void {
    this.reserve(to - from);
    for (let k = from; k < to; k++) {
      this.start[this.length] = view.start?.[k] ?? k;
      this.end[this.length] = view.end?.[k] ?? k + 1;
      this.length++;
    }
    this.pieces.push(view.view.slice(from, to));
  }

  done(): FoldedText {
    return { view: this.pieces.join(""), start: this.start, end: this.end };
  }

  private reserve(more: number): void {
    while (this.length + more > this.start.length) [this.start, this.end] = [grow(this.start), grow(this.end)];
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2 + 32);
  bigger.set(array);
  return bigger;
}

/** The original range `[from, to)` that view units `[viewFrom, viewTo)` (non-empty) came from. */
export function originalRange(folded: FoldedText, viewFrom: number, viewTo: number): [number, number] {
  if (!folded.start || !folded.end) return [viewFrom, viewTo];
  return [folded.start[viewFrom] ?? 0, folded.end[viewTo - 1] ?? 0];
}

/** One backslash escape as JSON, JavaScript, Python or a shell's `printf` writes it. */
const ESCAPE = /\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[\\"'/bfnrt])/g;
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

function unescaped(escape: string): string {
  const kind = escape.charAt(1);
  if (kind === "u" || kind === "x") return String.fromCharCode(parseInt(escape.slice(2), 16));
  return SIMPLE_ESCAPES[kind] ?? kind;
}

/**
 * `folded` with one level of backslash escapes decoded (`\\` `\"` `\/` `\n` `\t` `\u0067`
 * `\x67`), each decoded character folded by `options` and mapped back to the original text
 * through `folded`'s own map; undefined when the view holds no escape. Text is escaped on
 * its way to Steward (a command line inside `docker inspect`'s JSON, a JSON log line, JSON
 * inside JSON), and a reader, or a model, undoes the escapes: what is matched must be found
 * through every level, so callers apply this until it returns undefined (bounded).
 */
export function unescapedView(folded: FoldedText, options: FoldOptions = {}): FoldedText | undefined {
  if (!folded.view.includes("\\")) return undefined;
  const out = new ViewBuilder(folded.view.length);
  let last = 0;
  for (const m of folded.view.matchAll(ESCAPE)) {
    out.addView(folded, last, m.index);
    const [from] = originalRange(folded, m.index, m.index + 1);
    const [, to] = originalRange(folded, m.index + m[0].length - 1, m.index + m[0].length);
    out.add(foldCharacter(unescaped(m[0]), options), from, to);
    last = m.index + m[0].length;
  }
  if (last === 0) return undefined;
  out.addView(folded, last, folded.view.length);
  return out.done();
}
