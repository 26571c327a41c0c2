import { HttpError } from "./http-error.js";

/** Keys vLLM refuses outright ("Found unexpected chat template kwargs from request"). */
const UNEXPECTED = ["chat_template", "tokenize"];

/**
 * Variables the server itself gives the template. vLLM lets `chat_template_kwargs` override some of them, which makes
 * two fields of one request disagree (`add_generation_prompt` at the top level and in the kwargs); here that is a 400
 * naming the field to use instead.
 */
const SERVER_OWNED = [
  "messages",
  "tools",
  "documents",
  "add_generation_prompt",
  "continue_final_message",
  "raise_exception",
  "strftime_now",
];

/**
 * Server-owned variables that come from request fields of their own (vLLM's `documents`): set after the user's
 * kwargs, which cannot name them (SERVER_OWNED), so each has one source.
 */
export interface RequestTemplateFields {
  documents?: Record<string, string>[] | null;
}

/**
 * vLLM's `chat_template_kwargs`: extra variables for the chat template (e.g. `{"date_string": "26 Jul 2024"}`), after
 * the server's own. Variables the template never reads change nothing, as in vLLM (which drops them).
 * @throws HttpError 400 for `chat_template`/`tokenize` (vLLM's wording) and for the variables the server owns.
 */
export function chatTemplateVariables(
  kwargs: Record<string, unknown> | null | undefined,
  fields: RequestTemplateFields = {},
): Record<string, unknown> | undefined {
  const own = fields.documents != null ? { documents: fields.documents } : {};
  if (!kwargs) return fields.documents != null ? own : undefined;
  const keys = Object.keys(kwargs);
  const unexpected = keys.filter((key) => UNEXPECTED.includes(key));
  if (unexpected.length > 0) {
    throw new HttpError(
      400,
      `Found unexpected chat template kwargs from request: {${unexpected.map((key) => `'${key}'`).join(", ")}}; the server's chat template is always used`,
      { param: "chat_template_kwargs" },
    );
  }
  const owned = keys.filter((key) => SERVER_OWNED.includes(key));
  if (owned.length > 0) {
    throw new HttpError(
      400,
      `chat_template_kwargs cannot set ${owned.map((key) => `'${key}'`).join(", ")}: the server sets them from the request; use the request's own fields`,
      { param: "chat_template_kwargs" },
    );
  }
  return keys.length > 0 || fields.documents != null ? { ...kwargs, ...own } : undefined;
}
