import { test } from "node:test";
import assert from "node:assert/strict";

import type { ChatRequest, EvalBackend, GenerateRequest, ItemOutcome } from "../../types.js";
import { SwallowError } from "../../../errors.js";
import { createMtbenchTask, createMtbenchTasks, mtbenchDatasets, mtbenchTasks, summarizeOutcomes } from "./index.js";
import type { MtbenchItemExtra } from "./item.js";
import { CATEGORY_TITLES, type MtbenchCategory } from "./settings.js";
import { CannedModel, cannedAnswers, cannedJudgments, fixtureData, golden, goldenNumber } from "./golden.testkit.js";

// End to end on the fixture questions: a fake model answering with the golden canned outputs and a fake judge
// replying with the golden judgments; every request, answer, rating and aggregate is compared with what FastChat's
// own code produced for the same canned data (fixtures/eval/golden/jmtbench.json).

async function runAll(format: "fastchat" | "chat-template") {
  const model = new CannedModel(cannedAnswers());
  const judge = new CannedModel(cannedJudgments());
  const tasks = createMtbenchTasks({ answerFormat: format });
  const results = new Map<string, { outcomes: ItemOutcome[]; score: number }>();
  for (const task of tasks) {
    const items = await task.load(fixtureData, {});
    const outcomes = [];
    for (const item of items) outcomes.push(await item.run({ model, judge }));
    results.set(task.name, { outcomes, score: outcomes.length ? task.aggregate(outcomes) : NaN });
  }
  return { model, judge, results };
}

test("exports: eight category tasks in the mtbench suite and the dataset with its original URLs", () => {
  assert.deepEqual(
    mtbenchTasks.map((t) => t.name),
    ["coding", "extraction", "humanities", "math", "reasoning", "roleplay", "stem", "writing"].map((c) => `jmtbench_${c}`),
  );
  assert.ok(mtbenchTasks.every((t) => t.suite === "mtbench" && t.datasets[0] === mtbenchDatasets[0].name));
  assert.deepEqual(
    mtbenchDatasets[0].files.map((f) => f.path),
    ["question.jsonl", "reference_answer/gpt-4o-2024-08-06.jsonl", "judge_prompts.jsonl"],
  );
  assert.ok(mtbenchDatasets[0].files.every((f) => f.url.includes("swallow-evaluation/3762f0d9db681a0b521cb06cc2f9ce07ab6ec341/")));
  assert.notEqual(createMtbenchTask("math").version, createMtbenchTask("math", { answerFormat: "chat-template" }).version);
});

test("end to end (FastChat prompt strings): requests, answers, ratings and scores equal FastChat's", async () => {
  const { model, judge, results } = await runAll("fastchat");
  assert.equal(model.requests.length, 50);
  assert.equal(judge.requests.length, 50);
  for (const q of golden.answers) {
    const category = q.category as MtbenchCategory;
    const { outcomes, score } = results.get(`jmtbench_${category}`)!;
    assert.equal(outcomes.length, 1);
    const extra = outcomes[0].extra as unknown as MtbenchItemExtra;
    for (const choice of q.choices) {
      assert.deepEqual(extra.answers[choice.index], choice.turns);
      choice.prompts.forEach((prompt, t) => {
        const request = model.requests.find(
          (r) => r.kind === "generate" && r.context === prompt && r.seed === choice.index,
        ) as GenerateRequest;
        assert.ok(request, `no request for q${q.questionId} run ${choice.index} turn ${t + 1}`);
        const gen = choice.generation[t];
        assert.equal(request.maxTokens, gen.maxNewTokens);
        assert.equal(request.temperature, gen.doSample ? gen.temperature : 0);
        assert.equal(request.addBos, true); // the prompt's own BOS plus the tokenizer's: FastChat's double BOS
        assert.deepEqual(request.until, ["<|eot_id|>"]);
      });
    }
    const judged = golden.judgments.filter((j) => j.questionId === q.questionId);
    for (const j of judged) assert.deepEqual(extra.ratings[j.turn - 1], j.scores);
    assert.deepEqual(
      extra.judgePrompts,
      judged.map((j) => j.judgePrompt),
    );
    const want = goldenNumber(golden.fixtureSummary[CATEGORY_TITLES[category]].average!.score);
    assert.ok(Object.is(score, want / 10), `${category}: ${score} vs ${want}/10`);
  }
  for (const r of judge.requests as ChatRequest[]) {
    assert.equal(r.temperature, 0);
    assert.equal(r.maxTokens, 2048);
  }
  // Categories without fixture questions have no items.
  assert.equal(results.get("jmtbench_writing")!.outcomes.length, 0);
});

test("end to end (chat template): messages equal FastChat's to_openai_api_messages, same answers", async () => {
  const { model, results } = await runAll("chat-template");
  assert.ok(model.requests.every((r) => r.kind === "chat"));
  for (const q of golden.answers) {
    const extra = results.get(`jmtbench_${q.category}`)!.outcomes[0].extra as unknown as MtbenchItemExtra;
    for (const choice of q.choices) {
      assert.deepEqual(extra.answers[choice.index], choice.turns);
      for (const messages of choice.chatMessages) {
        const hit = model.requests.some(
          (r) => r.kind === "chat" && r.seed === choice.index && JSON.stringify(r.messages) === JSON.stringify(messages),
        );
        assert.ok(hit, `no chat request for q${q.questionId} run ${choice.index}`);
      }
    }
  }
});

test("the overall task aggregates all questions as show_result.py's 'overall'", async () => {
  const task = createMtbenchTask("overall");
  const items = await task.load(fixtureData, {});
  assert.equal(items.length, 5);
  const model = new CannedModel(cannedAnswers());
  const judge = new CannedModel(cannedJudgments());
  const outcomes = await Promise.all(items.map((item) => item.run({ model, judge })));
  assert.equal(task.aggregate(outcomes), goldenNumber(golden.fixtureSummary.overall.average!.score) / 10);
  assert.equal((await task.load(fixtureData, { limit: 2 })).length, 2);
});

test("no judge, or outcomes without ratings, give a clear SwallowError", async () => {
  const [item] = await createMtbenchTask("math").load(fixtureData, {});
  const model: EvalBackend = new CannedModel(cannedAnswers());
  await assert.rejects(item.run({ model }), (e: unknown) => e instanceof SwallowError && /--judge-endpoint/.test(e.message));
  const bare: ItemOutcome = { itemId: "31", scores: {}, prediction: "", gold: [] };
  assert.throws(() => createMtbenchTask("math").aggregate([bare]), SwallowError);
});

test("summarizeOutcomes gives show_result.py's table with the Japanese character ratio", async () => {
  const task = createMtbenchTask("overall");
  const model = new CannedModel(cannedAnswers());
  const judge = new CannedModel(cannedJudgments());
  const outcomes = await Promise.all((await task.load(fixtureData, {})).map((item) => item.run({ model, judge })));
  const summary = summarizeOutcomes(outcomes);
  const ratios = golden.japaneseCharRatioCases[0].ratios;
  assert.deepEqual(Object.keys(summary).sort(), Object.keys(golden.fixtureSummary).sort());
  for (const [group, want] of Object.entries(golden.fixtureSummary)) {
    assert.ok(Object.is(summary[group].average!.score, goldenNumber(want.average!.score)));
    assert.equal(summary[group].average!.japanese_char_ratio, ratios[group]);
  }
});
