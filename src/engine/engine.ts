import { SwallowError } from "../errors.js";
import type { Activation, DeviceSampledRows } from "../gpu/backend.js";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { EventChannel } from "./event-channel.js";
import type { GenerationEvent } from "./generate.js";
import type { SequenceSlots } from "./kv-blocks.js";
import { rankOf } from "./logits.js";
import { OutputProcessor } from "./output-processor.js";
import {
  EngineBusyError,
  type EngineRequest,
  type EngineStats,
  type InferenceEngine,
  type PromptTokenLogprob,
  type StepShape,
} from "./request.js";
import { randomSeed, Rng } from "./rng.js";
import type { DeviceSampling, ModelRunner, PreparedStep } from "./runner.js";
import { Sampler, transformsLogits, type SampleResult, type SamplingParams } from "./sampler.js";
import { Scheduler, type SchedulableSequence } from "./scheduler.js";

export interface EngineOptions {
  /** Most requests holding KV blocks at once (vLLM's --max-num-seqs). Default 64. */
  maxNumSeqs?: number;
  /** Most tokens per forward pass, decode tokens and prefill chunks together. Default: the runner's maxBatchTokens. */
  maxBatchTokens?: number;
  /** Most requests waiting for a place; more are refused with EngineBusyError (HTTP 429). Default 1024. */
  maxWaiting?: number;
  /** Share full KV blocks of identical prompt prefixes between requests. Default true. */
  prefixCaching?: boolean;
}

/** Stands for a token still being sampled (a valid id, so a wasted row of a pipelined step embeds something real). */
const PLACEHOLDER_TOKEN = 0;

interface StepEntry {
  seq: Sequence;
  /** The chunk's first and one-past-last positions in the sequence. */
  start: number;
  end: number;
  /** Whether the chunk ends at the sequence's last token, so its last logits row is sampled. */
  samples: boolean;
  /** Its row among the step's logits rows (the device-sampled output's rows), or -1. */
  sampleRow: number;
  /** Where its sampled token goes in `seq.tokenIds` (set at launch). */
  position: number;
}

interface PlannedStep {
  entries: StepEntry[];
  prepared: PreparedStep;
  deviceSampled: boolean;
  /** With deviceSampled: the logits rows sampled on the host all the same (DeviceSampling.hostRows). */
  hostRows: ReadonlySet<number>;
  /** A host-sampled step whose tokens this one needs: it can only be sent after that one completes. */
  waitsFor: LaunchedStep | null;
}

interface LaunchedStep {
  entries: StepEntry[];
  output: Promise<Float32Array[]>;
  deviceSampled: boolean;
  hostRows: ReadonlySet<number>;
  sampled: Activation | null;
}

/** Whether the step sampled its logits row `row` on the device (its output holds a pair, the next step may read it). */
function sampledOnDevice(step: LaunchedStep, row: number): boolean {
  return step.deviceSampled && !step.hostRows.has(row);
}

/** One request inside the engine. */
class Sequence implements SchedulableSequence {
  readonly tokenIds: number[];
  readonly usePrefixCache: boolean;
  wantsPromptLogits: boolean;
  readonly output: OutputProcessor;
  readonly rng: Rng;
  readonly channel = new EventChannel<GenerationEvent>();
  promptLogprobs: PromptTokenLogprob[] | undefined;
  done = false;
  aborted = false;
  /** Placeholder tokens at the end of `tokenIds` whose step has not completed yet. */
  pending = 0;
  /** The launched step that samples the newest placeholder, and its row there. */
  producer: { step: LaunchedStep; row: number } | null = null;
  /** Planned or launched steps this sequence has a chunk in. */
  stepsInFlight = 0;

