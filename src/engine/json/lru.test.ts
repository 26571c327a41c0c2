import { test } from "node:test";
import assert from "node:assert/strict";
import { grammarCache, LruMap } from "./lru.js";

test("LruMap drops the least recently used entry; a get counts as a use", () => {
  const map = new LruMap<string, number>(2);
  map.set("a", 1);
  map.set("b", 2);
  assert.equal(map.get("a"), 1); // b is now the oldest
  map.set("c", 3);
  assert.equal(map.get("b"), undefined);
  assert.equal(map.get("a"), 1);
  assert.equal(map.get("c"), 3);
  map.set("c", 4); // replacing keeps one entry per key
  map.set("d", 5); // a was used before c's replacement: a goes
  assert.equal(map.get("a"), undefined);
  assert.deepEqual([map.get("c"), map.get("d")], [4, 5]);
});

test("grammarCache builds once per (tokenizer, key) and keeps tokenizers apart", () => {
  const cache = grammarCache<object>(4);
  const tokenizerA = { vocabSize: 1, specialTokenIds: new Set<number>(), idToToken: () => "a", tokenBytes: () => new Uint8Array([97]) };
  const tokenizerB = { ...tokenizerA };
  let builds = 0;
  const build = () => ({ n: ++builds });
  const first = cache(tokenizerA, "k", build);
  assert.equal(cache(tokenizerA, "k", build), first);
  assert.notEqual(cache(tokenizerB, "k", build), first);
  assert.equal(builds, 2);
});
