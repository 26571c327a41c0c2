import { isAuthorized } from "./auth.js";
import { handleChatCompletion } from "./chat-route.js";
import { engineError } from "./choices.js";
import { handleCompletion } from "./completion-route.js";
import { errorBody, HttpError } from "./http-error.js";
import { ServerMetrics } from "./metrics.js";
import { CHAT_PAGE_HTML } from "./page/chat-page.js";
import { handleDetokenize, handleTokenize } from "./tokenize-route.js";
import type { ServedModel } from "./served-model.js";

/** A request as the app sees it: no socket, so routes are tested by calling {@link App.handle} (Hono's `app.request()`). */
export interface AppRequest {
  method: string;
  /** Path with the query string, e.g. `/v1/models`. */
  path: string;
  /** Header names in lower case. */
  headers: Record<string, string | undefined>;
  body?: string;
  /** Aborted when the client goes away; the engine requests of this HTTP request are aborted with it. */
  signal?: AbortSignal;
}

export interface AppResponse {
  status: number;
  headers: Record<string, string>;
  /** A whole body, or SSE text chunks to write as they come. */
  body: string | AsyncIterable<string>;
}

export interface AppOptions {
  /** The name clients pass as `model` and /v1/models lists. */
  servedModelName: string;
  /** With a key, every /v1/* route requires `Authorization: Bearer KEY`. */
  apiKey?: string;
  /** Send Access-Control-Allow-* headers (off unless asked: a browser page on another origin cannot call the API). */
  cors?: boolean;
}

/** What a route handler gets besides the parsed body. */
export interface RouteContext {
  model: ServedModel;
  modelName: string;
  metrics: ServerMetrics;
  /** Aborts this HTTP request's engine requests (client disconnect, a failed sibling choice, shutdown). */
  controller: AbortController;
}

const JSON_HEADERS = { "Content-Type": "application/json" };

/** The OpenAI-compatible API and the chat page over one {@link ServedModel}. */
export class App {
  readonly metrics = new ServerMetrics();
  private model: ServedModel | null = null;
  private draining = false;
  private readonly inFlight = new Set<AbortController>();
  private readonly createdS = Math.floor(Date.now() / 1000);

  constructor(private readonly options: AppOptions) {}

