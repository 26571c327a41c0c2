import { SwallowError } from "../../errors.js";
import type { ChatRequest, EvalBackend, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../types.js";

/**
 * Several endpoints serving the same model as one backend (`swallow eval --endpoint URL1,URL2,…`): each request
 * goes to the endpoint with the fewest requests in flight, ties taken in turn, so N replicas give about N times
 * the throughput and a slow one gets less work. A request's result does not depend on where it went: every
 * endpoint serves the same model with the same length, and requests carry their own seeds.
 */
export class FanOutBackend implements EvalBackend {
  private readonly inFlight: number[];
  /** Where the search for the least busy endpoint starts: one past the last choice, so ties rotate. */
  private start = 0;

  constructor(private readonly backends: readonly EvalBackend[]) {
    if (backends.length === 0) throw new Error("FanOutBackend needs at least one backend");
    const ids = new Set(backends.map((b) => b.id));
    if (ids.size > 1) {
      throw new SwallowError(
        `the endpoints serve different models (${[...ids].join(", ")}); give endpoints of one model, or --served-model`,
      );
    }
    this.inFlight = backends.map(() => 0);
  }

  get id(): string {
    return this.backends[0].id;
  }

  /** Requests in flight per endpoint, in the order given (for tests and progress lines). */
  get load(): readonly number[] {
    return [...this.inFlight];
  }

  loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    return this.dispatch((backend) => backend.loglikelihood(request));
  }

  generateUntil(request: GenerateRequest): Promise<string> {
    return this.dispatch((backend) => backend.generateUntil(request));
  }

  chat(request: ChatRequest): Promise<string> {
    return this.dispatch((backend) => backend.chat(request));
  }

  private async dispatch<T>(call: (backend: EvalBackend) => Promise<T>): Promise<T> {
    const index = this.leastBusy();
    this.inFlight[index]++;
    try {
      return await call(this.backends[index]);
    } finally {
      this.inFlight[index]--;
    }
  }

  private leastBusy(): number {
    const n = this.backends.length;
    let best = this.start % n;
    for (let k = 1; k < n; k++) {
      const i = (this.start + k) % n;
      if (this.inFlight[i] < this.inFlight[best]) best = i;
    }
    this.start = best + 1;
    return best;
  }
}
