import test, { after } from "node:test";
import assert from "node:assert/strict";
import { WebGpuBackend } from "../src/gpu/webgpu/backend.js";
import { createBackend } from "../src/gpu/select.js";
import { loadModel } from "../src/index.js";
import { NEAR_TIE, TINY_VARIANTS, tinyDir } from "./support/tiny-fixtures.js";
import { identicalLogits, batchedVersusAlone, checkAgainstTransformers } from "./support/model-checks.js";
import { relativeError } from "./support/random-tensors.js";
import { openTestBackend } from "./support/webgpu.js";
import { LanguageModel } from "../src/engine/language-model.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { runBench, stepTimes } from "../src/bench/engine-bench.js";
import {
  collect,
  concurrentVersusAlone,
  greedyRequest,
  deviceVersusHostSampling,
  mixedSamplingVersusAlone,
  seededSamplingVersusAlone,
} from "./support/engine-checks.js";

/**
 * The tiny checkpoints end to end through the WebGPU backend (lavapipe in CI): log-probs against
 * transformers (float32) within 5e-2, greedy continuations token for token, batching invariance, and
 * backend selection. Skipped when there is no adapter, unless SWALLOW_REQUIRE_WEBGPU=1.
 */

const { backend: maybeBackend, skip } = await openTestBackend();
/** The default backend: f16 KV cache where the adapter has shader-f16. */
const gpu = maybeBackend as WebGpuBackend;
/** The same adapter with an f32 KV cache: everything in f32, so as close to transformers as the cpu backend. */
const gpuF32 = maybeBackend && maybeBackend.kvDtype !== "f32" ? await WebGpuBackend.create({ kvDtype: "f32" }) : maybeBackend;
after(async () => {
  await maybeBackend?.dispose();
  if (gpuF32 !== maybeBackend) await gpuF32?.dispose();
});

/** Log-prob tolerance by KV cache precision: f16 K/V of these large-weight tiny models moves log-probs ~1e-2. */
const LOGPROB_TOLERANCE = { f16: 5e-2, f32: 1e-3 };
/**
 * Scored positions whose reference top-2 margin is at or below this are near-ties, where either token is a
 * correct argmax: log-prob errors up to ε can swap tokens whose margin is under 2ε.
 */
const ARGMAX_NEAR_TIE = { f16: 5e-2, f32: NEAR_TIE };
for (const [variant, kvDtype] of TINY_VARIANTS.flatMap((v) => [[v, "f16"] as const, [v, "f32"] as const])) {
  const kvSkip = skip || (kvDtype === "f16" && gpu.kvDtype !== "f16" ? "no shader-f16 on this adapter" : false);
  test(`webgpu backend (KV cache ${kvDtype}) matches transformers on ${variant}`, { skip: kvSkip }, (t) =>
    checkAgainstTransformers(t, (kvDtype === "f16" ? gpu : gpuF32) as WebGpuBackend, variant, {
      logprob: LOGPROB_TOLERANCE[kvDtype],
      argmaxNearTie: ARGMAX_NEAR_TIE[kvDtype],
    }),
  );
}

test("sequences batched together get the logits each gets alone (paged KV, mixed prefill and decode)", { skip }, async (t) => {
  for (const [i, { worst, scale }] of (await batchedVersusAlone(gpu)).entries()) {
    t.diagnostic(`sequence ${i}: batched logits differ by ${worst.toExponential(2)} (largest logit ${scale.toFixed(2)})`);
    assert.equal(worst, 0, `sequence ${i}: batched logits differ by ${worst}: the kernels must be batch-invariant`);
  }
});

test(
  "a prompt of a new length in a warm row bucket binds the buffers a warm one does: no bind group is created for it",
  { skip },
  async () => {
    const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend: gpu, maxModelLen: 96 });
    const prompt = (length: number, salt: number) => Array.from({ length }, (_, i) => (salt * 31 + i * 7) % model.spec.vocabSize);
    // Bind groups a one-token request of `length` prompt tokens creates (distinct ids: no prefix-cache hit).
    let salt = 0;
    const created = async (length: number) => {
      const before = gpu.bindGroupsCreated();
      await collect(model.engine.submit(greedyRequest(model, prompt(length, ++salt), 1)));
      return gpu.bindGroupsCreated() - before;
    };
    // Lengths 40, 50 and 60 share the 64-row bucket: the first 40 creates the bucket's groups, a second 40 what a
    // warm request of that length still creates (the previous request's kept buffers), and 60 or 50 no more than it.
    try {
      const first = await created(40);
      const warm = await created(40);
      assert.ok(first > warm, `the first request created ${first} bind groups, a warm one ${warm}`);
      assert.ok((await created(60)) <= warm, "a new length in the warm bucket created bind groups");
      assert.ok((await created(40)) <= warm);
      assert.ok((await created(50)) <= warm, "a new length in the warm bucket created bind groups");
    } finally {
      await model.engine.close();
    }
  },
);

test("engine: 32 concurrent greedy requests give exactly what each gives alone", { skip }, () => concurrentVersusAlone(gpu));

test("engine: greedy sampling on the GPU (ids fed to the next step) gives the host sampler's tokens", { skip }, () =>
  deviceVersusHostSampling(gpu),
);

