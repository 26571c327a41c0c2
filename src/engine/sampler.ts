import { SwallowError } from "../errors.js";
import { banBadWords } from "./bad-words.js";
import { argmax } from "./logits.js";
import type { Rng } from "./rng.js";

/** Per-request sampling settings, fully resolved (see {@link resolveSamplingParams}). Same meanings as vLLM's. */
export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Nucleus sampling: keep the smallest set of most likely tokens whose probability reaches top_p (1 = off). */
  topP: number;
  /** Keep the k most likely tokens (ties at the k-th value are kept too); 0 or -1 = off. */
  topK: number;
  /** Drop tokens whose probability is below min_p × the most likely token's (0 = off). */
  minP: number;
  /** > 1 discourages tokens seen in the prompt or the output (transformers/vLLM semantics; 1 = off). */
  repetitionPenalty: number;
  /** Subtracted once from the logit of every token already generated (OpenAI semantics; 0 = off). */
  presencePenalty: number;
  /** Subtracted from a token's logit once per time it was generated (OpenAI semantics; 0 = off). */
  frequencyPenalty: number;
  /**
   * Added to the logits of these token ids before the penalties (OpenAI's `logit_bias`, each in [-100, 100]: −100
   * all but bans a token, +100 all but forces it). Absent or empty = off.
   */
  logitBias?: ReadonlyMap<number, number>;
  /** Only these token ids can be sampled (vLLM's `allowed_token_ids`; absent = all). */
  allowedTokenIds?: readonly number[];
  /**
   * vLLM's `bad_words` as token sequences (bad-words.ts `badWordsTokenIds`): the token that would complete one
   * cannot be sampled. Absent or empty = off.
   */
  badWordsTokenIds?: readonly (readonly number[])[];
  /** Seed for the request's own generator; absent = a random one. */
  seed?: number;
  maxTokens: number;
  /** Stop token ids cannot be sampled until this many tokens were generated (stop strings are not checked either). */
  minTokens: number;
  /** Token ids that end generation: generation_config's and config.json's EOS ids plus the user's. */
  stopTokenIds: number[];
  /** Strings that end generation (not included in the output). */
  stop: string[];
  /** Number of most likely tokens to report with each sampled one (0 = none). */
  logprobs: number;
  /** Special tokens (`<|eot_id|>`, …) add no text (vLLM's `skip_special_tokens`; absent = true). */
  skipSpecialTokens?: boolean;
  /** The stop string or stop token that ended generation is part of the text (vLLM's `include_stop_str_in_output`). */
  includeStopStringInOutput?: boolean;
}

/** The parts of generation_config.json that serve as defaults (structurally matches `GenerationDefaults` of model/spec.ts). */
export interface GenerationSamplingDefaults {
  temperature?: number | null;
  topP?: number | null;
  topK?: number | null;
  minP?: number | null;
  repetitionPenalty?: number | null;
  maxNewTokens?: number | null;
  eosTokenIds?: readonly number[] | null;
}

export interface ResolveSamplingOptions {
  /** config.json's `eos_token_id` list (also a stop token, as in vLLM). */
  configEosTokenIds?: readonly number[];
  /** max_tokens when neither the user nor generation_config gives one (e.g. max_model_len − prompt length). Default 16, vLLM's. */
  defaultMaxTokens?: number;
}

/** vLLM's `SamplingParams` defaults, used where neither the user nor generation_config.json says otherwise. */
export const VLLM_SAMPLING_DEFAULTS = {
  temperature: 1,
  topP: 1,
  topK: 0,
  minP: 0,
  repetitionPenalty: 1,
  presencePenalty: 0,
  frequencyPenalty: 0,
  maxTokens: 16,
  minTokens: 0,
  logprobs: 0,
} as const;

