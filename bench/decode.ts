/**
 * Decode/prefill benchmark of the WebGPU backend on real Llama-3.x shapes with synthetic bf16 weights.
 *
 *   node dist/bench/decode.js --shape llama-3.1-8b [--layers N] [--prompt 128[,512]] [--new 32] [--batch 1] [--mixed P]
 *                             [--warmup 2] [--no-robustness] [--profile] [--profile-prefill]
 *                             [--matmul auto|gemv|tiled|tensor|fast]
 *
 * --batch N: the decode steps run N sequences together (each prefilled with its own prompts[0] random tokens, plus
 * i·--spread tokens for sequence i, so contexts differ as in serving); with --profile the per-kernel table is a
 * serving-size decode step's.
 *
 * --mixed P: every decode step also carries a fresh sequence's P-token prompt (a serving "mixed" step: prompt tokens
 * beside the batch's decode rows), released after the step.
 *
 * --profile: after the timed decode steps, runs --new more steps timing the step's compute pass with
 * timestamp queries (GPU time vs wall clock), then --new more with one timed compute pass per dispatch, and
 * prints GPU time per kernel (Dawn quantizes timestamps to ~65.5 µs: per-dispatch times are only meaningful
 * summed over many dispatches, which is what the table does).
 *
 * --profile-prefill: after the timed prefills, the longest prompt's prefill twice more with one timed compute pass
 * per dispatch, and the same per-kernel table for one prefill.
 *
 * Weights: src/bench/synthetic.ts (one 64 MiB block of pseudo-random bf16 values in [-0.02, 0.02] tiled into a
 * scratch buffer; each tensor is a view of it at a per-tensor offset; no 16 GB of JS random numbers). Norm
 * weights are ~1.0. Prints a short table and, last, one JSON line.
 */
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { buildForwardBatch } from "../src/engine/batch.js";
import { ModelRunner } from "../src/engine/runner.js";
import type { SequenceSlots } from "../src/engine/kv-blocks.js";
import { expectedLlamaTensors } from "../src/model/checkpoint.js";
import { LlamaModel } from "../src/model/llama.js";
import type { ModelSpec } from "../src/model/spec.js";
import { MODEL_SHAPES, SyntheticWeights } from "../src/bench/synthetic.js";

