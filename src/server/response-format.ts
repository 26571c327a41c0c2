import type { TokenConstraint } from "../engine/constraint.js";
import type { SamplingParams } from "../engine/sampler.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { createJsonConstraint } from "../engine/json/json-constraint.js";
import { HttpError } from "./http-error.js";

/** Makes a fresh constraint for one choice (constraints are stateful) from that choice's resolved settings. */
export type ConstraintFactory = (params: SamplingParams) => TokenConstraint;

/**
 * Constraint factory for one JSON schema (`response_format` json_schema, vLLM's `json` / `guided_json`,
 * `tool_choice` required / named); an absent schema = any JSON object (`json_object`). The output always parses,
 * as with vLLM's guided decoding. `maxWhitespace` 0 = no whitespace at all (vLLM's `disable_any_whitespace`).
 * @throws HttpError 400 (when a constraint is made) when the schema cannot be compiled.
 */
export async function schemaConstraints(
  tokenizer: Tokenizer,
  schema: object | undefined,
  param: string,
  options: { maxWhitespace?: number } = {},
): Promise<ConstraintFactory> {
  const make = (params: SamplingParams) =>
    createJsonConstraint(tokenizer, {
      ...(schema ? { schema } : {}),
      stopTokenIds: params.stopTokenIds,
      maxTokensHint: params.maxTokens,
      ...(options.maxWhitespace === undefined ? {} : { maxWhitespace: options.maxWhitespace }),
    });
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