/** Most top logprobs one request may ask for (vLLM's default `max_logprobs`, OpenAI's `top_logprobs` limit). */
export const MAX_LOGPROBS = 20;
/** OpenAI's range for a logit bias; vLLM clamps each bias into it, and so do we. */
export const MAX_LOGIT_BIAS = 100;
/** vLLM's `_MAX_TEMP`: positive temperatures below this are raised to it. */
const MIN_POSITIVE_TEMPERATURE = 0.01;

/**
 * Merges one request's sampling settings with the checkpoint's generation_config.json, field by field, as
 * vLLM's OpenAI server does: a value the user gives wins, else generation_config's (e.g. Swallow/Llama-3.1
 * Instruct: temperature 0.6, top_p 0.9), else vLLM's default. `do_sample` is ignored (vLLM ignores it too).
 * Stop token ids are the union of generation_config's EOS ids, config.json's and the user's. Each logit bias is
 * clamped to [-100, 100] (vLLM); its token ids are checked against the vocabulary by the engine.
 * Temperature 0 means greedy and turns top-p/top-k/min-p off; a temperature in (0, 0.01) is raised to 0.01 (vLLM).
 * @throws SwallowError naming the parameter when a value is out of range.
 */
export function resolveSamplingParams(
  user: Partial<SamplingParams>,
  generationDefaults: GenerationSamplingDefaults | null,
  options: ResolveSamplingOptions = {},
): SamplingParams {
  const gen = generationDefaults ?? {};
  const d = VLLM_SAMPLING_DEFAULTS;
  const params: SamplingParams = {
    temperature: user.temperature ?? gen.temperature ?? d.temperature,
    topP: user.topP ?? gen.topP ?? d.topP,
    topK: user.topK ?? gen.topK ?? d.topK,
    minP: user.minP ?? gen.minP ?? d.minP,
    repetitionPenalty: user.repetitionPenalty ?? gen.repetitionPenalty ?? d.repetitionPenalty,
    presencePenalty: user.presencePenalty ?? d.presencePenalty,
    frequencyPenalty: user.frequencyPenalty ?? d.frequencyPenalty,
    maxTokens: user.maxTokens ?? gen.maxNewTokens ?? options.defaultMaxTokens ?? d.maxTokens,
    minTokens: user.minTokens ?? d.minTokens,
    stopTokenIds: [...new Set([...(gen.eosTokenIds ?? []), ...(options.configEosTokenIds ?? []), ...(user.stopTokenIds ?? [])])],
    stop: [...new Set(user.stop ?? [])],
    logprobs: user.logprobs ?? d.logprobs,
  };
  if (user.seed != null) params.seed = user.seed;
  if (user.skipSpecialTokens === false) params.skipSpecialTokens = false;
  if (user.includeStopStringInOutput === true) params.includeStopStringInOutput = true;
  if (user.logitBias && user.logitBias.size > 0) params.logitBias = user.logitBias;
  if (user.allowedTokenIds) params.allowedTokenIds = [...new Set(user.allowedTokenIds)];
  if (user.badWordsTokenIds && user.badWordsTokenIds.length > 0) params.badWordsTokenIds = user.badWordsTokenIds.map((word) => [...word]);
  validateSamplingParams(params);
  if (params.logitBias) {
    const clamp = (bias: number) => Math.min(MAX_LOGIT_BIAS, Math.max(-MAX_LOGIT_BIAS, bias));
    params.logitBias = new Map([...params.logitBias].map(([id, bias]) => [id, clamp(bias)])); // the caller's map untouched
  }
  if (params.topK === -1) params.topK = 0;
  if (params.temperature === 0) {
    params.topP = 1;
    params.topK = 0;
    params.minP = 0;
  } else if (params.temperature < MIN_POSITIVE_TEMPERATURE) {
    params.temperature = MIN_POSITIVE_TEMPERATURE;
  }
  return params;
}

