import { isSwallowError } from "../errors.js";
import type { FinishReason, GenerationEvent } from "../engine/generate.js";
import { EngineBusyError, type EngineRequest, type InferenceEngine, type PromptTokenLogprob } from "../engine/request.js";
import { HttpError } from "./http-error.js";
import type { PositionLogprobs } from "./logprobs-format.js";
import type { ServerMetrics } from "./metrics.js";

/** One engine request's stream, already started: its first event is in hand, so admission errors came before any response byte. */
export type ChoiceStream = AsyncGenerator<GenerationEvent>;

/**
 * Submits every request and waits for each one's first event, so a full queue (429) or a rejected prompt (400) is
 * known before the HTTP status is sent. When one fails, the others are aborted through `controller`.
 */
export async function openChoices(
  engine: InferenceEngine,
  requests: EngineRequest[],
  controller: AbortController,
  metrics: ServerMetrics,
): Promise<ChoiceStream[]> {
  const arrivedMs = performance.now();
  const started = requests.map(async (request) => {
    const stream = engine.submit({ ...request, signal: controller.signal });
    const first = await stream.next();
    return timed(prepend(first, stream), arrivedMs, metrics);
  });
  const settled = await Promise.allSettled(started);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    controller.abort();
    for (const s of settled) if (s.status === "fulfilled") await drain(s.value);
    throw engineError(failed.reason);
  }
  return settled.map((s) => (s as PromiseFulfilledResult<ChoiceStream>).value);
}

/** Maps engine errors to HTTP: a full queue is 429 with Retry-After, a rejected request (SwallowError) 400. */
export function engineError(error: unknown): unknown {
  if (error instanceof EngineBusyError) {
    return new HttpError(429, error.message, { headers: { "Retry-After": String(error.retryAfterSeconds) }, cause: error });
  }
  if (isSwallowError(error) && !(error instanceof HttpError)) return new HttpError(400, error.message, { cause: error });
  return error;
}

async function* prepend(first: IteratorResult<GenerationEvent>, rest: ChoiceStream): ChoiceStream {
  if (first.done) return;
  yield first.value;
  yield* rest;
}

/** Passes events through and records time to first token and time per output token when the stream ends. */
async function* timed(stream: ChoiceStream, arrivedMs: number, metrics: ServerMetrics): ChoiceStream {
  let firstMs = -1;
  let lastMs = -1;
  let tokens = 0;
  for await (const event of stream) {
    if (event.tokenId !== null) {
      lastMs = performance.now();
      if (firstMs < 0) firstMs = lastMs;
      tokens++;
    }
    yield event;
  }
  if (tokens > 0) metrics.observeChoice((firstMs - arrivedMs) / 1000, (lastMs - arrivedMs) / 1000, tokens);
}

async function drain(stream: ChoiceStream): Promise<void> {
  try {
    for await (const _ of stream);
  } catch {
    // The stream was aborted because a sibling failed; its own error says nothing new.
  }
}

/** Everything one choice produced, for non-streamed responses. */
export interface ChoiceResult {
  text: string;
  positions: PositionLogprobs[];
  promptLogprobs: PromptTokenLogprob[] | null;
  finishReason: FinishReason;
  stoppedBy?: number | string;
}

/** Reads a choice's stream to the end. */
export async function collectChoice(stream: ChoiceStream): Promise<ChoiceResult> {
  const result: ChoiceResult = { text: "", positions: [], promptLogprobs: null, finishReason: "length" };
  for await (const event of stream) {
    if (event.promptLogprobs) result.promptLogprobs = event.promptLogprobs;
    if (event.tokenId !== null) result.positions.push({ tokenId: event.tokenId, logprob: event.logprob, topLogprobs: event.topLogprobs });
    result.text += event.text;
    if (event.finishReason) {
      result.finishReason = event.finishReason;
      result.stoppedBy = event.stoppedBy;
    }
  }
  return result;
}

/** Interleaves several choices' events as they arrive, each tagged with its choice's position in `streams`. */
export async function* mergeChoices(streams: ChoiceStream[]): AsyncGenerator<{ index: number; event: GenerationEvent }> {
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<GenerationEvent> }>>();
  const pull = (index: number) =>
    pending.set(
      index,
      streams[index].next().then((result) => ({ index, result })),
    );
  streams.forEach((_, index) => pull(index));
  while (pending.size > 0) {
    const { index, result } = await Promise.race(pending.values());
    if (result.done) {
      pending.delete(index);
      continue;
    }
    pull(index);
    yield { index, event: result.value };
  }
}

/** vLLM's `stop_reason`: the stop string, or a stop token id the user asked for; null for EOS or length. */
export function stopReason(
  result: { stoppedBy?: number | string },
  userStopTokenIds: readonly number[] | null | undefined,
): number | string | null {
  if (typeof result.stoppedBy === "string") return result.stoppedBy;
  if (typeof result.stoppedBy === "number" && userStopTokenIds?.includes(result.stoppedBy)) return result.stoppedBy;
  return null;
}
