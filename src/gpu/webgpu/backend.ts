/// <reference types="@webgpu/types" />
import { SwallowError } from "../../errors.js";
import { BYTES_PER_ELEMENT, toF32 } from "../../model/dtype.js";
import type {
  Activation,
  Backend,
  DeviceSampledRows,
  ForwardBatch,
  HostTensor,
  KvCache,
  KvCacheLayout,
  NormSpec,
  PreparedRead,
  Weight,
} from "../backend.js";
import { BufferPool, BufferUsage, checkBindable, MAP_MODE_READ, storageBytes } from "./buffers.js";
import { GpuWeight, type GpuKvLayer, type KernelContext, type MatmulOperand } from "./context.js";
import {
  describeDevice,
  openWebGpu,
  requestWebGpuDevice,
  robustnessDisabled,
  type WebGpuAdapter,
  type WebGpuDevice,
  type WebGpuOptions,
} from "./device.js";
import { elementwise } from "./kernels/elementwise.js";
import { attention, attentionTiles, singleTokenRows } from "./kernels/attention.js";
import { attentionTensor, tensorAttentionHeads, tensorAttentionLayout, type TensorAttentionOptions } from "./kernels/attention-tensor.js";
import {
  attentionPerRow,
  attentionSegment,
  GROUP_LANES,
  perRowDesign,
  perRowScratchBytes,
  perRowStorageBuffers,
  type LanesForms,
  type PerRowAttentionInputs,
} from "./kernels/attention-per-row.js";
import { embed } from "./kernels/embed.js";
import { gatherRows } from "./kernels/gather-rows.js";
import { packSampled } from "./kernels/pack-sampled.js";
import { concatColumns } from "./kernels/concat-columns.js";
import { sampleGreedy } from "./kernels/sample-greedy.js";
import { packSampledRows, sampleRows } from "./kernels/sample-rows.js";
import { gemvShape, matmul, matmulGrouped, matmulSwiGlu, type FusedNorm, type MatmulKernel } from "./kernels/matmul.js";
import { tensorClampOffsets, tensorCoreLayouts, tensorCoreSetup } from "./kernels/tensor/setup.js";
import { matmulTensorParts, normOfResidualSum, tensorStorageBuffers } from "./kernels/matmul-tensor.js";
import { probeMajornessSyntax } from "./kernels/tensor/majorness-probe.js";
import { probeConsecutiveSubgroups } from "./kernels/subgroup-layout-probe.js";
import { tensorCoreSelfCheck } from "./kernels/tensor/self-check.js";
import {
  layoutForShape,
  tensorIneligibility,
  tensorScratchBytes,
  tensorSplits,
  tensorOutputIneligibility,
  TENSOR_MIN_TOKENS,
  type MajornessSyntax,
  type TensorCoreSetup,
  type TensorLayout,
} from "./kernels/tensor/plan.js";
import { rmsNorm } from "./kernels/rms-norm.js";
import { rope, RopeTableCache } from "./kernels/rope.js";
import { pollFor } from "./dawn-poll.js";
import { ReadPacer } from "./read-pacer.js";
import { earlySubmitChunks, PieceSubmitter } from "./early-submit.js";
import { writeKv } from "./kernels/write-kv.js";
import { PipelineCache } from "./pipelines.js";
import { GpuActivation, StepRecorder, type ProfileMode, type ProfileTicket, type Resource, type StepProfile } from "./recorder.js";
import type { KvDtype } from "./wgsl.js";
import { envVar } from "./env.js";

/** The attention kernels a step can take (WebGpuBackend.attentionPath). */
export type AttentionKernelChoice = "per-row" | "tiled" | "split" | "tensor";

export interface WebGpuBackendOptions extends WebGpuOptions {
  /** An adapter already chosen (e.g. by backend selection); default: the runtime's default adapter. */
  adapter?: WebGpuAdapter;
  /** KV cache element type; default f16 when the device has shader-f16, else f32. */
  kvDtype?: KvDtype;
  /**
   * Forces one matmul kernel (tests, kernel lab): "gemv", "tiled", or "tensor" (subgroup matrices; throws
   * where the device or weight cannot take it). "auto" (default) follows `batchInvariant`.
   */
  matmulPath?: MatmulKernel;
  /**
   * Default true: "auto" runs the GEMV kernel for every batch size, so a row's result never depends on what
   * else is in the batch (kernels/matmul.ts). false: "auto" takes the tensor-core kernel for
   * T ≥ TENSOR_MIN_TOKENS rows when the device has an f16→f32 subgroup-matrix configuration and the weight
   * is bf16/f16 with K a multiple of 8 (prefill speed; results then depend on the batch's size). "auto": false
   * where the device has such a configuration and its products pass a start-up check against the reference
   * (tensor/self-check.ts), else true (`tensorCoreCheck` says which and why).
   */
  batchInvariant?: boolean | "auto";
  /** GPU timing of steps with timestamp queries (see `setProfile`); default off. */
  profile?: ProfileMode;
  /** Largest weight buffer in bytes (default: the storage-binding limit); tests lower it to exercise row bands. */
  maxWeightBytes?: number;
}

/** A profiled step's read: its timestamps once read, and whether its read has finished (with or without them). */
interface ProfiledRead {
  ticket: ProfileTicket;
  profile: StepProfile | null;
  settled: boolean;
}

class GpuKvCache implements KvCache {
  constructor(
    readonly layout: KvCacheLayout,
    readonly dtype: KvDtype,
    readonly layers: GpuKvLayer[],
  ) {}

  get numSlots(): number {
    return this.layout.numBlocks * this.layout.blockSize;
  }
}

/** The largest probe buffer allocateKvCache makes for the reserve it checks (several when the reserve is bigger). */
const KV_RESERVE_PROBE_BYTES = 2 ** 30;

/** A RangeError naming `op` unless every row index is in 0..count−1 (kernels index with them unchecked). */
function checkRows(op: string, rows: Int32Array, count: number): void {
  for (const row of rows) {
    if (row < 0 || row >= count) throw new RangeError(`${op}: row ${row} is outside 0..${count - 1}`);
  }
}

/** An RMSNorm weight on the GPU, checked against x's columns (a clear error otherwise). */
function normWeight(x: Activation, weight: Weight): GpuWeight {
  const w = gpuWeight(weight);
  if (w.shape.length !== 1 || w.shape[0] !== x.cols) throw new Error(`rmsNorm: weight ${w.name} does not match ${x.cols} columns`);
  return w;
}

function activation(x: Activation): GpuActivation {
  if (!(x instanceof GpuActivation)) throw new Error("the webgpu backend was given an activation from another backend");
  return x;
}

function gpuWeight(w: Weight): GpuWeight {
  if (!(w instanceof GpuWeight)) throw new Error("the webgpu backend was given a weight from another backend");
  return w;
}

/**
 * The WebGPU backend: weights in their stored precision, f32 activations, a paged KV cache (f16 when the
 * device has shader-f16), one WGSL kernel per op (kernels/). Ops record dispatches; `read` encodes the
 * whole step as one compute pass, submits it and waits (see StepRecorder for buffer lifetimes).
 */
export class WebGpuBackend implements Backend {
  readonly name = "webgpu";
  readonly kvDtype: KvDtype;
  /** The device's storage-binding limit (2 GiB − 4 on NVIDIA, 128 MiB on lavapipe), or less when tests ask. */
  readonly maxWeightBytes: number;

