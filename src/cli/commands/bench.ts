import { SwallowError } from "../../errors.js";
import { formatBench, runBench as measure, type StepProfiler } from "../../bench/engine-bench.js";
import { MODEL_SHAPES, SyntheticWeights, syntheticTokenizer } from "../../bench/synthetic.js";
import { LanguageModel } from "../../engine/language-model.js";
import { createBackend, parseBackendName } from "../../gpu/select.js";
import { WebGpuBackend } from "../../gpu/webgpu/backend.js";
import { byteSizeFlag, numberFlag, parseCommandArgs } from "../args.js";
import { info, writeLine } from "../io.js";
import { backendChoice, loadFromFlags, modelFlags } from "../load.js";
import { samplingFromFlags } from "../sampling-flags.js";
import { describeMemoryAccount } from "../../engine/memory-account.js";
import { kernelSwitchesSet } from "../../gpu/webgpu/env.js";
import { warmUp } from "../../engine/warm-up.js";

const HELP = `usage: swallow bench [--model DIR|ORG/NAME | --shape ${Object.keys(MODEL_SHAPES).join("|")} [--layers N]]
                     [--backend cpu|webgpu|auto] [--prefill 512,2048] [--prompt 128] [--new 256]
                     [--decode-batch 8,32] [--concurrency 1,8,32] [--requests N] [--max-num-batched-tokens N]
                     [--kv-cache-memory-bytes SIZE] [--max-model-len N] [--temperature 0] [--top-p 1]
                     [--batch-invariant] [--no-robustness] [--profile] [--json]

Measures this machine's speed through the engine (like llama-bench): prefill tokens/s (time to first token)
for each --prefill length, decode tokens/s at batch 1 (--prompt tokens, then --new tokens) and, with
--decode-batch, at larger batches of equal requests decoding together, and, with
--concurrency, output tokens/s and TTFT/TPOT percentiles at each level over a ShareGPT-like length mix
(--requests: requests per level, default twice the level and at least 8; vLLM's serving benchmark sends 1,000;
--max-num-batched-tokens: tokens per forward pass, default 2048 on tensor cores, else 512; --kv-cache-memory-bytes:
the KV cache's size; both as \`swallow serve\`). A prompt longer than a forward pass is prefilled in chunks.
--shape runs random bf16 weights of a real model's shapes (no download; --layers keeps the first N layers).
Prompts are random token ids; every request runs to its full length. --temperature and --top-p set the sampling
of the --decode-batch and --concurrency requests (default greedy; e.g. the model card's 0.6 and 0.9). WebGPU takes the tensor
cores where the GPU has them (as \`swallow serve\`): --batch-invariant measures the batch-invariant kernels instead.
--no-robustness (WebGPU in Node) drops Dawn's bounds clamping on buffer access (as \`swallow serve\`).
--profile (WebGPU) also times the batch-1 decode steps and the serving runs' steps on the GPU: time per step, the GPU's
idle time between steps, and the share of a serving run the GPU was busy.`;

const list = (flag: string, value: string | undefined, fallback: number[]) => {
  if (value === undefined) return fallback;
  if (value === "") return [];
  return value.split(",").map((part) => {
    const n = numberFlag(flag, part.trim(), true);
    if (n === undefined || n < 1) throw new SwallowError(`--${flag} takes positive integers separated by commas, got "${value}"`);
    return n;
  });
};

