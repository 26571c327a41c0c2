import test from "node:test";
import assert from "node:assert/strict";
import { MODEL_SHAPES, syntheticTokenizer } from "./synthetic.js";

// A sampled benchmark can draw any id, special ones included (a temperature 0.6 run drew 128000 on the H100).
test("syntheticTokenizer: every id of the llama-3.1-8b shape decodes, and its BOS/EOS ids are special tokens at their own ids", () => {
  const spec = MODEL_SHAPES["llama-3.1-8b"];
  const tokenizer = syntheticTokenizer(spec);
  assert.equal(tokenizer.vocabSize, spec.vocabSize);
  for (let id = 0; id < spec.vocabSize; id++) assert.ok(tokenizer.tokenBytes(id).length > 0, `id ${id}`);
  for (const id of [spec.bosTokenId!, ...spec.eosTokenIds]) {
    assert.equal(tokenizer.idToToken(id), `<|special_${id}|>`);
    assert.equal(tokenizer.decode([65, id, 66], { skipSpecialTokens: true }), "AB");
  }
  assert.equal(tokenizer.idToToken(128255), "<t128255>");
});