  get kvBytesPerValue(): number {
    return this.kvDtype === "f16" ? 2 : 4;
  }
  /** Which matmul kernel runs (see WebGpuBackendOptions.matmulPath); tests force one. */
  matmulPath: MatmulKernel;
  /**
   * Which attention kernel runs: "per-row" (kernels/attention-per-row.ts: fast for decode, slow for long prefill
   * runs), "tiled" (kernels/attention.ts: K/V tiles shared by a run's rows, 50× faster prefill), "split" (tiled
   * for the step's multi-token runs, per-row for its single-token rows, into one output), or "auto": per-row for
   * every row when batch-invariant (the two kernels round differently, so one must serve all rows), else the
   * split — tiled alone for steps of runs only, per-row alone for decode-only steps. Tests force one.
   */
  attentionPath: "auto" | AttentionKernelChoice = "auto";
  /**
   * Query heads per workgroup of the per-row kernel (kernels/attention-per-row.ts perRowHeads); tests force one, and
   * SWALLOW_PER_ROW_HEADS=N (a divisor of the GQA group) does for end-to-end A/B runs (the same bits either way).
   */
  perRowHeads: "auto" | number = perRowHeadsFromEnv();
  /**
   * Positions per segment of a row in the per-row kernel's lanes design (its split over the sequence; see
   * kernels/attention-per-row.ts attentionSegment). Tests set a short one; not the same bits as another length.
   */
  perRowSegment: number = attentionSegment();
  /** Lab forms of the per-row lanes design (tests set them; default SWALLOW_LANES_FORMS): the same bits. */
  perRowForms: LanesForms | undefined = undefined;
  /**
   * Whether products of one input by several weights (q/k/v, gate/up) that take the tensor-core kernel run as one
   * dispatch (matmulTensorParts): one x → f16 pre-pass and one split-K count for all. On unless
   * SWALLOW_TENSOR_MERGE=off: with a whole tile loop per part it made the H100's batch-256 decode step 71.2 → 66.6 ms
   * and prefill 2048 388 → 365 ms (bench/NOTES.md, session 10; its first version, a branch per weight load, was slower).
   */
  mergeTensorProducts = envVar("SWALLOW_TENSOR_MERGE") !== "off";
  /**
   * The dispatches per piece of a step sent to an idle queue, submitted as it is encoded (see prepareRead), or null
   * for one submit (SWALLOW_EARLY_SUBMIT=off; tests set it to compare).
   */
  earlySubmit: readonly number[] | null = earlySubmitChunks();
  /**
   * Whether prefill runs take the tensor-core attention (kernels/attention-tensor.ts) where it can run: the tiled
   * kernel's place when not batch-invariant, with an f16 KV cache. SWALLOW_TENSOR_ATTENTION=off keeps the tiled one.
   */
  tensorAttention = envVar("SWALLOW_TENSOR_ATTENTION") !== "off";
  /**
   * The tensor-core attention's variant (attention-tensor.ts TensorAttentionOptions); default 32-key blocks and
   * 32-token items where they fit, Q staged through P's memory. Tests force each; for A/B runs
   * SWALLOW_TENSOR_ATTENTION_KEYS=64 (keys per block), SWALLOW_TENSOR_ATTENTION_TILES=1 (16-token tiles per item),
   * SWALLOW_TENSOR_ATTENTION_Q=kvs (Q staged through the K/V block's memory, as before session 26).
   */
  tensorAttentionOptions: TensorAttentionOptions = {
    keyBlock: Number(envVar("SWALLOW_TENSOR_ATTENTION_KEYS")) || undefined,
    tokenTiles: Number(envVar("SWALLOW_TENSOR_ATTENTION_TILES")) || undefined,
    qThroughP: envVar("SWALLOW_TENSOR_ATTENTION_Q") !== "kvs",
  };
  /** What the tensor-core attention needs from the device; null without usable subgroup matrices. */
  private readonly tensorSetup: TensorCoreSetup | null;
  /** See WebGpuBackendOptions.batchInvariant. */
  batchInvariant: boolean;
  /**
   * With batchInvariant "auto": "passed" when the tensor cores passed the start-up check, else why they are not used
   * (no subgroup matrices, or the check's failure); null when the option was a boolean.
   */
  tensorCoreCheck: string | null = null;
  /** The tensor-core kernel's layout on this device, or null when the device has no usable subgroup matrices. */
  readonly tensorLayout: TensorLayout | null;
  /** The tile classes a tensor-core matmul picks from by its shape (layoutForShape), largest first. */
  readonly tensorLayouts: readonly TensorLayout[];
  /** Dawn clamps buffer indices (false with `disableRobustness` or SWALLOW_ROBUSTNESS=off). */
  readonly robust: boolean;
  private readonly device: GPUDevice;
  private readonly pool: BufferPool;
  private readonly readbackPool: BufferPool;
  private readonly recorder: StepRecorder;
  private readonly pipelines: PipelineCache;
  private readonly ctx: KernelContext;
  private readonly ownedBuffers = new Set<GPUBuffer>();
  /** A KV cache was released since destroyed buffers last gave their memory back (settleDestroyed). */
  private unsettledRelease = false;
  private readonly weightIds = new WeakMap<GpuWeight, number>();
  private readonly validatedBatches = new WeakMap<ForwardBatch, number>();
  /** fusesKvWrite's per-step check, made once per batch (every layer asks). */
  private readonly rowPerSequenceBatches = new WeakMap<ForwardBatch, { blockSize: number; fusable: boolean }>();
  /** Each step's single-token rows (attention.ts singleTokenRows), found once for all its layers. */
  private readonly singleRows = new WeakMap<ForwardBatch, Int32Array>();
  private readonly errors: string[] = [];
  private readonly waiters = new Set<(error: Error) => void>();
  private lostError: SwallowError | null = null;
  private disposed = false;
  private weightCount = 0;

  private constructor(
    readonly gpu: WebGpuDevice,
    options: WebGpuBackendOptions,
    majorness: MajornessSyntax,
    consecutiveSubgroups: boolean,
  ) {
    this.device = gpu.device;
    if (options.kvDtype === "f16" && !gpu.features.shaderF16) {
      throw new SwallowError(`a f16 KV cache needs the shader-f16 feature, which ${gpu.adapter.name} lacks; use kvDtype f32`);
    }
    this.kvDtype = options.kvDtype ?? (gpu.features.shaderF16 ? "f16" : "f32");
    this.matmulPath = options.matmulPath ?? "auto";
    this.batchInvariant = options.batchInvariant !== false; // "auto" starts invariant; create() runs the check
    // Without robustness the variants take a row padding the H100 loads correctly there (tensor/plan.ts).
    this.robust = !robustnessDisabled(options);
    this.tensorAttentionOptions.clampOffsets = tensorClampOffsets(this.robust);
    this.tensorLayouts = tensorCoreLayouts(gpu, majorness, this.robust);
    this.tensorLayout = this.tensorLayouts[0] ?? null;
    this.tensorSetup = tensorCoreSetup(gpu, majorness);
    this.maxWeightBytes = Math.min(options.maxWeightBytes ?? Number.POSITIVE_INFINITY, gpu.limits.maxStorageBufferBindingSize);
    this.pool = new BufferPool(this.device, gpu.limits, BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST, "activations");
    this.readbackPool = new BufferPool(this.device, gpu.limits, BufferUsage.MAP_READ | BufferUsage.COPY_DST, "readback");
    this.recorder = new StepRecorder(this.device, gpu.limits, this.pool);
    if (options.profile) this.setProfile(options.profile);
    this.pipelines = new PipelineCache(this.device, { consecutiveSubgroups });
    this.ctx = { pipelines: this.pipelines, recorder: this.recorder };
    this.device.addEventListener("uncapturederror", (event) => {
      this.errors.push((event as GPUUncapturedErrorEvent).error.message);
    });
    void this.device.lost.then((info) => {
      this.lostError = this.disposed
        ? new SwallowError("the webgpu backend was disposed")
        : new SwallowError(
            `the WebGPU device was lost (${info.reason}: ${info.message || "no message"}); the GPU may have been reset or run out of memory. ` +
              `Restart, or use --backend cpu`,
          );
      for (const reject of this.waiters) reject(this.lostError);
      this.waiters.clear();
    });
  }

