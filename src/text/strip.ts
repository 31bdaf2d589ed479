/**
 * Text for a model, an audit file or a log line: control sequences and invisible
 * characters removed. (For people's terminals, escape.ts shows them as escapes instead.)
 */

/* eslint-disable no-control-regex -- matching control characters is the point here */
// ESC-introduced sequences. CSI: ESC [ params intermediates final. String sequences (OSC,
// DCS, SOS, PM, APC): up to BEL or ST (ESC \), the C1 forms too. Then every other ESC
// sequence: ESC, optional intermediates, one final byte (ESC 7, ESC ( B, ESC c…).
const CSI = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]/g;
const STRING_SEQUENCE = /(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[\s\S]*?(?:\x07|\x1b\\|\x9c)/g;
const OTHER_ESCAPE = /\x1b[ -/]*[0-~]/g;
// C0 except \t and \n; DEL; C1.
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;
/* eslint-enable no-control-regex */
// Invisible characters that change how text reads without showing: every format
// character (`Cf`: soft hyphen, zero-width space/non-joiner/joiner, LRM/RLM, bidi
// embeddings, overrides and isolates, word joiner and invisible operators, BOM, the
// Unicode tag block used to smuggle hidden instructions to models, the deprecated format
// characters U+206A–U+206F, interlinear annotations) and every other default-ignorable
// code point (variation selectors, Hangul fillers, the combining grapheme joiner).
const INVISIBLE = /[\p{Cf}\p{Default_Ignorable_Code_Point}]/gu;
// Line and paragraph separators break lines for some readers and not others: newlines.
const SEPARATOR = /[\p{Zl}\p{Zp}]/gu;
// Half of a surrogate pair is not text (a JSON body can carry one); U+FFFD as a decoder would.
const LONE_SURROGATE = /\p{Cs}/gu;

/**
 * Removes ANSI/VT escape sequences (CSI; OSC terminated by BEL or ST, and the other string
 * sequences; single-character ESC sequences), every C0/C1 control character except `\n`
 * and `\t` (so `\r` too: it lets one line overwrite another on a terminal), and the
 * invisible characters above (bidi overrides and isolates, zero-width characters); line
 * and paragraph separators become `\n`, a lone surrogate U+FFFD.
 */
export function stripControl(text: string): string {
  return text
    .replace(STRING_SEQUENCE, "")
    .replace(CSI, "")
    .replace(OTHER_ESCAPE, "")
    .replace(CONTROL, "")
    .replace(INVISIBLE, "")
    .replace(SEPARATOR, "\n")
    .replace(LONE_SURROGATE, "\ufffd");
}
