/**
 * Completion distances: the fewest bytes that finish a document from a frame, given the schema's minimum
 * value sizes. They drive the max_tokens budget (maxTokensHint) of the JSON constraint.
 */

import { inRange } from "./number-bounds.js";
import type { CompiledSchema, JsonNode, ObjectProp } from "./schema.js";
import { ESCAPED, partialRange, Q_BODY, Q_ESC, STRING_PENDING } from "./string-bytes.js";
import {
  A_COMMA,
  A_NEXT,
  ARR,
  DONE,
  type Frame,
  LIT,
  N_DOT,
  N_ESIGN,
  N_EXP,
  N_MINUS,
  NUM,
  O_COLON,
  O_COMMA,
  O_KEY,
  O_OPEN,
  O_VALUE,
  OBJ,
  ROOT,
  STR,
  PSTR,
  nextProps,
  requiredAfter,
} from "./frames.js";

/** Bytes of `"key":value` at its smallest. */
function prop(p: ObjectProp, minBytes: readonly number[]): number {
  return p.keyBytes.length + 1 + minBytes[p.node.id];
}

/** Bytes needed to close an object after property `i` (-1 = none yet): `,"key":value` per remaining required one, then `}`. */
function objectTail(node: Extract<JsonNode, { kind: "object" }>, i: number, minBytes: readonly number[]): number {
  let sum = 1;
  for (let j = i + 1; j < node.props.length; j++) if (node.props[j].required) sum += 1 + prop(node.props[j], minBytes);
  return sum;
}

/** Bytes this frame alone still needs, assuming its children are complete. */
export function frameRemaining(f: Frame, schema: CompiledSchema): number {
  const minBytes = schema.minBytes;
  switch (f.t) {
    case ROOT:
      return minBytes[f.node.id];
    case DONE:
      return 0;
    case OBJ: {
      const node = f.node;
      const free = node.props.length === 0 ? node.free : null;
      if (free) {
        // By phase: `}`; (unused); `:` value `}`; value `}`; `}`; `"":` value `}`.
        const value = minBytes[free.id];
        return [1, 0, value + 2, value + 1, 1, value + 4][f.ph];
      }
      switch (f.ph) {
        case O_OPEN:
        case O_COMMA: {
          // After `{` the cheapest end is `}` (when nothing is required) or the cheapest next key; after `,` a key must follow.
          let best = f.ph === O_OPEN && !requiredAfter(node, -1) ? 1 : Infinity;
          for (const j of nextProps(node, f.i, minBytes))
            best = Math.min(best, prop(node.props[j], minBytes) + objectTail(node, j, minBytes));
          return best;
        }
        case O_KEY: {
          let best = Infinity;
          for (const j of f.cands!) best = Math.min(best, prop(node.props[j], minBytes) - f.off + objectTail(node, j, minBytes));
          return best;
        }
        case O_COLON:
          return 1 + minBytes[node.props[f.i].node.id] + objectTail(node, f.i, minBytes);
        case O_VALUE:
          return minBytes[node.props[f.i].node.id] + objectTail(node, f.i, minBytes);
        default:
          return objectTail(node, f.i, minBytes);
      }
    }
    case ARR: {
      const item = minBytes[f.node.items.id];
      const missing = Math.max(0, f.node.minItems - f.n);
      if (f.ph === A_NEXT) return 1 + missing * (item + 1);
      if (f.ph === A_COMMA) return item + Math.max(0, missing - 1) * (item + 1) + 1;
      return missing === 0 ? 1 : missing * (item + 1);
    }
    case PSTR: {
      if (f.q === Q_BODY) return f.set.minBytes + 1;
      if (f.q === Q_ESC) {
        let best = Infinity;
        for (const key in ESCAPED) best = Math.min(best, f.rx.step(f.set, ESCAPED[key])?.minBytes ?? Infinity);
        return 1 + best + 1;
      }
      const [lo, hi] = partialRange(f.acc, f.len, STRING_PENDING[f.q]);
      const after = Math.min(f.rx.minBytesAfter(f.set, lo, Math.min(hi, 0xd7ff)), f.rx.minBytesAfter(f.set, Math.max(lo, 0xe000), hi));
      return STRING_PENDING[f.q] + after + 1;
    }
    case STR: {
      return STRING_PENDING[f.q] + Math.max(0, f.min - f.n) + 1;
    }
    case NUM:
      if (f.ph === N_MINUS || f.ph === N_DOT || f.ph === N_EXP || f.ph === N_ESIGN) return 1;
      return f.bounds !== null && !inRange(f.text, f.bounds) ? 1 : 0; // a lower bound: at least one more digit (an estimate)
    case LIT: {
      if (f.end) return 0;
      let best = Infinity;
      for (let k = f.lo; k < f.hi; k++) best = Math.min(best, f.node.values[k].length - f.off);
      return best;
    }
  }
}
