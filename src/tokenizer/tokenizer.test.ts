import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDir } from "../../test/support/paths.js";
import { SwallowError } from "../errors.js";
import { MemoryFileTree } from "../model/byte-source.js";
import { Tokenizer, loadTokenizer } from "./tokenizer.js";

const dataDir = join(sharedDir, "data", "llama3-tokenizer");

interface Vectors {
  strings: Array<{ text: string; ids: number[]; decoded: string }>;
  chat: Array<{ text: string; ids: number[] }>;
}

let tokenizerText: string;
let tokenizer: Tokenizer;
let vectors: Vectors;

before(() => {
  tokenizerText = readFileSync(join(dataDir, "tokenizer.json"), "utf8");
  tokenizer = Tokenizer.fromJson(tokenizerText, join(dataDir, "tokenizer.json"));
  vectors = JSON.parse(readFileSync(join(dataDir, "vectors.json"), "utf8")) as Vectors;
});

/** Runs every string vector; returns the indexes that failed (so one assert reports them all). */
function failingVectors(tok: Tokenizer): number[] {
  const failed: number[] = [];
  vectors.strings.forEach((vector, index) => {
    if (!sameIds(tok.encode(vector.text), vector.ids)) failed.push(index);
  });
  return failed;
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

describe("Llama 3 tokenizer parity with Hugging Face tokenizers", () => {
  it("encodes all 600 string vectors exactly (no BOS)", () => {
    assert.equal(vectors.strings.length, 600);
    const failed = failingVectors(tokenizer);
    assert.deepEqual(failed, [], `vectors that differ: ${failed.slice(0, 10).join(", ")}`);
  });

  it("decodes all 600 vectors' ids to the reference text", () => {
    const failed = vectors.strings.flatMap((vector, index) => (tokenizer.decode(vector.ids) === vector.decoded ? [] : [index]));
    assert.deepEqual(failed, []);
  });

  it("encodes the chat vectors, whose text holds special tokens (BOS included literally)", () => {
    assert.ok(vectors.chat.length > 0);
    for (const vector of vectors.chat) {
      assert.deepEqual(tokenizer.encode(vector.text), vector.ids, JSON.stringify(vector.text));
      assert.equal(vector.ids[0], 128000);
    }
  });

  it('gives the same ids with merges in the old "a b" string layout', () => {
    const json = JSON.parse(tokenizerText) as { model: { merges: Array<[string, string] | string> } };
    json.model.merges = json.model.merges.map((merge) => (Array.isArray(merge) ? `${merge[0]} ${merge[1]}` : merge));
    assert.equal(typeof json.model.merges[0], "string");
    const old = Tokenizer.fromJson(json);
    assert.deepEqual(failingVectors(old), []);
    for (const vector of vectors.chat) assert.deepEqual(old.encode(vector.text), vector.ids);
  });

  it("matches the reference ids of llama3.md §4.3", () => {
    const cases: Array<[string, number[]]> = [
      ["system", [9125]],
      ["user", [882]],
      ["assistant", [78191]],
      ["\n\n", [271]],
      ["\n", [198]],
      [" \n", [720]],
      ["Hello world!", [9906, 1917, 0]],
      ["This is a test sentence.", [2028, 374, 264, 1296, 11914, 13]],
      ["grabbed", [59312, 2788]],
      [" grabbed", [30418]],
      ["镇", [104643]],
      ["🦙", [9468, 99, 247]],
      ["東京タワー", [111344, 47307, 124049]],
      [
        "<|start_header_id|>This text has special tokens<|eom_id|> in the middle of it.<|end_header_id|><|eot_id|>",
        [128006, 2028, 1495, 706, 3361, 11460, 128008, 304, 279, 6278, 315, 433, 13, 128007, 128009],
      ],
    ];
    for (const [text, ids] of cases) {
      assert.deepEqual(tokenizer.encode(text), ids, JSON.stringify(text));
      assert.equal(tokenizer.decode(ids), text);
    }
  });

  it("handles the Oniguruma/JavaScript regex differences like Hugging Face", () => {
    // Reference ids from tokenizers 0.23.2.
    assert.deepEqual(tokenizer.encode("it'ſ"), [275, 6, 129, 123]); // (?i:'s) also matches 'ſ (U+017F)
    assert.deepEqual(tokenizer.encode("\ufeffBOM"), [3305, 33, 1937]); // U+FEFF is not \s for Oniguruma
    assert.deepEqual(tokenizer.encode("x\u0085y"), [87, 116360, 88]); // U+0085 is \s for Oniguruma
    assert.deepEqual(
      tokenizer.encode("こんにちは、世界！🦙🦙 絵文字👍🏽と日本語。"),
      [
        90115, 5486, 102616, 6447, 9468, 99, 247, 9468, 99, 247, 107879, 113, 88435, 9468, 239, 235, 9468, 237, 121, 19732, 102433, 102158,
        1811,
      ],
    );
  });
});

describe("special tokens", () => {
  const text = "<|begin_of_text|>hi<|eot_id|>";

  it("are parsed by default and with parseSpecial: true", () => {
    assert.deepEqual(tokenizer.encode(text), [128000, 6151, 128009]);
    assert.deepEqual(tokenizer.encode(text, { parseSpecial: true }), [128000, 6151, 128009]);
  });

  it("are plain text with parseSpecial: false (like HF encode_special_tokens)", () => {
    const ids = tokenizer.encode(text, { parseSpecial: false });
    assert.deepEqual(ids, [27, 91, 7413, 3659, 4424, 91, 29, 6151, 27, 91, 68, 354, 851, 91, 29]);
    assert.ok(!ids.some((id) => tokenizer.specialTokenIds.has(id)));
    assert.equal(tokenizer.decode(ids), text);
  });

  it("addBos prepends the post-processor's BOS; default adds nothing", () => {
    assert.equal(tokenizer.bosTokenId, 128000);
    assert.deepEqual(tokenizer.encode("hi", { addBos: true }), [128000, 6151]);
    assert.deepEqual(tokenizer.encode("", { addBos: true }), [128000]);
    assert.deepEqual(tokenizer.encode(""), []);
  });

  it("decode keeps or skips them", () => {
    assert.equal(tokenizer.decode([128000, 9906, 128009]), "<|begin_of_text|>Hello<|eot_id|>");
    assert.equal(tokenizer.decode([128000, 9906, 128009], { skipSpecialTokens: true }), "Hello");
  });

  it("has the Llama 3.1 set", () => {
    assert.equal(tokenizer.vocabSize, 128256);
    assert.equal(tokenizer.specialTokenIds.size, 256);
    for (let id = 128000; id < 128256; id++) assert.ok(tokenizer.specialTokenIds.has(id));
    assert.ok(!tokenizer.specialTokenIds.has(127999));
    assert.equal(tokenizer.tokenToId("<|eot_id|>"), 128009);
    assert.equal(tokenizer.tokenToId("<|eom_id|>"), 128008);
    assert.equal(tokenizer.tokenToId("<|finetune_right_pad_id|>"), 128004);
    assert.equal(tokenizer.idToToken(128255), "<|reserved_special_token_247|>");
  });
});

describe("vocabulary access and decoding", () => {
  it("maps ids and byte-level token strings both ways", () => {
    assert.equal(tokenizer.idToToken(1917), "Ġworld");
    assert.equal(tokenizer.tokenToId("Ġworld"), 1917);
    assert.equal(tokenizer.idToToken(198), "Ċ");
    assert.equal(tokenizer.idToToken(-1), undefined);
    assert.equal(tokenizer.idToToken(128256), undefined);
    assert.equal(tokenizer.tokenToId("no such token"), undefined);
  });

  it("decodes a character split over tokens, and broken UTF-8 to U+FFFD like HF", () => {
    assert.equal(tokenizer.decode([9468, 99, 247]), "🦙");
    assert.equal(tokenizer.decode([9468]), "\ufffd");
    assert.equal(tokenizer.decode([9468, 99]), "\ufffd");
    assert.equal(tokenizer.decode([99, 247]), "\ufffd\ufffd");
    assert.equal(tokenizer.decode([]), "");
  });

  it("keeps a leading byte-order mark", () => {
    assert.equal(tokenizer.decode(tokenizer.encode("\ufeffBOM")), "\ufeffBOM");
  });

  it("encodes lone surrogates as U+FFFD", () => {
    assert.deepEqual(tokenizer.encode("a\ud800b"), tokenizer.encode("a\ufffdb"));
  });

  it("throws a one-line SwallowError for unknown ids", () => {
    for (const id of [128256, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => tokenizer.decode([9906, id]),
        (error: unknown) => error instanceof SwallowError && !error.message.includes("\n") && error.message.includes(String(id)),
      );
    }
  });
});

describe("malformed tokenizer.json", () => {
  const minimal = (): Record<string, unknown> => ({
    model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] },
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, use_regex: true },
    decoder: { type: "ByteLevel" },
    added_tokens: [],
  });
  const rejects = (json: unknown, pattern: RegExp): void => {
    assert.throws(
      () => Tokenizer.fromJson(json as object, "dir/tokenizer.json"),
      (error: unknown) => {
        assert.ok(error instanceof SwallowError, String(error));
        assert.match(error.message, pattern);
        assert.match(error.message, /^dir\/tokenizer\.json: /);
        return true;
      },
    );
  };

  it("accepts the minimal file", () => {
    assert.deepEqual(Tokenizer.fromJson(minimal()).encode("ab"), [2]);
  });

  it("rejects invalid JSON", () => rejects("{", /not valid JSON/));
  it("rejects a non-BPE model", () =>
    rejects({ ...minimal(), model: { type: "WordPiece", vocab: { a: 0 } } }, /model\.type is "WordPiece"; only BPE/));
  it("rejects a missing vocab", () => rejects({ ...minimal(), model: { type: "BPE", merges: [] } }, /model\.vocab is missing/));
  it("rejects missing merges", () => rejects({ ...minimal(), model: { type: "BPE", vocab: { a: 0 } } }, /model\.merges is missing/));
  it("rejects a merge that is not two tokens", () =>
    rejects({ ...minimal(), model: { type: "BPE", vocab: { a: 0 }, merges: ["a b c"] } }, /merges\[0\].*not two tokens/));
  it("rejects a merge of tokens outside the vocab", () =>
    rejects(
      { ...minimal(), model: { type: "BPE", vocab: { a: 0, b: 1 }, merges: [["a", "b"]] } },
      /bad model\.merges: merge 0 .*"ab", which is not in the vocab/,
    ));
  it("rejects an unsupported pre_tokenizer", () =>
    rejects({ ...minimal(), pre_tokenizer: { type: "Whitespace" } }, /pre_tokenizer type "Whitespace" is not supported/));
  it("rejects an untranslatable regex", () =>
    rejects(
      {
        ...minimal(),
        pre_tokenizer: {
          type: "Sequence",
          pretokenizers: [
            { type: "Split", pattern: { Regex: "a++" }, behavior: "Isolated" },
            { type: "ByteLevel", use_regex: false },
          ],
        },
      },
      /possessive/,
    ));
  it("rejects a non-ByteLevel decoder", () =>
    rejects({ ...minimal(), decoder: { type: "WordPiece" } }, /decoder "WordPiece" is not supported/));
  it("rejects SentencePiece-style byte_fallback", () =>
    rejects({ ...minimal(), model: { type: "BPE", vocab: { a: 0 }, merges: [], byte_fallback: true } }, /byte_fallback/));
});

describe("loadTokenizer", () => {
  it("reads tokenizer.json from a FileTree", async () => {
    const files = new MemoryFileTree("mem/model", new Map([["tokenizer.json", new TextEncoder().encode(tokenizerText)]]));
    const loaded = await loadTokenizer(files);
    assert.deepEqual(loaded.encode("Hello world!"), [9906, 1917, 0]);
  });

  it("says what is missing", async () => {
    await assert.rejects(loadTokenizer(new MemoryFileTree("mem/model", new Map())), (error: unknown) => {
      assert.ok(error instanceof SwallowError);
      assert.equal(error.message, "mem/model/tokenizer.json not found: a Hugging Face tokenizer.json is required");
      return true;
    });
  });
});
