import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { HttpError } from "./http-error.js";

/** One content part of a chat message (only text parts are supported). */
export interface ContentPart {
  type: string;
  text?: string;
}

export interface ChatToolCall {
  id?: string;
  type?: string;
  function: { name: string; arguments: string | Record<string, unknown> };
}

export interface ChatRequestMessage {
  role: string;
  content?: string | ContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
}

export interface ToolDefinition {
  type: "function";
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

export interface ResponseFormat {
  type: "text" | "json_object" | "json_schema";
  json_schema?: { name?: string; schema?: Record<string, unknown>; strict?: boolean };
}

/** vLLM's (≥ 0.10.2) `structured_outputs`: one constraint kind, plus options. */
export interface StructuredOutputsParams {
  /** A JSON schema, or its JSON text. */
  json?: Record<string, unknown> | string | null;
  regex?: string | null;
  choice?: string[] | null;
  grammar?: string | null;
  json_object?: boolean | null;
  structural_tag?: string | Record<string, unknown> | null;
  /** Backend options: accepted and ignored (there is one backend). */
  disable_fallback?: boolean | null;
  disable_additional_properties?: boolean | null;
  /** True: JSON output without any whitespace. */
  disable_any_whitespace?: boolean | null;
  whitespace_pattern?: string | null;
}

/** Parameters /v1/chat/completions and /v1/completions share (OpenAI's plus vLLM's extras). */
export interface CommonRequest {
  model?: string;
  max_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  min_tokens?: number;
  repetition_penalty?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  /** Token id (as a string, OpenAI's form) → bias added to its logit, clamped to [-100, 100]. */
  logit_bias?: Record<string, number> | null;
  /** vLLM's: only these token ids can be sampled. */
  allowed_token_ids?: number[] | null;
  /** vLLM's: words the output may not contain (each tokenized with and without a leading space). */
  bad_words?: string[] | null;
  /** vLLM's: keep only the last k prompt tokens (-1 = the model's maximum length). */
  truncate_prompt_tokens?: number | null;
  /** vLLM's: log-probs of the prompt's tokens with this many alternatives each (-1 = the whole vocabulary). */
  prompt_logprobs?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  stop_token_ids?: number[] | null;
  ignore_eos?: boolean;
  skip_special_tokens?: boolean | null;
  include_stop_str_in_output?: boolean | null;
  n?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean | null; continuous_usage_stats?: boolean | null } | null;
  response_format?: ResponseFormat | null;
  structured_outputs?: StructuredOutputsParams | null;
  /** vLLM's legacy structured-output fields (before `structured_outputs`). */
  guided_json?: Record<string, unknown> | string | null;
  guided_regex?: string | null;
  guided_choice?: string[] | null;
  guided_grammar?: string | null;
  guided_decoding_backend?: string | null;
  guided_whitespace_pattern?: string | null;
  user?: string;
  /** vLLM's: the response id is `chatcmpl-{request_id}` / `cmpl-{request_id}` instead of a random one. */
  request_id?: string | null;
  /** vLLM's: log-prob entries name tokens `token_id:{id}` (tokens whose text is not valid UTF-8 stay identifiable). */
  return_tokens_as_token_ids?: boolean | null;
  /** vLLM's: with Llama 3's byte-level decoder no spaces are ever inserted, so both values decode alike (as vLLM's fast tokenizer). */
  spaces_between_special_tokens?: boolean | null;
  /** Accepted so they can be refused with a 400 (unsupported-fields.ts) rather than silently ignored. */
  use_beam_search?: boolean | null;
  length_penalty?: number | null;
  priority?: number | null;
  logits_processors?: unknown;
}

export interface ChatCompletionRequest extends CommonRequest {
  messages: ChatRequestMessage[];
  max_completion_tokens?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  tools?: ToolDefinition[] | null;
  tool_choice?: ToolChoice | null;
  add_generation_prompt?: boolean;
  /** vLLM's (and transformers'): the final message stays open and the answer continues it; needs add_generation_prompt false. */
  continue_final_message?: boolean;
  /** vLLM's: more variables for the chat template (e.g. a template's `{{ date_string }}`). */
  chat_template_kwargs?: Record<string, unknown> | null;
  /** vLLM's: when the last message is the assistant's, the answer starts with its content. */
  echo?: boolean | null;
  /** vLLM's (default false): BOS added on top of the rendered template, as tokenizing with add_special_tokens. */
  add_special_tokens?: boolean | null;
  /** vLLM's: documents for retrieval-augmented templates, given to the template as `documents`. */
  documents?: Record<string, string>[] | null;
  /** A per-request template: refused as vLLM does without --trust-request-chat-template. */
  chat_template?: string | null;
}

/** POST /tokenize (vLLM's): a prompt, or chat messages rendered with the chat template. */
export type TokenizeRequest =
  | { model?: string; prompt: string; add_special_tokens?: boolean }
  | {
      model?: string;
      messages: ChatRequestMessage[];
      add_generation_prompt?: boolean;
      continue_final_message?: boolean;
      chat_template_kwargs?: Record<string, unknown> | null;
    };