  constructor(
    readonly id: number,
    readonly request: EngineRequest,
    readonly slots: SequenceSlots,
    tokenizer: Tokenizer,
    maxModelLen: number,
    prefixCaching: boolean,
  ) {
    this.tokenIds = [...request.promptIds];
    const wantPrompt = request.promptLogprobs !== undefined && request.promptLogprobs !== null;
    this.wantsPromptLogits = wantPrompt;
    // Prompt log-probs need every prompt position's logits, so such a request computes its whole prompt.
    this.usePrefixCache = prefixCaching && !wantPrompt;
    this.promptLogprobs = wantPrompt ? [{ tokenId: request.promptIds[0], logprob: null, topLogprobs: [] }] : undefined;
    this.output = new OutputProcessor(tokenizer, request.params, request.promptIds.length, maxModelLen);
    this.rng = new Rng(request.params.seed ?? randomSeed());
  }
}

/**
 * The step loop: many requests share each forward pass (continuous batching over a paged KV cache with
 * prefix caching and preemption; see scheduler.ts). Each request gets its events through its own channel;
 * the loop runs while there is work and sleeps otherwise. Knows nothing of HTTP.
 */
export class Engine implements InferenceEngine {
  private readonly scheduler: Scheduler<Sequence>;
  private readonly sampler = new Sampler();
  private readonly maxWaiting: number;
  private readonly prefixCaching: boolean;
  private nextId = 0;
  private looping = false;
  private closed = false;
  private idle: Promise<void> = Promise.resolve();
  private readonly counters = {
    promptTokensTotal: 0,
    generationTokensTotal: 0,
    prefixCacheHitTokensTotal: 0,
    preemptionsTotal: 0,
    requestsFinishedTotal: 0,
  };

  constructor(
    private readonly runner: ModelRunner,
    private readonly tokenizer: Tokenizer,
    options: EngineOptions = {},
  ) {
    const maxNumSeqs = options.maxNumSeqs ?? 64;
    if (runner.allocator.blocksFor(runner.maxModelLen) > runner.allocator.numBlocks) {
      throw new SwallowError(
        `the KV cache (${runner.allocator.numBlocks} blocks of ${runner.allocator.blockSize} tokens) cannot hold one sequence of --max-model-len ${runner.maxModelLen}; lower --max-model-len`,
      );
    }
    this.scheduler = new Scheduler(runner.allocator, { maxNumSeqs, maxBatchTokens: options.maxBatchTokens ?? runner.maxBatchTokens });
    this.maxWaiting = options.maxWaiting ?? 1024;
    this.prefixCaching = options.prefixCaching ?? true;
  }

  get maxModelLen(): number {
    return this.runner.maxModelLen;
  }

  get vocabSize(): number {
    return this.runner.vocabSize;
  }

  submit(request: EngineRequest): AsyncGenerator<GenerationEvent> {
    if (this.closed) throw new SwallowError("the engine is shutting down and takes no new requests");
    const { promptIds, params } = request;
    if (promptIds.length === 0) throw new SwallowError("the prompt is empty: give at least one token");
    const needsRoom = params.maxTokens > 0 ? 1 : 0;
    if (promptIds.length + needsRoom > this.maxModelLen) {
      throw new SwallowError(
        `the prompt has ${promptIds.length} tokens but the model length is ${this.maxModelLen}; shorten it or raise --max-model-len`,
      );
    }
    this.runner.checkTokenIds(promptIds, "prompt");
    if (params.logitBias) this.runner.checkTokenIds([...params.logitBias.keys()], "logit_bias");
    if (params.allowedTokenIds) this.runner.checkTokenIds(params.allowedTokenIds, "allowed_token_ids");
    if (params.badWordsTokenIds) this.runner.checkTokenIds(params.badWordsTokenIds.flat(), "bad_words");
    if (params.maxTokens === 0 && (request.promptLogprobs === undefined || request.promptLogprobs === null)) {
      throw new SwallowError("max_tokens 0 only makes sense with prompt log-probs (echo); ask for at least 1 token");
    }
    if (this.scheduler.waiting.length >= this.maxWaiting) throw new EngineBusyError(this.scheduler.waiting.length);

    const seq = new Sequence(this.nextId++, request, this.runner.newSequence(), this.tokenizer, this.maxModelLen, this.prefixCaching);
    this.counters.promptTokensTotal += promptIds.length;
    const signal = request.signal;
    const onAbort = () => this.abort(seq);
    if (signal?.aborted) queueMicrotask(onAbort);
    else signal?.addEventListener("abort", onAbort, { once: true });
    this.scheduler.enqueue(seq);
    this.kick();
    return this.stream(seq, () => signal?.removeEventListener("abort", onAbort));
  }

