import type { GenerationEvent } from "../engine/generate.js";
import type { EngineRequest } from "../engine/request.js";
import type { AppResponse, RouteContext } from "./app.js";
import { errorResponse, json } from "./app.js";
import { collectChoice, mergeChoices, openChoices, stopReason, type ChoiceResult } from "./choices.js";
import { HttpError } from "./http-error.js";
import { completionLogprobs, tokenNaming, type PositionLogprobs } from "./logprobs-format.js";
import { formatPromptLogprobs, promptLogprobsCount } from "./prompt-logprobs.js";
import { truncatePrompt, truncationTokens } from "./prompt-truncation.js";
import { parseCompletionRequest, type CompletionRequest } from "./request-schema.js";
import { responseId } from "./response-id.js";
import { choiceParams, resolveRequestSampling } from "./sampling-request.js";
import { SSE_DONE, SSE_HEADERS, sseEvent } from "./sse.js";
import { structuredOutputConstraints } from "./structured-outputs.js";
import { refuseUnsupportedCompletionFields } from "./unsupported-fields.js";

interface PreparedPrompt {
  promptIds: number[];
  /** The text `echo` returns: the prompt as given, or its token ids decoded. */
  text: string;
}

/** POST /v1/completions: one choice per prompt × n, as vLLM (choice index = prompt index × n + i). */
export async function handleCompletion(body: unknown, context: RouteContext): Promise<AppResponse> {
  const request = parseCompletionRequest(body);
  refuseUnsupportedCompletionFields(request);
  const { model } = context;
  if (request.suffix) throw new HttpError(400, "suffix is not supported; put the text in the prompt", { param: "suffix" });
  const echo = request.echo === true;
  const logprobs = request.logprobs ?? null;
  // vLLM's prompt_logprobs, else (vLLM) echo's with logprobs: returned on each choice; echo also shows them inline.
  const asked = promptLogprobsCount(request.prompt_logprobs, request.stream === true, model.engine.vocabSize);
  const promptTop = asked !== null && !request.stream ? asked : echo && logprobs !== null ? logprobs : null;
  // The engine computes enough alternatives for both the field and echo's inline logprobs.
  const promptLogprobs = promptTop === null ? null : Math.max(promptTop, echo ? (logprobs ?? 0) : 0);
  const keepTokens = truncationTokens(request.truncate_prompt_tokens, model.engine.maxModelLen);
  const prompts = promptList(request.prompt).map((prompt): PreparedPrompt => {
    if (typeof prompt === "string") {
      // vLLM's add_special_tokens (default true): false leaves BOS out, for prompts that already carry it as text.
      const addBos = request.add_special_tokens ?? true;
      const promptIds = truncatePrompt(model.tokenizer.encode(prompt, { addBos }), keepTokens);
      // Echo shows what the model saw: the truncated prompt's text (vLLM echoes the whole prompt).
      return { promptIds, text: keepTokens === null ? prompt : model.tokenizer.decode(promptIds) };
    }
    const vocab = model.engine.vocabSize;
    const bad = prompt.find((id) => id >= vocab);
    if (bad !== undefined) throw new HttpError(400, `token id ${bad} in prompt is out of vocabulary (size ${vocab})`, { param: "prompt" });
    const promptIds = truncatePrompt(prompt, keepTokens);
    return { promptIds, text: model.tokenizer.decode(promptIds) };
  });
  const n = request.n ?? 1;
  const constraints = await structuredOutputConstraints(model.tokenizer, request);
  const engineRequests: EngineRequest[] = [];
  for (const prompt of prompts) {
    const params = resolveRequestSampling(model, request, {
      promptTokens: prompt.promptIds.length,
      maxTokens: request.max_tokens,
      logprobs: logprobs ?? 0,
      allowZeroMaxTokens: echo && promptLogprobs !== null,
    });
    for (let i = 0; i < n; i++) {
      engineRequests.push({
        promptIds: prompt.promptIds,
        params: choiceParams(params, i),
        promptLogprobs,
        ...(constraints ? { constraint: constraints(params) } : {}),
      });
    }
  }
  const streams = await openChoices(model.engine, engineRequests, context.controller, context.metrics);
  const meta = { id: responseId("cmpl", request.request_id), created: Math.floor(Date.now() / 1000), model: context.modelName };
  const promptTokens = prompts.reduce((sum, p) => sum + p.promptIds.length, 0);
  const promptOf = (index: number) => prompts[Math.floor(index / n)];
  if (request.stream) {
    return { status: 200, headers: { ...SSE_HEADERS }, body: streamCompletion(streams, request, context, meta, promptOf, promptTokens) };
  }
  const results = await Promise.all(streams.map(collectChoice));
  const naming = tokenNaming(request);
  let completionTokens = 0;
  const choices = results.map((result, index) => {
    completionTokens += result.positions.length;
    const prompt = promptOf(index);
    return {
      index,
      text: (echo ? prompt.text : "") + result.text,
      logprobs:
        logprobs === null
          ? null
          : completionLogprobs(model.tokenizer, echoPositions(echo, prompt, result).concat(result.positions), logprobs, 0, naming),
      finish_reason: result.finishReason,
      stop_reason: stopReason(result, request.stop_token_ids),
      ...(promptTop !== null ? { prompt_logprobs: formatPromptLogprobs(model.tokenizer, result.promptLogprobs ?? [], promptTop) } : {}),
    };
  });
  return json(200, {
    ...meta,
    object: "text_completion",
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
  });
}

