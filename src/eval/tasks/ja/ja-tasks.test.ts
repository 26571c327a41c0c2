import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

import { SwallowError } from "../../../errors.js";
import { fixturesDir } from "../../../../test/support/paths.js";
import { bleuCorpus } from "../../metrics/index.js";
import type { DatasetAccess, EvalTask, ItemOutcome } from "../../types.js";
import { CannedBackend } from "./fake-backend.js";
import { createXlsumJaTask, jaDatasets, jaTasks, llmjpPrediction, mgsmExtractAnswer } from "./index.js";

const dataDir = path.join(fixturesDir, "eval", "data");
const data: DatasetAccess = {
  dir(name) {
    const dir = path.join(dataDir, name);
    if (!existsSync(dir)) throw new SwallowError(`dataset ${name} not found; run \`swallow eval data download ${name}\``);
    return dir;
  },
};

interface GoldenRequest {
  itemId: string;
  kind: string;
  context: string;
  until: string[];
  maxTokens: number;
  addBos: boolean;
  temperature: number;
  maxContextTokens?: number;
}
interface GoldenExpected {
  itemId: string;
  output: string;
  prediction: string;
  gold: string;
  score?: number;
  subject?: string;
}
interface Golden {
  task: string;
  testSize: number;
  requests: GoldenRequest[];
  expected: GoldenExpected[];
  aggregate: number | null;
  fewShots?: { input: string; output: string }[];
  predictionCases?: { output: string; prediction: string }[];
  realTrainShuffle?: { n: number; first: number[] } | null;
  extractCases?: { completion: string; extracted: string }[];
}

function golden(task: string): Golden {
  return JSON.parse(readFileSync(path.join(fixturesDir, "eval", "golden", `${task}.json`), "utf8"));
}

function taskNamed(name: string): EvalTask {
  const task = jaTasks.find((t) => t.name === name);
  assert.ok(task, `task ${name} registered`);
  return task;
}

/** Loads the task on the fixtures, runs every item against canned outputs, and checks requests and outcomes. */
async function runAgainstGolden(task: EvalTask, g: Golden): Promise<ItemOutcome[]> {
  const backend = new CannedBackend(new Map(g.requests.map((r, i) => [r.context, g.expected[i].output])));
  const items = await task.load(data, {});
  assert.deepEqual(
    items.map((i) => i.itemId),
    g.requests.map((r) => r.itemId),
    "evaluation order",
  );
  const outcomes: ItemOutcome[] = [];
  for (const item of items) outcomes.push(await item.run({ model: backend }));
  // Prompts and generation settings byte for byte as the Python replay built them.
  assert.equal(backend.requests.length, g.requests.length);
  backend.requests.forEach((request, i) => {
    const { itemId, ...want } = g.requests[i];
    assert.equal(request.context, want.context, `${g.task} item ${itemId}: prompt`);
    assert.deepEqual({ ...request }, want, `${g.task} item ${itemId}: request`);
  });
  outcomes.forEach((outcome, i) => {
    const want = g.expected[i];
    assert.equal(outcome.itemId, want.itemId);
    assert.equal(outcome.prediction, want.prediction, `${g.task} item ${want.itemId}: prediction from ${JSON.stringify(want.output)}`);
    assert.equal(outcome.gold, want.gold, `${g.task} item ${want.itemId}: gold`);
  });
  return outcomes;
}

for (const name of ["jcommonsenseqa", "jemhopqa", "niilc", "jsquad", "jmmlu"]) {
  test(`${name}: prompts, extraction, per-item scores and aggregate equal the llm-jp-eval replay`, async () => {
    const g = golden(name);
    const task = taskNamed(name);
    const outcomes = await runAgainstGolden(task, g);
    const metric = task.metric;
    outcomes.forEach((o, i) => assert.equal(o.scores[metric], g.expected[i].score, `${name} item ${o.itemId}: ${metric}`));
    assert.ok(Math.abs(task.aggregate(outcomes) - (g.aggregate as number)) < 1e-12, `${name} aggregate`);
    if (name === "jmmlu") outcomes.forEach((o, i) => assert.equal(o.extra?.subject, g.expected[i].subject));
  });
}

