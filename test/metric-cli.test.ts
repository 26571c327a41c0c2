import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "./support/cli.js";
import { fixturesDir, sharedDir } from "./support/paths.js";
import { rouge2BootstrapMid } from "../src/eval/metrics/index.js";

/**
 * `swallow metric NAME` (issue #5 item 7): JSON lines in, one {"score"} line per item and a final
 * {"metric","value"} line out; corpus metrics print only the final line; bad lines exit 2 naming the line.
 * Expected values come from the Python reference vectors in fixtures/eval/metrics/.
 */

const metricsDir = join(fixturesDir, "eval", "metrics");
const charF1 = JSON.parse(readFileSync(join(metricsDir, "char-f1-vectors.json"), "utf8")).cases as {
  pred: string;
  gold: string;
  expected_0_21: number;
}[];
const bleu = JSON.parse(readFileSync(join(metricsDir, "bleu-vectors.json"), "utf8")).bleu.corpora as {
  name: string;
  hyps: string[];
  refs: string[];
  score: number;
}[];

const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

test("--list prints every metric with a one-line description", async () => {
  const r = await runCli(["metric", "--list"]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  for (const name of [
    "llmjp.exact_match",
    "char_f1",
    "lmeval.exact_match",
    "jpharness.rouge2",
    "sacrebleu.bleu",
    "jpharness.bleu_ja",
    "pass@1",
  ]) {
    assert.ok(
      lines.some((l) => l.startsWith(`${name} `)),
      name,
    );
  }
});

test("char_f1: one score per line (fuzzywuzzy's values), then the mean", async () => {
  const cases = charF1.slice(0, 12);
  const input = cases.map((c) => JSON.stringify({ pred: c.pred, gold: c.gold })).join("\n") + "\n";
  const r = await runCli(["metric", "char_f1"], input);
  assert.equal(r.code, 0, r.stderr);
  const out = jsonLines(r.stdout);
  assert.equal(out.length, cases.length + 1);
  assert.deepEqual(
    out.slice(0, -1),
    cases.map((c) => ({ score: c.expected_0_21 / 100 })),
  );
  const mean = cases.reduce((s, c) => s + c.expected_0_21 / 100, 0) / cases.length;
  assert.equal(out.at(-1).metric, "char_f1");
  assert.ok(Math.abs(out.at(-1).value - mean) < 1e-15);
});

test("a list gold scores the best match", async () => {
  const r = await runCli(
    ["metric", "lmeval.exact_match_triviaqa"],
    `{"pred":"The Beatles!","gold":["Wings","the beatles"]}\n{"pred":"x","gold":["y"]}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(jsonLines(r.stdout), [{ score: 1 }, { score: 0 }, { metric: "lmeval.exact_match_triviaqa", value: 0.5 }]);
});

test("corpus BLEU prints only the final line, equal to sacrebleu", async () => {
  const c = bleu.find((v) => v.name === "en-basic")!;
  const input = c.hyps.map((h, i) => JSON.stringify({ pred: h, gold: c.refs[i] })).join("\n");
  const r = await runCli(["metric", "sacrebleu.bleu"], input);
  assert.equal(r.code, 0, r.stderr);
  const out = jsonLines(r.stdout);
  assert.equal(out.length, 1);
  assert.equal(out[0].metric, "sacrebleu.bleu");
  assert.ok(Math.abs(out[0].value - c.score) < 1e-12 * c.score);
});

test("squad_v2.exact: an empty gold list is an unanswerable question", async () => {
  const r = await runCli(
    ["metric", "squad_v2.exact"],
    `{"pred":"unanswerable","gold":[]}\n{"pred":"","gold":[]}\n{"pred":"The Eiffel Tower","gold":["Eiffel Tower"]}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  const out = jsonLines(r.stdout);
  assert.deepEqual(out.slice(0, 3), [{ score: 0 }, { score: 1 }, { score: 1 }]);
  assert.ok(Math.abs(out[3].value - 200 / 3) < 1e-12, "0–100 scale");
});

test("pass@1 reads {n, c}", async () => {
  const r = await runCli(["metric", "pass@1"], `{"n":10,"c":3}\n{"n":10,"c":10}\n`);
  assert.equal(r.code, 0, r.stderr);
  const out = jsonLines(r.stdout);
  assert.ok(Math.abs(out[0].score - 0.3) < 1e-15 && out[1].score === 1);
  assert.ok(Math.abs(out[2].value - 0.65) < 1e-15);
});

test("jpharness.rouge2 tokenises with --model's tokenizer and needs it", async () => {
  const missing = await runCli(["metric", "jpharness.rouge2"], `{"pred":"a","gold":"a"}\n`);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--model/);
  const model = join(sharedDir, "data", "llama3-tokenizer");
  const r = await runCli(
    ["metric", "jpharness.rouge2", "--model", model],
    `{"pred":"東京都に行きました。","gold":"東京都に行きました。"}\n{"pred":"","gold":"東京都に行きました。"}\n`,
  );
  assert.equal(r.code, 0, r.stderr);
  // identical texts → F = 1; empty prediction → no bigrams → F = 0; value = the harness's seeded bootstrap mid
  // (rouge2BootstrapMid is parity-tested against numpy in src/eval/metrics/rouge.test.ts).
  assert.deepEqual(jsonLines(r.stdout), [{ score: 1 }, { score: 0 }, { metric: "jpharness.rouge2", value: rouge2BootstrapMid([1, 0]) }]);
});

test("bad input exits 2 with one line naming the stdin line", async () => {
  for (const [input, pattern] of [
    [`{"pred":"a","gold":"a"}\nnot json\n`, /stdin line 2: not JSON/],
    [`{"pred":"a","gold":"a"}\n\n{"pred":1,"gold":"a"}\n`, /stdin line 3: "pred" must be a string/],
    [`{"pred":"a","gold":[]}\n`, /stdin line 1: char_f1: "gold" is an empty list/],
    [`[1,2]\n`, /stdin line 1: expected a JSON object/],
  ] as const) {
    const r = await runCli(["metric", "char_f1"], input);
    assert.equal(r.code, 2, input);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
  }
  const corpus = await runCli(["metric", "sacrebleu.bleu"], `{"pred":"a","gold":["a","b"]}\n`);
  assert.equal(corpus.code, 2);
  assert.match(corpus.stderr, /stdin line 1: "gold" must be one reference string/);
  const unknown = await runCli(["metric", "bleu"], "");
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown metric "bleu"; known: .*char_f1/);
  const noName = await runCli(["metric"], "");
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /give exactly one metric name/);
  const empty = await runCli(["metric", "char_f1"], "");
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no items on stdin/);
  const acc = await runCli(["metric", "lmeval.acc"], `{"logprobs":[-1,-2],"gold":5}\n`);
  assert.equal(acc.code, 2);
  assert.match(acc.stderr, /stdin line 1: .*"gold" must be a choice index/);
});