/** Range checks of vLLM's `SamplingParams._verify_args`. @throws SwallowError naming the parameter. */
export function validateSamplingParams(p: SamplingParams): void {
  const fail = (name: string, rule: string, value: unknown): never => {
    throw new SwallowError(`${name} must be ${rule}, got ${JSON.stringify(value) ?? String(value)}`);
  };
  const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
  if (!isNumber(p.temperature) || p.temperature < 0) fail("temperature", "a number >= 0", p.temperature);
  if (!isNumber(p.topP) || p.topP <= 0 || p.topP > 1) fail("top_p", "in (0, 1]", p.topP);
  if (!isInt(p.topK) || p.topK < -1) fail("top_k", "an integer >= 1, or 0 or -1 to disable", p.topK);
  if (!isNumber(p.minP) || p.minP < 0 || p.minP > 1) fail("min_p", "in [0, 1]", p.minP);
  if (!isNumber(p.repetitionPenalty) || p.repetitionPenalty <= 0) fail("repetition_penalty", "a number > 0", p.repetitionPenalty);
  if (!isNumber(p.presencePenalty) || p.presencePenalty < -2 || p.presencePenalty > 2) {
    fail("presence_penalty", "in [-2, 2]", p.presencePenalty);
  }
  if (!isNumber(p.frequencyPenalty) || p.frequencyPenalty < -2 || p.frequencyPenalty > 2) {
    fail("frequency_penalty", "in [-2, 2]", p.frequencyPenalty);
  }
  // 0 is valid only for prompt log-probs (echo without generation); the engine checks that pairing.
  if (!isInt(p.maxTokens) || p.maxTokens < 0) fail("max_tokens", "an integer >= 0", p.maxTokens);
  if (!isInt(p.minTokens) || p.minTokens < 0) fail("min_tokens", "an integer >= 0", p.minTokens);
  if (p.minTokens > p.maxTokens) fail("min_tokens", `<= max_tokens (${p.maxTokens})`, p.minTokens);
  if (!isInt(p.logprobs) || p.logprobs < 0 || p.logprobs > MAX_LOGPROBS) fail("logprobs", `an integer in [0, ${MAX_LOGPROBS}]`, p.logprobs);
  if (p.seed !== undefined && !isInt(p.seed)) fail("seed", "an integer between -(2^53-1) and 2^53-1", p.seed);
  if (!Array.isArray(p.stopTokenIds) || !p.stopTokenIds.every((id) => isInt(id) && id >= 0)) {
    fail("stop_token_ids", "a list of integers >= 0", p.stopTokenIds);
  }
  if (!Array.isArray(p.stop) || !p.stop.every((s) => typeof s === "string" && s.length > 0)) {
    fail("stop", "a list of non-empty strings", p.stop);
  }
  if (p.allowedTokenIds && (p.allowedTokenIds.length === 0 || !p.allowedTokenIds.every((id) => isInt(id) && id >= 0))) {
    fail("allowed_token_ids", "a non-empty list of token ids (integers >= 0)", p.allowedTokenIds);
  }
  if (p.badWordsTokenIds && !p.badWordsTokenIds.every((word) => word.length > 0 && word.every((id) => isInt(id) && id >= 0))) {
    fail("bad_words", "token sequences, each non-empty, of token ids (integers >= 0)", p.badWordsTokenIds);
  }
  for (const [id, bias] of p.logitBias ?? []) {
    if (!isInt(id) || id < 0) fail("logit_bias", "keyed by token ids (integers >= 0)", id);
    if (!isNumber(bias)) fail("logit_bias", `a finite number for token ${id}`, bias);
  }
}

/**
 * Whether sampling changes the logits beyond temperature and the filters (penalties, logit_bias, allowed_token_ids,
 * bad_words): such a row needs its logits row and the request's token history, i.e. the host sampler.
 */
