/**
 * A backend with canned answers, for tests of tasks, the runner and the report: no model, deterministic,
 * and it records every request it was asked so tests can check what a task sent.
 */
import type { ChatRequest, EvalBackend, EvalRequest, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../types.js";

export interface FakeBackendAnswers {
  /** Log-likelihood of a pair; default: −(length of the continuation in characters), greedy. */
  loglikelihood?: (request: LoglikelihoodRequest) => LoglikelihoodResult | number;
  /** Generated text (before the `until` cut, which the fake applies); default "". */
  generate?: (request: GenerateRequest) => string;
  /** Chat reply; default "". */
  chat?: (request: ChatRequest) => string;
}

export class FakeBackend implements EvalBackend {
  /** Every request in the order it arrived. */
  readonly requests: EvalRequest[] = [];

  constructor(
    private readonly answers: FakeBackendAnswers = {},
    readonly id = "fake",
  ) {}

  async loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    this.requests.push(request);
    const answer = this.answers.loglikelihood?.(request) ?? -request.continuation.length;
    return typeof answer === "number" ? { logprob: answer, isGreedy: true } : answer;
  }

  async generateUntil(request: GenerateRequest): Promise<string> {
    this.requests.push(request);
    let text = this.answers.generate?.(request) ?? "";
    for (const stop of request.until) {
      const at = stop ? text.indexOf(stop) : -1;
      if (at >= 0) text = text.slice(0, at);
    }
    return text;
  }

  async chat(request: ChatRequest): Promise<string> {
    this.requests.push(request);
    return this.answers.chat?.(request) ?? "";
  }
}
