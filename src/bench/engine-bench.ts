import type { GenerationEvent } from "../engine/generate.js";
import type { LanguageModel } from "../engine/language-model.js";
import { Rng } from "../engine/rng.js";
import type { StepShape } from "../engine/request.js";

export interface BenchOptions {
  /** Prompt lengths whose prefill speed (time to first token) is measured. */
  prefillLengths: number[];
  /** Decode at batch 1: prompt length and generated tokens. */
  decodePrompt: number;
  decodeTokens: number;
  /** Batch sizes of the batched-decode measurement: that many requests of equal length decode together (empty: skip). */
  decodeBatches?: number[];
  /** Concurrency levels of the serving measurement (empty: skip). */
  concurrency: number[];
  /** Requests per concurrency level (default 2 × the level, at least 8). */
  requestsPerLevel?: number;
  /**
   * Sampling of the batched-decode and serving requests (default greedy), e.g. the model card's temperature 0.6 and
   * top-p 0.9. Prefill and batch-1 decode stay greedy.
   */
  sampling?: { temperature: number; topP: number };
  /**
   * Time the batch-1 decode steps and the serving runs' steps on the device (timestamp queries around each step's
   * compute pass): GPU time per step and the device's idle time between steps, which pipelining should keep near
   * zero. Needs a backend that can (`profiler`); the step's timing stays the same otherwise.
   */
  profiler?: StepProfiler;
  onProgress?: (line: string) => void;
}

export interface PrefillResult {
  tokens: number;
  /** Median time to first token over the repetitions (prefill + one sampling step). */
  ttftMs: number;
  tokensPerSecond: number;
}

export interface DecodeResult {
  promptTokens: number;
  newTokens: number;
  /** Median time between consecutive tokens. */
  msPerToken: number;
  tokensPerSecond: number;
  /**
   * Median time to first token of a `promptTokens` prompt over three one-token requests, as PrefillResult's (until
   * session 25 it was the decode request's own first token: the first prompt of its length in the run, most likely
   * slower for making its steps' bind groups; the PyTorch peer's is its fastest of three after a warm-up).
   */
  ttftMs: number;
  /** With a profiler: medians over the request's steps of the GPU time of a step's pass and of the gap before the next. */
  gpu?: { msPerStep: number; idleMsBetweenSteps: number };
}

/** A backend's step timing (WebGpuBackend's setProfile / takeProfiles, "pass" mode: begin and end of each step's pass). */
export interface StepProfiler {
  setProfile(mode: "pass" | "off"): void;
  takeProfiles(): { ns: BigUint64Array }[];
  /** Kernels compiled so far and the host time their compilation took (a step that compiles waits for it). */
  compileStats?(): { kernels: number; ms: number; keys?: readonly string[] };
  /** Bind groups created so far (host work per step when a step's bindings are new). */
  bindGroupsCreated?(): number;
}

export interface BatchedDecodeResult {
  batch: number;
  /**
   * Median time between a request's consecutive tokens once every request of the batch has its first token (steps
   * that only decode); NaN when no request has a token after that (every step also carried prompts: raise --new).
   */
  msPerStep: number;
  /** Output tokens per second of the whole batch (batch × 1000 / msPerStep). */
  tokensPerSecond: number;
}

export interface ServingResult {
  concurrency: number;
  requests: number;
  outputTokens: number;
  wallMs: number;
  outputTokensPerSecond: number;
  ttftMs: { p50: number; p99: number };
  tpotMs: { p50: number; p99: number };
  /** With a profiler: the run's steps on the device (stepTimes) and the share of the run the device was busy. */
  gpu?: {
    steps: number;
    msPerStep: number;
    idleMsBetweenSteps: number;
    longestIdleMs: number;
    busyFraction: number;
    /** Kernels compiled during the run and the host time that took (absent where the profiler cannot tell). */
    compiled?: { kernels: number; ms: number; keys?: string[] };
    /** GPU time by kind of step (absent where the engine does not report its steps' shapes). */
    breakdown?: StepBreakdown;
    /** Bind groups the backend created during the run (absent where it cannot tell). */
    bindGroupsCreated?: number;
  };
}

/** Steps of one kind: how many, their GPU time, and the rows they held. */
export interface StepClass {
  steps: number;
  gpuMs: number;
  /** Device idle time just before these steps (from the previous step's end to their start). */
  idleMsBefore: number;
  decodeRows: number;
  prefillTokens: number;
}