  /** Opens the default adapter (or `options.adapter`) and a device on it; SwallowError when there is none. */
  static async create(options: WebGpuBackendOptions = {}): Promise<WebGpuBackend> {
    const gpu = options.adapter ? await requestWebGpuDevice(options.adapter) : await openWebGpu(options);
    // Tensor cores requested or possible (not batch-invariant): probe once for Dawn's current matrix load/store syntax,
    // whose older form makes Dawn print deprecation warnings on stdout. Batch-invariant runs keep the older form.
    const mode = options.batchInvariant ?? true;
    const setup = mode !== true ? tensorCoreSetup(gpu) : null;
    const majorness = setup ? await probeMajornessSyntax(gpu.device, setup.config, setup.subgroupSize) : "argument";
    // The per-row attention's lanes design needs groups of 8 consecutive invocations inside one subgroup.
    const consecutiveSubgroups = await probeConsecutiveSubgroups(gpu.device, GROUP_LANES);
    const backend = new WebGpuBackend(gpu, options, majorness, consecutiveSubgroups);
    if (mode === "auto") await backend.checkTensorCores();
    return backend;
  }

  /** batchInvariant "auto": tensor cores where the device has them and they pass tensorCoreSelfCheck. */
  private async checkTensorCores(): Promise<void> {
    if (!this.tensorLayout) {
      this.tensorCoreCheck = "the device has no f16 subgroup-matrix configuration";
      return;
    }
    this.matmulPath = "tensor";
    let failure: string | null;
    try {
      failure = await tensorCoreSelfCheck(this);
    } catch (error) {
      failure = `a tensor-core product failed: ${(error instanceof Error ? error.message : String(error)).split("\n")[0]}`;
    } finally {
      this.matmulPath = "auto";
    }
    this.batchInvariant = failure !== null;
    this.tensorCoreCheck = failure ?? "passed";
  }

  /** Kernels compiled since the last call and their compiler warnings (which Dawn also prints on stdout). */
  compileWarnings(): Promise<{ kernels: number; warnings: string[] }> {
    return this.pipelines.takeWarnings();
  }

  /** "llvmpipe … (software, shader-f16, subgroups), KV cache f16". */
  describe(): string {
    const kernels = this.batchInvariant
      ? `batch-invariant kernels${this.tensorCoreCheck && this.tensorCoreCheck !== "passed" ? ` (no tensor cores: ${this.tensorCoreCheck})` : ""}`
      : this.tensorLayout
        ? "tensor cores"
        : "not batch-invariant";
    return `${describeDevice(this.gpu)}, KV cache ${this.kvDtype}, ${kernels}${this.robust ? "" : ", robustness off"}`;
  }

  async uploadWeight(name: string, tensor: HostTensor): Promise<Weight> {
    this.throwIfLost();
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    const byteLength = count * BYTES_PER_ELEMENT[tensor.dtype];
    if (tensor.bytes.byteLength !== byteLength) {
      throw new SwallowError(`${name}: ${tensor.bytes.byteLength} bytes do not hold shape [${tensor.shape.join(", ")}] of ${tensor.dtype}`);
    }
    checkBindable(this.gpu.limits, byteLength, `weight ${name} [${tensor.shape.join(", ")}] ${tensor.dtype}`);
    const size = storageBytes(byteLength);
    this.device.pushErrorScope("out-of-memory");
    const buffer = this.device.createBuffer({
      size,
      usage: BufferUsage.STORAGE | BufferUsage.COPY_DST,
      mappedAtCreation: true,
      label: name,
    });
    const oom = this.device.popErrorScope();
    const error = await oom;
    if (error) {
      buffer.destroy();
      throw new SwallowError(
        `out of GPU memory uploading ${name} (${byteLength} bytes) to ${this.gpu.adapter.name}: the model does not fit; use a smaller model or --backend cpu`,
      );
    }
    new Uint8Array(buffer.getMappedRange()).set(tensor.bytes);
    buffer.unmap();
    this.ownedBuffers.add(buffer);
    const host = tensor.shape.length === 1 ? toF32(tensor.bytes, tensor.dtype) : null;
    const weight = new GpuWeight(name, tensor.dtype, tensor.shape, buffer, size, host);
    this.weightIds.set(weight, this.weightCount++);
    return weight;
  }

  /** A paged KV cache in `dtype` (default: the backend's kvDtype). */
  createKvCache(layout: KvCacheLayout, dtype: KvDtype = this.kvDtype): KvCache {
    this.throwIfLost();
    if (dtype === "f16" && !this.gpu.features.shaderF16)
      throw new SwallowError(`a f16 KV cache needs shader-f16, which ${this.gpu.adapter.name} lacks`);
    const bytes = layout.numBlocks * layout.blockSize * layout.numKvHeads * layout.headDim * (dtype === "f16" ? 2 : 4);
    checkBindable(this.gpu.limits, bytes, `one layer's KV cache (${layout.numBlocks} blocks of ${layout.blockSize} tokens)`);
    const size = storageBytes(bytes);
    const layers: GpuKvLayer[] = [];
    const make = (label: string) => {
      const buffer = this.device.createBuffer({ size, usage: BufferUsage.STORAGE | BufferUsage.COPY_DST | BufferUsage.COPY_SRC, label });
      this.ownedBuffers.add(buffer);
      return buffer;
    };
    for (let layer = 0; layer < layout.numLayers; layer++) {
      layers.push({ keys: make(`kv.${layer}.keys`), values: make(`kv.${layer}.values`), size });
    }
    return new GpuKvCache(layout, dtype, layers);
  }

  /**
   * createKvCache inside an out-of-memory error scope, then `reserveBytes` of probe buffers (at most
   * KV_RESERVE_PROBE_BYTES each) that are destroyed at once: Vulkan allocates a buffer's memory when it is created,
   * so a cache that leaves too little for a step's activations fails here, not in the first forward pass.
   */
  async allocateKvCache(layout: KvCacheLayout, reserveBytes: number): Promise<KvCache | null> {
    this.throwIfLost();
    if (this.unsettledRelease) await this.settleDestroyed();
    this.device.pushErrorScope("out-of-memory");
    let cache: GpuKvCache | null = null;
    const probes: GPUBuffer[] = [];
    try {
      cache = this.createKvCache(layout) as GpuKvCache;
      const probeSize = Math.min(KV_RESERVE_PROBE_BYTES, this.gpu.limits.maxBufferSize);
      for (let left = reserveBytes; left > 0; left -= probeSize) {
        probes.push(
          this.device.createBuffer({
            size: storageBytes(Math.min(left, probeSize)),
            usage: BufferUsage.STORAGE,
            label: "kv reserve probe",
          }),
        );
      }
    } finally {
      const error = await this.device.popErrorScope();
      for (const probe of probes) probe.destroy();
      if (error && cache) this.releaseKvCache(cache);
      if (probes.length > 0 || error) await this.settleDestroyed();
      if (error) cache = null;
    }
    return cache;
  }