/** POST /detokenize (vLLM's). */
export interface DetokenizeRequest {
  model?: string;
  tokens: number[];
}

export interface CompletionRequest extends CommonRequest {
  prompt: string | number[] | (string | number[])[];
  echo?: boolean | null;
  logprobs?: number | null;
  suffix?: string | null;
  /** vLLM's (default true): false tokenizes text prompts without BOS. */
  add_special_tokens?: boolean | null;
  /** Accepted so they can be refused with a 400 (unsupported-fields.ts). */
  best_of?: number | null;
  prompt_embeds?: unknown;
}

const nullable = (schema: object) => ({ anyOf: [schema, { type: "null" }] });
const integer = (minimum?: number, maximum?: number) => ({
  type: "integer",
  ...(minimum === undefined ? {} : { minimum }),
  ...(maximum === undefined ? {} : { maximum }),
});
const tokenArray = { type: "array", minItems: 1, items: integer(0) };

const commonProperties = {
  model: { type: "string" },
  max_tokens: nullable(integer(0)),
  temperature: nullable({ type: "number", minimum: 0 }),
  top_p: nullable({ type: "number", exclusiveMinimum: 0, maximum: 1 }),
  top_k: nullable(integer(-1)),
  min_p: nullable({ type: "number", minimum: 0, maximum: 1 }),
  min_tokens: integer(0),
  repetition_penalty: nullable({ type: "number", exclusiveMinimum: 0 }),
  presence_penalty: nullable({ type: "number", minimum: -2, maximum: 2 }),
  frequency_penalty: nullable({ type: "number", minimum: -2, maximum: 2 }),
  logit_bias: nullable({ type: "object", additionalProperties: { type: "number" } }),
  allowed_token_ids: nullable({ type: "array", items: integer(0) }),
  bad_words: nullable({ type: "array", items: { type: "string" } }),
  // Ranges (>= 1 or -1; at most 20 or -1) are checked with vLLM's wording where the fields are resolved.
  truncate_prompt_tokens: nullable(integer()),
  prompt_logprobs: nullable(integer()),
  seed: nullable(integer()),
  stop: nullable({ anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] }),
  stop_token_ids: nullable({ type: "array", items: integer(0) }),
  ignore_eos: { type: "boolean" },
  skip_special_tokens: nullable({ type: "boolean" }),
  include_stop_str_in_output: nullable({ type: "boolean" }),
  n: nullable(integer(1, 128)),
  stream: nullable({ type: "boolean" }),
  stream_options: nullable({
    type: "object",
    properties: { include_usage: nullable({ type: "boolean" }), continuous_usage_stats: nullable({ type: "boolean" }) },
  }),
  response_format: nullable({
    type: "object",
    required: ["type"],
    properties: {
      type: { enum: ["text", "json_object", "json_schema"] },
      json_schema: {
        type: "object",
        properties: { name: { type: "string" }, schema: { type: "object" }, strict: nullable({ type: "boolean" }) },
      },
    },
  }),
  structured_outputs: nullable({
    type: "object",
    properties: {
      json: nullable({ anyOf: [{ type: "object" }, { type: "string" }] }),
      regex: nullable({ type: "string" }),
      choice: nullable({ type: "array", items: { type: "string" } }),
      grammar: nullable({ type: "string" }),
      json_object: nullable({ type: "boolean" }),
      structural_tag: nullable({ anyOf: [{ type: "object" }, { type: "string" }] }),
      disable_fallback: nullable({ type: "boolean" }),
      disable_additional_properties: nullable({ type: "boolean" }),
      disable_any_whitespace: nullable({ type: "boolean" }),
      whitespace_pattern: nullable({ type: "string" }),
    },
  }),
  guided_json: nullable({ anyOf: [{ type: "object" }, { type: "string" }] }),
  guided_regex: nullable({ type: "string" }),
  guided_choice: nullable({ type: "array", items: { type: "string" } }),
  guided_grammar: nullable({ type: "string" }),
  guided_decoding_backend: nullable({ type: "string" }),
  guided_whitespace_pattern: nullable({ type: "string" }),
  user: { type: "string" },
  request_id: nullable({ type: "string", minLength: 1 }),
  return_tokens_as_token_ids: nullable({ type: "boolean" }),
  spaces_between_special_tokens: nullable({ type: "boolean" }),
  use_beam_search: nullable({ type: "boolean" }),
  length_penalty: nullable({ type: "number" }),
  priority: nullable(integer()),
};

