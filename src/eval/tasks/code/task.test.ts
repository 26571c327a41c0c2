import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";

import type { ChatRequest, DatasetAccess, EvalBackend, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../../types.js";
import { SwallowError } from "../../../errors.js";
import { PythonSandbox } from "../../code/sandbox.js";
import { fixturesDir } from "../../../../test/support/paths.js";
import { codeTask, humanevalConfig, jhumanevalConfig } from "./index.js";
import { HUMANEVAL_DATASET } from "./humaneval.js";
import { JHUMANEVAL_DATASET } from "./jhumaneval.js";
import { STOP_WORDS } from "./settings.js";

const fixtureData: DatasetAccess = {
  dir: (name) =>
    path.join(fixturesDir, "eval", "code", { [HUMANEVAL_DATASET]: "openai-humaneval", [JHUMANEVAL_DATASET]: "jhumaneval" }[name]!),
};

// Canned completions by function name and sample (seed). Raw model text: not cut at the stop words, so the task's own
// post-processing is exercised too. Hand-counted passes per problem: add_ints 10, count_vowels 3, running_sum 9, second_largest 0.
const RUNNING_SUM = "    total = 0\n    out = []\n    for n in numbers:\n        total += n\n        out.append(total)\n    return out\n";
const CANNED: Record<string, string[]> = {
  add_ints: Array(10).fill("    return a + b\n"),
  count_vowels: [
    ...Array(3).fill("    return sum(1 for ch in text.lower() if ch in 'aeiou')\n"),
    ...Array(7).fill("    return len(text)\n"),
  ],
  running_sum: [
    ...Array(8).fill(RUNNING_SUM + "\n\ndef helper():\n    raise SystemExit('not cut at \\\\ndef')\n"),
    RUNNING_SUM + "\nif True:\n    raise RuntimeError('not cut at \\\\nif')\n",
    "    while True:\n        pass\n",
  ],
  second_largest: ["    return (\n", "    return max(numbers)\n", "    exit(0)\n", ...Array(7).fill("    return sorted(numbers)[-2]\n")],
};
const EXPECTED_CORRECT: Record<string, number> = { add_ints: 10, count_vowels: 3, running_sum: 9, second_largest: 0 };

class FakeBackend implements EvalBackend {
  readonly id = "fake-code-model";
  readonly requests: GenerateRequest[] = [];

  async generateUntil(request: GenerateRequest): Promise<string> {
    this.requests.push(request);
    const name = [...request.context.matchAll(/def (\w+)\(/g)].at(-1)![1];
    return CANNED[name][request.seed!];
  }
  async loglikelihood(_request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    throw new Error("code tasks only generate");
  }
  async chat(_request: ChatRequest): Promise<string> {
    throw new Error("code tasks only generate");
  }
}

const sandbox = new PythonSandbox({ concurrency: 2 });

test("HumanEval end to end on fixtures: prompts, sampling settings, post-processing, sandboxed tests, pass@1", async () => {
  const task = codeTask(humanevalConfig, { sandbox: () => sandbox });
  assert.deepEqual([task.name, task.suite, task.metric, task.datasets], ["humaneval", "en", "pass@1", [HUMANEVAL_DATASET]]);
  const items = await task.load(fixtureData, {});
  assert.deepEqual(
    items.map((i) => i.itemId),
    ["HumanEval/0", "HumanEval/1", "HumanEval/2", "HumanEval/3"],
  );
  const model = new FakeBackend();
  const outcomes = [];
  for (const item of items) outcomes.push(await item.run({ model }));

  for (const outcome of outcomes) {
    const name = /check\((\w+)\)$/.exec(outcome.gold as string)![1];
    assert.equal(outcome.extra!.correct, EXPECTED_CORRECT[name], `${name}: ${JSON.stringify(outcome.extra!.results)}`);
    // pass@1 = c/n up to rounding (numpy's product formula gives 0.30000000000000004 for c = 3).
    assert.ok(Math.abs(outcome.scores["pass@1"] - EXPECTED_CORRECT[name] / 10) < 1e-15, `${name}: ${outcome.scores["pass@1"]}`);
  }
  // (10 + 3 + 9 + 0) / 10 / 4, counted by hand above.
  assert.ok(Math.abs(task.aggregate(outcomes) - 0.55) < 1e-12, String(task.aggregate(outcomes)));

  const running = outcomes[2].extra!;
  assert.equal((running.results as string[]).filter((r) => r === "timed out").length, 1);
  assert.ok(!(running.candidates as string[])[0].includes("helper"), "the completion is cut at the first stop word");
  const failures = (outcomes[3].extra!.results as string[]).slice(0, 3);
  assert.match(failures[0], /^failed: .*(never closed|unexpected EOF)/); // SyntaxError
  assert.equal(failures[1], "failed: "); // AssertionError without message
  assert.equal(failures[2], "failed: 'NoneType' object is not callable"); // exit = None, as reliability_guard does

  // The prompt is sent unstripped (it ends with "\n"), with bigcode's sampling settings and one seed per sample.
  const first = model.requests.filter((r) => r.context.includes("def add_ints("));
  assert.equal(first.length, 10);
  assert.ok(first[0].context.endsWith('    """\n'));
  assert.deepEqual(
    first.map((r) => r.seed).sort((a, b) => a! - b!),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.deepEqual(
    {
      until: first[0].until,
      temperature: first[0].temperature,
      topP: first[0].topP,
      addBos: first[0].addBos,
      maxTokens: first[0].maxTokens,
    },
    {
      until: ["\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", "<file_sep>"],
      temperature: 0.2,
      topP: 0.95,
      addBos: true,
      maxTokens: 1024,
    },
  );
  assert.deepEqual(STOP_WORDS, first[0].until);
});

test("JHumanEval prompts with the Japanese docstrings but runs openai_humaneval's tests", async () => {
  const task = codeTask(jhumanevalConfig, { sandbox: () => sandbox });
  assert.deepEqual([task.name, task.suite, task.displayName], ["jhumaneval", "ja", "JHumanEval"]);
  const items = await task.load(fixtureData, { limit: 2 });
  assert.deepEqual(
    items.map((i) => i.itemId),
    ["JHumanEval/0", "JHumanEval/1"],
  );
  const model = new FakeBackend();
  const outcomes = await Promise.all(items.map((item) => item.run({ model })));
  assert.ok(
    model.requests.every((r) => /[ぁ-んァ-ン一-龥]/.test(r.context)),
    "prompts carry the Japanese docstrings",
  );
  // With the fixture's own JHumanEval `test` field every candidate would fail (see fixtures/eval/code/README.md).
  assert.deepEqual(
    outcomes.map((o) => o.extra!.correct),
    [10, 3],
  );
  assert.ok(Math.abs(task.aggregate(outcomes) - 0.65) < 1e-12);
});

test("bad dataset files get a one-line error naming the file and line", async () => {
  const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const dir = mkdtempSync(path.join(tmpdir(), "code-task-"));
  const data: DatasetAccess = { dir: () => dir };
  const task = codeTask(humanevalConfig, { sandbox: () => sandbox });
  const file = path.join(dir, "HumanEval.jsonl.gz");
  const good = JSON.stringify({ task_id: "HumanEval/0", prompt: "def f():\n", entry_point: "f", canonical_solution: "", test: "" });
  try {
    for (const [content, pattern] of [
      [`${good}\n{"task_id": "HumanEval/1", "prompt": "x"}\n`, /HumanEval\.jsonl\.gz:2: field "entry_point" is missing/],
      [`${good}\nnot json\n`, /HumanEval\.jsonl\.gz:2: not a JSON object/],
      [Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), /HumanEval\.jsonl\.gz: not valid UTF-8/],
    ] as const) {
      writeFileSync(file, content);
      await assert.rejects(task.load(data, {}), (error: unknown) => {
        assert.ok(error instanceof SwallowError, String(error));
        assert.match(error.message, pattern);
        assert.match(error.message, /swallow eval data download openai-humaneval/);
        assert.ok(!error.message.includes("\n"));
        return true;
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