  releaseKvCache(cache: KvCache): void {
    if (!(cache instanceof GpuKvCache)) throw new Error("releaseKvCache: not a WebGPU KV cache");
    for (const layer of cache.layers) {
      for (const buffer of [layer.keys, layer.values]) {
        buffer.destroy();
        this.ownedBuffers.delete(buffer);
      }
    }
    this.unsettledRelease = true;
  }

  /**
   * Waits until destroyed buffers have given their memory back: Dawn frees a buffer once a submit made after its
   * destroy has completed, so an empty one is sent and waited for.
   */
  private async settleDestroyed(): Promise<void> {
    this.device.queue.submit([this.device.createCommandEncoder().finish()]);
    await this.device.queue.onSubmittedWorkDone();
    this.unsettledRelease = false;
  }

  /** An activation holding host data (tests, host-computed inputs). */
  uploadActivation(rows: number, cols: number, data: Float32Array): Activation {
    this.throwIfLost();
    if (data.length !== rows * cols) throw new Error(`uploadActivation: ${data.length} values for shape [${rows}, ${cols}]`);
    return this.recorder.upload(rows, cols, data);
  }

  embed(table: Weight, batch: ForwardBatch, firstRow?: number): Activation {
    this.throwIfLost();
    const w = gpuWeight(table);
    const vocab = w.shape[0];
    if (firstRow === undefined) {
      for (let t = 0; t < batch.numTokens; t++) {
        const id = batch.tokenIds[t];
        if (id < 0 || id >= vocab) throw new RangeError(`token id ${id} is outside the vocabulary (0..${vocab - 1})`);
      }
    }
    const feed = batch.deviceTokens && {
      rows: this.i32Input(batch.deviceTokens.rows, batch.numTokens),
      sampled: activation(batch.deviceTokens.source),
    };
    return embed(this.ctx, w, this.i32Input(batch.tokenIds, batch.numTokens), batch.numTokens, feed, firstRow);
  }

  concatColumns(parts: Activation[]): Activation {
    this.throwIfLost();
    if (parts.length === 0 || parts.some((p) => p.rows !== parts[0].rows))
      throw new RangeError("concatColumns: parts need equal row counts");
    return concatColumns(this.ctx, parts.map(activation));
  }

  rmsNorm(x: Activation, weight: Weight, eps: number): Activation {
    this.throwIfLost();
    return rmsNorm(this.ctx, activation(x), normWeight(x, weight), eps);
  }

  matmul(x: Activation, weight: Weight, residual?: Activation): Activation {
    this.throwIfLost();
    const w = gpuWeight(weight);
    if (residual && (residual.rows !== x.rows || residual.cols !== w.shape[0])) {
      throw new Error(`matmul: residual [${residual.rows}, ${residual.cols}] does not match the product [${x.rows}, ${w.shape[0]}]`);
    }
    return this.product(activation(x), w, residual ? activation(residual) : null);
  }

  /** x · wᵀ (+ residual) on the kernel matmulKernel picks, with its tile class for tensor cores. */
  private product(x: GpuActivation, w: MatmulOperand, residual: GpuActivation | null = null): GpuActivation {
    const kernel = this.matmulKernel(x.rows, w);
    const layout =
      kernel === "tensor" && this.tensorLayouts.length > 0
        ? layoutForShape(this.tensorLayouts, x.rows, w.shape[0], w.shape[1])
        : this.tensorLayout;
    return matmul(this.ctx, x, w, kernel, layout, residual);
  }

  matmulMany(x: Activation, weights: Weight[], norm?: NormSpec): Activation[] {
    this.throwIfLost();
    const ws = weights.map(gpuWeight);
    const gemv = ws.every((w) => this.matmulKernel(x.rows, w) === "gemv");
    const grouped = gemv ? matmulGrouped(this.ctx, activation(x), ws, this.fusedNorm(x, norm)) : null;
    if (grouped) return grouped;
    const input = norm ? this.normForTensor(x, norm, ws) : x;
    return this.productParts(activation(input), ws) ?? weights.map((w) => this.matmul(input, w));
  }

  /**
   * The RMSNorm before products that take the tensor cores' x16 kernels writes their f16 copy of its output too
   * (one pre-pass dispatch fewer per norm), and where x is the residual split-K reduce just recorded it runs in that
   * reduce's dispatch (normOfResidualSum; one more fewer); before any other product, the plain norm.
   */
  private normForTensor(x: Activation, norm: NormSpec, ws: readonly GpuWeight[]): Activation {
    const [input, weight, copy] = [activation(x), normWeight(x, norm.weight), this.takesF16Copy(x.rows, ws)];
    return normOfResidualSum(this.ctx, input, weight, norm.eps, copy) ?? rmsNorm(this.ctx, input, weight, norm.eps, copy);
  }

  /** Whether an input of `rows` rows to each of `ws` is read through an unpadded f16 copy (x16 tensor-core kernels). */
  private takesF16Copy(rows: number, ws: readonly MatmulOperand[]): boolean {
    return ws.every((w) => {
      if (this.matmulKernel(rows, w) !== "tensor" || this.tensorLayouts.length === 0) return false;
      const { variant } = layoutForShape(this.tensorLayouts, rows, w.shape[0], w.shape[1]);
      return variant.xF16 === true && !variant.xDirect;
    });
  }

  /**
   * x · Wᵢᵀ for every weight in one tensor-core dispatch, where each would take the tensor kernel and they share
   * K and dtype: one x pre-pass instead of one per weight, and k/v or gate/up tiles beside q's or each other's
   * (fewer split-K partial sums at decode batch sizes). Null where that does not apply.
   */
  private productParts(x: GpuActivation, ws: GpuWeight[]): GpuActivation[] | null {
    if (!this.mergeTensorProducts || ws.length < 2 || ws.length > 4 || this.tensorLayouts.length === 0) return null;
    if (tensorStorageBuffers(ws.length) > this.gpu.limits.maxStorageBuffersPerShaderStage) return null;
    const [k, dtype] = [ws[0].shape[1], ws[0].dtype];
    if (ws.some((w) => w.shape[1] !== k || w.dtype !== dtype || this.matmulKernel(x.rows, w) !== "tensor")) return null;
    const totalN = ws.reduce((sum, w) => sum + w.shape[0], 0);
    const layout = layoutForShape(this.tensorLayouts, x.rows, totalN, k);
    const fits = (w: GpuWeight) =>
      tensorIneligibility(dtype, k, layout, w.shape[0]) === null && tensorOutputIneligibility(layout, x.rows, w.shape[0]) === null;
    return layout.variant.xF16 && ws.every(fits) ? matmulTensorParts(this.ctx, x, ws, layout) : null;
  }

  swiGlu(x: Activation, gate: Weight, up: Weight, norm?: NormSpec): Activation {
    this.throwIfLost();
    const [g, u] = [gpuWeight(gate), gpuWeight(up)];
    const gemv = this.matmulKernel(x.rows, g) === "gemv" && this.matmulKernel(x.rows, u) === "gemv";
    const out = gemv ? matmulSwiGlu(this.ctx, activation(x), g, u, this.fusedNorm(x, norm)) : null;
    if (out) return out;
    const input = norm ? this.normForTensor(x, norm, [g, u]) : x;
    const [gateOut, upOut] = this.matmulMany(input, [gate, up]);
    // The down projection takes this product's rows and path: where that reads an f16 copy, SwiGLU writes it.
    const f16Copy = this.takesF16Copy(x.rows, [g]);
    return elementwise(this.ctx, "siluMul", activation(gateOut), activation(upOut), f16Copy);
  }

  /** A norm the GEMV can fuse (its weight matches x's columns), else a clear error as rmsNorm gives. */
  private fusedNorm(x: Activation, norm: NormSpec | undefined): FusedNorm | null {
    return norm ? { weight: normWeight(x, norm.weight), eps: norm.eps } : null;
  }

