/**
 * A pushdown automaton over UTF-8 bytes that accepts exactly the JSON documents of a {@link CompiledSchema}
 * (with the stricter choices listed in schema.ts) and bounded whitespace.
 *
 * A state is an immutable {@link Stack} of frames (frames.ts). Unions make the automaton nondeterministic:
 * the caller keeps a small set of states. Every state produced is viable (some byte string completes it to a valid document), which is
 * what lets the mask always leave at least one token.
 */

import { frameRemaining } from "./distance.js";
import {
  A_COMMA,
  A_NEXT,
  A_OPEN,
  ARR,
  DONE,
  type Frame,
  LIT,
  MAX_EXP_DIGITS,
  N_DOT,
  N_EDIG,
  N_ESIGN,
  N_EXP,
  N_FRAC,
  N_INT,
  N_MINUS,
  N_START,
  N_ZERO,
  NUM,
  O_COLON,
  O_COMMA,
  O_KEY,
  O_NEXT,
  O_OPEN,
  O_VALUE,
  OBJ,
  ROOT,
  STR,
  PSTR,
  type Stack,
  nextProps,
  requiredAfter,
  frameKey,
} from "./frames.js";
import { stepPatternString } from "./pattern-string.js";
import { inRange, MAX_FRAC_DIGITS, MAX_INT_DIGITS, reachable } from "./number-bounds.js";
import type { CompiledSchema, JsonNode } from "./schema.js";
import type { StringPosition } from "./string-mask.js";
export type { Stack } from "./frames.js";
import { Q_BODY, S_CLOSE, S_DEAD, STRING_CHAR_START, STRING_NEXT } from "./string-bytes.js";

export interface AutomatonOptions {
  /** Most whitespace bytes allowed in one gap between tokens of the JSON text (0 = compact output). */
  maxWhitespace: number;
}

const isWs = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** The first index in [lo, hi) whose value's byte at `off` is ≥ `b` (values there all have more than `off` bytes). */
function lowerBound(values: readonly Uint8Array[], lo: number, hi: number, off: number, b: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid][off] < b) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The byte automaton of one compiled schema; stateless itself (states are {@link Stack}s). */
export class JsonAutomaton {
  readonly doneStack: Stack = { f: { t: DONE }, up: null };
  private readonly maxWs: number;

  constructor(
    readonly schema: CompiledSchema,
    options: AutomatonOptions,
  ) {
    this.maxWs = options.maxWhitespace;
  }

  /** The state before the first byte. */
  initial(): Stack {
    return { f: { t: ROOT, node: this.schema.root }, up: this.doneStack };
  }

  /** The string frame on top of `s` (with the state below it), or null when `s` is not inside a string. */
  stringPosition(s: Stack): { at: StringPosition; up: Stack } | null {
    const f = s.f;
    return f.t === STR ? { at: f, up: s.up! } : null;
  }

  /** True when the bytes so far form a complete document (more bytes may still be possible, e.g. digits of a top-level number). */
  isAccepting(s: Stack): boolean {
    if (s.f.t === DONE) return true;
    if (s.up !== this.doneStack) return false;
    return this.canEnd(s.f);
  }

  /** Whether a number or literal may end here (the next byte then belongs to the enclosing frame). */
  private canEnd(f: Frame): boolean {
    if (f.t === NUM) {
      const phaseEnds = f.ph === N_ZERO || f.ph === N_INT || f.ph === N_FRAC || f.ph === N_EDIG;
      return phaseEnds && (f.bounds === null || inRange(f.text, f.bounds));
    }
    return f.t === LIT && f.end;
  }

  private viable(node: JsonNode): boolean {
    return Number.isFinite(this.schema.minBytes[node.id]);
  }