/**
 * A serving run's steps by kind: decode-only steps that hold at least 90% of the concurrency ("full"), decode-only
 * steps with fewer rows (the run's ramp and tail, where requests have finished and none are left to replace them),
 * and steps with prompt tokens ("mixed", decode rows beside them).
 */
export interface StepBreakdown {
  full: StepClass;
  partial: StepClass;
  mixed: StepClass;
}

export interface BenchReport {
  prefill: PrefillResult[];
  decode: DecodeResult;
  batchedDecode: BatchedDecodeResult[];
  serving: ServingResult[];
  /** Sampling of the batched-decode and serving requests (temperature 0: greedy). */
  sampling: { temperature: number; topP: number };
}

/** Lengths of a ShareGPT-like mix: (prompt, output) pairs, long-tailed, as serving benchmarks draw them. */
const SHAREGPT_LIKE: readonly [number, number][] = [
  [24, 180],
  [60, 320],
  [110, 96],
  [230, 420],
  [18, 40],
  [400, 250],
  [75, 640],
  [150, 200],
  [900, 300],
  [45, 128],
];

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

/**
 * Speed of a loaded model through the engine, as a user of `generate` or the server sees it (llama-bench's
 * figures): prefill tokens/s by prompt length (time to first token), decode tokens/s at batch 1, and output
 * tokens/s with TTFT/TPOT percentiles at several concurrency levels over a ShareGPT-like length mix.
 * Prompts are random token ids (never all zeros; a fresh prompt per measurement so the prefix cache never
 * hits) and every request runs to its full length (min_tokens = max_tokens).
 */