  /**
   * 2,048 tokens per forward pass where long batches take the tensor cores (not batch-invariant, a layout on this
   * device), as vLLM's server takes prompts of that length in one step: a 2,048-token prefill ran 230 ms in 512-token
   * chunks against 191 ms in one pass on the H100 (bench/NOTES.md, session 12). Else the engine's default (512).
   */
  get preferredBatchTokens(): number | undefined {
    return !this.batchInvariant && this.tensorLayouts.length > 0 ? 2048 : undefined;
  }

  /** The tensor-core matmul's scratch (tensorScratchBytes) at its worst batch size; 0 where it does not run. */
  matmulScratchBytes(weightShapes: readonly (readonly [number, number])[], maxTokens: number): number {
    if (this.batchInvariant || this.matmulPath === "gemv" || this.tensorLayouts.length === 0) return 0;
    let worst = 0;
    // Split-K partial sums peak at small batches, whole row tiles at large ones: try every batch size.
    for (let tokens = tensorMinTokens(); tokens <= maxTokens; tokens++) {
      for (const [n, k] of weightShapes) {
        const layout = layoutForShape(this.tensorLayouts, tokens, n, k);
        if (tensorIneligibility("bf16", k, layout, n) !== null || tensorOutputIneligibility(layout, tokens, n) !== null) continue;
        worst = Math.max(worst, tensorScratchBytes(layout, tokens, n, k));
      }
    }
    return worst;
  }

  /** The per-row kernel's softmax states of split rows (lanes design only: the threads design does not split). */
  attentionScratchBytes(numHeads: number, headDim: number, maxRows: number, maxModelLen: number): number {
    if (perRowDesign(this.ctx.pipelines, headDim) !== "lanes") return 0;
    return perRowScratchBytes(numHeads, headDim, maxRows, maxModelLen, this.perRowSegment);
  }

  /**
   * Per weight shape (as bf16): the GEMV's shape (gemvShape: token block and rows per lane group) or the tensor-core
   * layout and split-K count, the choices that select a kernel variant by batch size.
   */
  kernelClass(rows: number, weightShapes: readonly (readonly [number, number])[]): string {
    return weightShapes
      .map(([n, k]) => {
        const kernel = this.matmulKernel(rows, { dtype: "bf16", shape: [n, k] });
        if (kernel !== "tensor" || this.tensorLayouts.length === 0) {
          const { tokens, rows: rowsPerLane } = gemvShape(rows);
          return `${kernel}${tokens}r${rowsPerLane}`;
        }
        const layout = layoutForShape(this.tensorLayouts, rows, n, k);
        return `${layout.variant.name}/${tensorSplits(layout, rows, n, k)}`;
      })
      .join(",");
  }

  /** "auto" resolved for one call: GEMV when batch-invariant, else tensor cores for long enough batches. */
  private matmulKernel(rows: number, weight: Pick<MatmulOperand, "dtype" | "shape">): MatmulKernel {
    if (this.matmulPath !== "auto") return this.matmulPath;
    if (this.batchInvariant || !this.tensorLayout || rows < tensorMinTokens()) return "gemv";
    const why =
      tensorIneligibility(weight.dtype, weight.shape[1], this.tensorLayout, weight.shape[0]) ??
      tensorOutputIneligibility(this.tensorLayout, rows, weight.shape[0]);
    return why === null ? "tensor" : "gemv";
  }

  rope(x: Activation, batch: ForwardBatch, invFreq: Weight, headDim: number): Activation {
    this.throwIfLost();
    if (x.rows !== batch.numTokens) throw new Error(`rope: ${x.rows} rows for a batch of ${batch.numTokens} tokens`);
    return rope(this.ctx, activation(x), this.ropeCosSin(batch, invFreq, headDim), headDim);
  }

  /** The batch's (cos, sin) table for `invFreq`, uploaded once per step and shared by every layer. */
  private ropeCosSin(batch: ForwardBatch, invFreq: Weight, headDim: number): Resource {
    const frequencies = gpuWeight(invFreq);
    const host = frequencies.host;
    if (!host || host.length !== headDim / 2)
      throw new Error(`rope: ${frequencies.name} must be a 1-D weight of headDim / 2 = ${headDim / 2} values`);
    const positions = batch.positions.subarray(0, batch.numTokens);
    let cache = this.ropeTables.get(frequencies);
    if (!cache) this.ropeTables.set(frequencies, (cache = new RopeTableCache(host)));
    return this.recorder.input(batch.positions, `rope#${this.weightIds.get(frequencies)}`, () => cache.rows(positions));
  }

  /** Per RoPE frequency weight: its (cos, sin) rows by position (the step input is uploaded as it is made). */
  private readonly ropeTables = new WeakMap<GpuWeight, RopeTableCache>();

  writeKv(cache: KvCache, layer: number, k: Activation, v: Activation, batch: ForwardBatch, ropeInvFreq?: Weight): void {
    this.throwIfLost();
    const kv = cache as GpuKvCache;
    this.checkKvRows(kv, k, v, batch);
    const headDim = kv.layout.headDim;
    const kRope = ropeInvFreq ? { cosSin: this.ropeCosSin(batch, ropeInvFreq, headDim), headDim } : null;
    writeKv(this.ctx, kv.layers[layer], kv.dtype, activation(k), activation(v), this.i32Input(batch.slots, batch.numTokens), kRope);
  }

  /** K/V rows `[T, kvCols]` of the batch's T tokens, each going to a slot inside the cache. */
  private checkKvRows(kv: GpuKvCache, k: Activation, v: Activation, batch: ForwardBatch): void {
    const kvCols = kv.layout.numKvHeads * kv.layout.headDim;
    if (k.cols !== kvCols || v.cols !== kvCols || k.rows !== v.rows || k.rows !== batch.numTokens) {
      throw new Error(
        `writeKv: K [${k.rows}, ${k.cols}] and V [${v.rows}, ${v.cols}] do not match ${batch.numTokens} tokens of ${kvCols} columns`,
      );
    }
    for (let t = 0; t < batch.numTokens; t++) {
      const slot = batch.slots[t];
      if (slot < 0 || slot >= kv.numSlots) throw new RangeError(`KV slot ${slot} is outside the cache (0..${kv.numSlots - 1})`);
    }
  }