  stats(): EngineStats {
    const { allocator } = this.runner;
    return {
      running: this.scheduler.running.length,
      waiting: this.scheduler.waiting.length,
      kvBlocksTotal: allocator.numBlocks,
      kvBlocksUsed: allocator.numUsed,
      ...this.counters,
    };
  }

  resetCounters(): void {
    for (const key of Object.keys(this.counters) as (keyof typeof this.counters)[]) this.counters[key] = 0;
  }

  private stepObserver: ((step: StepShape) => void) | null = null;
  observeSteps(observer: ((step: StepShape) => void) | null): void {
    this.stepObserver = observer;
  }

  async close(options: { abortRunning?: boolean } = {}): Promise<void> {
    this.closed = true;
    if (options.abortRunning) for (const seq of [...this.scheduler.running, ...this.scheduler.waiting]) this.abort(seq);
    await this.idle;
  }

  private async *stream(seq: Sequence, cleanup: () => void): AsyncGenerator<GenerationEvent> {
    try {
      for (;;) {
        const event = await seq.channel.next();
        if (event === undefined) return;
        yield event;
        if (event.finishReason !== undefined) return;
      }
    } finally {
      cleanup();
      // The consumer stopped early (break, client gone): the request ends here and frees its blocks.
      if (!seq.done) this.abort(seq);
    }
  }

  /** Ends a request with "abort" and frees its KV blocks now, unless it is inside the running step (then right after it). */
  private abort(seq: Sequence): void {
    if (seq.done || seq.aborted) return;
    seq.aborted = true;
    if (seq.stepsInFlight === 0) this.finish(seq, seq.output.finish("abort"));
  }

