/**
 * Time to first token by prompt length, as a chat user meets it: after the server's warm-up, one-token requests
 * whose prompts have lengths not seen before (each new turn of a conversation is longer), each followed by a repeat
 * of its length. For each: wall milliseconds from submit to the token, and the bind groups and kernels the request
 * created. Random bf16 weights of a real model's shapes on the GPU (no file), random token ids (no prefix-cache hit).
 *
 *   node dist/bench/prompt-lengths.js [--shape llama-3.1-8b] [--layers N] [--lengths 128,128,100,200,…]
 *                                     [--max-num-seqs 256] [--max-model-len 4096]
 *
 * Session 27 (bench/NOTES.md): a new length created ~300 bind groups, ~6 ms of host time before its first token on
 * the H200; with the pools' row buckets it creates none once the warm-up has run.
 */
import { MODEL_SHAPES, SyntheticWeights, syntheticTokenizer } from "../src/bench/synthetic.js";
import { LanguageModel } from "../src/engine/language-model.js";
import { warmUp } from "../src/engine/warm-up.js";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";

const DEFAULT_LENGTHS = [
  128, 128, 100, 100, 200, 200, 77, 77, 300, 300, 129, 129, 450, 450, 600, 600, 900, 900, 1500, 1500, 50, 50, 20, 20,
];

function parseArgs(argv: string[]) {
  const opts = { shape: "llama-3.1-8b", layers: 0, lengths: DEFAULT_LENGTHS, maxNumSeqs: 256, maxModelLen: 4096 };
  for (let i = 0; i < argv.length; i++) {
    const next = () => argv[++i] ?? "";
    const a = argv[i];
    if (a === "--shape") opts.shape = next();
    else if (a === "--layers") opts.layers = Number(next());
    else if (a === "--lengths") opts.lengths = next().split(",").map(Number);
    else if (a === "--max-num-seqs") opts.maxNumSeqs = Number(next());
    else if (a === "--max-model-len") opts.maxModelLen = Number(next());
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const base = MODEL_SHAPES[opts.shape];
if (!base) throw new Error(`unknown --shape ${opts.shape}; known: ${Object.keys(MODEL_SHAPES).join(", ")}`);
const spec = { ...base, numLayers: opts.layers || base.numLayers };
if (opts.lengths.some((length) => !Number.isInteger(length) || length < 1 || length >= opts.maxModelLen)) {
  throw new Error(`--lengths must be whole numbers from 1 to ${opts.maxModelLen - 1} (--max-model-len)`);
}
const backend = await WebGpuBackend.create();
const model = await LanguageModel.fromWeights(spec, SyntheticWeights.forSpec(spec), syntheticTokenizer(spec), {
  backend,
  maxModelLen: opts.maxModelLen,
  maxNumSeqs: opts.maxNumSeqs,
});
const warm = await warmUp(model, { maxNumSeqs: opts.maxNumSeqs });
console.log(`| ${opts.shape} (${spec.numLayers} layers) on ${backend.describe()}`);
console.log(`| warm-up | ${warm.sizes.length} sizes in ${(warm.ms / 1000).toFixed(1)} s, ${backend.bindGroupsCreated()} bind groups |`);
console.log("| prompt (tokens) | time to first token (ms) | bind groups created | kernels compiled |");
console.log("| ---: | ---: | ---: | ---: |");
// Ids away from the vocabulary's ends (special tokens), a different run for every request.
let salt = 0;
const span = spec.vocabSize - 512;
for (const length of opts.lengths) {
  salt++;
  const promptIds = Array.from({ length }, (_, i) => 256 + ((salt * 104_729 + i * 7_919) % span));
  const params = model.resolveSampling({ temperature: 0, maxTokens: 1, minTokens: 1 });
  const [groups, kernels] = [backend.bindGroupsCreated(), backend.compileStats().kernels];
  const started = performance.now();
  for await (const _ of model.engine.submit({ promptIds, params }));
  const ms = performance.now() - started;
  console.log(`| ${length} | ${ms.toFixed(2)} | ${backend.bindGroupsCreated() - groups} | ${backend.compileStats().kernels - kernels} |`);
}
await model.engine.close();
await backend.dispose();
