// Test support for the MT-Bench tests (not a test itself): the golden vectors that scripts/eval/make_mtbench_golden.py
// produced by running FastChat's own modules, the fixture dataset directory, and fake backends.

import { readFileSync } from "node:fs";
import path from "node:path";

import { fixturesDir } from "../../../../test/support/paths.js";
import type { ChatRequest, ChatTurn, DatasetAccess, EvalBackend, GenerateRequest, LoglikelihoodResult } from "../../types.js";

export interface GoldenChoice {
  index: number;
  prompts: string[];
  chatMessages: ChatTurn[][];
  generation: { seed: number; doSample: boolean; temperature: number; maxNewTokens: number }[];
  rawOutputs: string[];
  turns: string[];
}

export interface GoldenSummaryEntry {
  score: number | "nan";
  stdev: number | "nan";
}
export type GoldenSummary = Record<string, Partial<Record<"first_turn" | "second_turn" | "average", GoldenSummaryEntry>>>;

export interface Golden {
  python: string;
  fastchat: string;
  specialTokens: string[];
  temperatureConfig: Record<string, number>;
  needRefCats: string[];
  categories: string[];
  answers: { questionId: number; category: string; choices: GoldenChoice[] }[];
  judgments: {
    questionId: number;
    turn: 1 | 2;
    judgePrompt: string;
    calls: { messages: ChatTurn[]; temperature: number; maxTokens: number; judgment: string }[];
    scores: number[];
  }[];
  fixtureSummary: GoldenSummary;
  ratingCases: { judgment: string; rating?: number; error?: string }[];
  aggregationCases: { name: string; rows: [number, 1 | 2, number[]][]; summary: GoldenSummary }[];
  numpySumCases: { values: number[]; sum: number }[];
  japaneseCharRatioCases: { answers: { questionId: number; turns: string[][] }[]; ratios: Record<string, number> }[];
}

export const golden: Golden = JSON.parse(readFileSync(path.join(fixturesDir, "eval", "golden", "jmtbench.json"), "utf8"));

/** JSON has no NaN: the script writes numpy's nan as "nan". */
export const goldenNumber = (x: number | "nan"): number => (x === "nan" ? NaN : x);

/** Serves the fixture copy of the dataset (real lines of question.jsonl / reference answers, the real judge_prompts.jsonl). */
export const fixtureData: DatasetAccess = { dir: (name) => path.join(fixturesDir, "eval", "data", name) };

/** A model that answers from the golden canned outputs, keyed by (prompt or messages, seed), and records requests. */
export class CannedModel implements EvalBackend {
  readonly id = "canned-model";
  readonly requests: (GenerateRequest | ChatRequest)[] = [];
  constructor(private readonly answers: Map<string, string>) {}
  static key(prompt: string | ChatTurn[], seed: number | undefined): string {
    return JSON.stringify([prompt, seed]);
  }
  async loglikelihood(): Promise<LoglikelihoodResult> {
    throw new Error("MT-Bench never scores log-likelihoods");
  }
  async generateUntil(request: GenerateRequest): Promise<string> {
    this.requests.push(request);
    return this.lookup(request.context, request.seed);
  }
  async chat(request: ChatRequest): Promise<string> {
    this.requests.push(request);
    return this.lookup(request.messages, request.seed);
  }
  private lookup(prompt: string | ChatTurn[], seed: number | undefined): string {
    const answer = this.answers.get(CannedModel.key(prompt, seed));
    if (answer === undefined) throw new Error(`no canned answer for ${JSON.stringify(prompt).slice(0, 300)} seed ${seed}`);
    return answer;
  }
}

/** Canned answers for every golden (prompt, run) and for the chat-template messages of the same conversations. */
export function cannedAnswers(): Map<string, string> {
  const map = new Map<string, string>();
  for (const q of golden.answers) {
    for (const c of q.choices) {
      c.prompts.forEach((p, t) => map.set(CannedModel.key(p, c.index), c.rawOutputs[t]));
      c.chatMessages.forEach((m, t) => map.set(CannedModel.key(m, c.index), c.rawOutputs[t]));
    }
  }
  return map;
}

/** A judge replying with the golden judgments, keyed by (messages, seed = run index). */
export function cannedJudgments(): Map<string, string> {
  const map = new Map<string, string>();
  for (const j of golden.judgments) j.calls.forEach((c, run) => map.set(CannedModel.key(c.messages, run), c.judgment));
  return map;
}
