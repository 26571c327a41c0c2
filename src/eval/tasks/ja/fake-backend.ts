// A test backend that answers generate requests with canned raw outputs keyed by the exact prompt, cutting them at the
// first `until` string as a real backend does, and records every request it was sent.

import type { ChatRequest, EvalBackend, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../../types.js";

export class CannedBackend implements EvalBackend {
  readonly id = "canned";
  readonly requests: GenerateRequest[] = [];

  /** `outputs`: prompt (context) → the raw text the model would have generated, before any stop string. */
  constructor(private readonly outputs: ReadonlyMap<string, string>) {}

  async generateUntil(request: GenerateRequest): Promise<string> {
    this.requests.push(request);
    const raw = this.outputs.get(request.context);
    if (raw === undefined) throw new Error(`no canned output for prompt ${JSON.stringify(request.context.slice(-80))}`);
    let cut = raw.length;
    for (const stop of request.until) {
      const at = raw.indexOf(stop);
      if (at >= 0 && at < cut) cut = at;
    }
    return raw.slice(0, cut);
  }

  async loglikelihood(_request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    throw new Error("CannedBackend only answers generate requests");
  }

  async chat(_request: ChatRequest): Promise<string> {
    throw new Error("CannedBackend only answers generate requests");
  }
}
