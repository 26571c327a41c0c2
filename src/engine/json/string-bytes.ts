/**
 * The inside of a JSON string as a small byte DFA (escapes, `\uXXXX`, well-formed UTF-8), shared by the
 * automaton's string frames and by the precomputed per-token tables of the fast string mask.
 *
 * Stricter than JSON in one way: `\u` escapes of surrogates (D800–DFFF) are refused, since a lone one is not
 * valid Unicode and a pair would count as two characters for minLength/maxLength; such characters are written as UTF-8.
 */

/** Sub-states: plain text, after `\`, hex digits of `\u`, and pending UTF-8 continuation bytes. */
export const Q_BODY = 0;
export const Q_ESC = 1,
  Q_HEX0 = 2;
const Q_HEX1 = 3,
  /** After `\uD`: a second digit 8–F would make a surrogate. */
  Q_HEX1_D = 4,
  Q_HEX2 = 5,
  Q_HEX3 = 6,
  /** Continuation bytes still needed, and the range of the next one (E0/ED/F0/F4 narrow the first, UTF-8's rules). */
  Q_U1 = 7,
  Q_U2 = 8,
  Q_U3 = 9,
  Q_U2_E0 = 10,
  Q_U2_ED = 11,
  Q_U3_F0 = 12,
  Q_U3_F4 = 13;
export const STRING_STATES = 14;

/** Transition results besides a next sub-state. */
export const S_DEAD = -1;
/** The closing quote: the string ends (only from Q_BODY). */
export const S_CLOSE = -2;

/** `STRING_NEXT[q * 256 + b]`: the next sub-state, S_DEAD or S_CLOSE. */
export const STRING_NEXT = new Int8Array(STRING_STATES * 256).fill(S_DEAD);
/** `STRING_CHAR_START[q * 256 + b]`: 1 when the byte begins a new character (counted for min/maxLength). */
export const STRING_CHAR_START = new Uint8Array(STRING_STATES * 256);
/** Bytes still needed to finish the character in progress (the closing quote not included). */
export const STRING_PENDING = Uint8Array.from([0, 1, 4, 3, 3, 2, 1, 1, 2, 3, 2, 2, 3, 3]);

const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

function set(q: number, b: number, next: number, charStart = false): void {
  STRING_NEXT[q * 256 + b] = next;
  STRING_CHAR_START[q * 256 + b] = charStart ? 1 : 0;
}

for (let b = 0; b < 256; b++) {
  // Plain text: control characters must be escaped; lead bytes select the continuation pattern.
  if (b === 0x22) set(Q_BODY, b, S_CLOSE);
  else if (b === 0x5c) set(Q_BODY, b, Q_ESC, true);
  else if (b >= 0x20 && b < 0x80) set(Q_BODY, b, Q_BODY, true);
  else if (b >= 0xc2 && b <= 0xdf) set(Q_BODY, b, Q_U1, true);
  else if (b === 0xe0) set(Q_BODY, b, Q_U2_E0, true);
  else if (b === 0xed) set(Q_BODY, b, Q_U2_ED, true);
  else if (b >= 0xe1 && b <= 0xef) set(Q_BODY, b, Q_U2, true);
  else if (b === 0xf0) set(Q_BODY, b, Q_U3_F0, true);
  else if (b === 0xf4) set(Q_BODY, b, Q_U3_F4, true);
  else if (b >= 0xf1 && b <= 0xf3) set(Q_BODY, b, Q_U3, true);

  if (b === 0x75) set(Q_ESC, b, Q_HEX0);
  else if ([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74].includes(b)) set(Q_ESC, b, Q_BODY);

  if (isHex(b)) {
    set(Q_HEX0, b, b === 0x64 || b === 0x44 ? Q_HEX1_D : Q_HEX1);
    set(Q_HEX1, b, Q_HEX2);
    if (b >= 0x30 && b <= 0x37) set(Q_HEX1_D, b, Q_HEX2);
    set(Q_HEX2, b, Q_HEX3);
    set(Q_HEX3, b, Q_BODY);
  }

  const inRange = (lo: number, hi: number) => b >= lo && b <= hi;
  if (inRange(0x80, 0xbf)) {
    set(Q_U1, b, Q_BODY);
    set(Q_U2, b, Q_U1);
    set(Q_U3, b, Q_U2);
  }
  if (inRange(0xa0, 0xbf)) set(Q_U2_E0, b, Q_U1);
  if (inRange(0x80, 0x9f)) set(Q_U2_ED, b, Q_U1);
  if (inRange(0x90, 0xbf)) set(Q_U3_F0, b, Q_U2);
  if (inRange(0x80, 0x8f)) set(Q_U3_F4, b, Q_U2);
}

/** Code points of the JSON escapes `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t`, by escape letter. */
export const ESCAPED: Record<number, number> = {
  0x22: 0x22,
  0x5c: 0x5c,
  0x2f: 0x2f,
  0x62: 0x08,
  0x66: 0x0c,
  0x6e: 0x0a,
  0x72: 0x0d,
  0x74: 0x09,
};
/** Smallest and largest code point of a UTF-8 sequence of each length (no overlongs). */
const UTF8_MIN = [0, 0, 0x80, 0x800, 0x10000];
const UTF8_MAX = [0, 0x7f, 0x7ff, 0xffff, 0x10ffff];

/** The code points a `len`-byte UTF-8 character can still become, given its bits so far and `pending` bytes to come. */
export function partialRange(acc: number, len: number, pending: number): [number, number] {
  const rest = 6 * pending;
  return [Math.max(acc << rest, UTF8_MIN[len]), Math.min((acc << rest) | ((1 << rest) - 1), UTF8_MAX[len])];
}
