import { setTimeout as sleep } from "node:timers/promises";
import { SwallowError } from "../errors.js";

/** How often a failed request (network error, 5xx, 429) is tried before giving up. */
export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 10_000 };

/** What a request was for, so errors can say which repository, revision and file. */
export interface RequestContext {
  repoId: string;
  revision: string;
  /** The file, for resolve requests. */
  path?: string;
}

/** A response plus the Hub's own headers (those on the Hub's 302, before any CDN hop). */
export interface HubResponse {
  response: Response;
  /** Headers of the last response served by the Hub's host (X-Repo-Commit, ETag, X-Linked-Etag, …). */
  hubHeaders: Headers;
  /** Where `response` came from. */
  url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 10;

/** Backoff before attempt `attempt + 1` (attempt counts from 1): base · 2^(attempt-1), capped. */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

/** True for errors fetch raises when the connection failed or dropped (as opposed to an abort). */
export function isNetworkError(error: unknown): boolean {
  if (error instanceof SwallowError) return false;
  const name = (error as Error | undefined)?.name;
  return name !== "AbortError" && name !== "TimeoutError";
}

/** The code or message of a network failure, for one-line errors (`ECONNREFUSED`, `other side closed`, …). */
export function networkReason(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && !code.startsWith("UND_ERR")) return code;
    const cause = (current as Error).cause;
    if (!cause) return (current as Error).message ?? String(current);
    current = cause;
  }
  return String(error);
}

/**
 * Talks to the Hub: adds the token (only to the Hub's own origin, never to a CDN after a redirect),
 * follows redirects by hand, retries network failures and 5xx/429 answers with backoff, and turns
 * error statuses into one-line SwallowErrors that say what to do.
 */
export class HubClient {
  private readonly origin: string;

  constructor(
    readonly endpoint: string,
    private readonly token: string | undefined,
    readonly retry: RetryPolicy = DEFAULT_RETRY,
    /** Told about each retry, so a waiting user sees why (the CLI prints it on stderr). */
    readonly onRetry: (message: string) => void = () => {},
    private readonly userAgent = `swallow/0.1.0; node/${process.versions.node}`,
  ) {
    this.origin = new URL(endpoint).origin;
  }

  /** `{endpoint}/api/models/{repo}/revision/{revision}?blobs=true` */
  modelInfoUrl(repoId: string, revision: string): string {
    return `${this.endpoint}/api/models/${repoId}/revision/${encodeURIComponent(revision)}?blobs=true`;
  }