function parseArgs(argv: string[]) {
  const opts = {
    shape: "llama-3.1-8b",
    layers: -1,
    prompts: [128],
    newTokens: 32,
    batch: 1,
    spread: 0,
    mixed: 0,
    warmup: 2,
    noRobustness: false,
    profile: false,
    profilePrefill: false,
    matmul: "auto" as "auto" | "gemv" | "tiled" | "tensor" | "fast",
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--shape") opts.shape = next();
    else if (a === "--layers") opts.layers = Number(next());
    else if (a === "--prompt") opts.prompts = next().split(",").map(Number);
    else if (a === "--new") opts.newTokens = Number(next());
    else if (a === "--batch") opts.batch = Number(next());
    else if (a === "--spread") opts.spread = Number(next());
    else if (a === "--mixed") opts.mixed = Number(next());
    else if (a === "--warmup") opts.warmup = Number(next());
    else if (a === "--no-robustness") opts.noRobustness = true;
    else if (a === "--profile") opts.profile = true;
    else if (a === "--profile-prefill") opts.profilePrefill = true;
    else if (a === "--matmul") {
      // fast: tensor cores for prompts of ≥ TENSOR_MIN_TOKENS (batchInvariant off); tensor/gemv/tiled force one kernel.
      const v = next();
      if (!["auto", "gemv", "tiled", "tensor", "fast"].includes(v)) throw new Error(`--matmul takes auto|gemv|tiled|tensor|fast, not ${v}`);
      opts.matmul = v as typeof opts.matmul;
    } else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const now = () => performance.now();

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const base = MODEL_SHAPES[opts.shape];
  if (!base) throw new Error(`unknown shape ${opts.shape}; known: ${Object.keys(MODEL_SHAPES).join(", ")}`);
  const spec: ModelSpec = { ...base, numLayers: opts.layers >= 0 ? opts.layers : base.numLayers };

  const tensors = expectedLlamaTensors(spec);
  const shapes = new Map(tensors.map((t) => [t.name, t.shape] as [string, readonly number[]]));
  const bytesOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1) * 2;
  const totalWeightBytes = tensors.reduce((n, t) => n + bytesOf(t.shape), 0);
  const embedBytes = spec.vocabSize * spec.hiddenSize * 2;
  // A decode token reads every weight once except the embedding table (one row).
  const weightBytesPerToken = totalWeightBytes - embedBytes + spec.hiddenSize * 2;

  let t0 = now();
  const source = new SyntheticWeights(shapes);
  const synthMs = now() - t0;

  t0 = now();
  const backend = await WebGpuBackend.create({
    ...(opts.noRobustness ? { disableRobustness: true } : {}),
    ...(opts.matmul === "fast" ? { batchInvariant: false } : { matmulPath: opts.matmul }),
  });
  const createMs = now() - t0;
  const device = backend.describe();
  console.error(`device: ${device}`);

  t0 = now();
  let lastLog = t0;
  const model = await LlamaModel.load(spec, source, backend, ({ tensorsDone, tensorsTotal }) => {
    if (now() - lastLog > 5000) {
      lastLog = now();
      console.error(`upload ${tensorsDone}/${tensorsTotal} (${((now() - t0) / 1000).toFixed(1)} s)`);
    }
  });
  // uploadWeight returns after unmap; wait for the queue so the upload time is complete.
  await backend.read(backend.uploadActivation(1, 1, new Float32Array([0])));
  const uploadMs = now() - t0;
  console.error(`uploaded ${(totalWeightBytes / 1e9).toFixed(2)} GB in ${(uploadMs / 1000).toFixed(1)} s`);

  const maxPrompt = Math.max(...opts.prompts);
  const longest = Math.max(maxPrompt, opts.prompts[0] + (opts.batch - 1) * opts.spread);
  const maxModelLen = Math.max(longest + opts.warmup + opts.newTokens * (opts.profile ? 3 : 1), opts.mixed) + 16;
  const runner = new ModelRunner(model, {
    maxModelLen,
    maxNumSeqs: opts.batch + 1,
    maxBatchTokens: Math.max(512, longest, opts.batch + opts.mixed),
  });
  let seed = 12345;
  const randomIds = (n: number) =>
    Array.from({ length: n }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % spec.vocabSize;
    });

  // Prefill: one untimed pass per length (pipeline compilation, pool growth), then timed passes.
  const prefill: { tokens: number; firstMs: number; ms: number[]; tokPerS: number }[] = [];
  for (const n of opts.prompts) {
    const ids = randomIds(n);
    const times: number[] = [];
    let firstMs = 0;
    for (let rep = 0; rep < 4; rep++) {
      const seq = runner.newSequence();
      try {
        const s = now();
        await runner.prefill(seq, ids, "last");
        const ms = now() - s;
        if (rep === 0) firstMs = ms;
        else times.push(ms);
      } finally {
        seq.release();
      }
    }
    prefill.push({ tokens: n, firstMs, ms: times, tokPerS: n / (median(times) / 1000) });
    console.error(`prefill ${n}: first ${firstMs.toFixed(1)} ms, then ${times.map((t) => t.toFixed(1)).join(", ")} ms`);
    if (n <= runner.maxBatchTokens) await prefillSplit(n, ids);
  }

  // Where a one-pass prefill's wall time goes (an idle GPU's time to first token): host recording, Dawn encoding and
  // queue.submit (at submit and in pieces on an idle queue, unless SWALLOW_EARLY_SUBMIT=off), the GPU's time for the
  // step (timestamp queries, in three more passes: a profiled step is one pass, submitted whole), and readback.
  async function prefillSplit(n: number, ids: number[]) {
    const rows: { record: number; encode: number; submit: number; gpu: number; wall: number; pieces: number }[] = [];
    for (let rep = 0; rep < 6; rep++) {
      const profiled = rep >= 3;
      backend.setProfile(profiled ? "pass" : "off");
      backend.takeProfiles();
      const seq = runner.newSequence();
      try {
        const s = now();
        const prepared = runner.prepare([{ slots: seq, tokenIds: ids, logits: "last" }]);
        const p = now();
        prepared.commit();
        await prepared.submit();
        const wall = now() - s;
        const { encodeMs, submitMs, pieces, encodedAtSubmit } = backend.lastReadTiming;
        if (profiled) {
          const [profile] = backend.takeProfiles();
          rows[rep - 3].gpu = profile ? Number(profile.ns[1] - profile.ns[0]) / 1e6 : NaN;
        } else rows.push({ record: p - s - (encodedAtSubmit ? 0 : encodeMs), encode: encodeMs, submit: submitMs, gpu: NaN, wall, pieces });
      } finally {
        seq.release();
      }
    }
    backend.setProfile("off");
    const m = (key: keyof (typeof rows)[0]) => median(rows.map((r) => r[key])).toFixed(2);
    console.log(
      `| prefill ${n} split | wall ${m("wall")} ms: record ${m("record")}, encode ${m("encode")}, submit ${m("submit")} (${m("pieces")} pieces), GPU ${m("gpu")} (one pass, profiled apart), medians of 3 |`,
    );
  }

  if (opts.profilePrefill) {
    const ids = randomIds(maxPrompt);
    backend.setProfile("dispatch");
    backend.takeProfiles();
    for (let rep = 0; rep < 2; rep++) {
      const seq = runner.newSequence();
      try {
        await runner.prefill(seq, ids, "last");
      } finally {
        seq.release();
      }
    }
    const profiles = backend.takeProfiles();
    backend.setProfile("off");
    kernelTable(profiles, `one prefill of ${maxPrompt} tokens`);
  }

  // Decode at batch --batch after prompts of prompts[0] (+ i·spread) tokens: warm-up steps, then timed steps.
  const seqs: SequenceSlots[] = [];
  const tokens: number[] = [];
  let logits: Float32Array = new Float32Array(0);
  for (let i = 0; i < opts.batch; i++) {
    const seq = runner.newSequence();
    seqs.push(seq);
    logits = await runner.prefill(seq, randomIds(opts.prompts[0] + i * opts.spread), "last");
    tokens.push(argmax(logits));
  }
  let stepMs: number[] = [];
  let recordMs: number[] = [];
  let waitMs: number[] = [];
  const encodeMs: number[] = [];
  const submitMs: number[] = [];
  const generated: number[] = [];
  const runSteps = async (warmup: number, steps: number) => {
    stepMs = [];
    recordMs = [];
    waitMs = [];
    for (let i = 0; i < warmup + steps; i++) {
      const s = now();
      // Same work as runner.step (buildForwardBatch, forward, greedy sampling on the GPU, read, commit), split into
      // host recording (JS building the step's dispatches) and submit + GPU + readback of the sampled ids. Until
      // session 24 the whole logits came back and the host took the argmax: at 128 rows 65 MB and ~100 ms of host
      // work per step, during which the GPU idled (and the profile's products read 2.5× slow, most likely the clocks).
      const chunks = seqs.map((slots, b) => ({ slots, tokenIds: [tokens[b]], logits: "last" as const }));
      const fresh = opts.mixed > 0 ? runner.newSequence() : null;
      if (fresh) chunks.push({ slots: fresh, tokenIds: randomIds(opts.mixed), logits: "last" });
      const { batch, commit } = buildForwardBatch(chunks);
      const out = model.forward(batch, (runner as unknown as { cache: Parameters<LlamaModel["forward"]>[1] }).cache);
      const pairs = backend.sampleGreedy(out, new Int32Array(out.rows), new Int32Array(0));
      const r = now();
      logits = await backend.read(pairs);
      encodeMs.push(backend.lastReadTiming.encodeMs);
      submitMs.push(backend.lastReadTiming.submitMs);
      commit();
      fresh?.release();
      // Row b's pair: (id, log-probability); the id is exact in f32 (vocabularies below 2^24).
      for (let b = 0; b < seqs.length; b++) tokens[b] = logits[2 * b];
      const e = now();
      generated.push(tokens[0]);
      if (i >= warmup) {
        stepMs.push(e - s);
        recordMs.push(r - s);
        waitMs.push(e - r);
      }
    }
  };
  await runSteps(opts.warmup, opts.newTokens);
  const baseline = { stepMs, recordMs, waitMs };
  if (opts.profile) await profileDecode(backend, runSteps, opts.newTokens, () => ({ stepMs, recordMs, waitMs }));
  ({ stepMs, recordMs, waitMs } = baseline);
  // The last step's sampled pairs: a non-finite logit makes its row's log-probability non-finite.
  const finite = logits.every(Number.isFinite);
  for (const seq of seqs) seq.release();

  const med = median(stepMs);
  const tokPerS = 1000 / med;
  const result = {
    bench: "webgpu-decode",
    shape: opts.shape,
    layers: spec.numLayers,
    device,
    robustness: !opts.noRobustness,
    weightGB: totalWeightBytes / 1e9,
    weightBytesPerToken,
    synthMs,
    createMs,
    uploadMs,
    uploadGBps: totalWeightBytes / 1e6 / uploadMs,
    prefill: prefill.map((p) => ({ tokens: p.tokens, firstMs: p.firstMs, medianMs: median(p.ms), tokPerS: p.tokPerS })),
    decode: {
      prompt: opts.prompts[0],
      batch: opts.batch,
      steps: stepMs.length,
      medianStepMs: med,
      meanStepMs: stepMs.reduce((a, b) => a + b, 0) / stepMs.length,
      minStepMs: Math.min(...stepMs),
      maxStepMs: Math.max(...stepMs),
      tokPerS,
      medianRecordMs: median(recordMs),
      medianSubmitWaitReadMs: median(waitMs),
      medianEncodeMs: median(encodeMs.slice(-opts.newTokens)),
      medianSubmitMs: median(submitMs.slice(-opts.newTokens)),
      effectiveGBps: weightBytesPerToken / 1e6 / med,
      logitsFinite: finite,
      tokens: generated.slice(0, 8),
    },
  };
  console.log(`| ${opts.shape}, ${spec.numLayers} layers, ${device}`);
  console.log(
    `| upload          | ${(totalWeightBytes / 1e9).toFixed(2)} GB in ${(uploadMs / 1000).toFixed(1)} s (${result.uploadGBps.toFixed(2)} GB/s) |`,
  );
  for (const p of result.prefill)
    console.log(
      `| prefill ${String(p.tokens).padStart(4)}    | ${p.medianMs.toFixed(1)} ms (${p.tokPerS.toFixed(0)} tok/s; first ${p.firstMs.toFixed(0)} ms) |`,
    );
  console.log(
    `| decode b=${opts.batch}      | ${med.toFixed(2)} ms/step median = ${(tokPerS * opts.batch).toFixed(2)} tok/s (record ${result.decode.medianRecordMs.toFixed(2)} ms + submit/GPU/read ${result.decode.medianSubmitWaitReadMs.toFixed(2)} ms, of which encode ${result.decode.medianEncodeMs.toFixed(2)} ms, queue.submit ${result.decode.medianSubmitMs.toFixed(2)} ms) |`,
  );
  console.log(
    `| weights/token   | ${(weightBytesPerToken / 1e9).toFixed(3)} GB → ${result.decode.effectiveGBps.toFixed(0)} GB/s effective |`,
  );
  console.log(JSON.stringify(result));
  await backend.dispose();
}