export function transformsLogits(p: SamplingParams): boolean {
  return (
    p.repetitionPenalty !== 1 ||
    p.presencePenalty !== 0 ||
    p.frequencyPenalty !== 0 ||
    (p.logitBias?.size ?? 0) > 0 ||
    p.allowedTokenIds !== undefined ||
    (p.badWordsTokenIds?.length ?? 0) > 0
  );
}

export interface TokenLogprob {
  tokenId: number;
  /** Natural log-probability under the raw model distribution (log_softmax of the unprocessed logits). */
  logprob: number;
}

export interface SampleResult {
  tokenId: number;
  /** The chosen token's log-probability under the raw model distribution (vLLM's default `raw_logprobs`). */
  logprob: number;
  /** The `params.logprobs` most likely tokens of the raw distribution, most likely first (lowest id first on ties). */
  topLogprobs: TokenLogprob[];
}

/** What the sampler needs to know about the request beside its logits. */
export interface SamplingContext {
  /** The prompt's token ids (repetition penalty counts them). */
  promptTokenIds: ArrayLike<number>;
  /** Tokens generated so far; its length is the "generated so far" count min_tokens compares against. */
  outputTokenIds: ArrayLike<number>;
}

/** The exact distribution the next token is drawn from: token ids, most likely first, and their probabilities. */
export interface FilteredDistribution {
  tokenIds: number[];
  probs: number[];
}

/** Relative weight (probability ÷ top probability) below which the nucleus search first looks; lowered if needed. */
const NUCLEUS_FIRST_THRESHOLD = 1e-4;

/**
 * Picks the next token from one row of logits. Holds scratch buffers sized to the vocabulary, so keep one
 * per engine (it is not tied to a request: each request brings its params, context and {@link Rng}).
 *
 * Order (vLLM v1 `Sampler.forward`), and why:
 *   0. raw logprobs are taken from the unprocessed logits (what vLLM returns by default), so they describe
 *      the model, not the sampling settings;
 *   1. logits processors, in vLLM v1's order, before any penalty: allowed_token_ids (every other token gets −∞),
 *      bad_words (the token that would complete a bad word gets −∞; bad-words.ts), min_tokens (stop token ids
 *      get −∞ while fewer than min_tokens tokens were generated; no later step can bring a −∞ back),
 *      logit_bias (each biased token's logit + its bias);
 *   2. penalties, on the logits: repetition (tokens in prompt or output: positive logits ÷ penalty, others
 *      × penalty), then frequency (− penalty × count in output), then presence (− penalty if in output);
 *   3. temperature 0 ⇒ argmax of the penalised logits (lowest id on ties), no randomness consumed;
 *   4. logits ÷ temperature;
 *   5. min-p on the tempered distribution (keep p ≥ min_p · p_max), as vLLM's MinPLogitsProcessor which
 *      runs after temperature;
 *   6. top-k (keep logits ≥ the k-th largest; ties kept, as vLLM's and transformers' masks);
 *   7. top-p on the renormalised survivors of 5–6: sorted most likely first, a token is kept while the
 *      mass strictly before it is < top_p, so the token that crosses top_p is kept (vLLM, transformers);
 *   8. one draw u = rng.nextFloat() from the renormalised survivors (inverse CDF over them in id order, as the
 *      device sampler draws). Exactly one float is consumed per sampled token, so a seeded request is
 *      reproducible whatever else runs beside it.
 *
 * Cost on a 128256 vocab: a copy, two exp passes (raw log-normaliser, tempered weights) and a few linear
 * scans; top-k uses a size-k heap; top-p sorts only the tokens above a relative-weight threshold (lowered
 * and retried in the rare case they do not reach top_p), so the whole vocabulary is sorted only for
 * near-flat distributions. Maths is in float64 (vLLM works in float32; results differ only at exact ties).
 */
export class Sampler {
  private vocabSize = 0;
  private work = new Float32Array(0);
  private weights = new Float64Array(0);
  private order = new Int32Array(0);
  private counts = new Int32Array(0);
  private marks = new Uint8Array(0);
  private heap = new Float64Array(0);