function promptList(prompt: CompletionRequest["prompt"]): (string | number[])[] {
  if (typeof prompt === "string") return [prompt];
  if (prompt.every((p) => typeof p === "number")) return [prompt as number[]];
  return prompt as (string | number[])[];
}

/** The prompt's positions for an echoed logprobs list: the engine's prompt log-probs, else the ids with none. */
function echoPositions(echo: boolean, prompt: PreparedPrompt, result: Pick<ChoiceResult, "promptLogprobs">): PositionLogprobs[] {
  if (!echo) return [];
  return result.promptLogprobs ?? prompt.promptIds.map((tokenId) => ({ tokenId, logprob: null, topLogprobs: [] }));
}

async function* streamCompletion(
  streams: AsyncGenerator<GenerationEvent>[],
  request: CompletionRequest,
  context: RouteContext,
  meta: { id: string; created: number; model: string },
  promptOf: (index: number) => PreparedPrompt,
  promptTokens: number,
): AsyncGenerator<string> {
  const tokenizer = context.model.tokenizer;
  const echo = request.echo === true;
  const logprobs = request.logprobs ?? null;
  const naming = tokenNaming(request);
  // Characters sent so far per choice: text_offset continues from there.
  const sentChars = new Array<number>(streams.length).fill(0);
  const echoed = new Array<boolean>(streams.length).fill(false);
  let completionTokens = 0;
  const chunk = (choice: object) => sseEvent({ ...meta, object: "text_completion", choices: [choice] });
  try {
    for await (const { index, event } of mergeChoices(streams)) {
      let text = event.text;
      let positions: PositionLogprobs[] =
        event.tokenId === null ? [] : [{ tokenId: event.tokenId, logprob: event.logprob, topLogprobs: event.topLogprobs }];
      if (event.tokenId !== null) completionTokens++;
      if (echo && !echoed[index]) {
        echoed[index] = true;
        const prompt = promptOf(index);
        text = prompt.text + text;
        positions = echoPositions(true, prompt, { promptLogprobs: event.promptLogprobs ?? null }).concat(positions);
      }
      if (text === "" && positions.length === 0 && !event.finishReason) continue;
      yield chunk({
        index,
        text,
        logprobs: logprobs === null ? null : completionLogprobs(tokenizer, positions, logprobs, sentChars[index], naming),
        finish_reason: event.finishReason ?? null,
        stop_reason: event.finishReason ? stopReason(event, request.stop_token_ids) : null,
      });
      if (logprobs !== null) sentChars[index] += positions.reduce((sum, p) => sum + tokenizer.decode([p.tokenId]).length, 0);
    }
    if (request.stream_options?.include_usage) {
      yield sseEvent({
        ...meta,
        object: "text_completion",
        choices: [],
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    }
  } catch (error) {
    yield sseEvent(JSON.parse(errorResponse(error).body as string));
  }
  yield SSE_DONE;
}
