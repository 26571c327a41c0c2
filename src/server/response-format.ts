import type { TokenConstraint } from "../engine/constraint.js";
import type { SamplingParams } from "../engine/sampler.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { createJsonConstraint } from "../engine/json/json-constraint.js";
import { HttpError } from "./http-error.js";
import type { ResponseFormat } from "./request-schema.js";

/** Makes a fresh constraint for one choice (constraints are stateful) from that choice's resolved settings. */
export type ConstraintFactory = (params: SamplingParams) => TokenConstraint;

/**
 * Constraint factory for `response_format`, or null for plain text: `json_object` allows any JSON object,
 * `json_schema` only documents matching its schema (the output always parses, as vLLM's guided decoding).
 * @throws HttpError 400 when the schema is missing or cannot be compiled.
 */
export async function constraintsFor(tokenizer: Tokenizer, format: ResponseFormat | null | undefined): Promise<ConstraintFactory | null> {
  if (!format || format.type === "text") return null;
  if (format.type === "json_schema" && !format.json_schema?.schema) {
    throw new HttpError(400, "response_format json_schema needs json_schema.schema (a JSON Schema object)", {
      param: "response_format.json_schema",
    });
  }
  return schemaConstraints(tokenizer, format.type === "json_schema" ? format.json_schema?.schema : undefined, "response_format");
}

/** Constraint factory for one JSON schema (also `tool_choice` required / named); absent schema = any object. */
export async function schemaConstraints(tokenizer: Tokenizer, schema: object | undefined, param: string): Promise<ConstraintFactory> {
  const make = (params: SamplingParams) =>
    createJsonConstraint(tokenizer, { ...(schema ? { schema } : {}), stopTokenIds: params.stopTokenIds, maxTokensHint: params.maxTokens });
  return (params) => {
    try {
      return make(params);
    } catch (error) {
      throw new HttpError(400, `${param}: the schema cannot be used for constrained decoding: ${(error as Error).message}`, {
        param,
        cause: error,
      });
    }
  };
}
