import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BYTE_TO_CHAR } from "./byte-level.js";
import { LLAMA3_PATTERN } from "./pretokenize.js";
import { Tokenizer } from "./tokenizer.js";

/**
 * A small byte-level tokenizer.json exercising the added-token flags. Every expected id below was
 * produced by Hugging Face tokenizers 0.23.2 from the same JSON (Tokenizer.from_str).
 */
function syntheticTokenizerJson(): object {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[BYTE_TO_CHAR[b]] = b;
  const merges = [
    ["a", "b"],
    ["ab", "c"],
    ["Ġ", "a"],
    ["x", "x"],
  ];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length; // 256..259
  const added = (id: number, content: string, flags: Record<string, boolean> = {}) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: false,
    ...flags,
  });
  return {
    version: "1.0",
    added_tokens: [
      added(260, "<M>", { special: true, lstrip: true, rstrip: true }),
      added(261, "QZQ", { single_word: true }),
      added(262, "<|s|>", { special: true }),
      added(263, "zqz", { normalized: true }),
      added(999, "<gap>", { special: true }), // HF ignores the gap and assigns the next id, 264
    ],
    normalizer: { type: "Lowercase" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: LLAMA3_PATTERN }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<|s|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [],
      special_tokens: { "<|s|>": { id: "<|s|>", ids: [262], tokens: ["<|s|>"] } },
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges },
  };
}

const cases: Array<[string, number[], number[]]> = [
  // text, ids with special parsing, ids with parseSpecial: false (HF encode_special_tokens = True)
  ["x  <M>  y", [120, 260, 121], [120, 32, 32, 60, 109, 62, 32, 32, 121]],
  ["a\u3000<M>\u3000b", [97, 260, 98], [97, 227, 128, 128, 60, 109, 62, 227, 128, 128, 98]],
  [
    "QZQ xQZQ QZQ_ QZQ. (QZQ)",
    [261, 32, 120, 113, 122, 113, 32, 113, 122, 113, 95, 32, 261, 46, 32, 40, 261, 41],
    [261, 32, 120, 113, 122, 113, 32, 113, 122, 113, 95, 32, 261, 46, 32, 40, 261, 41],
  ],
  ["ZQZ aZQZb", [263, 258, 263, 98], [263, 258, 263, 98]],
  ["<|s|>abc<|s|>", [262, 257, 262], [60, 124, 115, 124, 62, 257, 60, 124, 115, 124, 62]],
  ["<<M>>", [60, 260, 62], [60, 60, 109, 62, 62]],
  ["<|s|<|s|>|>", [60, 124, 115, 124, 262, 124, 62], [60, 124, 115, 124, 60, 124, 115, 124, 62, 124, 62]],
  ["abcab xx xxx", [257, 256, 32, 259, 32, 259, 120], [257, 256, 32, 259, 32, 259, 120]],
  ["<gap>!", [264, 33], [60, 103, 97, 112, 62, 33]],
  ["É<M>", [195, 169, 260], [195, 169, 60, 109, 62]],
];

describe("added tokens (HF AddedVocabulary semantics)", () => {
  const tokenizer = Tokenizer.fromJson(syntheticTokenizerJson());

  it("assigns ids like HF: the next free id after the model vocab, gaps ignored", () => {
    assert.equal(tokenizer.vocabSize, 265);
    assert.equal(tokenizer.tokenToId("<M>"), 260);
    assert.equal(tokenizer.tokenToId("zqz"), 263);
    assert.equal(tokenizer.tokenToId("<gap>"), 264);
    assert.deepEqual([...tokenizer.specialTokenIds].sort(), [260, 262, 264]);
    assert.equal(tokenizer.bosTokenId, 262);
  });

  for (const [text, ids, idsNoSpecial] of cases) {
    it(`encodes ${JSON.stringify(text)}`, () => {
      assert.deepEqual(tokenizer.encode(text), ids);
      assert.deepEqual(tokenizer.encode(text, { parseSpecial: false }), idsNoSpecial);
    });
  }

  it("adds the template's BOS and decodes with or without special tokens", () => {
    assert.deepEqual(tokenizer.encode("abc", { addBos: true }), [262, 257]);
    assert.equal(tokenizer.decode([260, 97, 262, 98]), "<M>a<|s|>b");
    assert.equal(tokenizer.decode([260, 97, 262, 98], { skipSpecialTokens: true }), "ab");
  });
});
