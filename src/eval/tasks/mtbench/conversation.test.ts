import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";

import { type ConversationTurn, buildChatMessages, buildFastchatLlama3Prompt } from "./conversation.js";
import { cleanAnswer, pythonStrip } from "./postprocess.js";
import { MTBENCH_DATASET_NAME, readQuestions } from "./dataset.js";
import { fixtureData, golden } from "./golden.testkit.js";

// Every prompt below was written by FastChat's gen_model_answer.py itself (the `prompts` of its answer file).

test("golden file comes from FastChat's own modules", () => {
  assert.match(golden.fastchat, /swallow-evaluation@3762f0d9/);
  assert.equal(golden.answers.length, 5);
  assert.ok(golden.answers.every((q) => q.choices.length === 5));
});

test("llama-3 prompt strings equal FastChat's for both turns, byte for byte", () => {
  let checked = 0;
  for (const q of golden.answers) {
    for (const choice of q.choices) {
      const conversation: ConversationTurn[] = [];
      choice.prompts.forEach((expected, t) => {
        conversation.push({ user: questionTurn(q.questionId, t), assistant: null });
        assert.equal(buildFastchatLlama3Prompt(conversation), expected, `q${q.questionId} run ${choice.index} turn ${t + 1}`);
        conversation[t].assistant = choice.turns[t];
        checked++;
      });
    }
  }
  assert.equal(checked, 50);
});

test("an empty turn-1 answer leaves no <|eot_id|> after its header, as FastChat's CALM2 style does", () => {
  const choice = golden.answers.find((q) => q.questionId === 51)!.choices[3];
  assert.equal(choice.turns[0], "");
  assert.ok(choice.prompts[1].includes("<|start_header_id|>assistant<|end_header_id|>\n\n<|start_header_id|>user"));
  const prompt = buildFastchatLlama3Prompt([
    { user: questionTurn(51, 0), assistant: "" },
    { user: questionTurn(51, 1), assistant: null },
  ]);
  assert.equal(prompt, choice.prompts[1]);
});

test("the prompt starts with <|begin_of_text|> itself (the tokenizer adds a second one)", () => {
  assert.ok(golden.answers[0].choices[0].prompts[0].startsWith("<|begin_of_text|><|start_header_id|>system"));
});

test("chat-template messages equal FastChat's to_openai_api_messages()", () => {
  for (const q of golden.answers) {
    for (const choice of q.choices) {
      choice.chatMessages.forEach((expected, t) => {
        const conversation: ConversationTurn[] = choice.turns
          .slice(0, t)
          .map((a, i) => ({ user: questionTurn(q.questionId, i), assistant: a }));
        conversation.push({ user: questionTurn(q.questionId, t), assistant: null });
        assert.deepEqual(buildChatMessages(conversation), expected);
      });
    }
  }
});

test("answer clean-up equals FastChat's (special tokens removed, Python strip)", () => {
  let checked = 0;
  for (const q of golden.answers) {
    for (const choice of q.choices) {
      choice.rawOutputs.forEach((raw, t) => {
        assert.equal(cleanAnswer(raw, golden.specialTokens), choice.turns[t], JSON.stringify(raw));
        checked++;
      });
    }
  }
  assert.equal(checked, 50);
});

test("pythonStrip strips what str.strip() strips (hand-checked against CPython 3.11)", () => {
  // ' \x1c\x1d\x1e\x1f\x85\ufeff\u200b\u3000a'.strip() == '\ufeff\u200b\u3000a' in CPython.
  assert.equal(pythonStrip(" \x1c\x1d\x1e\x1f\x85\ufeff\u200b\u3000a"), "\ufeff\u200b\u3000a");
  assert.equal(pythonStrip("\u3000 答え \t\n\u2003"), "答え");
  assert.equal(pythonStrip(" \n "), "");
});

const questions = readQuestions(path.join(fixtureData.dir(MTBENCH_DATASET_NAME), "question.jsonl"));

/** The fixture question's text for a turn (0-based), from question.jsonl. */
function questionTurn(questionId: number, turn: number): string {
  return questions.find((q) => q.questionId === questionId)!.turns[turn];
}