  /** Appends to `out` every state reachable from `s` by byte `b` (none when `b` is not allowed). */
  step(s: Stack, b: number, out: Stack[]): void {
    const f = s.f;
    switch (f.t) {
      case ROOT:
        return this.start(f.node, s.up!, b, out);
      case DONE:
        return;
      case OBJ:
        return this.stepObject(f, s, b, out);
      case ARR:
        return this.stepArray(f, s, b, out);
      case STR:
        return this.stepString(f, s, b, out);
      case NUM:
        return this.stepNumber(f, s.up!, b, out);
      case LIT:
        return this.stepLiteral(f, s.up!, b, out);
      case PSTR:
        return stepPatternString(f, s, b, out);
    }
  }

  /** The first byte of a value of `node`, whose parent (already in its after-value phase) is `up`. */
  private start(node: JsonNode, up: Stack, b: number, out: Stack[]): void {
    switch (node.kind) {
      case "union":
        for (const option of node.options) if (this.viable(option)) this.start(option, up, b, out);
        return;
      case "any":
        return this.startAny(node, up, b, out);
      case "object":
        if (b === 0x7b) out.push({ f: { t: OBJ, node, ph: O_OPEN, i: -1, ws: 0, cands: null, off: 0 }, up });
        return;
      case "array":
        if (b === 0x5b) out.push({ f: { t: ARR, node, ph: A_OPEN, n: 0, ws: 0 }, up });
        return;
      case "string":
        if (b !== 0x22) return;
        if (node.pattern)
          out.push({ f: { t: PSTR, rx: node.pattern, id: node.id, set: node.pattern.start, q: Q_BODY, acc: 0, len: 0 }, up });
        else out.push(this.stringStart(node.minLength, node.maxLength, up));
        return;
      case "number":
        return this.stepNumber({ t: NUM, integer: node.integer, ph: N_START, d: 0, bounds: node.bounds, text: "" }, up, b, out);
      case "literal": {
        return this.stepLiteral({ t: LIT, node, lo: 0, hi: node.values.length, off: 0, end: false }, up, b, out);
      }
    }
  }

  private readonly anyLiterals = new WeakMap<JsonNode, Extract<JsonNode, { kind: "literal" }>>();
  private readonly anyContainers = new WeakMap<
    JsonNode,
    { obj: Extract<JsonNode, { kind: "object" }>; arr: Extract<JsonNode, { kind: "array" }> }
  >();

  private startAny(node: JsonNode, up: Stack, b: number, out: Stack[]): void {
    let containers = this.anyContainers.get(node);
    if (!containers) {
      // Synthetic nodes share the any-node's id: their frames are told apart by kind in the state key.
      containers = {
        obj: { kind: "object", id: node.id, props: [], free: node },
        arr: { kind: "array", id: node.id, items: node, minItems: 0, maxItems: Infinity },
      };
      this.anyContainers.set(node, containers);
    }
    if (b === 0x7b) return this.start(containers.obj, up, b, out);
    if (b === 0x5b) return this.start(containers.arr, up, b, out);
    if (b === 0x22) return (out.push(this.stringStart(0, Infinity, up)), undefined);
    if (b === 0x2d || isDigit(b)) return this.start({ kind: "number", id: node.id, integer: false, bounds: null }, up, b, out);
    let lit = this.anyLiterals.get(node);
    if (!lit) {
      const enc = new TextEncoder();
      lit = { kind: "literal", id: node.id, values: [enc.encode("false"), enc.encode("null"), enc.encode("true")] }; // sorted
      this.anyLiterals.set(node, lit);
    }
    this.start(lit, up, b, out);
  }

  // ---- objects ----

