import { SwallowError } from "../errors.js";

/** vLLM's error `type` for each HTTP status it answers with (its `create_error_response`). */
const ERROR_TYPES: Record<number, string> = {
  400: "BadRequestError",
  401: "AuthenticationError",
  404: "NotFoundError",
  405: "MethodNotAllowedError",
  413: "RequestEntityTooLargeError",
  422: "UnprocessableEntityError",
  429: "RateLimitError",
  500: "InternalServerError",
  503: "ServiceUnavailableError",
};

/** The body of every error response: OpenAI's error object, with vLLM's `type` names and the status as `code`. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

/**
 * The one error type of the server: a user-fixable problem that carries its HTTP status (Hono's lesson).
 * Routes throw it; the app turns it into an OpenAI error object.
 */
export class HttpError extends SwallowError {
  readonly param: string | null;
  /** Extra response headers (e.g. Retry-After on 429). */
  readonly headers: Record<string, string>;

  constructor(
    readonly status: number,
    message: string,
    options: { param?: string | null; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
  }

  toBody(): OpenAIErrorBody {
    return errorBody(this.status, this.message, this.param);
  }
}

export function errorBody(status: number, message: string, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type: ERROR_TYPES[status] ?? "Error", param, code: status } };
}