export async function runBench(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("bench", argv, {
    ...modelFlags,
    shape: { type: "string" },
    layers: { type: "string" },
    prefill: { type: "string" },
    prompt: { type: "string" },
    new: { type: "string" },
    concurrency: { type: "string" },
    requests: { type: "string" },
    "decode-batch": { type: "string" },
    "max-num-batched-tokens": { type: "string" },
    "kv-cache-memory-bytes": { type: "string" },
    temperature: { type: "string" },
    "top-p": { type: "string" },
    profile: { type: "boolean" },
    json: { type: "boolean" },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const prefillLengths = list("prefill", values.prefill, [512, 2048]);
  const [decodePrompt] = list("prompt", values.prompt, [128]);
  const [decodeTokens] = list("new", values.new, [256]);
  const concurrency = list("concurrency", values.concurrency, []);
  const decodeBatches = list("decode-batch", values["decode-batch"], []);
  const requestsPerLevel = numberFlag("requests", values.requests, true);
  if (requestsPerLevel !== undefined && requestsPerLevel < 1)
    throw new SwallowError(`--requests must be at least 1, got ${requestsPerLevel}`);
  if (values.model !== undefined && values.shape !== undefined) throw new SwallowError("give --model or --shape, not both");
  const maxNumSeqs = Math.max(1, ...concurrency, ...decodeBatches);
  const longest = Math.max(...prefillLengths, decodePrompt + decodeTokens, 1400);
  const maxModelLen = numberFlag("max-model-len", values["max-model-len"], true) ?? Math.max(2048, longest + 1);
  if (maxModelLen <= longest) throw new SwallowError(`--max-model-len ${maxModelLen} is too short for prompts of ${longest} tokens`);

  const maxBatchTokens = numberFlag("max-num-batched-tokens", values["max-num-batched-tokens"], true);
  if (maxBatchTokens !== undefined && maxBatchTokens < 1)
    throw new SwallowError(`--max-num-batched-tokens must be at least 1, got ${maxBatchTokens}`);
  const kvCacheBytes = byteSizeFlag("kv-cache-memory-bytes", values["kv-cache-memory-bytes"]);
  const user = samplingFromFlags({ temperature: values.temperature, "top-p": values["top-p"] }); // range-checked before loading
  const sampling = { temperature: user.temperature ?? 0, topP: user.topP ?? 1 };
  const serving = { maxNumSeqs, maxBatchTokens, kvCacheBytes };
  let model: LanguageModel;
  let title: string;
  let profiler: StepProfiler | undefined;
  if (values.shape !== undefined) {
    const base = MODEL_SHAPES[values.shape];
    if (!base) throw new SwallowError(`unknown --shape ${values.shape}; known: ${Object.keys(MODEL_SHAPES).join(", ")}`);
    const layers = numberFlag("layers", values.layers, true);
    const spec = { ...base, numLayers: layers ?? base.numLayers };
    const backend = await createBackend(parseBackendName(values.backend), info, backendChoice(values));
    if (values.profile) profiler = stepProfiler(backend); // before the weights are made
    info(`bench: random weights of ${values.shape} (${spec.numLayers} layers)`);
    model = await LanguageModel.fromWeights(spec, SyntheticWeights.forSpec(spec), syntheticTokenizer(spec), {
      backend,
      maxModelLen,
      ...serving,
      onMemoryAccount: (account) => info(describeMemoryAccount(account)),
      onNotice: info,
    });
    title = `${values.shape} (${spec.numLayers} layers, random bf16 weights) on ${backend.name}`;
  } else {
    model = await loadFromFlags({ ...values, "max-model-len": String(maxModelLen) }, serving);
    title = `${values.model ?? "demo model"} on ${values.backend ?? "auto"}`;
  }
  // The flags and environment switches that change which kernels run, and the forward-pass size (its default depends
  // on the backend), so a saved report says what it measured.
  const used = model.runner.backend;
  const modes = [
    // Which kernels ran: tensor cores (checked at start-up, or unchecked with --tensor-cores) or batch-invariant ones.
    used instanceof WebGpuBackend ? (used.batchInvariant ? "batch-invariant" : used.tensorLayout ? "tensor cores" : "") : "",
    values["tensor-cores"] ? "--tensor-cores" : "",
    values["no-robustness"] ? "--no-robustness" : "",
    ...kernelSwitchesSet(),
    `--max-num-batched-tokens ${model.runner.maxBatchTokens}`,
  ].filter(Boolean);
  if (modes.length > 0) title += ` (${modes.join(" ")})`;
  if (values.profile) profiler ??= stepProfiler(model.runner.backend);
  // As `swallow serve` does before it is ready: no measured request waits for a kernel to compile.
  const warm = await warmUp(model, { maxNumSeqs });
  info(`bench: kernels warmed up for ${warm.sizes.length} batch sizes in ${(warm.ms / 1000).toFixed(1)} s`);
  const report = await measure(model, {
    prefillLengths,
    decodePrompt,
    decodeTokens,
    decodeBatches,
    concurrency,
    ...(requestsPerLevel !== undefined ? { requestsPerLevel } : {}),
    sampling,
    profiler,
    onProgress: info,
  });
  if (values.json) await writeLine(JSON.stringify({ title, ...report }));
  else await writeLine(formatBench(report, title));
  await model.engine.close();
  await model.runner.backend.dispose();
}

/** The backend's step timing for --profile, or a one-line error where it has none. */
function stepProfiler(backend: object): StepProfiler {
  const candidate = backend as Partial<StepProfiler>;
  if (!candidate.setProfile || !candidate.takeProfiles) throw new SwallowError("--profile needs --backend webgpu");
  candidate.setProfile("pass"); // throws on a GPU without timestamp queries, before anything is measured
  candidate.setProfile("off");
  return candidate as StepProfiler;
}
