/**
 * Every way a request asks for constrained output, reduced to one constraint as vLLM does: OpenAI's
 * `response_format`, vLLM's `structured_outputs` (≥ 0.10.2) and its legacy `guided_*` fields, and a `tool_choice`
 * that forces a tool call. At most one may be given (vLLM's rule); each becomes a {@link ConstraintFactory}.
 *
 * Choices made where vLLM's backends differ from ours: `grammar` (EBNF / Lark) and `structural_tag` are refused
 * with a 400 rather than ignored; a whitespace pattern is refused (the JSON constraint allows a bounded run of
 * JSON whitespace between tokens, or none with `disable_any_whitespace`); the backend name and the backend options
 * `disable_fallback` / `disable_additional_properties` are accepted and ignored (our JSON constraint never writes
 * properties a schema's `properties` does not list).
 */

import { isSwallowError } from "../errors.js";
import type { SamplingParams } from "../engine/sampler.js";
import { createChoiceConstraint } from "../engine/json/choice-constraint.js";
import { createRegexConstraint } from "../engine/json/regex-constraint.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { HttpError } from "./http-error.js";
import type { CommonRequest } from "./request-schema.js";
import { type ConstraintFactory, schemaConstraints } from "./response-format.js";

/** One constraint kind, with the request field that asked for it (for error messages). */
type Requested =
  | { kind: "json"; param: string; schema: object | undefined }
  | { kind: "json_text"; param: string; text: string }
  | { kind: "regex"; param: string; pattern: string }
  | { kind: "choice"; param: string; choices: string[] }
  | { kind: "unsupported"; param: string; what: string; instead: string };

const GRAMMAR_INSTEAD =
  "use structured_outputs.regex, structured_outputs.choice or structured_outputs.json (or response_format json_schema) instead";

/** The constraint kinds a request gives, in the order the fields are read; `forcedToolSchema` from tool_choice. */
function requestedKinds(request: CommonRequest, forcedToolSchema: object | null): Requested[] {
  const out: Requested[] = [];
  if (forcedToolSchema) out.push({ kind: "json", param: "tool_choice", schema: forcedToolSchema });
  const format = request.response_format;
  if (format?.type === "json_object") out.push({ kind: "json", param: "response_format", schema: undefined });
  if (format?.type === "json_schema") {
    const schema = format.json_schema?.schema;
    if (!schema) {
      throw new HttpError(400, "response_format json_schema needs json_schema.schema (a JSON Schema object)", {
        param: "response_format.json_schema",
      });
    }
    out.push({ kind: "json", param: "response_format", schema });
  }
  const so = request.structured_outputs;
  const fields: [
    string,
    CommonRequest["guided_json"],
    string | null | undefined,
    string[] | null | undefined,
    string | null | undefined,
  ][] = [
    ["structured_outputs.", so?.json, so?.regex, so?.choice, so?.grammar],
    ["guided_", request.guided_json, request.guided_regex, request.guided_choice, request.guided_grammar],
  ];
  for (const [prefix, json, regex, choice, grammar] of fields) {
    if (typeof json === "string") out.push({ kind: "json_text", param: `${prefix}json`, text: json });
    else if (json != null) out.push({ kind: "json", param: `${prefix}json`, schema: json });
    if (regex != null) out.push({ kind: "regex", param: `${prefix}regex`, pattern: regex });
    if (choice != null) out.push({ kind: "choice", param: `${prefix}choice`, choices: choice });
    if (grammar != null)
      out.push({ kind: "unsupported", param: `${prefix}grammar`, what: "an EBNF / Lark grammar", instead: GRAMMAR_INSTEAD });
    if (prefix === "structured_outputs.") {
      if (so?.json_object === true) out.push({ kind: "json", param: "structured_outputs.json_object", schema: undefined });
      if (so?.structural_tag != null) {
        out.push({
          kind: "unsupported",
          param: "structured_outputs.structural_tag",
          what: "a structural tag",
          instead: "use tools with tool_choice, or structured_outputs.json",
        });
      }
    }
  }
  return out;
}