  /** `{endpoint}/{repo}/resolve/{revision}/{path}` with each path segment URL-encoded. */
  resolveUrl(repoId: string, revision: string, path: string): string {
    const encodedPath = path.split("/").map(encodeURIComponent).join("/");
    return `${this.endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
  }

  /** The repository's page, where a gated model's licence is accepted. */
  modelPageUrl(repoId: string): string {
    return `${this.endpoint}/${repoId}`;
  }

  async getJson(url: string, context: RequestContext, signal?: AbortSignal): Promise<unknown> {
    const { response } = await this.request(url, { method: "GET", context, signal, headers: { accept: "application/json" } });
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new SwallowError(
        `${this.endpoint} answered ${url} with something that is not JSON; check HF_ENDPOINT points at a Hugging Face Hub`,
      );
    }
  }

  /**
   * Sends a request, following redirects. With `stopAtForeignRedirect` (metadata HEADs) a redirect to
   * another host is not followed: its 3xx response is returned, carrying the Hub's headers. Error statuses
   * throw; network failures and 5xx are retried first.
   */
  async request(
    url: string,
    options: {
      method: "GET" | "HEAD";
      context: RequestContext;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      stopAtForeignRedirect?: boolean;
      /** Error statuses returned to the caller instead of thrown (e.g. 416 for a resume past the end). */
      allowStatuses?: number[];
    },
  ): Promise<HubResponse> {
    let current = new URL(url);
    let hubHeaders: Headers | undefined;
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const toHub = current.origin === this.origin;
      const headers: Record<string, string> = { "user-agent": this.userAgent, ...options.headers };
      if (toHub && this.token) headers.authorization = `Bearer ${this.token}`;
      const response = await this.fetchWithRetry(current, { method: options.method, headers, redirect: "manual", signal: options.signal });
      if (toHub) hubHeaders = response.headers;
      const location = response.headers.get("location");
      if (REDIRECTS.has(response.status) && location) {
        const next = new URL(location, current);
        if (options.stopAtForeignRedirect && next.origin !== this.origin) {
          return { response, hubHeaders: hubHeaders ?? response.headers, url: current };
        }
        await response.body?.cancel();
        current = next;
        continue;
      }
      if (!response.ok && !options.allowStatuses?.includes(response.status)) {
        const body = await response.text().catch(() => "");
        throw this.statusError(response, body, options.context, current);
      }
      return { response, hubHeaders: hubHeaders ?? response.headers, url: current };
    }
    throw new SwallowError(`${url}: more than ${MAX_REDIRECTS} redirects; check HF_ENDPOINT`);
  }

  /** fetch with retries for connection failures and retryable statuses (5xx, 429, 408). */
  private async fetchWithRetry(url: URL, init: RequestInit): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await fetch(url, init);
      } catch (error) {
        if (!isNetworkError(error) || init.signal?.aborted) throw error;
        if (attempt >= this.retry.attempts) throw this.networkError(url, error, attempt);
        const delayMs = backoffMs(this.retry, attempt);
        this.onRetry(
          `${url.host}: ${networkReason(error)}; retrying in ${formatDelay(delayMs)} (attempt ${attempt + 1} of ${this.retry.attempts})`,
        );
        await sleep(delayMs, undefined, { signal: init.signal ?? undefined });
        continue;
      }
      if (!RETRYABLE.has(response.status) || attempt >= this.retry.attempts) return response;
      await response.body?.cancel();
      const retryAfterMs = Number(response.headers.get("retry-after")) * 1000;
      const delayMs =
        Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.min(retryAfterMs, this.retry.maxDelayMs) : backoffMs(this.retry, attempt);
      this.onRetry(
        `${url.host} answered ${response.status}; retrying in ${formatDelay(delayMs)} (attempt ${attempt + 1} of ${this.retry.attempts})`,
      );
      await sleep(delayMs, undefined, { signal: init.signal ?? undefined });
    }
  }

  /** The one-line error for a connection that failed `attempts` times. */
  networkError(url: URL, error: unknown, attempts: number): SwallowError {
    const where =
      url.origin === this.origin ? `the Hub at ${this.endpoint}` : `${url.host} (the Hub's file storage, reached from ${this.endpoint})`;
    return new SwallowError(
      `cannot reach ${where} (${networkReason(error)}) after ${attempts} attempts; check the network, or set HF_ENDPOINT to a reachable Hub or mirror`,
      { cause: error },
    );
  }

  private statusError(response: Response, body: string, context: RequestContext, url: URL): SwallowError {
    const status = response.status;
    const code = response.headers.get("x-error-code") ?? "";
    const { repoId, revision, path } = context;
    const page = this.modelPageUrl(repoId);
    const tokenHint = `set HF_TOKEN (or pass --token) to a token from ${this.endpoint}/settings/tokens`;
    if (code === "RevisionNotFound") {
      return new SwallowError(
        `revision "${revision}" not found in ${repoId} (404 RevisionNotFound); pass --revision with an existing branch, tag or commit`,
      );
    }
    if (code === "EntryNotFound") {
      return new SwallowError(
        `file ${path ?? "?"} not found in ${repoId} at revision ${revision} (404 EntryNotFound); check the file name and --revision`,
      );
    }
    if (code === "GatedRepo") {
      return new SwallowError(
        this.token
          ? `${repoId} is gated and this token has no access (${status} GatedRepo); accept the licence on ${page} (and wait for approval), then run again`
          : `${repoId} is gated (${status} GatedRepo): ${tokenHint} and accept the licence on ${page}`,
      );
    }
    if (status === 401) {
      return new SwallowError(
        this.token
          ? `the Hub refused the token for ${repoId} (401${code ? ` ${code}` : ""}): check the token is valid and has read access, and that ${repoId} exists; for a gated model accept the licence on ${page}`
          : `${repoId} needs authentication (401${code ? ` ${code}` : ""}): it is gated, private or does not exist; ${tokenHint} and accept the licence on ${page}`,
      );
    }
    if (status === 403) {
      return new SwallowError(
        `access to ${repoId} denied (403${code ? ` ${code}` : ""}): the token lacks read access; accept the licence on ${page} or use another token`,
      );
    }
    if (code === "RepoNotFound" || (status === 404 && path === undefined)) {
      return new SwallowError(
        `repository ${repoId} not found on ${this.endpoint} (404 RepoNotFound); check the id (ORG/NAME, as on the model page)${this.token ? "" : ", and if it is private " + tokenHint}`,
      );
    }
    if (status === 404) {
      return new SwallowError(`file ${path} not found in ${repoId} at revision ${revision} (404 at ${url.host}); run the command again`);
    }
    const detail = hubErrorText(body);
    return new SwallowError(
      `${url.origin === this.origin ? `the Hub at ${this.endpoint}` : url.host} answered ${status}${detail ? ` (${detail})` : ""} for ${path ?? repoId}; try again later`,
    );
  }
}

/** The `error` field of the Hub's JSON error bodies, shortened to one line. */
function hubErrorText(body: string): string {
  let text = body;
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string") text = parsed.error;
  } catch {
    // Not JSON: use the body as it is.
  }
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > 160 ? `${line.slice(0, 157)}…` : line;
}

export function formatDelay(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 === 0 ? 0 : 1)} s` : `${ms} ms`;
}

/** An ETag header's value without `W/` and quotes. */
export function unquoteEtag(value: string | null): string | undefined {
  if (!value) return undefined;
  const stripped = value
    .replace(/^W\//, "")
    .replace(/^"(.*)"$/, "$1")
    .trim();
  return stripped || undefined;
}