  private stepObject(f: Extract<Frame, { t: typeof OBJ }>, s: Stack, b: number, out: Stack[]): void {
    const node = f.node;
    const up = s.up!;
    const ws = (): void => {
      if (f.ws < this.maxWs) out.push({ f: { ...f, ws: f.ws + 1 }, up });
    };
    const objectAt = (ph: number, i: number, cands: number[] | null = null, off = 0): Stack => ({
      f: { t: OBJ, node, ph, i, ws: 0, cands, off },
      up,
    });
    const free = node.props.length === 0 ? node.free : null;
    switch (f.ph) {
      case O_OPEN:
      case O_COMMA: {
        if (isWs(b)) return ws();
        if (f.ph === O_OPEN && b === 0x7d && !requiredAfter(node, -1)) return void out.push(up);
        if (b !== 0x22) return;
        if (free) {
          if (this.viable(free)) out.push(this.stringStart(0, Infinity, objectAt(O_COLON, -1)));
          return;
        }
        const cands = nextProps(node, f.i, this.schema.minBytes);
        if (cands.length > 0) out.push(objectAt(O_KEY, f.i, cands, 1));
        return;
      }
      case O_KEY: {
        const off = f.off;
        const cands = f.cands!.filter((j) => node.props[j].keyBytes[off] === b);
        if (cands.length === 0) return;
        // Keys end with `"`, which cannot occur inside a key: at most one candidate ends here and none continues.
        const done = cands.find((j) => node.props[j].keyBytes.length === off + 1);
        out.push(done !== undefined ? objectAt(O_COLON, done) : objectAt(O_KEY, f.i, cands, off + 1));
        return;
      }
      case O_COLON:
        if (isWs(b)) return ws();
        if (b === 0x3a) out.push(objectAt(O_VALUE, f.i));
        return;
      case O_VALUE: {
        if (isWs(b)) return ws();
        const value = free ?? node.props[f.i].node;
        return this.start(value, objectAt(O_NEXT, f.i), b, out);
      }
      case O_NEXT:
        if (isWs(b)) return ws();
        if (b === 0x7d && !requiredAfter(node, f.i)) return void out.push(up);
        if (b === 0x2c && (free || nextProps(node, f.i, this.schema.minBytes).length > 0)) out.push(objectAt(O_COMMA, f.i));
        return;
    }
  }

  // ---- arrays ----

  private stepArray(f: Extract<Frame, { t: typeof ARR }>, s: Stack, b: number, out: Stack[]): void {
    const node = f.node;
    const up = s.up!;
    if (isWs(b)) {
      if (f.ws < this.maxWs) out.push({ f: { ...f, ws: f.ws + 1 }, up });
      return;
    }
    const canAdd = f.n < node.maxItems && this.viable(node.items);
    if ((f.ph === A_OPEN || f.ph === A_NEXT) && b === 0x5d && f.n >= node.minItems) return void out.push(up);
    if (f.ph === A_NEXT) {
      if (b === 0x2c && canAdd) out.push({ f: { t: ARR, node, ph: A_COMMA, n: f.n, ws: 0 }, up });
      return;
    }
    if (!canAdd) return;
    // Item counts above both bounds' reach are clamped so equivalent states share one key (and one cached mask).
    const n = Math.min(f.n + 1, Math.max(node.minItems, Number.isFinite(node.maxItems) ? node.maxItems : 0));
    this.start(node.items, { f: { t: ARR, node, ph: A_NEXT, n, ws: 0 }, up }, b, out);
  }

  // ---- strings ----

  private stringStart(min: number, max: number, up: Stack): Stack {
    return { f: { t: STR, min, max, q: Q_BODY, n: 0 }, up };
  }

  /** Counts one more character; unbounded strings stop counting once minLength is reached (so their state repeats). */
  private counted(f: Extract<Frame, { t: typeof STR }>): number {
    return f.max === Infinity && f.n >= f.min ? f.n : f.n + 1;
  }

  private stepString(f: Extract<Frame, { t: typeof STR }>, s: Stack, b: number, out: Stack[]): void {
    const up = s.up!;
    const at = f.q * 256 + b;
    const q = STRING_NEXT[at];
    if (q === S_CLOSE) {
      if (f.n >= f.min) out.push(up);
      return;
    }
    if (q === S_DEAD) return;
    let n = f.n;
    if (STRING_CHAR_START[at] === 1) {
      if (n >= f.max) return;
      n = this.counted(f);
    }
    // Plain text in an unbounded string leaves the state unchanged: reuse it (no allocation in the hot loop).
    out.push(q === f.q && n === f.n ? s : { f: { t: STR, min: f.min, max: f.max, q, n }, up });
  }

  // ---- numbers ----