  attention(
    query: Activation,
    cache: KvCache,
    layer: number,
    batch: ForwardBatch,
    numHeads: number,
    scale: number,
    ropeInvFreq?: Weight,
  ): Activation {
    this.throwIfLost();
    const kv = cache as GpuKvCache;
    this.validateBlockTables(batch, kv);
    const headDim = kv.layout.headDim;
    // RoPE is fused into the q load where the head splits into vec4 lanes; otherwise it runs as its own pass.
    const fused = ropeInvFreq !== undefined && headDim % 4 === 0;
    const q = ropeInvFreq && !fused ? this.rope(query, batch, ropeInvFreq, headDim) : query;
    const cosSin = fused ? this.ropeCosSin(batch, ropeInvFreq!, headDim) : null;
    const kernel = this.attentionKernel(batch);
    if (kernel === "per-row") {
      const inputs = this.perRowInputs(batch);
      return attentionPerRow(this.ctx, activation(q), kv.layers[layer], kv.dtype, kv.layout, inputs, numHeads, scale, cosSin);
    }
    const runInputs = {
      hostPositions: batch.positions,
      hostSeqIndex: batch.seqIndex,
      positions: this.i32Input(batch.positions, batch.numTokens),
      blockTables: this.i32Input(batch.blockTables),
      maxBlocksPerSeq: batch.maxBlocksPerSeq,
      owner: batch,
      skipSingles: kernel === "split",
    };
    const tensorSetup = this.tensorAttentionFor(kv, numHeads, kernel);
    const out = tensorSetup
      ? attentionTensor(
          this.ctx,
          tensorSetup,
          activation(q),
          kv.layers[layer],
          kv.layout,
          runInputs,
          numHeads,
          scale,
          cosSin,
          this.tensorAttentionOptions,
        )
      : attention(
          this.ctx,
          activation(q),
          kv.layers[layer],
          kv.dtype,
          kv.layout,
          { ...runInputs, tiles: attentionTiles(headDim, this.gpu.limits.maxComputeWorkgroupStorageSize) },
          numHeads,
          scale,
          cosSin,
        );
    if (kernel !== "split") return out;
    const singles = this.singleTokenRows(batch);
    const subset = { rows: singles, into: out };
    const inputs = { ...this.perRowInputs(batch), subset };
    return attentionPerRow(this.ctx, activation(q), kv.layers[layer], kv.dtype, kv.layout, inputs, numHeads, scale, cosSin);
  }

  /**
   * The tensor-core attention's setup when it serves this step's runs: forced ("tensor", which throws where it
   * cannot run), or in the tiled kernel's place when not batch-invariant and it can run; else null.
   */
  private tensorAttentionFor(kv: GpuKvCache, numHeads: number, kernel: AttentionKernelChoice): TensorCoreSetup | null {
    const forced = kernel === "tensor";
    if (!forced && (this.batchInvariant || !this.tensorAttention)) return null;
    const setup = this.tensorSetup;
    const { headDim, numKvHeads } = kv.layout;
    const { keyBlock, tokenTiles, qThroughP } = this.tensorAttentionOptions;
    const heads = tensorAttentionHeads(numHeads / numKvHeads);
    const layout = setup && tensorAttentionLayout(setup, headDim, heads, keyBlock, tokenTiles, qThroughP);
    const reason = !setup
      ? "no subgroup matrices"
      : kv.dtype !== "f16"
        ? "it needs an f16 KV cache"
        : typeof layout === "string"
          ? layout
          : null;
    if (reason === null) return setup;
    if (forced) throw new Error(`tensor-core attention cannot run on ${this.gpu.adapter.name}: ${reason}`);
    return null;
  }

  private singleTokenRows(batch: ForwardBatch): Int32Array {
    let rows = this.singleRows.get(batch);
    if (!rows) this.singleRows.set(batch, (rows = singleTokenRows(batch.positions, batch.seqIndex, batch.numTokens)));
    return rows;
  }

  private perRowInputs(batch: ForwardBatch): PerRowAttentionInputs {
    return {
      positions: this.i32Input(batch.positions, batch.numTokens),
      seqIndex: this.i32Input(batch.seqIndex, batch.numTokens),
      blockTables: this.i32Input(batch.blockTables),
      maxBlocksPerSeq: batch.maxBlocksPerSeq,
      hostPositions: batch.positions,
      owner: batch,
      segment: this.perRowSegment,
      ...(this.perRowForms ? { lanesForms: this.perRowForms } : {}),
      ...(this.perRowHeads === "auto" ? {} : { headsPerWorkgroup: this.perRowHeads }),
    };
  }

  /**
   * writeKv + attention; one dispatch (kernels/attention-per-row.ts, with `writeKv`) when the step takes the
   * per-row kernel and has one row per sequence, so that no row reads a slot another writes. Otherwise (prefill
   * runs, the tiled kernel, RoPE with a head size that is not a multiple of 4) the two dispatches. Either way a row
   * gets the same bits.
   */
  writeKvAttention(
    q: Activation,
    k: Activation,
    v: Activation,
    cache: KvCache,
    layer: number,
    batch: ForwardBatch,
    numHeads: number,
    scale: number,
    ropeInvFreq?: Weight,
  ): Activation {
    this.throwIfLost();
    const kv = cache as GpuKvCache;
    if (!this.fusesKvWrite(batch, kv, ropeInvFreq)) {
      this.writeKv(cache, layer, k, v, batch, ropeInvFreq);
      return this.attention(q, cache, layer, batch, numHeads, scale, ropeInvFreq);
    }
    this.checkKvRows(kv, k, v, batch);
    const cosSin = ropeInvFreq ? this.ropeCosSin(batch, ropeInvFreq, kv.layout.headDim) : null;
    const rows = { k: activation(k), v: activation(v), slots: this.i32Input(batch.slots, batch.numTokens) };
    const inputs = this.perRowInputs(batch);
    return attentionPerRow(this.ctx, activation(q), kv.layers[layer], kv.dtype, kv.layout, inputs, numHeads, scale, cosSin, rows);
  }

  /** Whether writeKvAttention can fuse the KV write into the per-row kernel for this step. */
  private fusesKvWrite(batch: ForwardBatch, kv: GpuKvCache, ropeInvFreq: Weight | undefined): boolean {
    // The fused kernel ropes q in its vec4 load, as attention does when it can; otherwise q needs a rope pass first.
    if (ropeInvFreq && kv.layout.headDim % 4 !== 0) return false;
    if (this.attentionKernel(batch) !== "per-row") return false;
    // The fused kernel's K, V and slot bindings must fit the device's storage-buffer limit (13 with lanes and RoPE).
    const design = perRowDesign(this.ctx.pipelines, kv.layout.headDim);
    const storage = perRowStorageBuffers(design, { rope: ropeInvFreq !== undefined, fused: true, subset: false });
    if (storage > this.ctx.pipelines.maxStorageBuffers) return false;
    this.validateBlockTables(batch, kv);
    const { blockSize } = kv.layout;
    const known = this.rowPerSequenceBatches.get(batch);
    if (known?.blockSize === blockSize) return known.fusable;
    const fusable = oneRowPerSequence(batch, blockSize);
    this.rowPerSequenceBatches.set(batch, { blockSize, fusable });
    return fusable;
  }

  /** "auto" resolved for one step (see `attentionPath`); "split" becomes one kernel when the step holds one kind of row. */
  private attentionKernel(batch: ForwardBatch): AttentionKernelChoice {
    const path = this.attentionPath === "auto" ? (this.batchInvariant ? "per-row" : "split") : this.attentionPath;
    if (path !== "split") return path;
    const singles = this.singleTokenRows(batch).length;
    return singles === batch.numTokens ? "per-row" : singles === 0 ? "tiled" : "split";
  }

  add(a: Activation, b: Activation): Activation {
    this.throwIfLost();
    return elementwise(this.ctx, "add", activation(a), activation(b));
  }

  siluMul(gate: Activation, up: Activation): Activation {
    this.throwIfLost();
    return elementwise(this.ctx, "siluMul", activation(gate), activation(up));
  }

  sampleGreedy(logits: Activation, maskStops: Int32Array, stopIds: Int32Array): Activation {
    this.throwIfLost();
    if (maskStops.length !== logits.rows) throw new RangeError(`sampleGreedy: ${maskStops.length} mask flags for ${logits.rows} rows`);
    return sampleGreedy(this.ctx, activation(logits), this.i32Input(maskStops), this.stopIdsInput(stopIds), stopIds.length);
  }

  /** The stop ids as a step input (a placeholder -1, which no id matches, when there are none: a binding cannot be empty). */
  private stopIdsInput(stopIds: Int32Array): Resource {
    return this.i32Input(stopIds.length > 0 ? stopIds : Int32Array.of(-1));
  }