  /** Samples one token. `logits` ([vocab], not modified) are the model's raw output for this request's next position. */
  sample(logits: Float32Array, params: SamplingParams, rng: Rng, context: SamplingContext): SampleResult {
    const work = this.process(logits, params, context);
    let tokenId: number;
    if (params.temperature === 0) {
      tokenId = argmax(work);
    } else {
      const kept = this.filter(work, params);
      tokenId = this.draw(kept, rng.nextFloat());
    }
    return this.rawLogprobs(logits, tokenId, params.logprobs);
  }

  /** `tokenId`'s log-probability under `logits` and the `topN` most likely tokens (prompt log-probs for echo). */
  logprobsOf(logits: Float32Array, tokenId: number, topN: number): SampleResult {
    return this.rawLogprobs(logits, tokenId, topN);
  }

  /** The distribution {@link sample} would draw from (greedy: the argmax with probability 1). For tests and debugging. */
  distribution(logits: Float32Array, params: SamplingParams, context: SamplingContext): FilteredDistribution {
    const work = this.process(logits, params, context);
    if (params.temperature === 0) return { tokenIds: [argmax(work)], probs: [1] };
    const kept = this.filter(work, params);
    const ids: number[] = [];
    if (kept.sorted) {
      for (let j = 0; j < kept.count; j++) ids.push(this.order[j]);
    } else {
      for (let i = 0; i < this.vocabSize; i++) if (this.weights[i] > 0) ids.push(i);
      ids.sort((a, b) => work[b] - work[a] || a - b);
    }
    return { tokenIds: ids, probs: ids.map((id) => this.weights[id] / kept.total) };
  }

  /** Copies the logits into scratch and applies steps 1–2 (allowed ids, bad words, min_tokens, logit_bias, penalties). */
  private process(logits: Float32Array, params: SamplingParams, context: SamplingContext): Float32Array {
    this.ensure(logits.length);
    const work = this.work;
    work.set(logits);
    if (params.allowedTokenIds) this.keepOnly(work, params.allowedTokenIds);
    if (params.badWordsTokenIds) banBadWords(work, params.badWordsTokenIds, context.outputTokenIds);
    if (context.outputTokenIds.length < params.minTokens) {
      for (const id of params.stopTokenIds) if (id < work.length) work[id] = -Infinity;
    }
    for (const [id, bias] of params.logitBias ?? []) {
      if (!(id < work.length)) throw new RangeError(`logit_bias token id ${id} is outside the vocabulary [0, ${work.length})`);
      work[id] += bias;
    }
    const { repetitionPenalty, frequencyPenalty, presencePenalty } = params;
    if (repetitionPenalty !== 1 || frequencyPenalty !== 0 || presencePenalty !== 0) {
      this.applyPenalties(work, params, context);
    }
    return work;
  }

  /** Sets every logit but those of `ids` to −∞ (allowed_token_ids). */
  private keepOnly(work: Float32Array, ids: readonly number[]): void {
    const { marks } = this;
    for (const id of ids) {
      if (!(id >= 0 && id < work.length)) throw new RangeError(`allowed token id ${id} is outside the vocabulary [0, ${work.length})`);
    }
    for (const id of ids) marks[id] = 1;
    for (let i = 0; i < work.length; i++) if (marks[i] === 0) work[i] = -Infinity;
    for (const id of ids) marks[id] = 0;
  }

