import { describe, it, before } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sharedDir } from "../../test/support/paths.js";
import { SwallowError } from "../errors.js";
import { IncrementalDecoder } from "./incremental-decoder.js";
import { Tokenizer } from "./tokenizer.js";

const dataDir = join(sharedDir, "data", "llama3-tokenizer");
let tokenizer: Tokenizer;
let vectors: { strings: Array<{ text: string; ids: number[] }> };

before(() => {
  tokenizer = Tokenizer.fromJson(readFileSync(join(dataDir, "tokenizer.json"), "utf8"));
  vectors = JSON.parse(readFileSync(join(dataDir, "vectors.json"), "utf8"));
});

/** Streams ids through a decoder; returns the pieces (one per push, then the flush). */
function stream(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string[] {
  const decoder = new IncrementalDecoder(tokenizer, options);
  const pieces = ids.map((id) => decoder.push(id));
  pieces.push(decoder.flush());
  return pieces;
}

/** True when the string has no lone surrogate and no U+FFFD (a broken character). */
function whole(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\ufffd/.test(text);
}

describe("IncrementalDecoder", () => {
  it("holds back '🦙' (3 tokens) until it is complete", () => {
    const ids = tokenizer.encode("🦙");
    assert.deepEqual(ids, [9468, 99, 247]);
    assert.deepEqual(stream(ids), ["", "", "🦙", ""]);
  });

  it("streams Japanese and emoji with no partial characters and equals decode()", () => {
    const text = "こんにちは、世界！🦙🦙 絵文字👍🏽と日本語。東京タワーの夜景🌃は綺麗です👨‍👩‍👧";
    const ids = tokenizer.encode(text);
    const pieces = stream(ids);
    for (const piece of pieces) assert.ok(whole(piece), `broken character in ${JSON.stringify(piece)}`);
    assert.equal(pieces.join(""), tokenizer.decode(ids));
    assert.equal(pieces.join(""), text);
    // Some tokens carried only part of a character and so produced nothing on their own.
    assert.ok(pieces.slice(0, -1).some((piece) => piece === ""));
  });

  it("concatenates to decode() for every vector", () => {
    for (const vector of vectors.strings) {
      const pieces = stream(vector.ids);
      assert.equal(pieces.join(""), tokenizer.decode(vector.ids));
      for (const piece of pieces) assert.ok(whole(piece));
    }
  });

  it("puts U+FFFD where decode() does for sequences that never complete", () => {
    const cases = [[9468], [9468, 99], [99, 247], [9468, 99, 9906], [247, 9468, 99, 247, 99], [9468, 128009, 99, 247]];
    for (const ids of cases) {
      const pieces = stream(ids);
      assert.equal(pieces.join(""), tokenizer.decode(ids), JSON.stringify(ids));
    }
    assert.deepEqual(stream([9468, 99]), ["", "", "\ufffd"]);
    assert.deepEqual(stream([9468, 9906]), ["", "\ufffdHello", ""]);
  });

  it("skips special tokens when asked, like decode()", () => {
    const ids = [128000, 9906, 128009];
    assert.equal(stream(ids).join(""), "<|begin_of_text|>Hello<|eot_id|>");
    assert.equal(stream(ids, { skipSpecialTokens: true }).join(""), tokenizer.decode(ids, { skipSpecialTokens: true }));
    assert.equal(stream(ids, { skipSpecialTokens: true }).join(""), "Hello");
  });

  it("is reusable after flush", () => {
    const decoder = new IncrementalDecoder(tokenizer);
    decoder.push(9468);
    assert.equal(decoder.flush(), "\ufffd");
    assert.equal(decoder.push(9906), "Hello");
    assert.equal(decoder.flush(), "");
  });

  it("throws SwallowError for unknown ids", () => {
    const decoder = new IncrementalDecoder(tokenizer);
    assert.throws(() => decoder.push(999_999), SwallowError);
  });
});