type Split = { stepMs: number[]; recordMs: number[]; waitMs: number[] };

async function profileDecode(
  backend: WebGpuBackend,
  runSteps: (warmup: number, steps: number) => Promise<void>,
  steps: number,
  split: () => Split,
) {
  const wall = (label: string) => {
    const { stepMs, recordMs, waitMs } = split();
    console.log(
      `| ${label} | wall ${median(stepMs).toFixed(2)} ms/step median (record ${median(recordMs).toFixed(2)} ms + submit→mapAsync resolve ${median(waitMs).toFixed(2)} ms) |`,
    );
  };
  // 1. The step as one compute pass (the default encoding), its GPU time from timestamps.
  backend.setProfile("pass");
  backend.takeProfiles();
  await runSteps(1, steps);
  const passProfiles = backend.takeProfiles().slice(-steps);
  const passMs = passProfiles.map((p) => Number(p.ns[1] - p.ns[0]) / 1e6);
  wall("profile: one pass ");
  console.log(
    `| profile: one pass  | GPU time of the step's compute pass: median ${median(passMs).toFixed(2)} ms, min ${Math.min(...passMs).toFixed(2)}, max ${Math.max(...passMs).toFixed(2)} |`,
  );
  console.log(JSON.stringify({ profile: { passGpuMs: passMs } }));
  // 2. One compute pass per dispatch, each timed.
  backend.setProfile("dispatch");
  await runSteps(1, steps);
  const profiles = backend.takeProfiles().slice(-steps);
  backend.setProfile("off");
  wall("profile: per dispatch");
  kernelTable(profiles, "decode step");
}

