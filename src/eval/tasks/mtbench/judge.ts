// Single-answer grading as gen_judgment.py (`make_judge_single`, mode=single) and common.py (`run_judge_single`)
// build it: which prompt of judge_prompts.jsonl, how its template is filled, and the chat messages sent to the judge.

import type { ChatTurn } from "../../types.js";
import { SwallowError } from "../../../errors.js";
import { NEED_REF_CATS } from "./settings.js";

/** One line of judge_prompts.jsonl (the fields single grading reads). */
export interface JudgePrompt {
  name: string;
  type: string;
  systemPrompt: string;
  promptTemplate: string;
  outputFormat: string;
}

/** The four prompts `make_judge_single` uses. */
export const SINGLE_JUDGE_PROMPTS = ["single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn"] as const;
export type SingleJudgePromptName = (typeof SINGLE_JUDGE_PROMPTS)[number];

/** gen_judgment.py: reference-based prompts for NEED_REF_CATS, multi-turn prompts for turn 2. */
export function judgePromptNameFor(category: string, turn: 1 | 2): SingleJudgePromptName {
  const math = NEED_REF_CATS.includes(category);
  if (turn === 1) return math ? "single-math-v1" : "single-v1";
  return math ? "single-math-v1-multi-turn" : "single-v1-multi-turn";
}

/**
 * Python `str.format(**fields)` for the plain `{name}` fields and `{{`/`}}` escapes judge templates use. Values
 * are inserted verbatim (no `$&`-style replacement patterns); a field the template names but `fields` lacks is a
 * KeyError in Python and an error here.
 */
export function pythonFormat(template: string, fields: Readonly<Record<string, string>>): string {
  let out = "";
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if ((c === "{" || c === "}") && template[i + 1] === c) {
      out += c;
      i += 2;
    } else if (c === "{") {
      const close = template.indexOf("}", i);
      const name = close < 0 ? "" : template.slice(i + 1, close);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
        throw new SwallowError(`judge prompt template has a field FastChat cannot fill near "${template.slice(i, i + 20)}"`);
      }
      if (!Object.hasOwn(fields, name)) throw new SwallowError(`judge prompt template needs {${name}}, which FastChat does not supply`);
      out += fields[name];
      i = close + 1;
    } else if (c === "}") {
      throw new SwallowError(`judge prompt template has a single '}' at offset ${i} (Python's str.format rejects it)`);
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** What one judge call grades: the question, one answer run and, for reference categories, the reference answer. */
export interface JudgeInput {
  questionTurns: readonly string[];
  answerTurns: readonly string[];
  /** choices[0].turns of the reference answer file; only for NEED_REF_CATS. */
  referenceTurns?: readonly string[];
  turn: 1 | 2;
}

/** `run_judge_single`'s user prompt: single-turn fields for turn 1, both turns for turn 2. */
export function buildJudgeUserPrompt(prompt: JudgePrompt, input: JudgeInput): string {
  const fields: Record<string, string> = {};
  if (input.referenceTurns) {
    fields.ref_answer_1 = input.referenceTurns[0];
    if (input.turn === 2) fields.ref_answer_2 = input.referenceTurns[1];
  }
  if (input.turn === 2) {
    fields.question_1 = input.questionTurns[0];
    fields.question_2 = input.questionTurns[1];
    fields.answer_1 = input.answerTurns[0];
    fields.answer_2 = input.answerTurns[1];
  } else {
    fields.question = input.questionTurns[0];
    fields.answer = input.answerTurns[0];
  }
  return pythonFormat(prompt.promptTemplate, fields);
}

/**
 * The judge's messages: FastChat's OpenAI conversation with the prompt's system message, then the user prompt
 * (`conv.to_openai_api_messages()`; the system message is never empty for these prompts).
 */
export function buildJudgeMessages(prompt: JudgePrompt, input: JudgeInput): ChatTurn[] {
  const messages: ChatTurn[] = [];
  if (prompt.systemPrompt !== "") messages.push({ role: "system", content: prompt.systemPrompt });
  messages.push({ role: "user", content: buildJudgeUserPrompt(prompt, input) });
  return messages;
}
