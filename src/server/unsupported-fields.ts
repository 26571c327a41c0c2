import { HttpError } from "./http-error.js";
import type { ChatCompletionRequest, CommonRequest, CompletionRequest } from "./request-schema.js";

/**
 * vLLM request fields this server does not implement. A client that sends one expects a different answer (beam
 * search, a best-of-n pick, its own template), so each is a 400 naming the field rather than silently ignored.
 * Default values (use_beam_search false, priority 0, length_penalty 1, best_of equal to n) are accepted.
 * @throws HttpError 400 with `param` set to the field.
 */
export function refuseUnsupportedFields(request: CommonRequest): void {
  if (request.use_beam_search === true) {
    throw new HttpError(400, "use_beam_search is not supported by this server; sample with n choices instead", {
      param: "use_beam_search",
    });
  }
  if (request.length_penalty != null && request.length_penalty !== 1) {
    // vLLM only reads it in beam search, which is not implemented here.
    throw new HttpError(
      400,
      `length_penalty applies only to beam search, which this server does not support; got ${request.length_penalty}`,
      {
        param: "length_penalty",
      },
    );
  }
  if (request.priority != null && request.priority !== 0) {
    // vLLM's wording when the server was not started with --scheduling-policy priority (the only policy here is FCFS).
    throw new HttpError(400, `Got priority ${request.priority} but Priority scheduling is not enabled.`, { param: "priority" });
  }
  if (request.logits_processors != null) {
    throw new HttpError(400, "logits_processors are not supported by this server", { param: "logits_processors" });
  }
}

/** The chat-only field: a template sent with the request (vLLM refuses it unless started with --trust-request-chat-template). */
export function refuseUnsupportedChatFields(request: ChatCompletionRequest): void {
  refuseUnsupportedFields(request);
  if (request.chat_template != null) {
    throw new HttpError(
      400,
      "Chat template is passed with request, but --trust-request-chat-template is not set. Refused request with untrusted chat template.",
      { param: "chat_template" },
    );
  }
}

/** The completions-only fields: `prompt_embeds`, and `best_of` other than n (vLLM's check for below n, its wording). */
export function refuseUnsupportedCompletionFields(request: CompletionRequest): void {
  refuseUnsupportedFields(request);
  if (request.prompt_embeds != null) {
    throw new HttpError(400, "prompt_embeds is not supported by this server; send the prompt as text or token ids", {
      param: "prompt_embeds",
    });
  }
  const n = request.n ?? 1;
  if (request.best_of != null && request.best_of < n) {
    throw new HttpError(400, `best_of must be greater than or equal to n, got n=${n} and best_of=${request.best_of}.`, {
      param: "best_of",
    });
  }
  if (request.best_of != null && request.best_of > n) {
    throw new HttpError(
      400,
      `best_of greater than n is not supported by this server (got n=${n} and best_of=${request.best_of}); leave it out`,
      {
        param: "best_of",
      },
    );
  }
}
