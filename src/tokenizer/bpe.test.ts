import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BpeConfigError, BpeModel, decodeUtf8Strict } from "./bpe.js";
import { BYTE_TO_CHAR, textToByteLevel } from "./byte-level.js";

/** A vocabulary of the 256 byte characters (id = byte) plus the given merges' results. */
function byteVocab(merges: ReadonlyArray<readonly [string, string]>): Map<string, number> {
  const vocab = new Map<string, number>();
  for (let b = 0; b < 256; b++) vocab.set(BYTE_TO_CHAR[b], b);
  for (const [a, b] of merges) if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
  return vocab;
}

function encode(model: BpeModel, text: string): number[] {
  const out: number[] = [];
  model.encodePiece(text, out);
  return out;
}

/** The textbook algorithm: repeatedly merge the lowest-ranked adjacent pair, leftmost first. */
function naiveBpe(vocab: Map<string, number>, merges: ReadonlyArray<readonly [string, string]>, text: string): number[] {
  const rank = new Map<string, number>();
  merges.forEach(([a, b], r) => rank.set(`${a}\u0000${b}`, r)); // later duplicates win, as in HF
  let symbols = [...textToByteLevel(text)];
  for (;;) {
    let best = Infinity;
    let at = -1;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = rank.get(`${symbols[i]}\u0000${symbols[i + 1]}`);
      if (r !== undefined && r < best) {
        best = r;
        at = i;
      }
    }
    if (at < 0) break;
    symbols = [...symbols.slice(0, at), symbols[at] + symbols[at + 1], ...symbols.slice(at + 2)];
  }
  return symbols.map((s) => vocab.get(s)!);
}

/** Deterministic pseudo-random numbers. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe("BpeModel", () => {
  it("merges the lowest rank first, leftmost among equals", () => {
    const merges: Array<[string, string]> = [
      ["b", "c"],
      ["a", "b"],
      ["a", "a"],
    ];
    const vocab = byteVocab(merges);
    const model = new BpeModel(vocab, merges);
    assert.deepEqual(encode(model, "abc"), [97, vocab.get("bc")!]); // bc (rank 0) before ab (rank 1)
    assert.deepEqual(encode(model, "aaa"), [vocab.get("aa")!, 97]); // leftmost of equal ranks
    assert.deepEqual(encode(model, "aaaa"), [vocab.get("aa")!, vocab.get("aa")!]);
    assert.deepEqual(encode(model, ""), []);
    assert.deepEqual(encode(model, "z"), [122]);
  });

  it("with ignore_merges emits a whole-piece vocab entry that merges cannot reach", () => {
    const merges: Array<[string, string]> = [
      ["a", "b"],
      ["b", "c"],
    ];
    const vocab = byteVocab(merges);
    vocab.set("abc", vocab.size); // reachable by no merge
    vocab.set(textToByteLevel("é"), vocab.size); // a two-byte character as one token ("Ã©")
    assert.deepEqual(encode(new BpeModel(vocab, merges), "abc"), [vocab.get("ab")!, 99]);
    assert.deepEqual(encode(new BpeModel(vocab, merges, { ignoreMerges: true }), "abc"), [vocab.get("abc")!]);
    assert.deepEqual(encode(new BpeModel(vocab, merges, { ignoreMerges: true }), "é"), [vocab.get("Ã©")!]);
    assert.deepEqual(encode(new BpeModel(vocab, merges), "é"), [0xc3, 0xa9]);
  });

  it("lets the later of duplicate merges set the rank (as HF's hash map does)", () => {
    const merges: Array<[string, string]> = [
      ["a", "b"],
      ["b", "c"],
      ["a", "b"],
    ];
    const vocab = byteVocab(merges);
    assert.deepEqual(encode(new BpeModel(vocab, merges), "abc"), [97, vocab.get("bc")!]);
  });

  it("drops bytes missing from the vocab, or maps them to unk (fused with fuse_unk)", () => {
    const vocab = new Map([
      ["a", 0],
      ["b", 1],
      ["ab", 2],
      ["<unk>", 3],
    ]);
    const merges: Array<[string, string]> = [["a", "b"]];
    assert.deepEqual(encode(new BpeModel(vocab, merges), "axxb"), [2]);
    assert.deepEqual(encode(new BpeModel(vocab, merges, { unkId: 3 }), "axxb"), [0, 3, 3, 1]);
    assert.deepEqual(encode(new BpeModel(vocab, merges, { unkId: 3, fuseUnk: true }), "axxb"), [0, 3, 1]);
  });

  it("rejects merges whose parts or result are not in the vocab", () => {
    const vocab = new Map([
      ["a", 0],
      ["b", 1],
    ]);
    assert.throws(() => new BpeModel(vocab, [["a", "b"]]), BpeConfigError);
    assert.throws(() => new BpeModel(vocab, [["a", "c"]]), /"c", which is not in the vocab/);
  });

  it("agrees with the textbook algorithm on random merges and long words", () => {
    const next = random(7);
    const alphabet = ["a", "b", "c", "d", "é", "あ", "🦙"];
    const randomText = (length: number): string => Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
    // Merges learned greedily from random text, so that they chain into long tokens.
    const merges: Array<[string, string]> = [];
    const vocabSet = new Set<string>(Array.from({ length: 256 }, (_, b) => BYTE_TO_CHAR[b]));
    const corpus = Array.from({ length: 200 }, () => [...textToByteLevel(randomText(20))]);
    for (let round = 0; round < 300; round++) {
      const counts = new Map<string, number>();
      for (const word of corpus)
        for (let i = 0; i + 1 < word.length; i++)
          counts.set(`${word[i]}\u0000${word[i + 1]}`, (counts.get(`${word[i]}\u0000${word[i + 1]}`) ?? 0) + 1);
      const best = [...counts].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0];
      if (!best) break;
      const [a, b] = best[0].split("\u0000") as [string, string];
      merges.push([a, b]);
      vocabSet.add(a + b);
      for (const word of corpus) {
        for (let i = 0; i + 1 < word.length; i++) if (word[i] === a && word[i + 1] === b) word.splice(i, 2, a + b);
      }
    }
    const vocab = byteVocab(merges);
    const model = new BpeModel(vocab, merges);
    for (const length of [1, 2, 3, 5, 10, 40, 100, 400]) {
      for (let k = 0; k < 20; k++) {
        const text = randomText(length);
        assert.deepEqual(encode(model, text), naiveBpe(vocab, merges, text), JSON.stringify(text));
      }
    }
    // Cached results are the same as fresh ones.
    const text = randomText(30);
    assert.deepEqual(encode(model, text), encode(model, text));
    model.clearCache();
    assert.deepEqual(encode(model, text), naiveBpe(vocab, merges, text));
  });
});

describe("decodeUtf8Strict", () => {
  it("decodes well-formed UTF-8 and refuses the rest", () => {
    const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
    assert.equal(decodeUtf8Strict(bytes(0x61, 0xc3, 0xa9), 3), "aé");
    assert.equal(decodeUtf8Strict(bytes(0xf0, 0x9f, 0xa6, 0x99), 4), "🦙");
    assert.equal(decodeUtf8Strict(bytes(0xf0, 0x9f, 0xa6), 3), null);
    assert.equal(decodeUtf8Strict(bytes(0xc0, 0x80), 2), null); // overlong
    assert.equal(decodeUtf8Strict(bytes(0xed, 0xa0, 0x80), 3), null); // surrogate
    assert.equal(decodeUtf8Strict(bytes(0x80), 1), null);
  });
});
