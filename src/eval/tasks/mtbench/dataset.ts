// Japanese MT-Bench data in FastChat's original JSON-lines formats, as published in Swallow's evaluation repository:
// question.jsonl ({question_id, category, turns}), reference_answer/<judge>.jsonl ({question_id, choices[0].turns}),
// judge_prompts.jsonl ({name, type, system_prompt, prompt_template, output_format}).

import { readFileSync } from "node:fs";
import path from "node:path";

import type { DatasetAccess, DatasetSpec } from "../../types.js";
import { SwallowError } from "../../../errors.js";
import { type JudgePrompt, SINGLE_JUDGE_PROMPTS } from "./judge.js";
import { CARD_JUDGE_MODEL, NEED_REF_CATS, categoryOfQuestionId } from "./settings.js";

/** swallow-llm/swallow-evaluation at the state the 70B v0.3 card was evaluated with (2024-12-26). */
const COMMIT = "3762f0d9db681a0b521cb06cc2f9ce07ab6ec341";
const BASE = `https://raw.githubusercontent.com/swallow-llm/swallow-evaluation/${COMMIT}/fastchat/fastchat/llm_judge/data`;

export const MTBENCH_DATASET_NAME = "japanese-mt-bench-3762f0d";
export const QUESTION_FILE = "question.jsonl";
export const REFERENCE_FILE = `reference_answer/${CARD_JUDGE_MODEL}.jsonl`;
export const JUDGE_PROMPTS_FILE = "judge_prompts.jsonl";

export const mtbenchDataset: DatasetSpec = {
  name: MTBENCH_DATASET_NAME,
  license: "Apache-2.0 (FastChat and swallow-evaluation; questions from Nejumi LLM Leaderboard NEO mtbench_ja_question v4)",
  homepage: "https://github.com/swallow-llm/swallow-evaluation",
  files: [
    { url: `${BASE}/japanese_mt_bench/question.jsonl`, path: QUESTION_FILE },
    { url: `${BASE}/japanese_mt_bench/${REFERENCE_FILE}`, path: REFERENCE_FILE },
    { url: `${BASE}/judge_prompts.jsonl`, path: JUDGE_PROMPTS_FILE },
  ],
};

export interface MtbenchQuestion {
  questionId: number;
  category: string;
  turns: string[];
}

/** Everything a run needs, read once per task load. */
export interface MtbenchData {
  questions: MtbenchQuestion[];
  /** choices[0].turns by question id (the last line wins for a repeated id, as FastChat's dict does). */
  references: Map<number, string[]>;
  judgePrompts: Map<string, JudgePrompt>;
}

type Row = Record<string, unknown>;

/** Parses a UTF-8 JSON-lines file; errors name the file and line and say how to get a good copy. */
function readJsonl(file: string): { line: number; row: Row }[] {
  const fail = (where: string, what: string) =>
    new SwallowError(`${where}: ${what}; run \`swallow eval data download ${MTBENCH_DATASET_NAME}\` to get a good copy`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(readFileSync(file));
  } catch (error) {
    throw fail(file, error instanceof TypeError ? "not valid UTF-8" : `cannot read (${(error as Error).message})`);
  }
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((source, i) => {
    let row: unknown;
    try {
      row = JSON.parse(source);
    } catch {
      throw fail(`${file}:${i + 1}`, "not a JSON object");
    }
    if (typeof row !== "object" || row === null || Array.isArray(row)) throw fail(`${file}:${i + 1}`, "not a JSON object");
    return { line: i + 1, row: row as Row };
  });
}

const isStringArray = (v: unknown, min: number): v is string[] =>
  Array.isArray(v) && v.length >= min && v.every((s) => typeof s === "string");

function badRow(file: string, line: number, what: string): SwallowError {
  return new SwallowError(`${file}:${line}: ${what}; run \`swallow eval data download ${MTBENCH_DATASET_NAME}\` to get a good copy`);
}

/** question.jsonl, in file order (FastChat's order). */
export function readQuestions(file: string): MtbenchQuestion[] {
  return readJsonl(file).map(({ line, row }) => {
    const { question_id: id, category, turns } = row;
    if (typeof id !== "number" || !Number.isInteger(id)) throw badRow(file, line, "question_id must be an integer");
    if (typeof category !== "string") throw badRow(file, line, "category must be a string");
    if (!isStringArray(turns, 1) || turns.length > 2) throw badRow(file, line, "turns must be a list of one or two strings");
    if (categoryOfQuestionId(id) !== category) {
      throw badRow(file, line, `question ${id} has category "${category}" but show_result.py files it under "${categoryOfQuestionId(id)}"`);
    }
    return { questionId: id, category, turns };
  });
}

/** reference_answer/<judge>.jsonl: `choices[0].turns` by question id. */
export function readReferences(file: string): Map<number, string[]> {
  const refs = new Map<number, string[]>();
  for (const { line, row } of readJsonl(file)) {
    const id = row.question_id;
    const choices = row.choices;
    const first = Array.isArray(choices) ? (choices[0] as Row | undefined) : undefined;
    if (typeof id !== "number" || !Number.isInteger(id)) throw badRow(file, line, "question_id must be an integer");
    if (typeof first !== "object" || first === null || !isStringArray(first.turns, 1)) {
      throw badRow(file, line, "choices[0].turns must be a list of strings");
    }
    refs.set(id, first.turns);
  }
  return refs;
}

/** judge_prompts.jsonl by name. */
export function readJudgePrompts(file: string): Map<string, JudgePrompt> {
  const prompts = new Map<string, JudgePrompt>();
  for (const { line, row } of readJsonl(file)) {
    const { name, type, system_prompt, prompt_template, output_format } = row;
    if (![name, type, system_prompt, prompt_template, output_format].every((v) => typeof v === "string")) {
      throw badRow(file, line, "name, type, system_prompt, prompt_template and output_format must be strings");
    }
    prompts.set(name as string, {
      name: name as string,
      type: type as string,
      systemPrompt: system_prompt as string,
      promptTemplate: prompt_template as string,
      outputFormat: output_format as string,
    });
  }
  return prompts;
}

/** Reads and cross-checks the dataset (FastChat's `check_data`: every reference category question has a reference). */
export function loadMtbenchData(data: DatasetAccess): MtbenchData {
  const dir = data.dir(MTBENCH_DATASET_NAME);
  const questions = readQuestions(path.join(dir, QUESTION_FILE));
  const refFile = path.join(dir, REFERENCE_FILE);
  const references = readReferences(refFile);
  const promptFile = path.join(dir, JUDGE_PROMPTS_FILE);
  const judgePrompts = readJudgePrompts(promptFile);
  for (const name of SINGLE_JUDGE_PROMPTS) {
    const prompt = judgePrompts.get(name);
    if (!prompt || prompt.type !== "single" || prompt.outputFormat !== "[[rating]]") {
      throw new SwallowError(
        `${promptFile}: no single-grading prompt "${name}" with output_format "[[rating]]"; run \`swallow eval data download ${MTBENCH_DATASET_NAME}\``,
      );
    }
  }
  for (const q of questions) {
    if (!NEED_REF_CATS.includes(q.category)) continue;
    const ref = references.get(q.questionId);
    if (!ref || ref.length < q.turns.length) {
      throw new SwallowError(
        `${refFile}: no reference answer with ${q.turns.length} turns for question ${q.questionId}; run \`swallow eval data download ${MTBENCH_DATASET_NAME}\``,
      );
    }
  }
  return { questions, references, judgePrompts };
}
