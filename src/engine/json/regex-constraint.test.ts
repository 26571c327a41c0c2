/**
 * `regex` on real tokenizers, with JavaScript's own RegExp (`^(?:…)$`, `u` flag) as the independent reference:
 * random (seeded) logits drive the constraint until a stop token and the output must fully match; on every step the
 * constraint says complete exactly when the text so far fully matches; for finite languages (enumerated with the
 * reference), every token is allowed exactly when it keeps the bytes a prefix of some match.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { bytePrefixes, driveConstraint, exactPrefixCheck } from "../../../test/support/drive-constraint.js";
import { fixturesDir, sharedDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { createRegexConstraint, fullMatchPattern, RegexByteAutomaton } from "./regex-constraint.js";

const llama3 = Tokenizer.fromJson(readFileSync(join(sharedDir, "data", "llama3-tokenizer", "tokenizer.json"), "utf8"));
const tiny = Tokenizer.fromJson(readFileSync(join(fixturesDir, "tiny-tokenizer", "tokenizer.json"), "utf8"));
const stopsOf = (tokenizer: Tokenizer) => ["<|eot_id|>", "<|end_of_text|>"].map((t) => tokenizer.tokenToId(t)!);

/** The independent reference: a whole-string match with JavaScript's engine. */
const fullMatch = (pattern: string) => new RegExp(`^(?:${pattern})$`, "u");

/** Every string of up to `maxChars` characters over `alphabet` that fully matches `pattern`. */
function language(pattern: string, alphabet: string[], maxChars: number): string[] {
  const reference = fullMatch(pattern);
  const out: string[] = [];
  let level = [""];
  for (let n = 0; n <= maxChars; n++) {
    out.push(...level.filter((s) => reference.test(s)));
    level = level.flatMap((s) => alphabet.map((c) => s + c));
  }
  return out;
}

/** Checks on each step that "complete" is exactly "the text so far fully matches" (by the reference). */
function completeCheck(pattern: string) {
  const reference = fullMatch(pattern);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return (prefix: Uint8Array, _logits: Float32Array, complete: boolean): void => {
    let text: string | null = null;
    try {
      text = decoder.decode(prefix);
    } catch {
      // in the middle of a character: never a whole match
    }
    assert.equal(complete, text !== null && reference.test(text), `complete after ${JSON.stringify(text)}`);
  };
}

/** Finite languages: pattern, an alphabet wider than the pattern's, the longest match in characters. */
const FINITE: [string, string[], number][] = [
  ["[0-2]{2}-[a-c]", ["0", "1", "2", "3", "-", "a", "b", "c", "d"], 4],
  ["(?:東京|大阪)(?:都|府)?", ["東", "京", "大", "阪", "都", "府", "x"], 3],
  ["(?:ab|c)(?:😀|é)?x{0,2}", ["a", "b", "c", "😀", "é", "x", "y"], 5],
  ["^(?:yes|no)$", ["y", "e", "s", "n", "o"], 3],
  ["yes|no|n", ["y", "e", "s", "n", "o"], 3],
];

/** Infinite languages: pattern, a text whose tokens get a bonus so the outputs go somewhere interesting. */
const INFINITE: [string, string][] = [
  ["[a-z]+@[a-z]+\\.(?:com|jp)", "taro@example.com"],
  ["-?\\d{1,3}(?:,\\d{3})*(?:\\.\\d+)?", "-1,234.5"],
  ["[ぁ-ん]{2,5}", "ひらがな"],
  [".{3,10}", "何でも any"],
  ["(?:\\w+ ){2}\\w+", "one two three"],
  ["\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}", "2024-05-01T12:30"],
];

for (const [label, tokenizer, seeds] of [
  ["Llama 3", llama3, [1, 2, 3]],
  ["tiny", tiny, [1, 2, 3]],
] as const) {
  const stops = stopsOf(tokenizer);

  test(`regex on the ${label} tokenizer, finite languages: outputs fully match; exactly the viable tokens are allowed`, (t) => {
    let runs = 0;
    for (const [pattern, alphabet, maxChars] of FINITE) {
      const matches = language(pattern, alphabet, maxChars);
      assert.ok(matches.length > 0, pattern);
      const exact = exactPrefixCheck(tokenizer, bytePrefixes(matches), stops);
      const complete = completeCheck(pattern);
      for (const seed of seeds) {
        // No max_tokens hint: its distance filter would hide a token allowed wrongly but leading nowhere.
        const constraint = createRegexConstraint(tokenizer, pattern, { stopTokenIds: stops });
        const run = driveConstraint(tokenizer, constraint, {
          stopTokenIds: stops,
          seed,
          maxTokens: 24,
          favored: matches.flatMap((m) => tokenizer.encode(m)),
          check: (prefix, logits, done) => (exact(prefix, logits), complete(prefix, logits, done)),
        });
        assert.ok(fullMatch(pattern).test(run.text), `${pattern}: ${JSON.stringify(run.text)} fully matches`);
        runs++;
      }
    }
    t.diagnostic(`${runs} outputs, every step checked over the whole vocabulary`);
  });

  test(`regex on the ${label} tokenizer, infinite languages: outputs fully match within max_tokens`, (t) => {
    const outputs: string[] = [];
    for (const [pattern, favoredText] of INFINITE) {
      for (const seed of seeds) {
        const constraint = createRegexConstraint(tokenizer, pattern, { stopTokenIds: stops, maxTokensHint: 20 });
        const run = driveConstraint(tokenizer, constraint, {
          stopTokenIds: stops,
          seed,
          maxTokens: 20,
          favored: tokenizer.encode(favoredText),
          check: completeCheck(pattern),
        });
        assert.ok(fullMatch(pattern).test(run.text), `${pattern}: ${JSON.stringify(run.text)} fully matches`);
        outputs.push(run.text);
      }
    }
    t.diagnostic(`outputs: ${outputs.map((o) => JSON.stringify(o)).join(" ")}`);
  });
}

