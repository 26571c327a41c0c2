/**
 * Test helpers for the English tasks: a DatasetAccess over fixtures/eval/data and a fake EvalBackend that records
 * every request and answers with canned values.
 */
import path from "node:path";
import { readFileSync } from "node:fs";

import { fixturesDir } from "../../../../test/support/paths.js";
import type {
  ChatRequest,
  DatasetAccess,
  EvalBackend,
  EvalRequest,
  GenerateRequest,
  LoglikelihoodRequest,
  LoglikelihoodResult,
} from "../../types.js";

export const fixtureData: DatasetAccess = { dir: (name) => path.join(fixturesDir, "eval", "data", name) };

export interface GoldenItem {
  itemId: string;
  requests: EvalRequest[];
  canned: { logprobs?: number[]; output?: string; unanswerableLogprob?: number };
  expected: { prediction?: string; scores: Record<string, number> };
}

export interface GoldenFile {
  generator: string;
  task: string;
  aggregateKey: string;
  aggregate: number;
  items: GoldenItem[];
  metricVectors?: { prediction: string; golds: string[]; exact: number; f1: number }[];
  /** TriviaQA: the per-item score on edge cases (`error` where lm-eval itself fails); `perAlias` is the wrong way's. */
  scoreCases?: { output: string; aliases: string[]; prediction: string; exact_match?: number; perAlias?: number; error?: string }[];
}

export function readGolden(task: string): GoldenFile {
  return JSON.parse(readFileSync(path.join(fixturesDir, "eval", "golden", `${task}.json`), "utf8")) as GoldenFile;
}

/**
 * Answers loglikelihood requests with `logprobs` in request order and generate requests with `output`, and records
 * every request so a test can compare them with the golden ones.
 */
export class CannedBackend implements EvalBackend {
  readonly id = "canned";
  readonly requests: EvalRequest[] = [];
  private llIndex = 0;

  constructor(private readonly canned: GoldenItem["canned"]) {}

  async loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    this.requests.push(request);
    if (request.continuation === " unanswerable" && this.canned.unanswerableLogprob !== undefined) {
      return { logprob: this.canned.unanswerableLogprob, isGreedy: false };
    }
    const logprob = this.canned.logprobs?.[this.llIndex++];
    if (logprob === undefined) throw new Error("no canned logprob left");
    return { logprob, isGreedy: false };
  }

  async generateUntil(request: GenerateRequest): Promise<string> {
    this.requests.push(request);
    if (this.canned.output === undefined) throw new Error("no canned output");
    return this.canned.output;
  }

  async chat(_request: ChatRequest): Promise<string> {
    throw new Error("the English tasks never chat");
  }
}