/** GPU time per kernel label over `profiles` (each one step with one timed pass per dispatch), per step. */
function kernelTable(profiles: ReturnType<WebGpuBackend["takeProfiles"]>, what: string) {
  const byKernel = new Map<string, { count: number; ns: number; bytes: number }>();
  const spans: number[] = [];
  const sums: number[] = [];
  for (const p of profiles) {
    const n = p.labels.length;
    spans.push(Number(p.ns[2 * n - 1] - p.ns[0]) / 1e6);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const dt = Number(p.ns[2 * i + 1] - p.ns[2 * i]);
      sum += dt;
      const bytes = p.bufferBytes[i];
      const matmul = p.labels[i].startsWith("matmul");
      const label = matmul && bytes > 0 ? `${p.labels[i]} ${(bytes / 2 ** 20).toFixed(0)} MiB` : p.labels[i];
      const entry = byKernel.get(label) ?? { count: 0, ns: 0, bytes: 0 };
      entry.count++;
      entry.ns += dt;
      entry.bytes += matmul ? bytes : 0;
      byKernel.set(label, entry);
    }
    sums.push(sum / 1e6);
  }
  const k = profiles.length;
  const rows = [...byKernel].sort((a, b) => b[1].ns - a[1].ns);
  const total = rows.reduce((a, [, e]) => a + e.ns, 0);
  console.log(`\nper-kernel GPU time, per ${what} (mean over ${k}, one timed pass per dispatch):`);
  console.log(`| kernel | count/step | total ms/step | µs each | % | GB/s (weights) |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const [label, e] of rows) {
    const ms = e.ns / k / 1e6;
    const gbps = e.bytes > 0 ? (e.bytes / e.ns).toFixed(0) : "";
    console.log(
      `| ${label} | ${(e.count / k).toFixed(0)} | ${ms.toFixed(3)} | ${(e.ns / e.count / 1e3).toFixed(1)} | ${((100 * e.ns) / total).toFixed(1)} | ${gbps} |`,
    );
  }
  console.log(`| sum of dispatches | | ${median(sums).toFixed(2)} (median) | | | |`);
  console.log(`| first begin → last end | | ${median(spans).toFixed(2)} (median) | | | |`);
  console.log(
    JSON.stringify({
      profile: {
        what,
        dispatchSpanMs: spans,
        dispatchSumMs: sums,
        kernels: rows.map(([label, e]) => ({ label, perStep: e.count / k, msPerStep: e.ns / k / 1e6, weightBytes: e.bytes / e.count })),
      },
    }),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