const chatSchema = {
  type: "object",
  required: ["messages"],
  properties: {
    ...commonProperties,
    messages: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["role"],
        properties: {
          role: { type: "string" },
          content: nullable({
            anyOf: [
              { type: "string" },
              {
                type: "array",
                items: { type: "object", required: ["type"], properties: { type: { type: "string" }, text: { type: "string" } } },
              },
            ],
          }),
          name: { type: "string" },
          tool_call_id: { type: "string" },
          tool_calls: {
            type: "array",
            items: {
              type: "object",
              required: ["function"],
              properties: {
                function: {
                  type: "object",
                  required: ["name", "arguments"],
                  properties: { name: { type: "string" }, arguments: { anyOf: [{ type: "string" }, { type: "object" }] } },
                },
              },
            },
          },
        },
      },
    },
    max_completion_tokens: nullable(integer(0)),
    logprobs: nullable({ type: "boolean" }),
    top_logprobs: nullable(integer(0, 20)),
    tools: nullable({
      type: "array",
      items: {
        type: "object",
        required: ["type", "function"],
        properties: {
          type: { const: "function" },
          function: {
            type: "object",
            required: ["name"],
            properties: { name: { type: "string", minLength: 1 }, description: { type: "string" }, parameters: { type: "object" } },
          },
        },
      },
    }),
    tool_choice: nullable({
      anyOf: [
        { enum: ["none", "auto", "required"] },
        {
          type: "object",
          required: ["type", "function"],
          properties: {
            type: { const: "function" },
            function: { type: "object", required: ["name"], properties: { name: { type: "string" } } },
          },
        },
      ],
    }),
    add_generation_prompt: { type: "boolean" },
    continue_final_message: { type: "boolean" },
    chat_template_kwargs: nullable({ type: "object" }),
    echo: nullable({ type: "boolean" }),
    add_special_tokens: nullable({ type: "boolean" }),
    documents: nullable({ type: "array", items: { type: "object", additionalProperties: { type: "string" } } }),
    chat_template: nullable({ type: "string" }),
  },
};

const completionSchema = {
  type: "object",
  required: ["prompt"],
  properties: {
    ...commonProperties,
    prompt: {
      anyOf: [{ type: "string" }, tokenArray, { type: "array", minItems: 1, items: { anyOf: [{ type: "string" }, tokenArray] } }],
    },
    echo: nullable({ type: "boolean" }),
    logprobs: nullable(integer(0, 20)),
    suffix: nullable({ type: "string" }),
    add_special_tokens: nullable({ type: "boolean" }),
    best_of: nullable(integer(1)),
  },
};

const tokenizeSchema = {
  anyOf: [
    {
      type: "object",
      required: ["prompt"],
      properties: { model: { type: "string" }, prompt: { type: "string" }, add_special_tokens: { type: "boolean" } },
    },
    {
      type: "object",
      required: ["messages"],
      properties: {
        model: { type: "string" },
        messages: chatSchema.properties.messages,
        add_generation_prompt: { type: "boolean" },
        continue_final_message: { type: "boolean" },
        chat_template_kwargs: chatSchema.properties.chat_template_kwargs,
      },
    },
  ],
};

const detokenizeSchema = {
  type: "object",
  required: ["tokens"],
  properties: { model: { type: "string" }, tokens: { type: "array", items: integer(0) } },
};

const ajv = new Ajv({ allErrors: false, strict: false });
const validateChat = ajv.compile(chatSchema);
const validateCompletion = ajv.compile(completionSchema);
const validateTokenize = ajv.compile(tokenizeSchema);
const validateDetokenize = ajv.compile(detokenizeSchema);

/** Checks a parsed /tokenize body (a prompt or messages); 422 naming the first wrong field otherwise. */
export function parseTokenizeRequest(body: unknown): TokenizeRequest {
  return check<TokenizeRequest>(validateTokenize, body);
}

/** Checks a parsed /detokenize body; 422 naming the first wrong field otherwise. */
export function parseDetokenizeRequest(body: unknown): DetokenizeRequest {
  return check<DetokenizeRequest>(validateDetokenize, body);
}

/** Checks a parsed body against the chat request schema; 422 naming the first wrong field otherwise. */
export function parseChatRequest(body: unknown): ChatCompletionRequest {
  return check<ChatCompletionRequest>(validateChat, body);
}

/** Checks a parsed body against the completions request schema; 422 naming the first wrong field otherwise. */
export function parseCompletionRequest(body: unknown): CompletionRequest {
  return check<CompletionRequest>(validateCompletion, body);
}

function check<T>(validate: ValidateFunction, body: unknown): T {
  if (validate(body)) return body as T;
  const error = deepestError(validate.errors ?? []);
  const param = error ? paramOf(error) : null;
  const what = error?.message ?? "is invalid";
  const message = param ? `'${param}' ${what}` : `the request body ${what}`;
  throw new HttpError(422, `${message}; see the OpenAI API reference for this route`, { param });
}

/** With anyOf, ajv reports each branch's failure; the one deepest in the body says most about what is wrong. */
function deepestError(errors: ErrorObject[]): ErrorObject | undefined {
  const concrete = errors.filter((e) => e.keyword !== "anyOf");
  const pool = concrete.length > 0 ? concrete : errors;
  return pool.reduce<ErrorObject | undefined>(
    (best, e) => (best === undefined || e.instancePath.length > best.instancePath.length ? e : best),
    undefined,
  );
}

function paramOf(error: ErrorObject): string | null {
  const parts = error.instancePath.split("/").slice(1);
  if (error.keyword === "required") parts.push(String((error.params as { missingProperty: string }).missingProperty));
  if (parts.length === 0) return null;
  return parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
