import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { allTasks } from "../tasks/index.js";
import type { RunRecord } from "../store/result-store.js";
import { buildReport, reportJson, reportMarkdown } from "./tables.js";
import { reportSvg } from "./chart.js";
import { writeReport } from "./write.js";

// Llama 3.1 Swallow 70B Instruct v0.3 on the Swallow site (spec §0, swallow-llm/evaluation assets/data.js).
const swallow: RunRecord = {
  runId: "Llama-3.1-Swallow-70B-Instruct-v0.3",
  backendId: "site",
  updatedAt: "2024-12-30T00:00:00Z",
  meta: {},
  scores: {
    jcommonsenseqa: 0.9651,
    jemhopqa: 0.6322,
    niilc: 0.6532,
    jsquad: 0.9107,
    xlsum_ja: 0.1951,
    mgsm: 0.752,
    "wmt20-en-ja": 0.3053,
    "wmt20-ja-en": 0.258,
    jmmlu: 0.6896,
    jhumaneval: 0.6006,
    openbookqa: 0.454,
    triviaqa: 0.8245,
    hellaswag: 0.6915,
    squadv2: 0.4082,
    xwinograd_en: 0.9187,
    mmlu: 0.777,
    gsm8k: 0.8726,
    bbh_cot_fewshot: 0.8148,
    humaneval: 0.6378,
    jmtbench_coding: 0.6063,
    jmtbench_extraction: 0.8052,
    jmtbench_humanities: 0.841,
    jmtbench_math: 0.5591,
    jmtbench_reasoning: 0.628,
    jmtbench_roleplay: 0.7774,
    jmtbench_stem: 0.692,
    jmtbench_writing: 0.7832,
  },
};
const partial: RunRecord = {
  runId: "my-finetune",
  backendId: "x",
  updatedAt: "2025-01-01T00:00:00Z",
  meta: {},
  scores: { jcommonsenseqa: 0.5, mmlu: 0.25 },
};

test("the averages reproduce the site's Ja Avg 0.5962, En Avg 0.711 and JMT Avg 0.7115", () => {
  const report = buildReport([swallow], allTasks());
  const avg = Object.fromEntries(report.tables.map((t) => [t.suite, t.rows[0].average]));
  assert.ok(Math.abs(avg.ja! - 0.5962) < 5e-5, String(avg.ja));
  assert.ok(Math.abs(avg.en! - 0.711) < 5e-5, String(avg.en));
  assert.ok(Math.abs(avg.mtbench! - 0.7115) < 5e-5, String(avg.mtbench));
});

test("columns follow the card's order and names; incomplete tables get no average", () => {
  const report = buildReport([swallow, partial], allTasks());
  assert.deepEqual(
    report.tables.map((t) => t.columns.map((c) => c.displayName)),
    [
      ["JCom.", "JEMHopQA", "NIILC", "JSQuAD", "XL-Sum", "MGSM", "WMT20 (en-ja)", "WMT20 (ja-en)", "JMMLU", "JHumanEval"],
      ["OpenBookQA", "TriviaQA", "HellaSwag", "SQuAD2", "XWINO", "MMLU", "GSM8K", "BBH", "HumanEval"],
      ["Coding", "Extraction", "Humanities", "Math", "Reasoning", "Roleplay", "STEM", "Writing"],
    ],
  );
  const md = reportMarkdown(report);
  assert.match(md, /\| Model \| JCom\. \| JEMHopQA \|.*\| JHumanEval \| Ja Avg \|/);
  assert.match(md, /\| Llama-3\.1-Swallow-70B-Instruct-v0\.3 \| 0\.9651 \| 0\.6322 \|/);
  assert.match(md, /\| my-finetune \| 0\.5000 \| – \| – \| – \| – \| – \| – \| – \| – \| – \| – \|/);
  // The partial run has no MT-Bench score, so it has no MT-Bench row.
  assert.equal(report.tables[2].rows.length, 1);
  const json = JSON.parse(reportJson(report));
  assert.equal(json.tables[1].rows[1].scores.mmlu, 0.25);
  assert.equal(json.tables[1].rows[1].average, null);
});

test("the SVG chart has one bar per run and score, escaped labels, and a fixed 0–1 axis", () => {
  const report = buildReport([swallow, { ...partial, runId: "a<b>&c" }], allTasks());
  const svg = reportSvg(report);
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  const bars = svg.match(/<rect x="[\d.]+" y="[\d.]+" width="10"/g) ?? [];
  // Swallow: 27 scores + 3 averages; the partial run: 2 scores.
  assert.equal(bars.length, 32);
  assert.ok(svg.includes("a&lt;b&gt;&amp;c"));
  assert.ok(!svg.includes("a<b>"));
  // JCom. 0.9651 on a 180-px plot: height 173.7.
  assert.match(svg, /height="173\.7" fill="#4e79a7"><title>Llama-3\.1-Swallow-70B-Instruct-v0\.3 · JCom\.: 0\.9651/);
});

test("writeReport writes the three files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-report-"));
  try {
    const files = writeReport(dir, buildReport([swallow], allTasks()));
    assert.match(readFileSync(files.markdown, "utf8"), /## Japanese MT-Bench/);
    assert.equal(JSON.parse(readFileSync(files.json, "utf8")).tables.length, 3);
    assert.match(readFileSync(files.svg, "utf8"), /<\/svg>\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
