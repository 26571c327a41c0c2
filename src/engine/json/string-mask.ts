/**
 * The fast mask for a state inside a JSON string, which would otherwise walk almost the whole vocabulary trie
 * (nearly every token is valid string text). For each string sub-state, a table made once per tokenizer says
 * for every token whether it stays inside the string (ending in which sub-state, after how many characters)
 * or closes it (after how many characters, with which bytes left over for the enclosing value).
 */

import { S_CLOSE, S_DEAD, STRING_CHAR_START, STRING_NEXT, STRING_PENDING, STRING_STATES } from "./string-bytes.js";
import type { VocabTrie } from "./vocab-trie.js";

export interface StringTokenTable {
  /** Tokens that leave the string open: id, sub-state after, characters begun. */
  insideIds: Int32Array;
  insideQ: Uint8Array;
  insideChars: Uint16Array;
  /** Tokens with the closing quote: id, characters before it, index of the first byte after it. */
  closedIds: Int32Array;
  closedChars: Uint16Array;
  closedRest: Uint16Array;
}

/** The table of sub-state `q`, from one walk of the trie (a dead byte skips its subtree). */
function buildTable(trie: VocabTrie, q: number): StringTokenTable {
  const { byte, depth, end, token, sameBytes, size } = trie;
  const qAt = new Int16Array(trie.maxDepth + 1);
  const charsAt = new Uint16Array(trie.maxDepth + 1);
  qAt[0] = q;
  const inside: number[][] = [[], [], []];
  const closed: number[][] = [[], [], []];
  const ids = (i: number) => [token[i], ...(sameBytes.get(i) ?? [])];
  for (let i = 0; i < size;) {
    const d = depth[i];
    const at = qAt[d - 1] * 256 + byte[i];
    const next = STRING_NEXT[at];
    if (next === S_DEAD) {
      i = end[i];
      continue;
    }
    if (next === S_CLOSE) {
      // Every token below this node closes the string at byte d-1.
      for (let j = i; j < end[i]; j++) {
        if (token[j] < 0) continue;
        for (const id of ids(j)) (closed[0].push(id), closed[1].push(charsAt[d - 1]), closed[2].push(d));
      }
      i = end[i];
      continue;
    }
    qAt[d] = next;
    charsAt[d] = charsAt[d - 1] + STRING_CHAR_START[at];
    if (token[i] >= 0) for (const id of ids(i)) (inside[0].push(id), inside[1].push(next), inside[2].push(charsAt[d]));
    i++;
  }
  return {
    insideIds: Int32Array.from(inside[0]),
    insideQ: Uint8Array.from(inside[1]),
    insideChars: Uint16Array.from(inside[2]),
    closedIds: Int32Array.from(closed[0]),
    closedChars: Uint16Array.from(closed[1]),
    closedRest: Uint16Array.from(closed[2]),
  };
}

const tables = new WeakMap<VocabTrie, (StringTokenTable | undefined)[]>();

/** The table of sub-state `q` for `trie`, built on first use. */
export function stringTokenTable(trie: VocabTrie, q: number): StringTokenTable {
  let perTrie = tables.get(trie);
  if (!perTrie) {
    perTrie = new Array(STRING_STATES);
    tables.set(trie, perTrie);
  }
  return (perTrie[q] ??= buildTable(trie, q));
}

/** A string frame's state as the fast mask needs it. */
export interface StringPosition {
  min: number;
  max: number;
  q: number;
  n: number;
}

/**
 * Calls `allow(id, dist)` for every token allowed from inside a string, where `dist` is the completion distance
 * after it. `upDistance` is the distance once the string is closed; `afterClose(rest)` gives the distance after
 * the closing quote and the token's remaining bytes (Infinity when the enclosing value rejects them).
 */
export function forEachStringToken(
  trie: VocabTrie,
  at: StringPosition,
  upDistance: number,
  afterClose: (id: number, restStart: number) => number,
  allow: (id: number, dist: number) => void,
): void {
  const table = stringTokenTable(trie, at.q);
  const { insideIds, insideQ, insideChars } = table;
  const room = at.max - at.n;
  for (let k = 0; k < insideIds.length; k++) {
    const chars = insideChars[k];
    if (chars > room) continue;
    const n = at.n + chars;
    allow(insideIds[k], STRING_PENDING[insideQ[k]] + (n < at.min ? at.min - n : 0) + 1 + upDistance);
  }
  const { closedIds, closedChars, closedRest } = table;
  for (let k = 0; k < closedIds.length; k++) {
    const n = at.n + closedChars[k];
    if (n < at.min || closedChars[k] > room) continue;
    const dist = afterClose(closedIds[k], closedRest[k]);
    if (dist !== Infinity) allow(closedIds[k], dist);
  }
}
