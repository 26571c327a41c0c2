/**
 * JSON POSTs to an OpenAI-compatible server with a concurrency cap, a per-request timeout and retries with
 * exponential backoff + full jitter on 429, 5xx and network errors (Retry-After honoured), so a long
 * evaluation survives a busy or restarting server. Errors that retrying cannot fix fail at once, in one line.
 */
import { SwallowError } from "../../errors.js";
import { ConcurrencyLimiter, sleep } from "./limiter.js";

export interface HttpClientOptions {
  /** Base URL ending in /v1 (normalised by {@link normalizeBaseUrl}). */
  baseUrl: string;
  apiKey?: string;
  /** Requests in flight at once. Default 8. */
  concurrency?: number;
  /** Retries after the first attempt. Default 6. */
  maxRetries?: number;
  /** Per-attempt timeout in ms. Default 600 000 (long generations on a busy server). */
  timeoutMs?: number;
  /** First backoff in ms, doubled per retry, capped by `maxDelayMs`. Default 1000. */
  baseDelayMs?: number;
  /** Default 60 000. */
  maxDelayMs?: number;
}

/** An HTTP error response (status and the server's message), so callers can react to e.g. 400. */
export class HttpStatusError extends SwallowError {
  constructor(
    readonly status: number,
    readonly url: string,
    readonly serverMessage: string,
  ) {
    super(`POST ${url}: HTTP ${status}: ${serverMessage}`, { exitCode: 1 });
  }
}

/** Accepts `http://host:8000`, `http://host:8000/` or `http://host:8000/v1` and returns the `/v1` base. */
export function normalizeBaseUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new SwallowError(`--endpoint must be a URL like http://localhost:8000/v1, got "${endpoint}"`);
  }
  const base = url.toString().replace(/\/+$/, "");
  return base.endsWith("/v1") ? base : `${base}/v1`;
}

/** Parses Retry-After (seconds or an HTTP date) into ms; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null || header.trim() === "") return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

export class HttpClient {
  private readonly limiter: ConcurrencyLimiter;
  readonly baseUrl: string;

  constructor(private readonly options: HttpClientOptions) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl);
    this.limiter = new ConcurrencyLimiter(options.concurrency ?? 8);
  }

  /** POSTs `body` as JSON to `path` (e.g. "/completions") and returns the parsed JSON answer. */
  post(path: string, body: unknown): Promise<unknown> {
    return this.limiter.run(() => this.withRetries("POST", path, body));
  }

  get(path: string): Promise<unknown> {
    return this.limiter.run(() => this.withRetries("GET", path, undefined));
  }

  private async withRetries(method: string, path: string, body: unknown): Promise<unknown> {
    const url = `${this.baseUrl}${path}`;
    const maxRetries = this.options.maxRetries ?? 6;
    for (let attempt = 0; ; attempt++) {
      let waitMs: number | null = null;
      let failure: string;
      try {
        const response = await fetch(url, {
          method,
          headers: {
            "content-type": "application/json",
            ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 600_000),
        });
        const text = await response.text();
        if (response.ok) {
          try {
            return JSON.parse(text);
          } catch {
            throw new SwallowError(`${method} ${url}: the server's answer is not JSON: ${text.slice(0, 200)}`, { exitCode: 1 });
          }
        }
        const message = serverMessage(text);
        if (response.status !== 429 && response.status < 500) throw new HttpStatusError(response.status, url, message);
        failure = `HTTP ${response.status}: ${message}`;
        waitMs = retryAfterMs(response.headers.get("retry-after"));
      } catch (error) {
        if (error instanceof SwallowError) throw error;
        const e = error as Error & { cause?: { code?: string; message?: string } };
        failure =
          e.name === "TimeoutError" || e.name === "AbortError"
            ? `no answer within ${this.options.timeoutMs ?? 600_000} ms`
            : `network error: ${e.cause?.code ?? e.cause?.message ?? e.message}`;
      }
      if (attempt >= maxRetries) {
        throw new SwallowError(
          `${method} ${url} failed after ${attempt + 1} attempts: ${failure}; check that the server is up and not overloaded`,
          {
            exitCode: 1,
          },
        );
      }
      await sleep(waitMs ?? this.backoffMs(attempt));
    }
  }

  /** Full jitter: uniform in [0, min(max, base·2^attempt)], so many clients do not retry in lockstep. */
  private backoffMs(attempt: number): number {
    const cap = Math.min(this.options.maxDelayMs ?? 60_000, (this.options.baseDelayMs ?? 1000) * 2 ** attempt);
    return Math.random() * cap;
  }
}

/** The `error.message` of an OpenAI-style error body, else the body's start. */
function serverMessage(text: string): string {
  try {
    const json = JSON.parse(text) as { error?: { message?: string } | string; message?: string; detail?: unknown };
    const message = typeof json.error === "string" ? json.error : (json.error?.message ?? json.message ?? json.detail);
    if (message !== undefined) return String(typeof message === "string" ? message : JSON.stringify(message)).split("\n")[0];
  } catch {
    // not JSON: fall through
  }
  return text.slice(0, 200).split("\n")[0] || "(empty body)";
}