/** The one requested kind, or null for free text. @throws HttpError 400 for several kinds, as vLLM. */
function onlyKind(request: CommonRequest, forcedToolSchema: object | null): Requested | null {
  const kinds = requestedKinds(request, forcedToolSchema);
  if (kinds.length > 1 && kinds[0].param === "tool_choice") {
    throw new HttpError(
      400,
      `You can only either use guided decoding or tools, not both: tool_choice "required" or a named function already constrains the output; drop ${kinds[1].param} or set tool_choice to "auto"`,
      { param: "tool_choice" },
    );
  }
  if (kinds.length > 1) {
    throw new HttpError(
      400,
      `You can only use one kind of structured outputs constraint but multiple are specified: ${kinds.map((k) => k.param).join(", ")}; send only one of them`,
      { param: kinds[1].param },
    );
  }
  if (kinds.length === 0 && request.structured_outputs != null) {
    throw new HttpError(
      400,
      "You must use one kind of structured outputs constraint but none are specified: give structured_outputs one of json, regex, choice or json_object",
      { param: "structured_outputs" },
    );
  }
  return kinds[0] ?? null;
}

/** A whitespace pattern is refused: the JSON constraint's whitespace rule is fixed (see the module comment). */
function checkWhitespacePattern(request: CommonRequest): void {
  for (const [param, pattern] of [
    ["guided_whitespace_pattern", request.guided_whitespace_pattern],
    ["structured_outputs.whitespace_pattern", request.structured_outputs?.whitespace_pattern],
  ] as const) {
    if (pattern != null) {
      throw new HttpError(
        400,
        `${param} is not supported: JSON output may have up to 16 whitespace bytes between tokens; remove it, or set structured_outputs.disable_any_whitespace to true for JSON without whitespace`,
        { param },
      );
    }
  }
}

/** The JSON Schema in a `json` field's text. @throws HttpError 400 when it does not parse or is not an object. */
function parseSchemaText(text: string, param: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `${param} is not valid JSON (${(error as Error).message}); send a JSON Schema object or its JSON text`, {
      param,
      cause: error,
    });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, `${param} must be a JSON Schema object (or its JSON text)`, { param });
  }
  return value;
}

/** Wraps a constraint builder so its errors (unsupported syntax) are 400s naming the field. */
function asHttpErrors(param: string, what: string, make: (params: SamplingParams) => ReturnType<ConstraintFactory>): ConstraintFactory {
  return (params) => {
    try {
      return make(params);
    } catch (error) {
      // The regex compiler's plain Errors name the unsupported syntax; SwallowErrors (no stop token) say it all.
      const message = isSwallowError(error) ? error.message : `${what}: ${(error as Error).message}`;
      throw new HttpError(400, `${param}: ${message}`, { param, cause: error });
    }
  };
}

/**
 * The constraint factory for a request's structured-output fields, or null for free text. `forcedToolSchema` is
 * the tool-call schema that `tool_choice` "required" / a named function imposes (chat only).
 * @throws HttpError 400 for several kinds at once, an unsupported kind, or a value that cannot be used.
 */
export async function structuredOutputConstraints(
  tokenizer: Tokenizer,
  request: CommonRequest,
  forcedToolSchema: object | null = null,
): Promise<ConstraintFactory | null> {
  const requested = onlyKind(request, forcedToolSchema);
  checkWhitespacePattern(request);
  if (!requested) return null;
  const { param } = requested;
  const hints = (params: SamplingParams) => ({ stopTokenIds: params.stopTokenIds, maxTokensHint: params.maxTokens });
  switch (requested.kind) {
    case "unsupported":
      throw new HttpError(400, `${param} (${requested.what}) is not supported by this server; ${requested.instead}`, { param });
    case "json":
    case "json_text": {
      const schema = requested.kind === "json" ? requested.schema : parseSchemaText(requested.text, param);
      const maxWhitespace = request.structured_outputs?.disable_any_whitespace === true ? 0 : undefined;
      return schemaConstraints(tokenizer, schema, param, { maxWhitespace });
    }
    case "choice": {
      const { choices } = requested;
      if (choices.length === 0) throw new HttpError(400, `${param} needs at least one string to choose from`, { param });
      return asHttpErrors(param, "the choices cannot be used", (params) => createChoiceConstraint(tokenizer, choices, hints(params)));
    }
    case "regex": {
      const { pattern } = requested;
      return asHttpErrors(
        param,
        "unsupported regex syntax (supported: literals, ., classes, \\d \\w \\s, groups, |, * + ? {m,n}; no lookaround, backreferences or \\b)",
        (params) => createRegexConstraint(tokenizer, pattern, hints(params)),
      );
    }
  }
}
