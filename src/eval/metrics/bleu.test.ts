import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { SwallowError } from "../../errors.js";
import { fixturesDir } from "../../../test/support/paths.js";
import { sacrebleuCorpus, tokenize13a } from "./bleu.js";
import { bleuCorpus } from "./wmt-bleu.js";

interface Corpus {
  name: string;
  hyps: string[];
  refs: string[];
  score: number;
  counts: number[];
  totals: number[];
  sys_len: number;
  ref_len: number;
  hyps_13a: string[];
  refs_13a: string[];
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "bleu-vectors.json"), "utf8")) as {
  sacrebleu: string;
  bleu: { corpora: Corpus[]; tokenize_13a: { line: string; tokens: string }[] };
};

test("fixture was produced by sacrebleu", () => {
  assert.match(fixture.sacrebleu, /^\d+\.\d+/);
  assert.ok(fixture.bleu.corpora.length >= 15 && fixture.bleu.tokenize_13a.length >= 20);
});

test("13a tokenisation equals sacrebleu's Tokenizer13a", () => {
  for (const { line, tokens } of fixture.bleu.tokenize_13a) assert.equal(tokenize13a(line), tokens, JSON.stringify(line));
});

for (const c of fixture.bleu.corpora) {
  test(`corpus BLEU ${c.name} equals sacrebleu`, () => {
    c.hyps.forEach((h, i) => assert.equal(tokenize13a(h.trimEnd()), c.hyps_13a[i], `hyp ${i}`));
    const stats = sacrebleuCorpus(c.hyps, c.refs);
    assert.deepEqual(stats.counts, c.counts, "matched n-grams");
    assert.deepEqual(stats.totals, c.totals, "hypothesis n-grams");
    assert.equal(stats.sysLen, c.sys_len);
    assert.equal(stats.refLen, c.ref_len);
    // Same operations in the same order; allow one ulp-scale difference between V8's and glibc's log/exp.
    assert.ok(Math.abs(stats.score - c.score) <= 1e-12 * Math.max(1, c.score), `score ${stats.score} vs sacrebleu ${c.score}`);
  });
}

test("the score is order-sensitive where sacrebleu's is: corpus statistics, not a mean of sentence scores", () => {
  const en = fixture.bleu.corpora.find((c) => c.name === "en-basic")!;
  const one = sacrebleuCorpus(en.hyps.slice(0, 1), en.refs.slice(0, 1)).score;
  const two = sacrebleuCorpus(en.hyps.slice(1), en.refs.slice(1)).score;
  assert.notEqual(sacrebleuCorpus(en.hyps, en.refs).score, (one + two) / 2);
});

test("bleuCorpus with preSegmented Japanese equals sacrebleu on nagisa-style segmented text", () => {
  const ja = fixture.bleu.corpora.find((c) => c.name === "ja-segmented")!;
  const value = bleuCorpus(ja.hyps, ja.refs, { targetLanguage: "ja", preSegmented: true });
  assert.ok(Math.abs(value - ja.score) <= 1e-12 * ja.score);
});

test("raw Japanese gets word-segmented for a Japanese target (13a alone leaves whole sentences as one token)", () => {
  const raw = fixture.bleu.corpora.find((c) => c.name === "ja-raw")!;
  assert.equal(raw.score, 0, "sacrebleu 13a on unsegmented Japanese: no bigrams at all");
  assert.ok(bleuCorpus(raw.hyps, raw.refs, { targetLanguage: "ja" }) > 20);
  assert.equal(bleuCorpus(raw.hyps, raw.refs, { targetLanguage: "en" }), 0);
});

test("mismatched lengths are a SwallowError", () => {
  assert.throws(() => sacrebleuCorpus(["a"], []), SwallowError);
});
