/**
 * `choice` on real tokenizers: random (seeded) logits drive the constraint until a stop token; the output must be
 * exactly one of the choices, every token must be allowed exactly when it keeps the bytes a prefix of some choice
 * (checked over the whole vocabulary on every step), and once a choice is complete only the stop tokens remain.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { bytePrefixes, driveConstraint, exactPrefixCheck } from "../../../test/support/drive-constraint.js";
import { fixturesDir, sharedDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { ChoiceAutomaton, createChoiceConstraint } from "./choice-constraint.js";

const llama3 = Tokenizer.fromJson(readFileSync(join(sharedDir, "data", "llama3-tokenizer", "tokenizer.json"), "utf8"));
const tiny = Tokenizer.fromJson(readFileSync(join(fixturesDir, "tiny-tokenizer", "tokenizer.json"), "utf8"));
const stopsOf = (tokenizer: Tokenizer) => ["<|eot_id|>", "<|end_of_text|>"].map((t) => tokenizer.tokenToId(t)!);

/** Japanese, emoji, a choice that is a prefix of another, quotes and backslashes, a leading space. */
const CHOICES = ["はい", "いいえ", "yes", "yes, sir", "🟦 blue", 'a"b\\n', " 東京タワー"];

for (const [label, tokenizer, seeds] of [
  ["Llama 3", llama3, [1, 2, 3, 4, 5, 6]],
  ["tiny", tiny, [1, 2, 3, 4]],
] as const) {
  test(`choice on the ${label} tokenizer: random logits always give one of the choices; exactly the viable tokens are allowed`, (t) => {
    const stops = stopsOf(tokenizer);
    const check = exactPrefixCheck(tokenizer, bytePrefixes(CHOICES), stops);
    const favored = CHOICES.flatMap((c) => tokenizer.encode(c));
    const seen = new Set<string>();
    for (const seed of seeds) {
      // Half the runs without a max_tokens hint: its distance filter could hide a token allowed wrongly.
      const hint = seed % 2 === 0 ? { maxTokensHint: 32 } : {};
      const constraint = createChoiceConstraint(tokenizer, CHOICES, { stopTokenIds: stops, ...hint });
      const run = driveConstraint(tokenizer, constraint, { stopTokenIds: stops, seed, maxTokens: 32, favored, check });
      assert.ok(CHOICES.includes(run.text), `${JSON.stringify(run.text)} is one of the choices`);
      seen.add(run.text);
    }
    assert.ok(seen.size >= 2, `several different choices come out: ${[...seen].join(" | ")}`);
    t.diagnostic(`${seeds.length} outputs, ${seen.size} distinct choices`);
  });
}

test("choice: once a choice that nothing extends is complete, only the stop tokens are allowed", () => {
  const stops = stopsOf(llama3);
  const constraint = createChoiceConstraint(llama3, ["いいえ", "yes", "yes, sir"], { stopTokenIds: stops });
  for (const id of llama3.encode("yes, sir")) constraint.accept(id);
  assert.ok(constraint.isComplete());
  const logits = new Float32Array(llama3.vocabSize);
  constraint.mask(logits);
  assert.deepEqual(
    [...logits.keys()].filter((id) => logits[id] > -Infinity),
    [...stops].sort((a, b) => a - b),
  );
  // "yes" is complete and may also grow into "yes, sir".
  const prefix = createChoiceConstraint(llama3, ["いいえ", "yes", "yes, sir"], { stopTokenIds: stops });
  for (const id of llama3.encode("yes")) prefix.accept(id);
  assert.ok(prefix.isComplete());
  prefix.mask(logits.fill(0));
  assert.ok(stops.every((id) => logits[id] === 0));
  assert.equal(logits[llama3.encode(",")[0]], 0);
  assert.equal(logits[llama3.encode(".")[0]], -Infinity);
  assert.throws(() => prefix.accept(llama3.encode(".")[0]), /cannot continue to a match/);
});

test("choice: an empty list is refused; the empty string is a choice that ends at once", () => {
  assert.throws(() => createChoiceConstraint(tiny, [], { stopTokenIds: stopsOf(tiny) }), /at least one string/);
  assert.throws(() => createChoiceConstraint(tiny, ["a"], { stopTokenIds: [] }), /at least one stop token/);
  const empty = createChoiceConstraint(tiny, [""], { stopTokenIds: stopsOf(tiny) });
  assert.ok(empty.isComplete());
  const automaton = new ChoiceAutomaton(["ab", "abcd", "x"]);
  assert.deepEqual(
    [automaton.start, automaton.step(0, 0x61), automaton.step(automaton.step(0, 0x61), 0x62)].map((s) => automaton.distanceBytes(s)),
    [1, 1, 0],
  );
  assert.equal(automaton.step(0, 0x62), -1);
});
