import type { GenerationEvent } from "./generate.js";
import type { LanguageModel } from "./language-model.js";
import { matmulWeightShapes } from "./memory-account.js";

/** What a warm-up ran. */
export interface WarmUpReport {
  /**
   * Forward-pass sizes (tokens), each run once as a prefill: where the backend's matmul kernels change, and each such
   * class's largest multiple of 16.
   */
  sizes: number[];
  /** Of those, the batch sizes also run as decode steps (at most maxNumSeqs sequences at once). */
  decodeBatches: number[];
  ms: number;
}

/**
 * Runs the kernels a server meets before it serves, so that no request waits for one to compile: a forward pass at
 * each size where the backend's matmul kernels change (Backend.kernelClass: GEMV token blocks, tensor-core tiles,
 * split-K counts), decode steps of that many sequences where maxNumSeqs allows, each joined after its first step by
 * a prompt (a step that mixes decode rows with a prefill chunk), and the same with sampling (temperature 0.6, top-p
 * 0.9); then zeroes the engine's counters (its /metrics totals). Without it the H100's serving benchmark spent 2.7 s
 * of a 51 s run compiling 21 kernels, the longest stall 0.74 s (bench/NOTES.md, session 12). Prompts are arbitrary
 * token ids, distinct per pass so the prefix cache does not shorten them; what stays behind is their blocks in the
 * prefix cache.
 */
export async function warmUp(model: LanguageModel, options: { maxNumSeqs: number }): Promise<WarmUpReport> {
  const started = performance.now();
  const { runner, engine, spec } = model;
  const shapes = matmulWeightShapes(spec);
  const longest = Math.min(runner.maxBatchTokens, runner.maxModelLen - 1);
  // Each class's first size, and its largest multiple of 16 (the tensor-core kernels' matrix height): an activation
  // of whole 16-row matrices lets a residual start the matmul's accumulators, another kernel variant.
  const sizes: number[] = [];
  let previous: string | null = null;
  let aligned = 0;
  for (let rows = 1; rows <= longest + 1; rows++) {
    const kernels = rows <= longest ? (runner.backend.kernelClass?.(rows, shapes) ?? "") : null;
    if (kernels !== previous) {
      if (aligned > 0 && aligned !== sizes.at(-1)) sizes.push(aligned);
      if (kernels !== null) sizes.push(rows);
      aligned = 0;
    }
    if (rows % 16 === 0) aligned = rows;
    previous = kernels;
  }
  // Ids away from both ends of the vocabulary (where special tokens live), a different run for every prompt.
  const base = Math.min(256, Math.floor(spec.vocabSize / 4));
  const span = Math.max(1, spec.vocabSize - 2 * base);
  let salt = 0;
  const prompt = (length: number) => {
    salt++;
    return Array.from({ length }, (_, i) => base + ((salt * 104_729 + i * 7_919) % span));
  };
  const greedy = (maxTokens: number) => model.resolveSampling({ temperature: 0, maxTokens, minTokens: maxTokens });
  const sampled = (maxTokens: number) => model.resolveSampling({ temperature: 0.6, topP: 0.9, maxTokens, minTokens: maxTokens, seed: 0 });
  for (const rows of sizes) await drain(engine.submit({ promptIds: prompt(rows), params: greedy(1) }));
  const decodeBatches = sizes.filter((rows) => rows <= options.maxNumSeqs);
  // Short enough for any --max-model-len ≥ 2: prompts of 2 tokens decoding 4 (fewer where the model is shorter).
  const decodePrompt = Math.min(2, runner.maxModelLen - 1);
  const decodeTokens = Math.max(1, Math.min(4, runner.maxModelLen - decodePrompt));
  const joiner = Math.max(1, Math.min(64, runner.maxModelLen - 1));
  for (const params of [greedy, sampled]) {
    for (const batch of decodeBatches) {
      const streams = Array.from({ length: batch }, () => engine.submit({ promptIds: prompt(decodePrompt), params: params(decodeTokens) }));
      // After the batch's first token a longer prompt joins: its chunk shares a step with the batch's decode rows.
      const first = streams.map((stream) => stream.next());
      await Promise.all(first);
      const late = engine.submit({ promptIds: prompt(joiner), params: params(1) });
      await Promise.all([...streams.map(drain), drain(late)]);
    }
  }
  engine.resetCounters?.();
  return { sizes, decodeBatches, ms: performance.now() - started };
}

async function drain(stream: AsyncGenerator<GenerationEvent>): Promise<void> {
  for await (const _ of stream);
}
