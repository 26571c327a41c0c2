/**
 * Byte-level BPE (Hugging Face `tokenizers` `models::bpe` semantics) working on token ids:
 * a piece of text becomes UTF-8 bytes, each byte the id of its byte character, and then the adjacent pair
 * with the lowest merge rank (leftmost among equals) is merged until no pair has a merge.
 *
 * - `ignore_merges`: a piece whose whole byte-level string is in the vocabulary is emitted as that id.
 * - Bytes whose byte character is missing from the vocabulary are dropped, or become `unk_token`
 *   (consecutive ones fused when `fuse_unk`), as in HF.
 * - Duplicate merges: the later one wins (HF collects merges into a hash map in order).
 * Speed: results are cached per piece; merging runs on a linked list with a binary heap in reused typed
 * arrays (O(n log n), so long Japanese pre-tokens stay cheap); pair lookups go to an interleaved
 * open-addressing table.
 */

import { BYTE_TO_CHAR, byteOfCharCode } from "./byte-level.js";

/** Thrown for vocab/merges that cannot form a BPE model; the caller says which file. */
export class BpeConfigError extends Error {
  override readonly name = "BpeConfigError";
}

export interface BpeOptions {
  ignoreMerges?: boolean;
  /** Id of `unk_token`, or null to drop unknown bytes. */
  unkId?: number | null;
  fuseUnk?: boolean;
}

/** Pieces longer than this (in UTF-16 units) are not cached. */
const MAX_CACHED_PIECE = 256;
/** The cache is reset when it has grown by this many entries. */
const CACHE_LIMIT = 100_000;

/**
 * Open-addressing (linear probing) hash table from an ordered id pair to (rank, merged id), one
 * interleaved Int32Array of [left, right, rank, merged] per slot so a probe touches one cache line.
 */
class MergeTable {
  readonly mask: number;
  /** slot * 4 + 0: left id (-1 = empty), + 1: right id, + 2: rank, + 3: merged id */
  readonly data: Int32Array;

  constructor(expected: number) {
    let capacity = 16;
    while (capacity < expected * 2) capacity *= 2;
    this.mask = capacity - 1;
    this.data = new Int32Array(capacity * 4).fill(-1);
  }

  static hash(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    return h;
  }

