import type { AppResponse } from "./app.js";
import type { ServedModel } from "./served-model.js";
import { json } from "./app.js";
import { chatTemplateVariables } from "./chat-template-kwargs.js";
import { HttpError } from "./http-error.js";
import { parseDetokenizeRequest, parseTokenizeRequest } from "./request-schema.js";
import { templateMessages } from "./tool-calls.js";
import { isSwallowError } from "../errors.js";

/**
 * POST /tokenize, as vLLM's: `{count, max_model_len, tokens}` for a `prompt` (with the BOS token unless
 * `add_special_tokens` is false, as the completions route encodes text) or for chat `messages` rendered with the
 * chat template (`add_generation_prompt` default true and `chat_template_kwargs`, as the chat route renders them). Clients use it to count
 * tokens exactly as the server will.
 */
export function handleTokenize(body: unknown, model: ServedModel): AppResponse {
  const request = parseTokenizeRequest(body);
  let tokens: number[];
  if ("prompt" in request) {
    tokens = model.tokenizer.encode(request.prompt, { addBos: request.add_special_tokens ?? true });
  } else {
    if (!model.hasChatTemplate) {
      throw new HttpError(400, "this model has no chat template (tokenizer_config.json chat_template); tokenize a prompt instead", {
        param: "messages",
      });
    }
    const templateVariables = chatTemplateVariables(request.chat_template_kwargs);
    try {
      tokens = model.encodeChat(templateMessages(request.messages), {
        addGenerationPrompt: request.add_generation_prompt ?? true,
        continueFinalMessage: request.continue_final_message ?? false,
        ...(templateVariables ? { templateVariables } : {}),
      });
    } catch (error) {
      if (isSwallowError(error) && !(error instanceof HttpError))
        throw new HttpError(400, error.message, { param: "messages", cause: error });
      throw error;
    }
  }
  return json(200, { count: tokens.length, max_model_len: model.engine.maxModelLen, tokens });
}

/** POST /detokenize, as vLLM's: `{prompt}`, the text of `tokens` (special tokens included, as HF's decode). */
export function handleDetokenize(body: unknown, model: ServedModel): AppResponse {
  const request = parseDetokenizeRequest(body);
  const { tokenizer } = model;
  const bad = request.tokens.find((id) => id >= tokenizer.vocabSize);
  if (bad !== undefined) {
    throw new HttpError(400, `token id ${bad} is outside the vocabulary (0..${tokenizer.vocabSize - 1})`, { param: "tokens" });
  }
  try {
    return json(200, { prompt: tokenizer.decode(request.tokens) });
  } catch (error) {
    if (isSwallowError(error)) throw new HttpError(400, error.message, { param: "tokens", cause: error });
    throw error;
  }
}