test("regex: tokens that break the match are masked; at a full match that cannot grow only stop tokens remain", () => {
  const stops = stopsOf(llama3);
  const constraint = createRegexConstraint(llama3, "[a-z]+@[a-z]+\\.com", { stopTokenIds: stops });
  for (const id of llama3.encode("taro@")) constraint.accept(id);
  const logits = new Float32Array(llama3.vocabSize);
  constraint.mask(logits);
  for (const bad of ["@", ".", "A", " x", "1"]) assert.equal(logits[llama3.encode(bad)[0]], -Infinity, `${bad} is masked`);
  for (const good of ["x", "example"]) assert.equal(logits[llama3.encode(good)[0]], 0, `${good} is allowed`);
  assert.ok(
    stops.every((id) => logits[id] === -Infinity),
    "no stop before a match",
  );
  for (const id of llama3.encode("example.com")) constraint.accept(id);
  assert.ok(constraint.isComplete());
  constraint.mask(logits.fill(0));
  assert.deepEqual(
    [...logits.keys()].filter((id) => logits[id] > -Infinity),
    [...stops].sort((a, b) => a - b),
  );
  assert.throws(() => constraint.accept(llama3.encode("m")[0]), /cannot continue to a match/);
});

test("regex: a multi-byte character is allowed byte by byte only when it can still become a character the pattern takes", () => {
  const automaton = new RegexByteAutomaton("[ぁ-ん]");
  const bytesOf = (s: string) => [...new TextEncoder().encode(s)];
  const run = (bytes: number[]) => bytes.reduce((s, b) => (s < 0 ? s : automaton.step(s, b)), automaton.start);
  assert.ok(automaton.isAccepting(run(bytesOf("あ"))));
  assert.ok(run(bytesOf("あ").slice(0, 2)) >= 0, "a partial character that can become あ");
  assert.ok(run(bytesOf("ア").slice(0, 2)) >= 0, "E3 82 can still become ゐ–ん");
  assert.equal(run(bytesOf("ア")), -1, "but not ア");
  assert.equal(run([0xe3, 0x83]), -1, "E3 83 (U+30C0–U+30FF) already leaves the class");
  assert.equal(run([0xed, 0xa0]), -1, "surrogates are never encoded");
  assert.equal(run([0xc0]), -1, "an overlong lead byte");
  assert.equal(automaton.distanceBytes(automaton.start), 3);
  assert.equal(automaton.distanceBytes(run([0xe3])), 2);
});

test("regex: the pattern is anchored at both ends; unsupported syntax is refused with the compiler's reason", () => {
  assert.equal(fullMatchPattern("^a|b$"), "^(?:a|b)$");
  assert.equal(fullMatchPattern("a\\$"), "^(?:a\\$)$");
  assert.equal(fullMatchPattern("a\\\\$"), "^(?:a\\\\)$");
  const yes = new RegexByteAutomaton("yes");
  const after = [..."yes!"].reduce((s, c) => (s < 0 ? s : yes.step(s, c.charCodeAt(0))), yes.start);
  assert.equal(after, -1, "no text after the match");
  assert.throws(() => new RegexByteAutomaton("(?=a)b"), /lookaround/);
  assert.throws(() => new RegexByteAutomaton("a\\bc"), /escape \\b/);
  assert.throws(() => createRegexConstraint(tiny, "a", { stopTokenIds: [] }), /at least one stop token/);
});

test("regex mask time per step on the Llama 3 tokenizer (128,256 tokens)", (t) => {
  const stops = stopsOf(llama3);
  for (const pattern of [".{3,40}", "[a-z]+@[a-z]+\\.com", "\\d+"]) {
    const constraint = createRegexConstraint(llama3, pattern, { stopTokenIds: stops, maxTokensHint: 30 });
    const times = driveConstraint(llama3, constraint, { stopTokenIds: stops, seed: 9, maxTokens: 30 }).maskMs.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    t.diagnostic(`${pattern}: ${times.length} steps, mask mean ${mean.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms`);
  }
});
