import { test } from "node:test";
import assert from "node:assert/strict";

import { SwallowError } from "../../../errors.js";
import { loadMtbenchData } from "./dataset.js";
import { buildJudgeMessages, judgePromptNameFor, pythonFormat } from "./judge.js";
import { NEED_REF_CATS } from "./settings.js";
import { fixtureData, golden } from "./golden.testkit.js";

const data = loadMtbenchData(fixtureData);

test("judge messages equal FastChat's play_a_match_single for every question, turn and run", () => {
  let checked = 0;
  for (const j of golden.judgments) {
    const question = data.questions.find((q) => q.questionId === j.questionId)!;
    assert.equal(judgePromptNameFor(question.category, j.turn), j.judgePrompt);
    const prompt = data.judgePrompts.get(j.judgePrompt)!;
    const answers = golden.answers.find((a) => a.questionId === j.questionId)!.choices;
    const referenceTurns = NEED_REF_CATS.includes(question.category) ? data.references.get(question.questionId) : undefined;
    j.calls.forEach((call, run) => {
      const messages = buildJudgeMessages(prompt, {
        questionTurns: question.turns,
        answerTurns: answers[run].turns,
        referenceTurns,
        turn: j.turn,
      });
      assert.deepEqual(messages, call.messages, `q${j.questionId} turn ${j.turn} run ${run}`);
      assert.equal(call.temperature, 0);
      assert.equal(call.maxTokens, 2048);
      checked++;
    });
  }
  assert.equal(checked, 50);
});

test("all four single-grading prompts were exercised, references only for math/reasoning/coding", () => {
  assert.deepEqual(
    new Set(golden.judgments.map((j) => j.judgePrompt)),
    new Set(["single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"]),
  );
  const math = golden.judgments.find((j) => j.questionId === 31 && j.turn === 2)!;
  assert.ok(math.calls[0].messages[1].content.includes("### Reference answer:"));
});

test("pythonFormat inserts values verbatim and rejects what str.format rejects", () => {
  assert.equal(pythonFormat("[{question}] {{x}}", { question: "$& {answer} $1" }), "[$& {answer} $1] {x}");
  assert.throws(() => pythonFormat("{missing}", {}), SwallowError);
  assert.throws(() => pythonFormat("a } b", {}), SwallowError);
  assert.throws(() => pythonFormat("{x!r}", { x: "1" }), SwallowError);
});
