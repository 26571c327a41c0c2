import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { fixturesDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { buildVocabTrie, type VocabSource, type VocabTrie } from "./vocab-trie.js";

/** Every token id with the byte string of its trie node, rebuilt from the preorder arrays. */
function tokensOf(trie: VocabTrie): Map<number, string> {
  const out = new Map<number, string>();
  const path: number[] = [];
  for (let i = 0; i < trie.size; i++) {
    path.length = trie.depth[i] - 1;
    path.push(trie.byte[i]);
    assert.ok(trie.end[i] > i && trie.end[i] <= trie.size, "subtree end lies after the node");
    for (let j = i + 1; j < trie.end[i]; j++) assert.ok(trie.depth[j] > trie.depth[i], "the subtree holds only deeper nodes");
    if (trie.end[i] < trie.size) assert.ok(trie.depth[trie.end[i]] <= trie.depth[i], "the node after the subtree is not inside it");
    const key = Buffer.from(path).toString("latin1");
    for (const id of [trie.token[i], ...(trie.sameBytes.get(i) ?? [])]) if (id >= 0) out.set(id, key);
  }
  return out;
}

test("trie of the tiny tokenizer holds every non-special token exactly once, with its bytes", () => {
  const tokenizer = Tokenizer.fromJson(readFileSync(join(fixturesDir, "tiny-tokenizer", "tokenizer.json"), "utf8"));
  const trie = buildVocabTrie(tokenizer);
  const tokens = tokensOf(trie);
  let expected = 0;
  for (let id = 0; id < tokenizer.vocabSize; id++) {
    if (tokenizer.specialTokenIds.has(id) || tokenizer.idToToken(id) === undefined) {
      assert.ok(!tokens.has(id), `special or missing id ${id} is not in the trie`);
      continue;
    }
    expected++;
    assert.equal(tokens.get(id), Buffer.from(tokenizer.tokenBytes(id)).toString("latin1"), `bytes of token ${id}`);
  }
  assert.equal(tokens.size, expected);
});

test("tokens with the same bytes share a node; prefixes are shared", () => {
  const specs = ["ab", "a", "abc", "b", "ab", "ba"];
  const bytes = specs.map((s) => new TextEncoder().encode(s));
  const vocab: VocabSource = { vocabSize: 6, specialTokenIds: new Set(), idToToken: (id) => specs[id], tokenBytes: (id) => bytes[id] };
  const trie = buildVocabTrie(vocab);
  assert.equal(trie.size, 5); // a, ab, abc, b, ba
  assert.equal(trie.maxDepth, 3);
  assert.deepEqual(
    [...tokensOf(trie)].sort((x, y) => x[0] - y[0]),
    specs.map((s, id) => [id, s]),
  );
});