  sampleRows(logits: Activation, pairs: Activation, sampled: DeviceSampledRows, stopIds: Int32Array): Activation {
    this.throwIfLost();
    const count = sampled.rows.length;
    checkRows("sampleRows", sampled.rows, logits.rows);
    if (new Set(sampled.rows).size !== count) throw new RangeError("sampleRows: a logits row is listed twice");
    const rows: Resource = this.recorder.input(sampled, "sampled-rows", () => packSampledRows(sampled));
    return sampleRows(this.ctx, activation(logits), activation(pairs), rows, count, this.stopIdsInput(stopIds), stopIds.length);
  }

  packSampled(pairs: Activation, logits: Activation, hostRows: Int32Array): Activation {
    this.throwIfLost();
    checkRows("packSampled", hostRows, logits.rows);
    return packSampled(this.ctx, activation(pairs), activation(logits), this.i32Input(hostRows), hostRows.length);
  }

  gatherRows(x: Activation, rows: Int32Array): Activation {
    this.throwIfLost();
    checkRows("gatherRows", rows, x.rows);
    return gatherRows(this.ctx, activation(x), this.i32Input(rows), rows.length);
  }

  /** Profiled steps' GPU timestamps since the last `takeProfiles` (only while profiling). */
  private profiles: ProfiledRead[] = [];

  /**
   * Opt-in GPU timing (timestamp-query): "pass" times each step's compute pass, "dispatch" splits each step
   * into one compute pass per dispatch and times each (adds overhead). Collect with `takeProfiles`.
   */
  setProfile(mode: ProfileMode): void {
    if (mode !== "off" && !this.gpu.features.timestampQuery) {
      throw new SwallowError(`profiling needs the timestamp-query feature, which ${this.gpu.adapter.name} lacks`);
    }
    this.recorder.profileMode = mode;
  }

  /** Kernels compiled so far and the host time that took (PipelineCache.compiled). */
  compileStats(): { kernels: number; ms: number; keys: readonly string[] } {
    return this.pipelines.compiled;
  }

  /** Bind groups created so far (the recorder's cache misses). */
  bindGroupsCreated(): number {
    return this.recorder.bindGroupsCreated;
  }

  takeProfiles(): StepProfile[] {
    // In submission order: a pipelined step's read can finish before its predecessor's.
    let ready = 0;
    while (ready < this.profiles.length && this.profiles[ready].settled) ready++;
    return this.profiles.splice(0, ready).flatMap(({ profile }) => (profile ? [profile] : []));
  }

  /** When each step's read maps (see ReadPacer). */
  private readonly pacer = new ReadPacer();

  /**
   * Host time of the last `read`'s command encoding (bind groups, pass) and of `queue.submit`, and the pieces it was
   * submitted in (more than one when submitted early), and whether it was encoded at submit (benchmarks).
   */
  lastReadTiming = { encodeMs: 0, submitMs: 0, pieces: 0, encodedAtSubmit: false };

  async read(x: Activation): Promise<Float32Array> {
    return this.prepareRead(x, []).submit();
  }

  /**
   * Encodes the recorded step (bind groups, one compute pass, the copy to a readback buffer) and returns
   * a handle that submits it. Nothing else may be recorded between the two (the step's inputs and buffers
   * stay reserved until `submit`). `lateInputs` are uploaded again just before the submit.
   *
   * When no step is in flight (an idle engine's first step, a prompt's serial prefill passes) nothing would run
   * meanwhile, so encoding waits for `submit`, which hands the queue the step in pieces as it encodes them
   * (early-submit.ts): the device starts after the first few dispatches. Steps encoded while another runs (pipelined
   * decode) and profiled steps stay one pass, encoded here.
   */
  prepareRead(x: Activation, lateInputs: readonly Int32Array[]): PreparedRead {
    this.throwIfLost();
    const target = activation(x);
    this.recorder.assertReadable(target);
    // Steps that dispatch as much (within a quarter octave of workgroups) take about as long (ReadPacer).
    const { dispatches, workgroups } = this.recorder.pendingShape;
    const kind = `${dispatches}/${Math.round(4 * Math.log2(workgroups + 1))}`;
    if (this.pacer.idle && this.recorder.profileMode === "off" && this.earlySubmit) {
      return this.submitInPieces(target, lateInputs, kind, this.earlySubmit);
    }
    const encodeStart = performance.now();
    let encodeErrors: ReturnType<typeof this.encodeStep>;
    try {
      encodeErrors = this.encodeStep(target);
    } catch (error) {
      this.recorder.finishStep();
      throw error;
    }
    const encodeMs = performance.now() - encodeStart;
    const { commands, staging, profile } = encodeErrors.value;
    let submitted = false;
    return {
      submit: () => {
        if (submitted) throw new Error("a prepared step was submitted twice");
        submitted = true;
        const submitStart = performance.now();
        const submitErrors = this.withErrorScopes(() => {
          try {
            for (const values of lateInputs) this.recorder.rewriteInput(values);
            this.device.queue.submit([commands]);
          } finally {
            this.recorder.finishStep();
          }
        });
        const submittedAt = performance.now();
        this.lastReadTiming = { encodeMs, submitMs: submittedAt - submitStart, pieces: 1, encodedAtSubmit: false };
        const errors = Promise.all([encodeErrors.errors, submitErrors.errors]).then((e) => e.flat());
        return this.awaitRead(target, staging, errors, profile, kind, submittedAt);
      },
    };
  }

  /** prepareRead's handle for a step sent to an idle queue: encodes at submit, submitting each piece as it is encoded. */
  private submitInPieces(target: GpuActivation, lateInputs: readonly Int32Array[], kind: string, chunks: readonly number[]): PreparedRead {
    let submitted = false;
    return {
      submit: () => {
        if (submitted) throw new Error("a prepared step was submitted twice");
        submitted = true;
        const start = performance.now();
        const pieces = new PieceSubmitter(this.device, chunks);
        const scoped = this.withErrorScopes(() => {
          try {
            for (const values of lateInputs) this.recorder.rewriteInput(values);
            if (this.recorder.hasPending) this.recorder.encode(pieces.current, target, pieces);
            const staging = this.copyForRead(pieces.current, target);
            pieces.submit(pieces.current);
            return staging;
          } finally {
            this.recorder.finishStep();
          }
        });
        const totalMs = performance.now() - start;
        this.lastReadTiming = {
          encodeMs: totalMs - pieces.submitMs,
          submitMs: pieces.submitMs,
          pieces: pieces.pieces,
          encodedAtSubmit: true,
        };
        return this.awaitRead(target, scoped.value, scoped.errors, null, kind, pieces.firstSubmitAt);
      },
    };
  }

  /** After a step's (last) submit: paces and awaits its read (completeRead). */
  private awaitRead(
    target: GpuActivation,
    staging: GPUBuffer | null,
    errors: Promise<(GPUError | null)[]>,
    profile: ProfileTicket | null,
    kind: string,
    submittedAt: number,
  ): Promise<Float32Array> {
    const profiled: ProfiledRead | null = profile ? { ticket: profile, profile: null, settled: false } : null;
    if (profiled) this.profiles.push(profiled);
    const pacing = { kind, submittedAt, ...this.pacer.submitted(kind, submittedAt) };
    return this.completeRead(target, staging, errors, profiled, pacing);
  }

  private encodeStep(target: GpuActivation) {
    return this.withErrorScopes(() => {
      const encoder = this.device.createCommandEncoder({ label: "step" });
      const profile = this.recorder.hasPending ? this.recorder.encode(encoder, target) : null;
      const staging = this.copyForRead(encoder, target);
      return { commands: encoder.finish(), staging, profile };
    });
  }