  private applyPenalties(work: Float32Array, params: SamplingParams, context: SamplingContext): void {
    const { counts, marks } = this;
    const touched: number[] = [];
    const visit = (ids: ArrayLike<number>, isOutput: boolean): void => {
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i];
        if (!(id >= 0 && id < work.length)) throw new RangeError(`token id ${id} is outside the vocabulary [0, ${work.length})`);
        if (marks[id] === 0) touched.push(id);
        marks[id] = 1;
        if (isOutput) counts[id]++;
      }
    };
    try {
      visit(context.promptTokenIds, false);
      visit(context.outputTokenIds, true);
      const rep = params.repetitionPenalty;
      for (const id of touched) {
        let x = work[id];
        if (rep !== 1) x = x > 0 ? x / rep : x * rep;
        const n = counts[id];
        x -= params.frequencyPenalty * n;
        if (n > 0) x -= params.presencePenalty;
        work[id] = x;
      }
    } finally {
      for (const id of touched) {
        counts[id] = 0;
        marks[id] = 0;
      }
    }
  }

  /**
   * Steps 4–7: fills `weights` with exp((logit − max)/T) for surviving tokens and 0 for the others. Returns
   * whether the survivors are listed, most likely first, in `order[0..count)` (top-p ran) or are simply
   * the tokens with weight > 0, plus the survivors' total weight.
   */
  private filter(work: Float32Array, params: SamplingParams): { sorted: boolean; count: number; total: number } {
    const V = this.vocabSize;
    const w = this.weights;
    let maxLogit = -Infinity;
    for (let i = 0; i < V; i++) if (work[i] > maxLogit) maxLogit = work[i];
    if (!(maxLogit > -Infinity)) throw new Error("sampler: every logit is -Infinity or NaN; nothing can be sampled");
    const invT = 1 / params.temperature;
    const minWeight = params.minP;
    let count = 0;
    for (let i = 0; i < V; i++) {
      const x = work[i];
      let wi = x === -Infinity ? 0 : Math.exp((x - maxLogit) * invT);
      if (wi < minWeight || wi !== wi) wi = 0;
      w[i] = wi;
      if (wi > 0) count++;
    }
    let kthWeight = 0;
    if (params.topK > 0 && params.topK < count) {
      const kth = this.kthLargestSurvivor(work, params.topK);
      count = 0;
      for (let i = 0; i < V; i++) {
        if (w[i] === 0) continue;
        if (work[i] < kth) w[i] = 0;
        else count++;
      }
      kthWeight = Math.exp((kth - maxLogit) * invT);
    }
    let total = 0;
    for (let i = 0; i < V; i++) total += w[i];
    if (params.topP >= 1) return { sorted: false, count, total };
    return this.nucleus(work, params.topP * total, count, kthWeight > 0 ? kthWeight : NUCLEUS_FIRST_THRESHOLD);
  }

  /** The k-th largest logit among tokens with weight > 0 (a size-k min-heap over one scan). */
  private kthLargestSurvivor(work: Float32Array, k: number): number {
    const heap = this.heap.length >= k ? this.heap : (this.heap = new Float64Array(k));
    const w = this.weights;
    let size = 0;
    for (let i = 0; i < this.vocabSize; i++) {
      if (w[i] === 0) continue;
      const x = work[i];
      if (size < k) {
        let c = size++;
        while (c > 0) {
          const parent = (c - 1) >> 1;
          if (heap[parent] <= x) break;
          heap[c] = heap[parent];
          c = parent;
        }
        heap[c] = x;
      } else if (x > heap[0]) {
        let c = 0;
        for (;;) {
          let child = 2 * c + 1;
          if (child >= k) break;
          if (child + 1 < k && heap[child + 1] < heap[child]) child++;
          if (heap[child] >= x) break;
          heap[c] = heap[child];
          c = child;
        }
        heap[c] = x;
      }
    }
    return heap[0];
  }

  /**
   * Top-p: finds the shortest most-likely-first prefix whose mass reaches `targetMass` (= top_p × total),
   * keeping the token that crosses it. Only tokens with weight ≥ threshold are gathered and sorted; if
   * they do not reach the target, the threshold is lowered and the search repeated.
   */
  private nucleus(
    work: Float32Array,
    targetMass: number,
    survivors: number,
    threshold: number,
  ): { sorted: true; count: number; total: number } {
    const w = this.weights;
    const order = this.order;
    for (;;) {
      let n = 0;
      for (let i = 0; i < this.vocabSize; i++) if (w[i] > 0 && w[i] >= threshold) order[n++] = i;
      order.subarray(0, n).sort((a, b) => work[b] - work[a] || a - b);
      let mass = 0;
      let kept = 0;
      while (kept < n && mass < targetMass) mass += w[order[kept++]];
      if (mass >= targetMass || n === survivors) return { sorted: true, count: kept, total: mass };
      threshold = threshold > 1e-300 ? threshold * 1e-6 : 0;
    }
  }

  /**
   * Step 8: inverse-CDF draw of u ∈ [0, 1) from the survivors, in id order whatever filtered them (the device
   * sampler's order, webgpu/kernels/sample-rows.ts: a seed picks the same token on both paths but for rounding).
   */
  private draw(kept: { sorted: boolean; count: number; total: number }, u: number): number {
    const w = this.weights;
    const target = u * kept.total;
    let acc = 0;
    let last = -1;
    if (kept.sorted) {
      const ids = this.order.subarray(0, kept.count).sort(); // the nucleus (few ids), now by id
      for (const id of ids) {
        acc += w[id];
        if (target < acc) return id;
        last = id;
      }
    } else {
      for (let i = 0; i < this.vocabSize; i++) {
        if (w[i] === 0) continue;
        acc += w[i];
        if (target < acc) return i;
        last = i;
      }
    }
    return last;
  }

  private ensure(vocabSize: number): void {
    if (this.vocabSize === vocabSize) return;
    this.vocabSize = vocabSize;
    this.work = new Float32Array(vocabSize);
    this.weights = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
    this.counts = new Int32Array(vocabSize);
    this.marks = new Uint8Array(vocabSize);
  }

  /**
   * Step 0: the chosen token's log-probability and the top-N of log_softmax(raw logits), in float64.
   * Top-N uses a size-N heap ordered by (logit desc, id asc).
   */
  private rawLogprobs(logits: Float32Array, tokenId: number, topN: number): SampleResult {
    const V = logits.length;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(logits[i] - max);
    const logZ = max + Math.log(sum);
    const topLogprobs: TokenLogprob[] = [];
    const n = Math.min(topN, V);
    if (n > 0) {
      if (this.heap.length < n) this.heap = new Float64Array(n);
      for (const id of topIds(logits, n, this.heap)) topLogprobs.push({ tokenId: id, logprob: logits[id] - logZ });
    }
    return { tokenId, logprob: logits[tokenId] - logZ, topLogprobs };
  }
}

/** Ids of the n largest logits, largest first, lowest id first among equal logits. */
function topIds(logits: Float32Array, n: number, scratch: Float64Array): number[] {
  // Heap entries are ids stored as float64; the root is the worst kept entry.
  const heap = scratch;
  const worse = (a: number, b: number): boolean => logits[a] < logits[b] || (logits[a] === logits[b] && a > b);
  let size = 0;
  for (let i = 0; i < logits.length; i++) {
    if (size < n) {
      let c = size++;
      while (c > 0) {
        const parent = (c - 1) >> 1;
        if (!worse(i, heap[parent])) break;
        heap[c] = heap[parent];
        c = parent;
      }
      heap[c] = i;
    } else if (worse(heap[0], i)) {
      let c = 0;
      for (;;) {
        let child = 2 * c + 1;
        if (child >= n) break;
        if (child + 1 < n && worse(heap[child + 1], heap[child])) child++;
        if (!worse(heap[child], i)) break;
        heap[c] = heap[child];
        c = child;
      }
      heap[c] = i;
    }
  }
  const ids = Array.from(heap.subarray(0, size));
  ids.sort((a, b) => (worse(a, b) ? 1 : worse(b, a) ? -1 : 0));
  return ids;
}