  /** Makes the model available; until then /health and /v1/* answer 503. */
  setModel(model: ServedModel): void {
    this.model = model;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Stops taking generation requests (503); with `abortRunning`, cancels the ones in flight. */
  drain(abortRunning: boolean): void {
    this.draining = true;
    if (abortRunning) for (const controller of this.inFlight) controller.abort();
  }

  async handle(request: AppRequest): Promise<AppResponse> {
    const path = request.path.split("?")[0];
    let response: AppResponse;
    try {
      response = await this.route(request, path);
    } catch (error) {
      response = errorResponse(error);
    }
    this.metrics.countRequest(KNOWN_ROUTES.has(path) ? path : "other", response.status);
    if (this.options.cors) Object.assign(response.headers, CORS_HEADERS);
    return response;
  }

  private async route(request: AppRequest, path: string): Promise<AppResponse> {
    if (request.method === "OPTIONS" && this.options.cors) return { status: 204, headers: {}, body: "" };
    if (isProtected(path) && this.options.apiKey !== undefined && !isAuthorized(request.headers.authorization, this.options.apiKey)) {
      throw new HttpError(401, "missing or wrong API key: send the header `Authorization: Bearer KEY` with the server's --api-key", {
        headers: { "WWW-Authenticate": "Bearer" },
      });
    }
    const allow = ROUTE_METHODS[path];
    if (!allow) throw new HttpError(404, `no route ${request.method} ${path}; routes: ${Object.keys(ROUTE_METHODS).join(", ")}`);
    if (allow !== request.method) throw new HttpError(405, `${path} takes ${allow}, not ${request.method}`, { headers: { Allow: allow } });
    switch (path) {
      case "/":
        return { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" }, body: CHAT_PAGE_HTML };
      case "/health":
        if (!this.model || this.draining)
          return { status: 503, headers: JSON_HEADERS, body: JSON.stringify({ status: this.draining ? "shutting down" : "loading" }) };
        return { status: 200, headers: JSON_HEADERS, body: JSON.stringify({ status: "ok" }) };
      case "/metrics":
        return {
          status: 200,
          headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" },
          body: this.metrics.render(this.options.servedModelName, this.model?.engine.stats() ?? null),
        };
      case "/v1/models":
        return json(200, { object: "list", data: [this.modelCard()] });
      case "/tokenize":
      case "/detokenize": {
        const { model, body } = this.servedModelFor(request);
        return path === "/tokenize" ? handleTokenize(body, model) : handleDetokenize(body, model);
      }
      default:
        return this.generate(request, path);
    }
  }

  private modelCard() {
    return {
      id: this.options.servedModelName,
      object: "model",
      created: this.createdS,
      owned_by: "swallow",
      root: this.options.servedModelName,
      parent: null,
      max_model_len: this.model?.engine.maxModelLen ?? null,
    };
  }

  /** The loaded model and the request's parsed body: 503 while loading or draining, 404 for another model's name. */
  private servedModelFor(request: AppRequest): { model: ServedModel; body: unknown } {
    const model = this.model;
    if (!model || this.draining)
      throw new HttpError(
        503,
        this.draining ? "the server is shutting down" : "the model is still loading; retry when /health answers 200",
      );
    const body = parseJsonBody(request.body ?? "");
    const requested = (body as { model?: unknown }).model;
    if (typeof requested === "string" && requested !== this.options.servedModelName) {
      throw new HttpError(
        404,
        `The model \`${requested}\` does not exist. This server serves \`${this.options.servedModelName}\` (see /v1/models).`,
        {
          param: "model",
        },
      );
    }
    return { model, body };
  }

  private async generate(request: AppRequest, path: string): Promise<AppResponse> {
    const { model, body } = this.servedModelFor(request);
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    request.signal?.addEventListener("abort", onAbort, { once: true });
    if (request.signal?.aborted) controller.abort();
    this.inFlight.add(controller);
    const done = () => {
      this.inFlight.delete(controller);
      request.signal?.removeEventListener("abort", onAbort);
    };
    const context: RouteContext = { model, modelName: this.options.servedModelName, metrics: this.metrics, controller };
    try {
      const response = path === "/v1/chat/completions" ? await handleChatCompletion(body, context) : await handleCompletion(body, context);
      if (typeof response.body === "string") done();
      else response.body = finallyDo(response.body, done, controller);
      return response;
    } catch (error) {
      // A failed choice must not leave its siblings generating for nobody.
      controller.abort();
      done();
      throw engineError(error);
    }
  }
}

const ROUTE_METHODS: Record<string, string> = {
  "/": "GET",
  "/health": "GET",
  "/metrics": "GET",
  "/v1/models": "GET",
  "/v1/chat/completions": "POST",
  "/v1/completions": "POST",
  "/tokenize": "POST",
  "/detokenize": "POST",
};

/** Routes that --api-key guards: the API, and vLLM's tokenizer routes beside it. */
function isProtected(path: string): boolean {
  return path.startsWith("/v1/") || path === "/tokenize" || path === "/detokenize";
}
const KNOWN_ROUTES = new Set(Object.keys(ROUTE_METHODS));

const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Allow-Headers": "Authorization, Content-Type",
};

export function json(status: number, value: unknown, headers: Record<string, string> = {}): AppResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(value) };
}

/** Any error as an OpenAI error object: HttpError with its status, anything else 500 (a bug: its message, no stack). */
export function errorResponse(error: unknown): AppResponse {
  if (error instanceof HttpError) return json(error.status, error.toBody(), error.headers);
  const message = error instanceof Error ? error.message : String(error);
  return json(500, errorBody(500, `internal error: ${message}`));
}

function parseJsonBody(text: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(
      400,
      `the request body is not valid JSON (${(error as Error).message}); send a JSON object with Content-Type: application/json`,
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, 'the request body must be a JSON object, e.g. {"model": …, "messages": […]}');
  }
  return value;
}

/** Runs `done` when a streamed body ends; a body left unfinished (the writer stopped) aborts its engine requests. */
async function* finallyDo(body: AsyncIterable<string>, done: () => void, controller: AbortController): AsyncGenerator<string> {
  let finished = false;
  try {
    yield* body;
    finished = true;
  } finally {
    if (!finished) controller.abort();
    done();
  }
}
