import { isSwallowError } from "../errors.js";
import type { GenerationEvent } from "../engine/generate.js";
import type { EngineRequest } from "../engine/request.js";
import type { AppResponse, RouteContext } from "./app.js";
import { errorResponse, json } from "./app.js";
import { collectChoice, mergeChoices, openChoices, stopReason } from "./choices.js";
import { chatEchoPrefix } from "./chat-echo.js";
import { chatTemplateVariables } from "./chat-template-kwargs.js";
import { HttpError } from "./http-error.js";
import { chatTokenLogprob, tokenNaming, type ChatTokenLogprob } from "./logprobs-format.js";
import { formatPromptLogprobs, promptLogprobsCount } from "./prompt-logprobs.js";
import { truncatePrompt, truncationTokens } from "./prompt-truncation.js";
import { parseChatRequest, type ChatCompletionRequest, type ToolDefinition } from "./request-schema.js";
import { responseId } from "./response-id.js";
import { choiceParams, resolveRequestSampling } from "./sampling-request.js";
import { SSE_DONE, SSE_HEADERS, sseEvent } from "./sse.js";
import { structuredOutputConstraints } from "./structured-outputs.js";
import { forcedToolSchema, parseLlamaToolCalls, templateMessages, templateSupportsTools, type ToolCall } from "./tool-calls.js";
import { refuseUnsupportedChatFields } from "./unsupported-fields.js";

/** POST /v1/chat/completions: messages → chat template → n engine requests → OpenAI chat response or SSE chunks. */
export async function handleChatCompletion(body: unknown, context: RouteContext): Promise<AppResponse> {
  const request = parseChatRequest(body);
  refuseUnsupportedChatFields(request);
  const { model } = context;
  if (!model.hasChatTemplate) {
    throw new HttpError(400, "this model has no chat template (tokenizer_config.json chat_template); use /v1/completions with a prompt", {
      param: "messages",
    });
  }
  const tools = request.tool_choice === "none" ? [] : (request.tools ?? []);
  if (tools.length > 0 && !templateSupportsTools(model.chatTemplateSource)) {
    throw new HttpError(
      400,
      "this model's chat template does not support tools (it never mentions `tools`); remove tools or use a model whose template renders them",
      {
        param: "tools",
      },
    );
  }
  if (request.tool_choice && request.tool_choice !== "none" && request.tool_choice !== "auto" && tools.length === 0) {
    throw new HttpError(400, "tool_choice requires tools", { param: "tool_choice" });
  }
  if ((request.top_logprobs ?? 0) > 0 && !request.logprobs) {
    throw new HttpError(400, "when using `top_logprobs`, `logprobs` must be set to true", { param: "top_logprobs" });
  }
  // vLLM's prompt_logprobs: the log-probs of the rendered prompt's tokens, once for the request (not per choice).
  const promptTop = promptLogprobsCount(request.prompt_logprobs, request.stream === true, model.engine.vocabSize);
  const wantPromptLogprobs = promptTop !== null && !request.stream;
  const keepTokens = truncationTokens(request.truncate_prompt_tokens, model.engine.maxModelLen);
  const templateVariables = chatTemplateVariables(request.chat_template_kwargs, { documents: request.documents });
  let promptIds: number[];
  try {
    promptIds = model.encodeChat(templateMessages(request.messages), {
      addGenerationPrompt: request.add_generation_prompt ?? true,
      continueFinalMessage: request.continue_final_message ?? false,
      ...(tools.length > 0 ? { tools } : {}),
      ...(templateVariables ? { templateVariables } : {}),
    });
  } catch (error) {
    if (isSwallowError(error) && !(error instanceof HttpError))
      throw new HttpError(400, error.message, { param: "messages", cause: error });
    throw error;
  }
  // vLLM tokenizes the rendered text with add_special_tokens (default false for chat): true puts BOS before the template's own.
  if (request.add_special_tokens === true) promptIds = [...model.tokenizer.encode("", { addBos: true }), ...promptIds];
  promptIds = truncatePrompt(promptIds, keepTokens);
  const topCount = request.logprobs ? (request.top_logprobs ?? 0) : 0;
  const params = resolveRequestSampling(model, request, {
    promptTokens: promptIds.length,
    maxTokens: request.max_completion_tokens ?? request.max_tokens,
    logprobs: topCount,
  });
  const forced = forcedToolSchema(tools, request.tool_choice);
  const constraints = await structuredOutputConstraints(model.tokenizer, request, forced);
  const n = request.n ?? 1;
  const engineRequests: EngineRequest[] = Array.from({ length: n }, (_, i) => ({
    promptIds,
    params: choiceParams(params, i),
    ...(i === 0 && wantPromptLogprobs ? { promptLogprobs: promptTop } : {}),
    ...(constraints ? { constraint: constraints(params) } : {}),
  }));
  const streams = await openChoices(model.engine, engineRequests, context.controller, context.metrics);
  const meta = { id: responseId("chatcmpl", request.request_id), created: Math.floor(Date.now() / 1000), model: context.modelName };
  if (request.stream) {
    return { status: 200, headers: { ...SSE_HEADERS }, body: streamChat(streams, request, tools, context, meta, promptIds.length) };
  }
  const results = await Promise.all(streams.map(collectChoice));
  const echo = chatEchoPrefix(request.echo, request.messages);
  const naming = tokenNaming(request);
  let completionTokens = 0;
  const choices = results.map((result, index) => {
    completionTokens += result.positions.length;
    const calls = tools.length > 0 ? parseLlamaToolCalls(result.text, tools) : null;
    return {
      index,
      message: calls ? { role: "assistant", content: null, tool_calls: calls } : { role: "assistant", content: echo + result.text },
      logprobs: request.logprobs ? { content: result.positions.map((p) => chatTokenLogprob(model.tokenizer, p, topCount, naming)) } : null,
      finish_reason: calls ? "tool_calls" : result.finishReason,
      stop_reason: stopReason(result, request.stop_token_ids),
    };
  });
  const promptTokens = promptIds.length;
  return json(200, {
    ...meta,
    object: "chat.completion",
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    ...(wantPromptLogprobs ? { prompt_logprobs: formatPromptLogprobs(model.tokenizer, results[0].promptLogprobs ?? [], promptTop) } : {}),
  });
}

