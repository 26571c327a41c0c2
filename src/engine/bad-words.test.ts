import { test } from "node:test";
import assert from "node:assert/strict";
import { badWordsTokenIds, banBadWords } from "./bad-words.js";

/** A hand-made vocabulary: whole strings map to fixed token lists, as a BPE would split them. */
const VOCAB: Record<string, number[]> = {
  cat: [10],
  " cat": [11],
  "hot dog": [20, 21],
  " hot dog": [22, 21],
  "new york": [30, 31, 32],
  " new york": [33, 34], // the space merges differently: a different length, so not a second form
  dog: [21],
  " dog": [21], // the space changes nothing: the same first token, so not a second form
};
const encode = (text: string): number[] => {
  const ids = VOCAB[text];
  if (!ids) throw new Error(`no tokens for ${JSON.stringify(text)}`);
  return ids;
};

test("badWordsTokenIds: each word as is and with a leading space, the spaced form only when it is a new token sequence", () => {
  assert.deepEqual(badWordsTokenIds(["cat"], encode), [[10], [11]]);
  assert.deepEqual(badWordsTokenIds(["  hot dog"], encode), [
    [20, 21],
    [22, 21],
  ]);
  assert.deepEqual(badWordsTokenIds(["new york"], encode), [[30, 31, 32]], "a spaced form of another length is dropped");
  assert.deepEqual(badWordsTokenIds(["dog"], encode), [[21]], "a spaced form with the same first token is dropped");
});

test("banBadWords: one-token words always; a longer word's last token only right after its other tokens in the output", () => {
  const fresh = () => new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]);
  const banned = (logits: Float32Array) => [...logits.keys()].filter((i) => logits[i] === -Infinity);

  let logits = fresh();
  banBadWords(logits, [[3], [6]], []);
  assert.deepEqual(banned(logits), [3, 6]);

  // [1, 5]: 5 is banned only when the output ends with 1.
  logits = fresh();
  banBadWords(logits, [[1, 5]], []);
  assert.deepEqual(banned(logits), [], "nothing generated yet");
  logits = fresh();
  banBadWords(logits, [[1, 5]], [4, 1]);
  assert.deepEqual(banned(logits), [5]);
  logits = fresh();
  banBadWords(logits, [[1, 5]], [1, 4]);
  assert.deepEqual(banned(logits), [], "1 was generated but is not the last token");

  // [2, 7, 4]: 4 is banned only after exactly 2, 7 at the end.
  logits = fresh();
  banBadWords(logits, [[2, 7, 4]], [0, 2, 7]);
  assert.deepEqual(banned(logits), [4]);
  logits = fresh();
  banBadWords(logits, [[2, 7, 4]], [7, 7]);
  assert.deepEqual(banned(logits), []);
  logits = fresh();
  banBadWords(logits, [[2, 7, 4]], [7]);
  assert.deepEqual(banned(logits), [], "an output shorter than the prefix never matches");

  // Other logits are untouched.
  logits = fresh();
  banBadWords(logits, [[6], [1, 5]], [1]);
  assert.deepEqual([...logits], [1, 2, 3, 4, 5, -Infinity, -Infinity, 8]);
  assert.throws(() => banBadWords(fresh(), [[9]], []), RangeError);
});