test("swallow bench's measurement with a profiler: every decode step is timed on the device, in order", { skip }, async () => {
  const model = await LanguageModel.load(new NodeFileTree(tinyDir("gqa-llama3")), { backend: gpu, maxModelLen: 96 });
  let profiles: { ns: BigUint64Array }[] = [];
  const profiler = {
    setProfile: (mode: "pass" | "off") => gpu.setProfile(mode),
    takeProfiles: () => (profiles = gpu.takeProfiles()),
  };
  const report = await runBench(model, { prefillLengths: [16], decodePrompt: 8, decodeTokens: 12, concurrency: [], profiler });
  await model.engine.close();
  // The decode request's steps: its prompt, then one per generated token but the last (12 steps in all).
  assert.equal(profiles.length, 12);
  for (const [i, p] of profiles.entries()) {
    assert.ok(p.ns[1] >= p.ns[0], `step ${i}: pass ends before it begins`);
    if (i > 0) assert.ok(p.ns[0] >= profiles[i - 1].ns[1], `step ${i} began before step ${i - 1} ended`);
  }
  assert.deepEqual(report.decode.gpu, stepTimes(profiles));
  assert.ok(report.decode.gpu!.idleMsBetweenSteps >= 0);
});

test("row-banded embedding and LM head (weights over the buffer limit) give exactly the whole tables' logits", { skip }, async () => {
  const banded = await WebGpuBackend.create({ maxWeightBytes: 40_000 });
  try {
    await identicalLogits(gpu, banded);
  } finally {
    await banded.dispose();
  }
});

test(
  "without robustness (Dawn's disable_robustness, --no-robustness) the logits are the same bits: no kernel relies on clamping",
  { skip },
  async () => {
    const unclamped = await WebGpuBackend.create({ disableRobustness: true });
    try {
      assert.equal(unclamped.robust, false);
      assert.match(unclamped.describe(), /robustness off$/);
      await identicalLogits(gpu, unclamped);
    } finally {
      await unclamped.dispose();
    }
  },
);

test(
  "engine: a step samples on the host only the rows that need logits (the rest on the GPU); each request gets what it gets alone",
  { skip },
  () => mixedSamplingVersusAlone(gpu),
);

test("engine: seeded sampling (host sampler, one step ahead) gives the same tokens alone and among others", { skip }, () =>
  seededSamplingVersusAlone(gpu),
);

test("--backend webgpu opens the adapter; auto keeps software adapters off", { skip }, async () => {
  const lines: string[] = [];
  const explicit = await createBackend("webgpu", (line) => lines.push(line));
  assert.equal(explicit.name, "webgpu");
  assert.match(lines[0], /^backend: webgpu on .+/);
  await explicit.dispose();

  lines.length = 0;
  const auto = await createBackend("auto", (line) => lines.push(line));
  assert.equal(lines.length, 1);
  if (gpu.gpu.adapter.isSoftware) {
    assert.equal(auto.name, "cpu");
    assert.match(lines[0], /^backend: cpu \((no GPU device found|the WebGPU adapter .* is a software one)/);
  } else {
    assert.equal(auto.name, "webgpu");
  }
  await auto.dispose();
});

test('batchInvariant "auto": tensor cores only where the device has them and they pass the start-up check', { skip }, async () => {
  const auto = await WebGpuBackend.create({ batchInvariant: "auto" });
  try {
    if (auto.tensorLayout) {
      // A GPU with subgroup matrices (the H100): the check runs and passes.
      assert.equal(auto.tensorCoreCheck, "passed");
      assert.equal(auto.batchInvariant, false);
      assert.match(auto.describe(), /, tensor cores/);
    } else {
      // lavapipe: no configuration, the batch-invariant kernels, and the log line says why.
      assert.equal(auto.tensorCoreCheck, "the device has no f16 subgroup-matrix configuration");
      assert.equal(auto.batchInvariant, true);
      assert.match(auto.describe(), /, batch-invariant kernels \(no tensor cores: the device has no f16 subgroup-matrix configuration\)/);
    }
  } finally {
    await auto.dispose();
  }
  // The library default stays batch-invariant with no check.
  assert.equal(gpu.batchInvariant, true);
  assert.equal(gpu.tensorCoreCheck, null);
  // loadModel: checked tensor cores by default, batch-invariant kernels with tensorCores: false (--batch-invariant).
  for (const [options, checked] of [
    [{}, true],
    [{ tensorCores: false }, false],
  ] as const) {
    const model = await loadModel(tinyDir("gqa-llama3"), { backend: "webgpu", maxModelLen: 96, ...options });
    try {
      const backend = model.runner.backend as WebGpuBackend;
      assert.equal(backend.tensorCoreCheck !== null, checked, JSON.stringify(options));
      if (!checked) assert.equal(backend.batchInvariant, true);
    } finally {
      await model.runner.backend.dispose();
    }
  }
});

// Last in this file: every kernel the tests above compiled, checked for compiler messages. Dawn prints a shader's
// warnings on stdout, where they would corrupt the CLI's machine-readable output (generate --json, score).
test("no kernel compiled by these tests gave a compiler warning", { skip }, async () => {
  const results = [await gpu.compileWarnings(), ...(gpuF32 && gpuF32 !== gpu ? [await gpuF32.compileWarnings()] : [])];
  assert.ok(results[0].kernels >= 10, `only ${results[0].kernels} kernels were compiled: run the whole file`);
  assert.deepEqual(
    results.flatMap((r) => r.warnings),
    [],
  );
});