  private finish(seq: Sequence, event: GenerationEvent): void {
    seq.done = true;
    this.scheduler.remove(seq);
    this.counters.requestsFinishedTotal++;
    seq.channel.push(event);
    seq.channel.end();
  }

  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    this.idle = this.loop().finally(() => (this.looping = false));
  }

  /**
   * The step loop (vLLM's async scheduling). On a backend that encodes a step before running it (WebGPU),
   * step N+1 is planned and encoded while the device runs step N. Sequences that sample in step N get a
   * placeholder token; step N+1 takes the real one either from the device (greedy requests: step N samples
   * on the device and step N+1's embedding reads that id, so N+1 is sent before N is read back and the
   * device never waits for the host) or from the host (other requests: written into N+1's token ids once N
   * is sampled, just before N+1 is sent). A sequence that finishes at step N wastes its row of N+1, which is
   * ignored. On the cpu reference (eager), each step is planned after the previous one completes.
   */
  private async loop(): Promise<void> {
    const launched: LaunchedStep[] = [];
    let planned: PlannedStep | null = null;
    while (this.scheduler.hasWork || launched.length > 0 || planned !== null) {
      const mayPlan = launched.length === 0 || (this.runner.canPipeline && launched.length < 2);
      if (planned === null && this.scheduler.hasWork && mayPlan) planned = this.plan(launched.at(-1) ?? null);
      if (planned !== null && (planned.waitsFor === null || !launched.includes(planned.waitsFor))) {
        launched.push(this.launch(planned));
        planned = null;
        continue;
      }
      if (launched.length > 0) await this.complete(launched.shift()!);
      else if (planned === null) await yieldToEventLoop();
    }
  }

  /** Schedules the next step and records it (a pipelining backend also encodes it now). */
  private plan(previous: LaunchedStep | null): PlannedStep | null {
    const plan = this.scheduler.schedule();
    this.counters.preemptionsTotal += plan.preempted.length;
    this.counters.prefixCacheHitTokensTotal += plan.prefixHitTokens;
    if (plan.chunks.length === 0) {
      if (this.scheduler.running.length === 0) {
        // Only if one request cannot fit the cache even alone, which the constructor rules out: fail loudly rather than spin.
        for (const seq of [...this.scheduler.waiting]) {
          this.fail(seq, new SwallowError("the KV cache cannot hold this request; lower --max-num-seqs or the prompt length"));
        }
      }
      return null;
    }
    let logitRows = 0;
    const entries: StepEntry[] = plan.chunks.map(({ seq, chunk }) => {
      const start = seq.slots.numCached;
      const end = start + chunk.tokenIds.length;
      seq.stepsInFlight++;
      const samples = end === seq.tokenIds.length;
      const sampleRow = chunk.logits === "none" ? -1 : logitRows + (chunk.logits === "all" ? chunk.tokenIds.length - 1 : 0);
      logitRows += chunk.logits === "all" ? chunk.tokenIds.length : chunk.logits === "last" ? 1 : 0;
      return { seq, start, end, samples, sampleRow, position: -1 };
    });
    let waitsFor: LaunchedStep | null = null;
    const feed: { chunk: number; sourceRow: number }[] = [];
    entries.forEach(({ seq }, i) => {
      if (seq.pending === 0 || seq.producer === null) return;
      if (seq.producer.step === previous && sampledOnDevice(previous, seq.producer.row))
        feed.push({ chunk: i, sourceRow: seq.producer.row });
      else waitsFor = seq.producer.step;
    });
    const device = this.deviceSampling(entries);
    try {
      const prepared = this.runner.prepare(
        plan.chunks.map((c) => c.chunk),
        { deviceSampling: device ?? undefined, feed: feed.length > 0 ? { source: previous!.sampled!, chunks: feed } : undefined },
      );
      return { entries, prepared, deviceSampled: device !== null, hostRows: new Set(device?.hostRows ?? []), waitsFor };
    } catch (error) {
      for (const { seq } of entries) this.fail(seq, error);
      return null;
    }
  }

  /**
   * Device-side sampling for the step's sequences that can take it: no penalties, logit bias or allowed ids, no constraint, no top
   * log-probs, and one shared stop-id list for the rows that still mask stops (min_tokens). Temperature 0 rows
   * are greedy (exactly the host sampler's argmax); others, where the backend can (Backend.sampleRows), draw on
   * the device with one u from the request's generator, as the host sampler would (both draw in id order, so a
   * seed gives the same tokens on either path but for rounding). The other sampling rows are read back and
   * sampled on the host (`hostRows`), so one request with top log-probs does not send its whole batch's logits
   * to the host. Null (all on the host) when no row can sample on the device or a chunk wants prompt log-probs.
   */
  private deviceSampling(entries: StepEntry[]): DeviceSampling | null {
    const sampling = entries.filter((e) => e.samples);
    // Prompt log-probs need the logits themselves (and give chunks several rows).
    if (sampling.length === 0 || entries.some((e) => e.seq.wantsPromptLogits)) return null;
    const maskStops = new Int32Array(entries.filter((e) => e.sampleRow >= 0).length);
    let stopIds: number[] | null = null;
    const drawn: { row: number; params: SamplingParams; rng: Rng }[] = [];
    const hostRows: number[] = [];
    for (const { seq, sampleRow } of sampling) {
      const p = seq.request.params;
      if (p.maxTokens === 0) return null;
      const plain = p.logprobs === 0 && !transformsLogits(p);
      if (!plain || seq.request.constraint || (p.temperature !== 0 && !this.runner.samplesOnDevice)) {
        hostRows.push(sampleRow);
        continue;
      }
      const masks = seq.output.outputIds.length + seq.pending < p.minTokens;
      // The device masks one stop-id list per step: a row with another list samples on the host.
      if (masks && stopIds !== null && (stopIds.length !== p.stopTokenIds.length || stopIds.some((id, i) => id !== p.stopTokenIds[i]))) {
        hostRows.push(sampleRow);
        continue;
      }
      if (p.temperature !== 0) drawn.push({ row: sampleRow, params: p, rng: seq.rng });
      if (!masks) continue;
      stopIds = p.stopTokenIds;
      maskStops[sampleRow] = 1;
    }
    if (hostRows.length === sampling.length) return null;
    const plan = {
      maskStops,
      stopIds: Int32Array.from(stopIds ?? []),
      ...(hostRows.length > 0 ? { hostRows: Int32Array.from(hostRows) } : {}),
    };
    if (drawn.length === 0) return plan;
    // Every check passed: only now take each sampled row's draw from its request's generator.
    const sampled: DeviceSampledRows = {
      rows: Int32Array.from(drawn, (d) => d.row),
      temperature: Float32Array.from(drawn, (d) => d.params.temperature),
      topP: Float32Array.from(drawn, (d) => d.params.topP),
      topK: Int32Array.from(drawn, (d) => (d.params.topK > 0 ? d.params.topK : 0)),
      minP: Float32Array.from(drawn, (d) => d.params.minP),
      u: Float32Array.from(drawn, (d) => d.rng.nextFloat()),
      maskStops: Int32Array.from(drawn, (d) => maskStops[d.row]),
    };
    return { ...plan, sampled };
  }

  /** Fills host-known token ids, marks the positions cached, sends the step; sampling sequences get a placeholder. */
  private launch(step: PlannedStep): LaunchedStep {
    const { prepared, entries } = step;
    entries.forEach(({ seq, start, end }, i) => {
      if (seq.done) return; // finished while this step waited: its row runs on a placeholder and is ignored
      for (let t = start; t < end; t++) prepared.tokenIds[prepared.rowStarts[i] + t - start] = seq.tokenIds[t];
    });
    prepared.commit();
    if (this.stepObserver) {
      const lengths = entries.map(({ start, end }) => end - start);
      const decodeRows = lengths.filter((length) => length === 1).length;
      this.stepObserver({ decodeRows, prefillTokens: lengths.reduce((a, b) => a + b, 0) - decodeRows });
    }
    let output: Promise<Float32Array[]>;
    try {
      output = prepared.submit();
    } catch (error) {
      output = Promise.reject(error); // failed at once (device lost, backend disposed): complete() fails the step's requests
    }
    output.catch(() => {}); // handled in complete(); never an unhandled rejection meanwhile
    const launched: LaunchedStep = {
      entries,
      output,
      deviceSampled: step.deviceSampled,
      hostRows: step.hostRows,
      sampled: prepared.sampled,
    };
    for (const entry of entries) {
      const { seq } = entry;
      if (seq.done) continue;
      if (seq.usePrefixCache) seq.slots.registerFullBlocks(seq.tokenIds, seq.tokenIds.length - seq.pending);
      if (!entry.samples || seq.request.params.maxTokens === 0) continue;
      // The request's last token (by length): no placeholder, so no later step plans a row for it.
      if (seq.output.endsByLength(seq.pending)) continue;
      entry.position = seq.tokenIds.length;
      seq.tokenIds.push(PLACEHOLDER_TOKEN);
      seq.pending++;
      seq.producer = { step: launched, row: entry.sampleRow };
    }
    return launched;
  }

  /** Waits for a launched step and turns its output into prompt log-probs, samples and events. */
  private async complete(step: LaunchedStep): Promise<void> {
    let output: Float32Array[] | null = null;
    let failure: unknown = null;
    try {
      output = await step.output;
    } catch (error) {
      failure = error;
    }
    step.entries.forEach((entry, i) => {
      const { seq } = entry;
      seq.stepsInFlight--;
      if (seq.done) return;
      if (output === null) return this.fail(seq, failure);
      if (seq.aborted) return this.finish(seq, seq.output.finish("abort"));
      const rows = output[i];
      if (seq.wantsPromptLogits) this.collectPromptLogprobs(seq, entry.start, entry.end, rows);
      if (entry.samples) this.emit(seq, rows, entry.position, sampledOnDevice(step, entry.sampleRow));
      if (seq.producer?.step === step) seq.producer = null;
    });
    await yieldToEventLoop();
  }

  private collectPromptLogprobs(seq: Sequence, start: number, end: number, rows: Float32Array): void {
    const vocab = this.vocabSize;
    const prompt = seq.request.promptIds;
    const chunkLength = end - start;
    const topN = seq.request.promptLogprobs ?? 0;
    for (let r = 0; r < chunkLength; r++) {
      const next = start + r + 1;
      if (next >= prompt.length) break;
      if (next < seq.promptLogprobs!.length) continue; // recomputed after a preemption: already collected
      const row = rows.subarray(r * vocab, (r + 1) * vocab);
      const { logprob, topLogprobs } = this.sampler.logprobsOf(row, prompt[next], topN);
      seq.promptLogprobs!.push({ tokenId: prompt[next], logprob, topLogprobs, rank: rankOf(row, prompt[next]) });
    }
    if (end >= prompt.length) seq.wantsPromptLogits = false;
  }

  /**
   * The sequence has computed all its tokens: sample the next one into `position` (or end, for max_tokens
   * 0). `rows` are logits, or (token id, log-prob) when the step sampled on the device.
   */
  private emit(seq: Sequence, rows: Float32Array, position: number, deviceSampled: boolean): void {
    const vocab = this.vocabSize;
    const promptLogprobs = seq.promptLogprobs;
    seq.promptLogprobs = undefined;
    const params = seq.request.params;
    if (params.maxTokens === 0) {
      return this.finish(seq, { ...seq.output.finish("length"), promptLogprobs });
    }
    if (position >= 0) seq.pending--; // else the last token, which took no placeholder (launch)
    if (deviceSampled) return this.accept(seq, { tokenId: rows[0], logprob: rows[1], topLogprobs: [] }, position, promptLogprobs);
    let logits = rows.length === vocab ? rows : rows.subarray(rows.length - vocab);
    const { constraint } = seq.request;
    if (constraint) {
      logits = logits.slice();
      constraint.mask(logits);
    }
    // A finished constrained document allows only stop tokens, which min_tokens would mask: let them through.
    const sampling = constraint?.isComplete() && params.minTokens > 0 ? { ...params, minTokens: 0 } : params;
    const sampled = this.sampler.sample(logits, sampling, seq.rng, {
      promptTokenIds: seq.request.promptIds,
      outputTokenIds: seq.output.outputIds,
    });
    constraint?.accept(sampled.tokenId);
    this.accept(seq, sampled, position, promptLogprobs);
  }

  /** Turns a sampled token into the request's next event; it replaces the placeholder pushed at launch. */
  private accept(seq: Sequence, sampled: SampleResult, position: number, promptLogprobs: PromptTokenLogprob[] | undefined): void {
    this.counters.generationTokensTotal++;
    const event = seq.output.push(sampled);
    if (promptLogprobs) event.promptLogprobs = promptLogprobs;
    if (event.finishReason !== undefined) return this.finish(seq, event);
    seq.tokenIds[position] = sampled.tokenId;
    if (seq.usePrefixCache) seq.slots.registerFullBlocks(seq.tokenIds, seq.tokenIds.length - seq.pending);
    seq.channel.push(event);
  }

  private fail(seq: Sequence, error: unknown): void {
    seq.done = true;
    this.scheduler.remove(seq);
    seq.channel.fail(error);
  }
}

/** Lets timers and I/O (HTTP requests, aborts) run between steps, also when a step never awaited real I/O. */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
  // An arrow, not `resolve` itself: native callbacks of setImmediate wait for the WebGPU backend's poll interval (dawn-poll.ts).
  return new Promise((resolve) => (immediate ? immediate(() => resolve()) : setTimeout(resolve, 0)));
}