test("llm-jp-eval answer extraction equals Python's split/strip/NFKC on edge cases", () => {
  const cases = golden("jemhopqa").predictionCases!;
  assert.ok(cases.length >= 5);
  for (const c of cases) assert.equal(llmjpPrediction(c.output), c.prediction, JSON.stringify(c.output));
});

test("llm-jp-eval few-shot draw on the real training-set sizes equals CPython's", async () => {
  const { llmjpTrainSplit } = await import("./llmjp/task.js");
  for (const name of ["jcommonsenseqa", "jsquad"]) {
    const want = golden(name).realTrainShuffle!;
    const indices = Array.from({ length: want.n }, (_, i) => i);
    assert.deepEqual(llmjpTrainSplit(indices).slice(0, want.first.length), want.first, name);
  }
});

test("sample formats reproduce the few-shots listed in shared/data/llm-jp-eval (JCom, JMMLU)", async () => {
  const { jcommonsenseqaSample, jmmluSample } = await import("./llmjp/datasets.js");
  const { sharedDir } = await import("../../../../test/support/paths.js");
  const listing = readFileSync(path.join(sharedDir, "data", "llm-jp-eval", "llmjp_fewshots_and_sizes.txt"), "utf8");
  // Lines look like: '質問：…\n選択肢：0.a,1.b,…' => '3'  (Python reprs of input and output)
  const pyRepr = /^'(.*)' => '(.*)'$/;
  let jcom = 0;
  let jmmlu = 0;
  for (const line of listing.split("\n")) {
    const m = pyRepr.exec(line);
    if (!m) continue;
    const input = m[1].replaceAll("\\n", "\n");
    const jc = /^質問：(.*)\n選択肢：0\.(.*),1\.(.*),2\.(.*),3\.(.*),4\.(.*)$/.exec(input);
    if (jc) {
      const row = { question: jc[1], choice0: jc[2], choice1: jc[3], choice2: jc[4], choice3: jc[5], choice4: jc[6], label: Number(m[2]) };
      assert.deepEqual(jcommonsenseqaSample(row), { input, output: m[2] });
      jcom++;
    }
    const mm = /^質問：(.*)\n選択肢：A\.(.*),B\.(.*),C\.(.*),D\.(.*)$/.exec(input);
    if (mm && !input.includes("...")) {
      assert.deepEqual(jmmluSample({ question: mm[1], A: mm[2], B: mm[3], C: mm[4], D: mm[5], answer: m[2] }), { input, output: m[2] });
      jmmlu++;
    }
  }
  assert.equal(jcom, 4);
  assert.ok(jmmlu >= 4);
});

test("mgsm: per-doc shot draws, stop at newline, number extraction and accuracy equal the harness replay", async () => {
  const g = golden("mgsm");
  const task = taskNamed("mgsm");
  const outcomes = await runAgainstGolden(task, g);
  outcomes.forEach((o, i) => assert.equal(o.scores.acc, g.expected[i].score));
  assert.equal(task.aggregate(outcomes), g.aggregate);
  for (const c of g.extractCases!) assert.equal(String(mgsmExtractAnswer(c.completion)), c.extracted, JSON.stringify(c.completion));
});

/** The fixtures' stand-in for the model tokenizer: one token per code point (the Python replay uses the same). */
const codePointTokenizer = {
  encode: (text: string) => Array.from(text, (c) => c.codePointAt(0)!),
  decode: (ids: readonly number[]) => String.fromCodePoint(...ids),
};

test("xlsum_ja: 1-shot prompts and cut predictions equal the harness replay; ROUGE-2 over the model tokenizer", async () => {
  const g = golden("xlsum_ja");
  const task = createXlsumJaTask();
  await assert.rejects(() => task.load(data, {}), /setTokenizer/);
  task.setTokenizer(codePointTokenizer);
  const outcomes = await runAgainstGolden(task, g);
  // The bootstrap mid of per-doc ROUGE-2 F over the tokenizer's ids, as computed by the Python replay.
  assert.equal(task.aggregate(outcomes), g.aggregate);
});

