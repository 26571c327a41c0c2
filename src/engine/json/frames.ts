/**
 * The automaton's state: an immutable stack of frames (a linked list), so the vocabulary trie walk can branch
 * from a state without copying it. Frame kinds and phases are small integers for speed.
 */

import type { NumberBounds } from "./number-bounds.js";
import type { Regex, RegexSet } from "./regex.js";
import type { JsonNode } from "./schema.js";

export interface Stack {
  readonly f: Frame;
  /** The enclosing frames; null only below the final DONE frame. */
  readonly up: Stack | null;
  /** Memoized {@link stateKey} and {@link distance}. */
  key?: string;
  dist?: number;
}

/** Frame kinds. */
export const ROOT = 0,
  DONE = 1,
  OBJ = 2,
  ARR = 3,
  STR = 4,
  NUM = 5,
  LIT = 6,
  PSTR = 7;

/** Object phases: after `{`, inside a declared key, before `:`, before the value, after a value, after `,`. */
export const O_OPEN = 0,
  O_KEY = 1,
  O_COLON = 2,
  O_VALUE = 3,
  O_NEXT = 4,
  O_COMMA = 5;
/** Array phases: after `[`, after an item, after `,`. */
export const A_OPEN = 0,
  A_NEXT = 1,
  A_COMMA = 2;
/** Number phases (`-`, `0`, int digits, `.`, fraction digits, `e`, exponent sign, exponent digits). */
export const N_MINUS = 0,
  N_ZERO = 1,
  N_INT = 2,
  N_DOT = 3,
  N_FRAC = 4,
  N_EXP = 5,
  N_ESIGN = 6,
  N_EDIG = 7,
  /** Before the first byte (only passed to stepNumber, never stored). */
  N_START = 8;
/** Exponent digits: at most 2, so every number stays finite for JSON.parse (other digit limits: number-bounds.ts). */
export const MAX_EXP_DIGITS = 2;

export type Frame =
  | { t: typeof ROOT; node: JsonNode }
  | { t: typeof DONE }
  /** `i`: the chosen property (O_COLON/O_VALUE/O_NEXT/O_COMMA: the last one written, -1 = none); `cands`/`off` for O_KEY. */
  | { t: typeof OBJ; node: Extract<JsonNode, { kind: "object" }>; ph: number; i: number; ws: number; cands: number[] | null; off: number }
  | { t: typeof ARR; node: Extract<JsonNode, { kind: "array" }>; ph: number; n: number; ws: number }
  /** `q`: sub-state of string-bytes.ts; `n`: characters so far (clamped where the exact count no longer matters). */
  | { t: typeof STR; min: number; max: number; q: number; n: number }
  /** `d`: digits in the current part; `bounds`/`text`: for minimum/maximum, the range and the number so far (else null/""). */
  | { t: typeof NUM; integer: boolean; ph: number; d: number; bounds: NumberBounds | null; text: string }
  /** A string with a pattern: `set` of NFA states; `acc`/`len`: bits so far and byte length of a multi-byte character. */
  | { t: typeof PSTR; rx: Regex; id: number; set: RegexSet; q: number; acc: number; len: number }
  /** Candidates: the values in [lo, hi) (sorted by bytes), all matched for `off` bytes; `end`: values[lo] is exactly that long. */
  | { t: typeof LIT; node: Extract<JsonNode, { kind: "literal" }>; lo: number; hi: number; off: number; end: boolean };

type ObjectNode = Extract<JsonNode, { kind: "object" }>;

/** Properties that may come next after property `i` (-1 = none yet): up to and including the next required one. */
export function nextProps(node: ObjectNode, i: number, minBytes: readonly number[]): number[] {
  const out: number[] = [];
  for (let j = i + 1; j < node.props.length; j++) {
    if (Number.isFinite(minBytes[node.props[j].node.id])) out.push(j);
    if (node.props[j].required) break;
  }
  return out;
}

/** Whether a required property comes after property `i`. */
export function requiredAfter(node: ObjectNode, i: number): boolean {
  for (let j = i + 1; j < node.props.length; j++) if (node.props[j].required) return true;
  return false;
}

/** The part of a state key for one frame (see JsonAutomaton.stateKey). */
export function frameKey(f: Frame): string {
  let k: string;
  switch (f.t) {
    case ROOT:
      k = `R${f.node.id}`;
      break;
    case DONE:
      k = "D";
      break;
    case OBJ:
      k = `O${f.node.id}.${f.node.props.length === 0 ? "f" : ""}${f.ph}.${f.i}.${f.ws}${f.cands ? `.${f.cands.join(",")}.${f.off}` : ""}`;
      break;
    case ARR:
      k = `A${f.node.id}.${f.ph}.${f.n}.${f.ws}`;
      break;
    case STR:
      k = `S${f.min}.${f.max}.${f.q}.${f.n}`;
      break;
    case NUM:
      k = `N${f.integer ? "i" : ""}${f.ph}.${f.d}${f.bounds ? `.${f.bounds.lo}:${f.bounds.hi}.${f.text}` : ""}`;
      break;
    case LIT:
      k = `L${f.node.id}.${f.lo}.${f.hi}.${f.off}`;
      break;
    case PSTR:
      k = `P${f.id}.${f.q}.${f.acc}.${f.len}.${f.set.key}`;
      break;
  }
  return k;
}
