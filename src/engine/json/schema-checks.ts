/**
 * Whole-graph checks of a compiled schema: minimum document sizes (which also find schemas no finite document
 * matches), left recursion through $ref/anyOf, and whether oneOf branches can overlap.
 */

import { shortestInRange } from "./number-bounds.js";
import type { JsonNode } from "./schema.js";

/** The JSON types (and, for literals, the exact texts) a node can produce: used to check that oneOf branches never overlap. */
function signature(node: JsonNode, seen = new Set<number>()): { types: Set<string>; literals: Set<string> | null } {
  const types = new Set<string>();
  const decoder = new TextDecoder();
  switch (node.kind) {
    case "any":
      for (const t of ["object", "array", "string", "number", "boolean", "null"]) types.add(t);
      return { types, literals: null };
    case "object":
    case "array":
    case "string":
      types.add(node.kind);
      return { types, literals: null };
    case "number":
      types.add("number");
      return { types, literals: null };
    case "literal": {
      const literals = new Set(node.values.map((v) => decoder.decode(v)));
      return { types: new Set([...literals].map((t) => literalType(JSON.parse(t)))), literals };
    }
    case "union": {
      if (seen.has(node.id)) return { types, literals: null };
      seen.add(node.id);
      let literals: Set<string> | null = new Set();
      for (const option of node.options) {
        const s = signature(option, seen);
        for (const t of s.types) types.add(t);
        if (s.literals && literals) for (const l of s.literals) literals.add(l);
        else literals = null;
      }
      return { types, literals };
    }
  }
}

function literalType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** True when no document can match two of the options (different JSON types, or disjoint literal sets). */
export function disjoint(options: JsonNode[]): boolean {
  const sigs = options.map((o) => signature(o));
  for (let a = 0; a < sigs.length; a++) {
    for (let b = a + 1; b < sigs.length; b++) {
      const shared = [...sigs[a].types].filter((t) => sigs[b].types.has(t));
      if (shared.length === 0) continue;
      const la = sigs[a].literals;
      const lb = sigs[b].literals;
      if (la && lb && [...la].every((l) => !lb.has(l))) continue;
      if (discriminated(options[a], options[b])) continue;
      return false;
    }
  }
  return true;
}

/** Follows single-option unions ($ref placeholders) to the node they stand for. */
function deref(node: JsonNode): JsonNode {
  for (let k = 0; node.kind === "union" && node.options.length === 1 && k < 64; k++) node = node.options[0];
  return node;
}

/** Two object schemas that require the same property with disjoint enum/const values (a discriminated union). */
function discriminated(a: JsonNode, b: JsonNode): boolean {
  const x = deref(a);
  const y = deref(b);
  if (x.kind !== "object" || y.kind !== "object") return false;
  const decoder = new TextDecoder();
  return x.props.some((p) => {
    const q = y.props.find((other) => other.name === p.name);
    const pv = deref(p.node);
    const qv = q ? deref(q.node) : null;
    if (!p.required || !q?.required || pv.kind !== "literal" || qv?.kind !== "literal") return false;
    const texts = new Set(pv.values.map((v) => decoder.decode(v)));
    return qv.values.every((v) => !texts.has(decoder.decode(v)));
  });
}

/** A union that reaches itself through unions only ($ref/anyOf loops with no `{` or `[` in between) would never consume a byte. */
export function findLeftRecursion(nodes: JsonNode[]): boolean {
  const state = new Map<number, 1 | 2>(); // 1 = on the DFS path, 2 = done
  const visit = (node: JsonNode): boolean => {
    if (node.kind !== "union") return false;
    if (state.get(node.id) === 1) return true;
    if (state.get(node.id) === 2) return false;
    state.set(node.id, 1);
    const loops = node.options.some(visit);
    state.set(node.id, 2);
    return loops;
  };
  return nodes.some(visit);
}

/** Fewest bytes each node can serialize to (fixed point; Infinity = no finite document). */
export function computeMinBytes(nodes: JsonNode[]): number[] {
  const min = new Array<number>(nodes.length).fill(Infinity);
  for (let changed = true; changed;) {
    changed = false;
    for (const node of nodes) {
      const value = minBytesOf(node, min);
      if (value < min[node.id]) {
        min[node.id] = value;
        changed = true;
      }
    }
  }
  return min;
}

function minBytesOf(node: JsonNode, min: number[]): number {
  switch (node.kind) {
    case "any":
      return 1; // `0`
    case "number":
      return node.bounds === null ? 1 : shortestInRange(node.bounds, node.integer);
    case "string":
      return 2 + (node.pattern ? node.pattern.start.minBytes : node.minLength);
    case "literal":
      return Math.min(...node.values.map((v) => v.length));
    case "union":
      return Math.min(Infinity, ...node.options.map((o) => min[o.id]));
    case "array":
      return node.minItems === 0 ? 2 : 2 + node.minItems * min[node.items.id] + node.minItems - 1;
    case "object": {
      const req = node.props.filter((p) => p.required);
      return 2 + req.reduce((sum, p) => sum + p.keyBytes.length + 1 + min[p.node.id], 0) + Math.max(0, req.length - 1);
    }
  }
}