test("xlsum_ja: over-long contexts drop sentences per article exactly as XLSumJa.preprocess_ctx", async () => {
  const g = golden("xlsum_ja") as Golden & Record<string, { maxLength: number; contexts: string[] }>;
  for (const variant of [g.truncated, g.truncatedTiny]) {
    const task = createXlsumJaTask({ maxLength: variant.maxLength });
    task.setTokenizer(codePointTokenizer);
    const backend = new CannedBackend(new Map(variant.contexts.map((c) => [c, "要約"])));
    for (const item of await task.load(data, {})) await item.run({ model: backend });
    assert.deepEqual(
      backend.requests.map((r) => r.context),
      variant.contexts,
      `maxLength ${variant.maxLength}`,
    );
    assert.ok(
      variant.contexts.some((c, i) => c !== g.requests[i].context),
      "the variant really truncates",
    );
  }
});

for (const pair of ["en-ja", "ja-en"]) {
  test(`wmt20-${pair}: test-set shots without the current doc, stop at newline, corpus BLEU over predictions`, async () => {
    const g = golden(`wmt20-${pair}`);
    const task = taskNamed(`wmt20-${pair}`);
    const outcomes = await runAgainstGolden(task, g);
    const preds = g.expected.map((e) => e.prediction);
    const refs = g.expected.map((e) => e.gold);
    assert.equal(task.aggregate(outcomes), bleuCorpus(preds, refs, { targetLanguage: pair.split("-")[1] }) / 100);
  });
}

test("limit keeps the prefix of the framework's own order (JP harness draws included)", async () => {
  for (const name of ["mgsm", "wmt20-en-ja", "jcommonsenseqa"]) {
    const g = golden(name);
    const items = await taskNamed(name).load(data, { limit: 2 });
    assert.deepEqual(
      items.map((i) => i.itemId),
      g.requests.slice(0, 2).map((r) => r.itemId),
    );
    const backend = new CannedBackend(new Map(g.requests.map((r, i) => [r.context, g.expected[i].output])));
    for (const item of items) await item.run({ model: backend });
    assert.deepEqual(
      backend.requests.map((r) => r.context),
      g.requests.slice(0, 2).map((r) => r.context),
    );
  }
});

test("every task declares registered datasets; a missing dataset directory is a clear error", async () => {
  const names = new Set(jaDatasets.map((d) => d.name));
  for (const task of jaTasks) for (const d of task.datasets) assert.ok(names.has(d), `${task.name} → ${d}`);
  for (const spec of jaDatasets) {
    assert.ok(spec.license.length > 0 && spec.files.length > 0);
    for (const f of spec.files) assert.match(f.url, /^https?:\/\//);
  }
  const empty: DatasetAccess = {
    dir(name) {
      throw new SwallowError(`dataset ${name} is not downloaded; run \`swallow eval data download ${name}\``);
    },
  };
  await assert.rejects(() => taskNamed("niilc").load(empty, {}), /swallow eval data download niilc/);
});

test("a lone brace in llm-jp-eval's few-shot text is refused (the original's f-string template fails too)", async () => {
  const { llmjpPrompt, llmjpTemplate } = await import("./llmjp/prompt.js");
  const ok = llmjpTemplate("指示", [{ input: "{{a}}", output: "}}" }]);
  assert.ok(llmjpPrompt(ok, "{x}", "t").endsWith("### 入力:\n{a}\n\n### 応答:\n}\n\n### 入力:\n{x}\n\n### 応答:\n"));
  for (const bad of ["{a}", "{", "}", "{input!r}"]) {
    assert.throws(() => llmjpPrompt(llmjpTemplate("指示", [{ input: bad, output: "o" }]), "x", "t"), SwallowError, bad);
  }
});
