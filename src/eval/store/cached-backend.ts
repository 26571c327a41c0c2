/**
 * A memoising EvalBackend: each answer is stored before it is returned, so rerunning an interrupted evaluation
 * sends only the requests that never got an answer. Keys carry the task's name@version, so a changed prompt
 * or filter (a bumped version) never reuses old answers.
 */
import type { ChatRequest, EvalBackend, EvalRequest, GenerateRequest, LoglikelihoodRequest, LoglikelihoodResult } from "../types.js";
import { canonicalJson } from "./canonical-json.js";
import type { ResultStore } from "./result-store.js";

export class CachedBackend implements EvalBackend {
  /** Identical requests in flight at once share one call (few-shot tasks often repeat a request). */
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Answers taken from the store rather than the inner backend. */
  hits = 0;
  misses = 0;

  constructor(
    private readonly inner: EvalBackend,
    private readonly store: ResultStore,
    /** `name@version` of the task whose requests these are. */
    private readonly taskKey: string,
  ) {}

  get id(): string {
    return this.inner.id;
  }

  loglikelihood(request: LoglikelihoodRequest): Promise<LoglikelihoodResult> {
    return this.memo(request, () => this.inner.loglikelihood(request));
  }

  generateUntil(request: GenerateRequest): Promise<string> {
    return this.memo(request, () => this.inner.generateUntil(request));
  }

  chat(request: ChatRequest): Promise<string> {
    return this.memo(request, () => this.inner.chat(request));
  }

  private memo<T>(request: EvalRequest, call: () => Promise<T>): Promise<T> {
    const key = canonicalJson(request);
    const stored = this.store.response(this.inner.id, this.taskKey, key);
    if (stored !== undefined) {
      this.hits++;
      return Promise.resolve(stored as T);
    }
    const pending = this.inFlight.get(key);
    if (pending) return pending as Promise<T>;
    this.misses++;
    const promise = call().then(
      (answer) => {
        this.store.saveResponse(this.inner.id, this.taskKey, key, answer);
        this.inFlight.delete(key);
        return answer;
      },
      (error: unknown) => {
        this.inFlight.delete(key);
        throw error;
      },
    );
    this.inFlight.set(key, promise);
    return promise;
  }
}