  private stepNumber(f: Extract<Frame, { t: typeof NUM }>, up: Stack, b: number, out: Stack[]): void {
    const bounds = f.bounds;
    const to = (ph: number, d: number): void => {
      if (bounds === null) return void out.push({ f: { t: NUM, integer: f.integer, ph, d, bounds, text: "" }, up });
      // Bounded numbers carry their text; a byte after which no allowed value is reachable is refused.
      const text = f.text + String.fromCharCode(b);
      if (ph !== N_EXP && reachable(text, f.integer, bounds)) out.push({ f: { t: NUM, integer: f.integer, ph, d, bounds, text }, up });
    };
    switch (f.ph) {
      case N_START:
        if (b === 0x2d) to(N_MINUS, 0);
        else if (b === 0x30) to(N_ZERO, 1);
        else if (isDigit(b)) to(N_INT, 1);
        return;
      case N_MINUS:
        if (b === 0x30) to(N_ZERO, 1);
        else if (isDigit(b)) to(N_INT, 1);
        return;
      case N_ZERO:
      case N_INT:
        if (isDigit(b) && f.ph === N_INT && f.d < MAX_INT_DIGITS) return to(N_INT, f.d + 1);
        if (!f.integer && b === 0x2e) return to(N_DOT, 0);
        if (!f.integer && (b === 0x65 || b === 0x45)) return to(N_EXP, 0);
        break;
      case N_DOT:
        if (isDigit(b)) to(N_FRAC, 1);
        return;
      case N_FRAC:
        if (isDigit(b) && f.d < MAX_FRAC_DIGITS) return to(N_FRAC, f.d + 1);
        if (b === 0x65 || b === 0x45) return to(N_EXP, 0);
        break;
      case N_EXP:
        if (b === 0x2b || b === 0x2d) to(N_ESIGN, 0);
        else if (isDigit(b)) to(N_EDIG, 1);
        return;
      case N_ESIGN:
        if (isDigit(b)) to(N_EDIG, 1);
        return;
      case N_EDIG:
        if (isDigit(b) && f.d < MAX_EXP_DIGITS) return to(N_EDIG, f.d + 1);
        break;
    }
    // The number ends (if its value is allowed); the byte belongs to the enclosing frame.
    if (bounds === null || inRange(f.text, bounds)) this.step(up, b, out);
  }

  // ---- literals (enum, const, true/false/null) ----

  private stepLiteral(f: Extract<Frame, { t: typeof LIT }>, up: Stack, b: number, out: Stack[]): void {
    // Values are sorted by bytes, so those in [lo, hi) share their first `off` bytes and are ordered by the next one:
    // the ones continuing with `b` form a sub-range, found by binary search.
    const values = f.node.values;
    const off = f.off;
    const first = f.end ? f.lo + 1 : f.lo; // a value of exactly `off` bytes sorts first
    const from = lowerBound(values, first, f.hi, off, b);
    const to = lowerBound(values, from, f.hi, off, b + 1);
    if (from < to) {
      if (to - from === 1 && values[from].length === off + 1) out.push(up);
      else out.push({ f: { t: LIT, node: f.node, lo: from, hi: to, off: off + 1, end: values[from].length === off + 1 }, up });
    }
    // A value that is complete (enum [1, 12] after `1`) may also end here: the byte then belongs to the parent.
    if (f.end) this.step(up, b, out);
  }

  // ---- keys and distances ----

  /** A string that is equal for two states exactly when they accept the same byte strings. */
  stateKey(s: Stack): string {
    if (s.key !== undefined) return s.key;
    const k = frameKey(s.f);
    s.key = s.up ? `${k}|${this.stateKey(s.up)}` : k;
    return s.key;
  }

  /** Fewest bytes that complete the document from `s` (0 when it is complete). */
  distance(s: Stack): number {
    if (s.dist !== undefined) return s.dist;
    const d = frameRemaining(s.f, this.schema) + (s.up ? this.distance(s.up) : 0);
    s.dist = d;
    return d;
  }
}