export async function runBench(model: LanguageModel, options: BenchOptions): Promise<BenchReport> {
  const rng = new Rng(1234);
  const vocab = model.spec.vocabSize;
  const randomPrompt = (length: number) => Array.from({ length }, () => 256 + Math.floor(rng.nextFloat() * (vocab - 512)));
  const log = options.onProgress ?? (() => {});
  const fixedLength = (maxTokens: number) => model.resolveSampling({ temperature: 0, maxTokens, minTokens: maxTokens });
  // Seeded per request, so a run's sampled requests are reproducible.
  let seed = 0;
  const { temperature, topP } = options.sampling ?? { temperature: 0, topP: 1 };
  const batchedLength = (maxTokens: number) => model.resolveSampling({ temperature, topP, maxTokens, minTokens: maxTokens, seed: seed++ });

  // Warm-up: compiles every kernel variant and grows the buffer pools.
  await drain(
    model.engine.submit({ promptIds: randomPrompt(Math.max(...options.prefillLengths, options.decodePrompt)), params: fixedLength(4) }),
  );

  // Median over three one-token requests of a fresh prompt of `tokens` tokens: prefill + one sampling step.
  const medianTtftMs = async (tokens: number) => {
    const ttfts: number[] = [];
    for (let rep = 0; rep < 3; rep++) ttfts.push((await timeRequest(model, randomPrompt(tokens), fixedLength(1))).ttftMs);
    return quantile(ttfts, 0.5);
  };
  const prefill: PrefillResult[] = [];
  for (const tokens of options.prefillLengths) {
    const ttftMs = await medianTtftMs(tokens);
    prefill.push({ tokens, ttftMs, tokensPerSecond: tokens / (ttftMs / 1000) });
    log(`prefill ${tokens}: ${ttftMs.toFixed(1)} ms`);
  }
  // The decode prompt's time to first token, measured as the prefill lengths are (the PyTorch peer's is also repeated
  // after a warm-up).
  const decodeTtftMs = prefill.find((p) => p.tokens === options.decodePrompt)?.ttftMs ?? (await medianTtftMs(options.decodePrompt));

  options.profiler?.setProfile("pass");
  options.profiler?.takeProfiles();
  let single: Awaited<ReturnType<typeof timeRequest>>;
  try {
    single = await timeRequest(model, randomPrompt(options.decodePrompt), fixedLength(options.decodeTokens));
  } finally {
    options.profiler?.setProfile("off");
  }
  const msPerToken = quantile(single.gapsMs, 0.5);
  const decode: DecodeResult = {
    promptTokens: options.decodePrompt,
    newTokens: options.decodeTokens,
    msPerToken,
    tokensPerSecond: 1000 / msPerToken,
    ttftMs: decodeTtftMs,
    ...(options.profiler ? { gpu: stepTimes(options.profiler.takeProfiles()) } : {}),
  };
  log(`decode: ${msPerToken.toFixed(2)} ms/token`);

  const batchedDecode: BatchedDecodeResult[] = [];
  for (const batch of options.decodeBatches ?? []) {
    const runs = await Promise.all(
      Array.from({ length: batch }, () => timeRequest(model, randomPrompt(options.decodePrompt), batchedLength(options.decodeTokens))),
    );
    const msPerStep = quantile(steadyGapsMs(runs.map((r) => r.tokenTimesMs)), 0.5);
    batchedDecode.push({ batch, msPerStep, tokensPerSecond: (batch * 1000) / msPerStep });
    log(`decode batch ${batch}: ${Number.isNaN(msPerStep) ? "no decode-only step (raise --new)" : `${msPerStep.toFixed(2)} ms/step`}`);
  }

  const serving: ServingResult[] = [];
  for (const concurrency of options.concurrency) {
    const requests = options.requestsPerLevel ?? Math.max(8, 2 * concurrency);
    const jobs = Array.from({ length: requests }, (_, i) => SHAREGPT_LIKE[i % SHAREGPT_LIKE.length]);
    const ttfts: number[] = [];
    const tpots: number[] = [];
    let outputTokens = 0;
    let next = 0;
    options.profiler?.setProfile("pass");
    options.profiler?.takeProfiles();
    const compiledBefore = options.profiler?.compileStats?.();
    const bindGroupsBefore = options.profiler?.bindGroupsCreated?.();
    const shapes: StepShape[] = [];
    if (options.profiler) model.engine.observeSteps?.((shape) => shapes.push(shape));
    const started = performance.now();
    const worker = async () => {
      while (next < jobs.length) {
        const [promptLength, outputLength] = jobs[next++];
        const result = await timeRequest(model, randomPrompt(promptLength), batchedLength(outputLength));
        ttfts.push(result.ttftMs);
        if (result.gapsMs.length > 0) tpots.push(result.gapsMs.reduce((a, b) => a + b, 0) / result.gapsMs.length);
        outputTokens += result.tokens;
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      options.profiler?.setProfile("off");
      model.engine.observeSteps?.(null);
    }
    const wallMs = performance.now() - started;
    const profiles = options.profiler?.takeProfiles();
    const compiledAfter = options.profiler?.compileStats?.();
    const bindGroupsAfter = options.profiler?.bindGroupsCreated?.();
    const compiled =
      compiledBefore && compiledAfter
        ? {
            kernels: compiledAfter.kernels - compiledBefore.kernels,
            ms: compiledAfter.ms - compiledBefore.ms,
            ...(compiledAfter.keys ? { keys: compiledAfter.keys.slice(compiledBefore.kernels) } : {}),
          }
        : undefined;
    serving.push({
      concurrency,
      requests,
      outputTokens,
      wallMs,
      outputTokensPerSecond: outputTokens / (wallMs / 1000),
      ttftMs: { p50: quantile(ttfts, 0.5), p99: quantile(ttfts, 0.99) },
      tpotMs: { p50: quantile(tpots, 0.5), p99: quantile(tpots, 0.99) },
      ...(profiles
        ? {
            gpu: {
              steps: profiles.length,
              ...stepTimes(profiles),
              busyFraction: busyFraction(profiles),
              ...(compiled ? { compiled } : {}),
              ...(shapes.length === profiles.length ? { breakdown: stepBreakdown(shapes, profiles, concurrency) } : {}),
              ...(bindGroupsBefore !== undefined && bindGroupsAfter !== undefined
                ? { bindGroupsCreated: bindGroupsAfter - bindGroupsBefore }
                : {}),
            },
          }
        : {}),
    });
    log(`concurrency ${concurrency}: ${(outputTokens / (wallMs / 1000)).toFixed(1)} output tok/s`);
  }
  return { prefill, decode, batchedDecode, serving, sampling: { temperature, topP } };
}

/**
 * Medians of the steps' pass durations and of the gaps between one pass's end and the next one's beginning, and the
 * longest gap (ms; NaN with fewer than two passes).
 */
export function stepTimes(profiles: { ns: BigUint64Array }[]): { msPerStep: number; idleMsBetweenSteps: number; longestIdleMs: number } {
  const ms = (ns: bigint) => Number(ns) / 1e6;
  const passes = profiles.map((p) => ms(p.ns[1] - p.ns[0]));
  const gaps = profiles.slice(1).map((p, i) => ms(p.ns[0] > profiles[i].ns[1] ? p.ns[0] - profiles[i].ns[1] : 0n));
  return {
    msPerStep: quantile(passes, 0.5),
    idleMsBetweenSteps: quantile(gaps, 0.5),
    longestIdleMs: gaps.length > 0 ? Math.max(...gaps) : NaN,
  };
}

/** GPU time of each step (`profiles[i]` times `shapes[i]`, in launch order) by kind of step (StepBreakdown). */
export function stepBreakdown(shapes: readonly StepShape[], profiles: { ns: BigUint64Array }[], concurrency: number): StepBreakdown {
  if (shapes.length !== profiles.length) throw new RangeError(`stepBreakdown: ${shapes.length} shapes for ${profiles.length} timed steps`);
  const empty = (): StepClass => ({ steps: 0, gpuMs: 0, idleMsBefore: 0, decodeRows: 0, prefillTokens: 0 });
  const breakdown: StepBreakdown = { full: empty(), partial: empty(), mixed: empty() };
  shapes.forEach((shape, i) => {
    const kind = shape.prefillTokens > 0 ? "mixed" : shape.decodeRows >= 0.9 * concurrency ? "full" : "partial";
    const target = breakdown[kind];
    target.steps++;
    target.gpuMs += Number(profiles[i].ns[1] - profiles[i].ns[0]) / 1e6;
    if (i > 0 && profiles[i].ns[0] > profiles[i - 1].ns[1]) target.idleMsBefore += Number(profiles[i].ns[0] - profiles[i - 1].ns[1]) / 1e6;
    target.decodeRows += shape.decodeRows;
    target.prefillTokens += shape.prefillTokens;
  });
  return breakdown;
}

/** The share of the time from the first pass's beginning to the last one's end that some pass ran (passes in order). */
export function busyFraction(profiles: { ns: BigUint64Array }[]): number {
  if (profiles.length === 0) return NaN;
  let busy = 0n;
  let end = profiles[0].ns[0];
  for (const { ns } of profiles) {
    // Overlapping passes (none expected: one queue) count once.
    const begin = ns[0] > end ? ns[0] : end;
    if (ns[1] > begin) busy += ns[1] - begin;
    if (ns[1] > end) end = ns[1];
  }
  const span = end - profiles[0].ns[0];
  return span > 0n ? Number(busy) / Number(span) : NaN;
}

async function drain(stream: AsyncGenerator<GenerationEvent>): Promise<number> {
  let tokens = 0;
  for await (const event of stream) if (event.tokenId !== null) tokens++;
  return tokens;
}

/**
 * The gaps between consecutive tokens of each request (`tokenTimesMs[r]`: the times request r's tokens arrived) that
 * start once every request has its first token: the batch's decode-only steps. Gaps that start earlier include
 * steps that also prefilled other requests' prompts, which at a large batch and a long prompt are most of a short
 * run (256 requests of 300 prompt tokens and 24 new read 165 ms per step against ~33 for decode-only steps, H100).
 */
export function steadyGapsMs(tokenTimesMs: readonly (readonly number[])[]): number[] {
  if (tokenTimesMs.some((times) => times.length === 0)) return [];
  const steady = Math.max(...tokenTimesMs.map((times) => times[0]));
  return tokenTimesMs.flatMap((times) => times.slice(1).flatMap((t, i) => (times[i] >= steady ? [t - times[i]] : [])));
}

async function timeRequest(
  model: LanguageModel,
  promptIds: number[],
  params: ReturnType<LanguageModel["resolveSampling"]>,
): Promise<{ ttftMs: number; gapsMs: number[]; tokenTimesMs: number[]; tokens: number }> {
  const start = performance.now();
  const tokenTimesMs: number[] = [];
  for await (const event of model.engine.submit({ promptIds, params })) {
    if (event.tokenId !== null) tokenTimesMs.push(performance.now());
  }
  const gapsMs = tokenTimesMs.slice(1).map((t, i) => t - tokenTimesMs[i]);
  return { ttftMs: tokenTimesMs.length > 0 ? tokenTimesMs[0] - start : NaN, gapsMs, tokenTimesMs, tokens: tokenTimesMs.length };
}

/** The report as Markdown tables (what `swallow bench` prints). */
export function formatBench(report: BenchReport, title: string): string {
  const lines = [`${title}`, "", "| measurement | result |", "|---|---|"];
  for (const p of report.prefill) {
    lines.push(`| prefill ${p.tokens} tokens | ${p.tokensPerSecond.toFixed(0)} tok/s (TTFT ${p.ttftMs.toFixed(1)} ms) |`);
  }
  const d = report.decode;
  lines.push(
    `| decode, batch 1 (prompt ${d.promptTokens}, ${d.newTokens} new) | ${d.tokensPerSecond.toFixed(1)} tok/s (${d.msPerToken.toFixed(2)} ms/token, TTFT ${d.ttftMs.toFixed(1)} ms) |`,
  );
  if (d.gpu) {
    lines.push(
      `| decode, batch 1: GPU time per step / device idle between steps (medians) | ${d.gpu.msPerStep.toFixed(2)} / ${d.gpu.idleMsBetweenSteps.toFixed(3)} ms |`,
    );
  }
  const { temperature, topP } = report.sampling;
  const sampled = temperature === 0 ? "greedy" : `temperature ${temperature}, top-p ${topP}`;
  for (const b of report.batchedDecode) {
    lines.push(
      Number.isNaN(b.msPerStep)
        ? `| decode, batch ${b.batch} (${sampled}) | — (no step decoded the whole batch without prompts: raise --new) |`
        : `| decode, batch ${b.batch} (${sampled}) | ${b.tokensPerSecond.toFixed(1)} tok/s (${b.msPerStep.toFixed(2)} ms/step) |`,
    );
  }
  if (report.serving.length > 0) {
    lines.push("", `Serving, ShareGPT-like lengths, ${sampled}:`);
    const gpu = report.serving.some((s) => s.gpu);
    lines.push(
      "",
      `| concurrency | requests | output tok/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms |${gpu ? " GPU busy (steps; median step / idle, longest idle ms; kernels compiled, bind groups created in the run) |" : ""}`,
      `|---:|---:|---:|---:|---:|${gpu ? "---:|" : ""}`,
    );
    for (const s of report.serving) {
      const busy = s.gpu
        ? ` ${(100 * s.gpu.busyFraction).toFixed(1)}% (${s.gpu.steps}; ${s.gpu.msPerStep.toFixed(1)} / ${s.gpu.idleMsBetweenSteps.toFixed(2)}, ${s.gpu.longestIdleMs.toFixed(1)}${s.gpu.compiled ? `; ${s.gpu.compiled.kernels} in ${s.gpu.compiled.ms.toFixed(0)} ms` : ""}${s.gpu.bindGroupsCreated !== undefined ? `, ${s.gpu.bindGroupsCreated} bind groups` : ""}) |`
        : gpu
          ? " — |"
          : "";
      lines.push(
        `| ${s.concurrency} | ${s.requests} | ${s.outputTokensPerSecond.toFixed(1)} | ${s.ttftMs.p50.toFixed(0)} / ${s.ttftMs.p99.toFixed(0)} | ${s.tpotMs.p50.toFixed(1)} / ${s.tpotMs.p99.toFixed(1)} |${busy}`,
      );
    }
    const broken = report.serving.filter((s) => s.gpu?.breakdown);
    if (broken.length > 0) {
      lines.push(
        "",
        "GPU time by kind of step (full: decode only, ≥ 90% of the concurrency; partial: decode only, fewer rows; mixed: with prompt tokens):",
        "",
        "| concurrency | full: steps, GPU s, idle s before, mean rows | partial: steps, GPU s, idle s before, mean rows | mixed: steps, GPU s, idle s before, prompt tokens, decode rows |",
        "|---:|---:|---:|---:|",
      );
      for (const s of broken) {
        const { full, partial, mixed } = s.gpu!.breakdown!;
        const rows = (c: StepClass) => (c.steps > 0 ? (c.decodeRows / c.steps).toFixed(0) : "—");
        const times = (c: StepClass) => `${c.steps}, ${(c.gpuMs / 1000).toFixed(2)}, ${(c.idleMsBefore / 1000).toFixed(2)}`;
        lines.push(
          `| ${s.concurrency} | ${times(full)}, ${rows(full)} | ${times(partial)}, ${rows(partial)} | ${times(mixed)}, ${mixed.prefillTokens}, ${mixed.decodeRows} |`,
        );
      }
    }
  }
  return lines.join("\n");
}
