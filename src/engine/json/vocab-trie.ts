/**
 * The byte trie of a tokenizer's vocabulary, in preorder, built once per tokenizer and cached.
 * Walking it against an automaton state checks each shared prefix once, and a rejected byte skips its
 * whole subtree (`end`), so the mask costs about the number of *viable* prefixes, not the vocabulary size.
 */

/** The parts of a tokenizer the trie needs (structurally satisfied by `Tokenizer`). */
export interface VocabSource {
  readonly vocabSize: number;
  readonly specialTokenIds: ReadonlySet<number>;
  idToToken(id: number): string | undefined;
  tokenBytes(id: number): Uint8Array;
}

export interface VocabTrie {
  /** The tokenizer it was built from (token bytes). */
  source: VocabSource;
  vocabSize: number;
  /** Number of trie nodes (the root is implicit). */
  size: number;
  /** `byte[n]`: the edge byte into node n. */
  byte: Uint8Array;
  /** `depth[n]` ≥ 1: the length of node n's byte string. */
  depth: Uint16Array;
  /** `end[n]`: the first node after n's subtree. */
  end: Int32Array;
  /** `token[n]`: the token id whose bytes end at node n, or -1; further ids with the same bytes are in `sameBytes`. */
  token: Int32Array;
  sameBytes: Map<number, number[]>;
  /** Longest token in bytes. */
  maxDepth: number;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** Builds the trie of every non-special token with at least one byte. */
export function buildVocabTrie(vocab: VocabSource): VocabTrie {
  const entries: { id: number; bytes: Uint8Array }[] = [];
  for (let id = 0; id < vocab.vocabSize; id++) {
    if (vocab.specialTokenIds.has(id) || vocab.idToToken(id) === undefined) continue;
    const bytes = vocab.tokenBytes(id);
    if (bytes.length > 0) entries.push({ id, bytes });
  }
  entries.sort((a, b) => compareBytes(a.bytes, b.bytes) || a.id - b.id);
  const total = entries.reduce((sum, e) => sum + e.bytes.length, 0); // upper bound on nodes
  const byte = new Uint8Array(total);
  const depth = new Uint16Array(total);
  const end = new Int32Array(total);
  const token = new Int32Array(total).fill(-1);
  const sameBytes = new Map<number, number[]>();
  /** `path[d-1]`: the node at depth d on the current path. */
  const path: number[] = [];
  let size = 0;
  let maxDepth = 0;
  let prev: Uint8Array = new Uint8Array(0);
  for (const { id, bytes } of entries) {
    let common = 0;
    while (common < prev.length && common < bytes.length && prev[common] === bytes[common]) common++;
    // Nodes deeper than the shared prefix are finished: their subtree ends here.
    while (path.length > common) end[path.pop()!] = size;
    if (common === bytes.length) {
      const node = path[path.length - 1];
      if (token[node] < 0) token[node] = id;
      else sameBytes.set(node, [...(sameBytes.get(node) ?? []), id]);
    } else {
      for (let d = common; d < bytes.length; d++) {
        byte[size] = bytes[d];
        depth[size] = d + 1;
        path.push(size);
        size++;
      }
      token[size - 1] = id;
    }
    maxDepth = Math.max(maxDepth, bytes.length);
    prev = bytes;
  }
  while (path.length > 0) end[path.pop()!] = size;
  return {
    source: vocab,
    vocabSize: vocab.vocabSize,
    size,
    byte: byte.slice(0, size),
    depth: depth.slice(0, size),
    end: end.slice(0, size),
    token: token.slice(0, size),
    sameBytes,
    maxDepth,
  };
}

const cache = new WeakMap<object, VocabTrie>();

/** The trie of `vocab`, built on first use and kept as long as the tokenizer object lives. */
export function vocabTrieOf(vocab: VocabSource): VocabTrie {
  let trie = cache.get(vocab);
  if (!trie) {
    trie = buildVocabTrie(vocab);
    cache.set(vocab, trie);
  }
  return trie;
}