/** Per-choice state of a streamed answer that may turn out to be a tool call (held back until it is known). */
interface ChoiceState {
  text: string;
  /** Text and logprobs not yet sent because the answer might be a tool call. */
  heldText: string;
  heldLogprobs: ChatTokenLogprob[];
  decided: boolean;
}

async function* streamChat(
  streams: AsyncGenerator<GenerationEvent>[],
  request: ChatCompletionRequest,
  tools: ToolDefinition[],
  context: RouteContext,
  meta: { id: string; created: number; model: string },
  promptTokens: number,
): AsyncGenerator<string> {
  const tokenizer = context.model.tokenizer;
  const topCount = request.logprobs ? (request.top_logprobs ?? 0) : 0;
  const naming = tokenNaming(request);
  const chunk = (index: number, delta: object, logprobs: ChatTokenLogprob[] | null, finishReason: string | null, stop: unknown = null) =>
    sseEvent({
      ...meta,
      object: "chat.completion.chunk",
      choices: [
        {
          index,
          delta,
          logprobs: logprobs === null ? null : { content: logprobs },
          finish_reason: finishReason,
          ...(finishReason ? { stop_reason: stop } : {}),
        },
      ],
    });
  const states: ChoiceState[] = streams.map(() => ({ text: "", heldText: "", heldLogprobs: [], decided: tools.length === 0 }));
  let completionTokens = 0;
  try {
    for (let index = 0; index < streams.length; index++) yield chunk(index, { role: "assistant", content: "" }, null, null);
    // vLLM's echo: the last (assistant) message's content, one chunk per choice after the role chunks.
    const echo = chatEchoPrefix(request.echo, request.messages);
    if (echo !== "") for (let index = 0; index < streams.length; index++) yield chunk(index, { content: echo }, null, null);
    for await (const { index, event } of mergeChoices(streams)) {
      const state = states[index];
      const logprobs =
        request.logprobs && event.tokenId !== null
          ? [
              chatTokenLogprob(
                tokenizer,
                { tokenId: event.tokenId, logprob: event.logprob, topLogprobs: event.topLogprobs },
                topCount,
                naming,
              ),
            ]
          : [];
      if (event.tokenId !== null) completionTokens++;
      state.text += event.text;
      if (!state.decided) {
        state.heldText += event.text;
        state.heldLogprobs.push(...logprobs);
        const start = state.text.trimStart();
        // Llama 3.1 starts a tool call with `{`; anything else is an ordinary answer and streams from here on.
        if (start.length > 0 && !start.startsWith("{")) state.decided = true;
        else if (!event.finishReason) continue;
      }
      if (!state.decided) {
        // Finished while held: a tool call, or a plain answer that happened to start with `{`.
        const calls = parseLlamaToolCalls(state.text, tools);
        if (calls) {
          yield chunk(index, { tool_calls: toolCallDeltas(calls) }, request.logprobs ? state.heldLogprobs : null, "tool_calls", null);
          continue;
        }
        state.decided = true;
      }
      const text = state.heldText || event.text;
      const sendLogprobs = state.heldLogprobs.length > 0 ? state.heldLogprobs : logprobs;
      state.heldText = "";
      state.heldLogprobs = [];
      if (text === "" && sendLogprobs.length === 0 && !event.finishReason) continue;
      const reason = event.finishReason ?? null;
      yield chunk(
        index,
        text === "" && reason ? {} : { content: text },
        request.logprobs ? sendLogprobs : null,
        reason,
        reason ? stopReason(event, request.stop_token_ids) : null,
      );
    }
    if (request.stream_options?.include_usage) {
      yield sseEvent({
        ...meta,
        object: "chat.completion.chunk",
        choices: [],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    }
  } catch (error) {
    yield sseEvent(JSON.parse(errorResponse(error).body as string));
  }
  yield SSE_DONE;
}

function toolCallDeltas(calls: ToolCall[]) {
  return calls.map((call, index) => ({ index, id: call.id, type: "function", function: call.function }));
}