  /** Copies `target` into a readback buffer at the end of `encoder`'s commands (null for an empty target). */
  private copyForRead(encoder: GPUCommandEncoder, target: GpuActivation): GPUBuffer | null {
    if (target.isEmpty) return null;
    const staging = this.readbackPool.acquire(target.bytes, "a readback buffer");
    encoder.copyBufferToBuffer(target.buffer!, 0, staging, 0, target.bytes);
    return staging;
  }

  /** Runs `work` inside out-of-memory/validation/internal error scopes; `errors` resolves to what they caught. */
  private withErrorScopes<T>(work: () => T): { value: T; errors: Promise<(GPUError | null)[]> } {
    const scopes: GPUErrorFilter[] = ["out-of-memory", "validation", "internal"];
    for (const filter of scopes) this.device.pushErrorScope(filter);
    const pop = () => Promise.all(scopes.map(() => this.device.popErrorScope()));
    let value: T;
    try {
      value = work();
    } catch (error) {
      void pop(); // never leak the scopes into later steps
      throw error;
    }
    return { value, errors: pop() };
  }

  private async completeRead(
    target: GpuActivation,
    staging: GPUBuffer | null,
    scopeErrors: Promise<(GPUError | null)[]>,
    profiled: ProfiledRead | null,
    pacing: { kind: string; submittedAt: number; mapAt: number; predictedMs: number },
  ): Promise<Float32Array> {
    try {
      // Map once most of the step's predicted time has passed: until then Dawn's binding would spin (ReadPacer).
      const wait = pacing.mapAt - performance.now();
      if (wait >= 1) await new Promise((resolve) => setTimeout(resolve, wait));
      pollFor(pacing.predictedMs);
      const done = staging ? staging.mapAsync(MAP_MODE_READ, 0, target.bytes) : this.device.queue.onSubmittedWorkDone();
      const [completion] = await this.untilLost(Promise.allSettled([done, scopeErrors]));
      this.pacer.completed(pacing.kind, pacing.submittedAt, performance.now());
      const caught = await scopeErrors;
      const messages = [
        ...(await this.pipelines.takeErrors()),
        ...caught.filter((error): error is GPUError => error !== null).map((error) => error.message),
        ...this.errors.splice(0),
      ];
      if (messages.length > 0) {
        // Scopes come in threes per phase (encode, submit); the first of each three is out-of-memory.
        const outOfMemory = caught.some((error, i) => i % 3 === 0 && error !== null);
        if (outOfMemory)
          throw new SwallowError(`out of GPU memory during a forward pass on ${this.gpu.adapter.name}: ${messages.join("; ")}`);
        throw new Error(`WebGPU errors during a step: ${messages.join("; ")}`);
      }
      if (completion.status === "rejected") throw completion.reason;
      // Its own step's timestamps: with pipelined steps, the next one may already be encoded.
      if (profiled) profiled.profile = await this.recorder.readProfile(profiled.ticket);
      if (!staging) return new Float32Array(0);
      const out = new Float32Array(target.rows * target.cols);
      out.set(new Float32Array(staging.getMappedRange(0, target.bytes)));
      return out;
    } finally {
      if (profiled) profiled.settled = true; // a failed step leaves no profile and holds back no later one
      if (staging) {
        if (staging.mapState === "mapped") staging.unmap();
        if (staging.mapState === "unmapped") this.readbackPool.release(staging);
      }
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.recorder.destroy();
    this.pool.destroy();
    this.readbackPool.destroy();
    for (const buffer of this.ownedBuffers) buffer.destroy();
    this.ownedBuffers.clear();
    this.device.destroy();
  }

  /** Bytes held by the activation pool (for tests and diagnostics). */
  get pooledBytes(): number {
    return this.pool.bytes;
  }

  /** The first `length` values of a batch array as a step input (one upload per step per array). */
  private i32Input(values: Int32Array, length = values.length): Resource {
    return this.recorder.input(values, `i32/${length}`, () => values.subarray(0, length));
  }

  /** The host-side version of the reference's RangeErrors: every attended position must have a block. */
  private validateBlockTables(batch: ForwardBatch, cache: GpuKvCache): void {
    if (this.validatedBatches.get(batch) === cache.layout.numBlocks) return;
    const { blockSize, numBlocks } = cache.layout;
    for (let t = 0; t < batch.numTokens; t++) {
      const position = batch.positions[t];
      const tableOffset = batch.seqIndex[t] * batch.maxBlocksPerSeq;
      if (position < 0) throw new RangeError(`position ${position} is negative`);
      const lastBlock = Math.floor(position / blockSize);
      if (batch.seqIndex[t] < 0 || lastBlock >= batch.maxBlocksPerSeq || tableOffset + lastBlock >= batch.blockTables.length) {
        throw new RangeError(`position ${position} has no KV block in the block table`);
      }
      for (let b = 0; b <= lastBlock; b++) {
        const block = batch.blockTables[tableOffset + b];
        if (block < 0 || block >= numBlocks) throw new RangeError(`position ${b * blockSize} has no KV block in the block table`);
      }
    }
    this.validatedBatches.set(batch, cache.layout.numBlocks);
  }

  private throwIfLost(): void {
    if (this.lostError) throw this.lostError;
    if (this.disposed) throw new SwallowError("the webgpu backend was disposed");
  }

  /** Resolves with `work`, or rejects as soon as the device is lost (a lost device never completes work). */
  private untilLost<T>(work: Promise<T>): Promise<T> {
    if (this.lostError) return Promise.reject(this.lostError);
    return new Promise<T>((resolve, reject) => {
      this.waiters.add(reject);
      work.then(
        (value) => {
          this.waiters.delete(reject);
          resolve(value);
        },
        (error) => {
          this.waiters.delete(reject);
          reject(error);
        },
      );
    });
  }
}

/**
 * Whether each row of the step is the only one of its sequence and goes to the slot its block table gives
 * positions[t] (the slot the fused kernel stores is the one the unfused kernel would read back). Block tables must
 * have been validated.
 */
function oneRowPerSequence(batch: ForwardBatch, blockSize: number): boolean {
  const seen = new Set<number>();
  for (let t = 0; t < batch.numTokens; t++) {
    const [seq, position] = [batch.seqIndex[t], batch.positions[t]];
    if (seen.has(seq)) return false;
    seen.add(seq);
    const block = batch.blockTables[seq * batch.maxBlocksPerSeq + Math.floor(position / blockSize)];
    if (batch.slots[t] !== block * blockSize + (position % blockSize)) return false;
  }
  return true;
}

/** TENSOR_MIN_TOKENS, or SWALLOW_TENSOR_MIN_TOKENS for the kernel lab (bench/NOTES.md: where tensor tiles start to pay). */
function tensorMinTokens(): number {
  if (minTokensSetting === null) {
    const env = envVar("SWALLOW_TENSOR_MIN_TOKENS");
    const value = Number(env);
    minTokensSetting = env !== undefined && Number.isInteger(value) && value >= 1 ? value : TENSOR_MIN_TOKENS;
  }
  return minTokensSetting;
}
/** Read once: the environment lookup would otherwise run for every matmul of every step. */
let minTokensSetting: number | null = null;

/** SWALLOW_PER_ROW_HEADS (a divisor of the GQA group, for A/B runs; the kernel refuses others) or "auto". */
function perRowHeadsFromEnv(): "auto" | number {
  const value = Number(envVar("SWALLOW_PER_ROW_HEADS") ?? "");
  return Number.isInteger(value) && value >= 1 ? value : "auto";
}