  /** Inserts or overwrites. */
  set(a: number, b: number, rank: number, merged: number): void {
    const data = this.data;
    let slot = MergeTable.hash(a, b) & this.mask;
    for (;;) {
      const at = slot << 2;
      const l = data[at];
      if (l === -1 || (l === a && data[at + 1] === b)) {
        data[at] = a;
        data[at + 1] = b;
        data[at + 2] = rank;
        data[at + 3] = merged;
        return;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /** The data offset (slot * 4) of pair (a, b), or -1. */
  find(a: number, b: number): number {
    const data = this.data;
    const mask = this.mask;
    let slot = MergeTable.hash(a, b) & mask;
    for (;;) {
      const at = slot << 2;
      const l = data[at];
      if (l === a && data[at + 1] === b) return at;
      if (l === -1) return -1;
      slot = (slot + 1) & mask;
    }
  }
}

export class BpeModel {
  /** byte-level token string → id */
  readonly vocab: ReadonlyMap<string, number>;
  private readonly merges: MergeTable;
  private readonly mergeCount: number;
  private readonly byteIds = new Int32Array(256);
  /** Merge-table offset of the pair (byte b1, byte b2) at [b1 * 256 + b2], or -1: the first round of lookups. */
  private readonly bytePairAt = new Int32Array(65536);
  private readonly ignoreMerges: boolean;
  private readonly unkId: number;
  private readonly fuseUnk: boolean;
  /** Longest token, in bytes (= byte-level characters); longer pieces cannot be a single token. */
  private readonly maxTokenLength: number;
  /**
   * For `ignore_merges`: text → id of every vocab token whose bytes are complete UTF-8, so a piece is
   * looked up as it is, without building its byte-level string.
   */
  private readonly textVocab: ReadonlyMap<string, number>;
  /** textVocab plus the results of pieces encoded so far (the cache): one lookup per piece. */
  private known: Map<string, number | number[]>;
  private cachedCount = 0;
  /** Set by utf8(): the last piece had a lone surrogate (encoded as U+FFFD). */
  private sawLoneSurrogate = false;

  // Scratch buffers, grown on demand.
  private bytes = new Uint8Array(1024);
  private syms = new Int32Array(1024);
  private next = new Int32Array(1024);
  private prev = new Int32Array(1024);
  private heapKey = new Float64Array(3072);
  private heapAt = new Int32Array(3072);

  /**
   * @param vocab byte-level token string → id
   * @param merges pairs of byte-level strings, in priority order (index = rank)
   */
  constructor(vocab: ReadonlyMap<string, number>, merges: ReadonlyArray<readonly [string, string]>, options: BpeOptions = {}) {
    this.vocab = vocab;
    this.ignoreMerges = options.ignoreMerges ?? false;
    this.unkId = options.unkId ?? -1;
    this.fuseUnk = options.fuseUnk ?? false;
    let maxLength = 0;
    for (const token of vocab.keys()) if (token.length > maxLength) maxLength = token.length;
    this.maxTokenLength = maxLength;
    for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.get(BYTE_TO_CHAR[b]) ?? -1;
    this.textVocab = this.ignoreMerges ? this.buildTextVocab() : new Map();
    this.known = new Map(this.textVocab);

    this.mergeCount = merges.length;
    this.merges = new MergeTable(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const [a, b] = merges[rank];
      const idA = vocab.get(a);
      const idB = vocab.get(b);
      const idMerged = vocab.get(a + b);
      if (idA === undefined || idB === undefined || idMerged === undefined) {
        const missing = idA === undefined ? a : idB === undefined ? b : a + b;
        throw new BpeConfigError(
          `merge ${rank} (${JSON.stringify(a)} ${JSON.stringify(b)}) uses ${JSON.stringify(missing)}, which is not in the vocab`,
        );
      }
      this.merges.set(idA, idB, rank, idMerged);
    }
    for (let b1 = 0; b1 < 256; b1++) {
      for (let b2 = 0; b2 < 256; b2++) {
        const a = this.byteIds[b1];
        const b = this.byteIds[b2];
        this.bytePairAt[b1 * 256 + b2] = a >= 0 && b >= 0 ? this.merges.find(a, b) : -1;
      }
    }
  }

  /** Encodes one pre-tokenized piece of text (not yet byte-mapped), appending ids to `out`. */
  encodePiece(piece: string, out: number[]): void {
    const cacheable = piece.length <= MAX_CACHED_PIECE;
    if (cacheable) {
      const hit = this.known.get(piece);
      if (hit !== undefined) {
        if (typeof hit === "number") out.push(hit);
        else for (let k = 0; k < hit.length; k++) out.push(hit[k]);
        return;
      }
    }
    const n = this.utf8(piece);
    const start = out.length;
    // A well-formed piece that `known` (holding textVocab) lacks is not a vocab token; only a piece with
    // lone surrogates (its bytes are not its text's) or one too long to be looked up needs the byte-level lookup.
    this.encodeBytes(n, out, this.sawLoneSurrogate || !cacheable);
    if (cacheable) {
      if (++this.cachedCount > CACHE_LIMIT) this.clearCache();
      this.known.set(piece, out.length - start === 1 ? out[start] : out.slice(start));
    }
  }

  clearCache(): void {
    this.known = new Map(this.textVocab);
    this.cachedCount = 0;
  }

  /** See `textVocab`. */
  private buildTextVocab(): Map<string, number> {
    const map = new Map<string, number>();
    const bytes = new Uint8Array(this.maxTokenLength);
    for (const [token, id] of this.vocab) {
      let ok = true;
      for (let i = 0; i < token.length; i++) {
        const b = byteOfCharCode(token.charCodeAt(i));
        if (b < 0) {
          ok = false;
          break;
        }
        bytes[i] = b;
      }
      if (!ok) continue;
      const text = decodeUtf8Strict(bytes, token.length);
      if (text !== null) map.set(text, id);
    }
    return map;
  }

  private ensure(n: number): void {
    if (this.bytes.length >= n) return;
    let size = this.bytes.length;
    while (size < n) size *= 2;
    this.bytes = new Uint8Array(size);
    this.syms = new Int32Array(size);
    this.next = new Int32Array(size);
    this.prev = new Int32Array(size);
    this.heapKey = new Float64Array(size * 3);
    this.heapAt = new Int32Array(size * 3);
  }

  /** Writes the UTF-8 bytes of `text` into `this.bytes`; returns the length. Lone surrogates → U+FFFD. */
  private utf8(text: string): number {
    const len = text.length;
    this.ensure(len * 3);
    const bytes = this.bytes;
    let n = 0;
    this.sawLoneSurrogate = false;
    for (let i = 0; i < len; i++) {
      let c = text.charCodeAt(i);
      if (c < 0x80) {
        bytes[n++] = c;
      } else if (c < 0x800) {
        bytes[n++] = 0xc0 | (c >> 6);
        bytes[n++] = 0x80 | (c & 0x3f);
      } else if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < len ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
          i++;
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          bytes[n++] = 0xf0 | (c >> 18);
          bytes[n++] = 0x80 | ((c >> 12) & 0x3f);
          bytes[n++] = 0x80 | ((c >> 6) & 0x3f);
          bytes[n++] = 0x80 | (c & 0x3f);
        } else {
          this.sawLoneSurrogate = true;
          bytes[n++] = 0xef;
          bytes[n++] = 0xbf;
          bytes[n++] = 0xbd;
        }
      } else {
        bytes[n++] = 0xe0 | (c >> 12);
        bytes[n++] = 0x80 | ((c >> 6) & 0x3f);
        bytes[n++] = 0x80 | (c & 0x3f);
      }
    }
    return n;
  }

  /** BPE over `this.bytes[0..n)`. */
  private encodeBytes(n: number, out: number[], lookUpWhole: boolean): void {
    if (n === 0) return;
    const bytes = this.bytes;
    if (this.ignoreMerges && lookUpWhole && n <= this.maxTokenLength && n > 1) {
      let s = "";
      for (let i = 0; i < n; i++) s += BYTE_TO_CHAR[bytes[i]];
      const id = this.vocab.get(s);
      if (id !== undefined) {
        out.push(id);
        return;
      }
    }
    // Initial symbols: one per byte.
    const syms = this.syms;
    const byteIds = this.byteIds;
    let m = 0;
    let previousUnk = false;
    let allBytesKnown = true;
    for (let i = 0; i < n; i++) {
      const id = byteIds[bytes[i]];
      if (id >= 0) {
        syms[m++] = id;
        previousUnk = false;
      } else {
        allBytesKnown = false;
        if (this.unkId >= 0) {
          if (!(this.fuseUnk && previousUnk)) syms[m++] = this.unkId;
          previousUnk = true;
        }
      }
    }
    if (m === 1) {
      out.push(syms[0]);
    } else if (m === 2) {
      const at = this.merges.find(syms[0], syms[1]);
      if (at >= 0) out.push(this.merges.data[at + 3]);
      else out.push(syms[0], syms[1]);
    } else if (m > 2) {
      this.merge(m, out, allBytesKnown);
    }
  }

  /**
   * Merges `syms[0..m)` in a doubly linked list, taking candidate pairs from a binary min-heap keyed by
   * rank * 2^k + position (lowest rank first, leftmost among equal ranks). An entry remembers the
   * merge-table slot of its pair and is skipped when popped if the pair at its position has changed.
   */
  private merge(m: number, out: number[], symbolsAreBytes: boolean): void {
    const syms = this.syms;
    const next = this.next;
    const prev = this.prev;
    const table = this.merges;
    const data = table.data;
    let scale = 1;
    while (scale < m) scale *= 2;
    if (this.mergeCount * scale > Number.MAX_SAFE_INTEGER) {
      throw new RangeError(`a pre-tokenized piece of ${m} bytes is too long to encode`);
    }
    // At most m-1 initial entries plus 2 per merge (m-1 merges).
    if (this.heapKey.length < 3 * m) {
      this.heapKey = new Float64Array(3 * m);
      this.heapAt = new Int32Array(3 * m);
    }
    const keys = this.heapKey;
    const ats = this.heapAt;
    let size = 0;
    /** Heap push (sift up) of a candidate merge: key = rank * scale + left position, so ties go leftmost. */
    const push = (key: number, at: number): void => {
      let h = size++;
      while (h > 0) {
        const parent = (h - 1) >> 1;
        if (keys[parent] <= key) break;
        keys[h] = keys[parent];
        ats[h] = ats[parent];
        h = parent;
      }
      keys[h] = key;
      ats[h] = at;
    };

    for (let i = 0; i < m; i++) {
      next[i] = i + 1 < m ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const bytes = this.bytes;
    const bytePairAt = this.bytePairAt;
    for (let i = 0; i + 1 < m; i++) {
      const at = symbolsAreBytes ? bytePairAt[(bytes[i] << 8) | bytes[i + 1]] : table.find(syms[i], syms[i + 1]);
      if (at < 0) continue;
      push(data[at + 2] * scale + i, at);
    }

    while (size > 0) {
      const key = keys[0];
      const at = ats[0];
      // Pop: move the last entry to the root and sift it down.
      size--;
      if (size > 0) {
        const lastKey = keys[size];
        const lastAt = ats[size];
        let h = 0;
        for (;;) {
          let child = 2 * h + 1;
          if (child >= size) break;
          if (child + 1 < size && keys[child + 1] < keys[child]) child++;
          if (lastKey <= keys[child]) break;
          keys[h] = keys[child];
          ats[h] = ats[child];
          h = child;
        }
        keys[h] = lastKey;
        ats[h] = lastAt;
      }
      const pos = key - data[at + 2] * scale;
      if (syms[pos] !== data[at]) continue; // merged away or changed
      const j = next[pos];
      if (j < 0 || syms[j] !== data[at + 1]) continue; // right neighbour changed
      syms[pos] = data[at + 3];
      syms[j] = -1;
      const k = next[j];
      next[pos] = k;
      if (k >= 0) prev[k] = pos;
      // New pairs with the neighbours (left first, then right), pushed with sift-up.
      const p = prev[pos];
      if (p >= 0) {
        const found = table.find(syms[p], syms[pos]);
        if (found >= 0) {
          push(data[found + 2] * scale + p, found);
        }
      }
      if (k >= 0) {
        const found = table.find(syms[pos], syms[k]);
        if (found >= 0) {
          push(data[found + 2] * scale + pos, found);
        }
      }
    }
    for (let i = 0; i >= 0; i = next[i]) out.push(syms[i]);
  }
}

/** Decodes well-formed UTF-8 (no surrogates, no overlongs); null for anything else. */
export function decodeUtf8Strict(bytes: Uint8Array, n: number): string | null {
  let text = "";
  let i = 0;
  while (i < n) {
    const b0 = bytes[i];
    let cp: number;
    if (b0 < 0x80) {
      cp = b0;
      i += 1;
    } else if (b0 >= 0xc2 && b0 < 0xe0) {
      if (i + 1 >= n || (bytes[i + 1] & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x1f) << 6) | (bytes[i + 1] & 0x3f);
      i += 2;
    } else if (b0 >= 0xe0 && b0 < 0xf0) {
      if (i + 2 >= n || (bytes[i + 1] & 0xc0) !== 0x80 || (bytes[i + 2] & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f);
      if (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)) return null;
      i += 3;
    } else if (b0 >= 0xf0 && b0 < 0xf5) {
      if (i + 3 >= n || (bytes[i + 1] & 0xc0) !== 0x80 || (bytes[i + 2] & 0xc0) !== 0x80 || (bytes[i + 3] & 0xc0) !== 0x80) return null;
      cp = ((b0 & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      if (cp < 0x10000 || cp > 0x10ffff) return null;
      i += 4;
    } else {
      return null;
    }
    text += String.fromCodePoint(cp);
  }
  return text;
}
