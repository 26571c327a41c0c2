import type { WeightDtype } from "../../../../model/dtype.js";
import { envVar } from "../../env.js";

/**
 * Host-side planning of the subgroup-matrix (tensor-core) matmul: which device configuration it uses, how
 * an output is cut into workgroup tiles, whether a shape and weight dtype are eligible, and the f16 range
 * rules the kernel applies when it converts f32 activations and bf16 weights to f16 operands. Pure
 * functions, so they are unit-tested everywhere (lavapipe has no subgroup matrices).
 */

/** One entry of `GPUAdapterInfo.subgroupMatrixConfigs` (Dawn's `chromium-experimental-subgroup-matrix`). */
export interface SubgroupMatrixConfig {
  componentType: string;
  resultComponentType: string;
  /** Rows of the left and result matrices. */
  M: number;
  /** Columns of the right and result matrices. */
  N: number;
  /** Columns of the left = rows of the right matrix. */
  K: number;
}

/** What the tensor path needs from the device; null in the backend when it is unavailable. */
/**
 * How the WGSL names a matrix load/store's layout: "template" is Dawn's current form
 * (`subgroupMatrixLoad<T, row_major>(p, offset, stride)`, `subgroupMatrixStore<row_major>(p, offset, m, stride)`),
 * "argument" the older one with a `col_major: bool` argument, which newer Dawn still compiles but warns about on
 * stdout for every shader. The backend probes the device for the template form (tensor/majorness-probe.ts).
 */
export type MajornessSyntax = "template" | "argument";

export interface TensorCoreSetup {
  config: SubgroupMatrixConfig;
  /** Default "argument". */
  majorness?: MajornessSyntax;
  /** The adapter's largest subgroup size: Dawn requires the workgroup's x size to be a multiple of it. */
  subgroupSize: number;
  maxWorkgroupBytes: number;
  maxInvocations: number;
}

/**
 * A kernel variant: `sgRows × sgCols` subgroups per workgroup, each computing `tileM × tileN` result
 * matrices (so a workgroup owns a (sgRows·tileM·M) × (sgCols·tileN·N) output tile), K consumed `bk` at a
 * time through workgroup memory (`buffers` = 2: the next K slice is fetched into registers while the
 * current one is multiplied). `pad` extra f16 per staged row spread the rows over memory banks.
 * (Without robustness, pads 0 and 8 read wrong values on the H100 until session 11 made every workgroup
 * variable a multiple of 16 bytes: UNCLAMPED_PAD.)
 */
export interface TensorVariant {
  name: string;
  sgRows: number;
  sgCols: number;
  tileM: number;
  tileN: number;
  bk: number;
  pad: number;
  buffers: 1 | 2;
  /**
   * x converted to f16 once by a pre-pass (which also flags rows f16 cannot hold) instead of by every
   * workgroup that stages it: half the x traffic and no per-tile conversion, one more dispatch.
   */
  xF16?: boolean;
  /**
   * With xF16: x is not staged at all; subgroups load their left matrices straight from the f16 copy,
   * which the pre-pass pads with zeros to whole tiles (rows to bm, K to bk). Only W goes through
   * workgroup memory, leaving room for bk = 64 with two buffers.
   */
  xDirect?: boolean;
  /**
   * With one workgroup buffer: the next K slice is fetched into registers before the current one is
   * multiplied, then staged between two barriers. Half the workgroup memory of two buffers, so larger tiles
   * or bk = 64 fit.
   */
  prefetch?: boolean;
  /**
   * End each staging step with a workgroupBarrier and an ordinary load of the fence word instead of
   * workgroupUniformLoad (barrier, load, barrier): one barrier fewer per K slice (kernel-lab variant, not measured).
   */
  plainFence?: boolean;
  /**
   * With prefetch: D keeps D K slices in registers ahead of the one being multiplied (2 on the 16-row class; the
   * 128×128 tile with 2 measured within the spread of one slice ahead, end to end on the H100: bench/NOTES.md,
   * session 15; 3 and 4 are lab variants of the skinny tiles, whose few accumulators leave the registers for them).
   */
  prefetchDepth?: 2 | 3 | 4;
  /**
   * bf16 weights converted two at a time (one f32 → f16 pack per pair) with their range check OR-ed into a register
   * over the whole K loop and looked at once after it (BF16_PAIR_RANGE_ADD), instead of a check, a branch and a clamp
   * per chunk. Measured on the H100 (bench/NOTES.md, session 18; lab, ms, gate·up / down): the 16-row skinny tile
   * 0.128 / 0.069 → 0.108 / 0.062, the 32-row one 0.141 / 0.075 → 0.121 / 0.066; but the 64-row skinny tile 0.206 →
   * 0.216–0.223 (gate·up) and the 128×128 tile 1.24 → 1.47 (gate·up): so the 16- and 32-row classes only.
   */
  pairConvert?: boolean;
  /**
   * With prefetch: the next slice's fetch is issued on every iteration, past the split's last slice at k = K (every
   * load then predicated off, registers zero), instead of inside `if (s + 1 < sliceEnd)`. A kernel-lab variant, not
   * yet measured: with pairConvert the driver joined the branch's two paths by copying the loaded registers before the
   * multiplies, which waits for the loads (bench/sass.ts's load-wait column; bench/NOTES.md, session 18).
   */
  unconditionalFetch?: boolean;
  /**
   * Kernel-lab timing ablation, wrong results: "fetch" reads no x or W (registers get made-up values), "stage"
   * stores nothing to workgroup memory (it only waits for the fetched registers), "multiply" loads no matrices and
   * multiplies nothing. What each one saves is what that part of the K-slice loop costs.
   */
  ablate?: "fetch" | "stage" | "multiply";
}

/** The 128×128 tile of 2×2 subgroups with one buffer and the next K slice prefetched into registers (x16). */
const PREFETCHING_128 = { sgRows: 2, sgCols: 2, tileM: 4, tileN: 4, bk: 32, pad: 8, buffers: 1, prefetch: true, xF16: true } as const;

/** One row of four subgroups, each two result matrices wide: a 16×128 tile, K in slices of 64, the next one prefetched. */
const SKINNY = { sgRows: 1, sgCols: 4, tileM: 1, tileN: 2, bk: 64, pad: 8, buffers: 1, prefetch: true, xF16: true } as const;

/**
 * The variants the kernel lab sweeps; the first that fits the device is the default where TENSOR_TILE_CLASSES
 * do not fit. Measured on the H100 (bench/NOTES.md, session 4, robustness on): 128x256-sg2x4-rb-x16 was the
 * fastest at 2048 tokens (95–100 TFLOP/s), 128x128-sg2x2-sb-x16 next (93–98).
 */
export const TENSOR_VARIANTS: readonly TensorVariant[] = [
  { name: "128x256-sg2x4-rb-x16", sgRows: 2, sgCols: 4, tileM: 4, tileN: 4, bk: 32, pad: 8, buffers: 1, prefetch: true, xF16: true },
  { name: "256x128-sg4x2-rb-x16", sgRows: 4, sgCols: 2, tileM: 4, tileN: 4, bk: 32, pad: 8, buffers: 1, prefetch: true, xF16: true },
  { name: "128x128-sg2x2-db-x16", sgRows: 2, sgCols: 2, tileM: 4, tileN: 4, bk: 32, pad: 8, buffers: 2, xF16: true },
  { name: "128x128-sg2x2-k64-rb-x16", sgRows: 2, sgCols: 2, tileM: 4, tileN: 4, bk: 64, pad: 8, buffers: 1, prefetch: true, xF16: true },
  { name: "128x128-sg4x2-rb-x16", sgRows: 4, sgCols: 2, tileM: 2, tileN: 4, bk: 32, pad: 8, buffers: 1, prefetch: true, xF16: true },
  { name: "128x128-sg2x2-sb-x16", sgRows: 2, sgCols: 2, tileM: 4, tileN: 4, bk: 32, pad: 8, buffers: 1, xF16: true },
  { name: "128x128-sg2x2-db", sgRows: 2, sgCols: 2, tileM: 4, tileN: 4, bk: 32, pad: 8, buffers: 2 },
  { name: "64x128-sg2x2-db-x16", sgRows: 2, sgCols: 2, tileM: 2, tileN: 4, bk: 32, pad: 8, buffers: 2, xF16: true },
  { name: "64x64-sg2x2-db-x16", sgRows: 2, sgCols: 2, tileM: 2, tileN: 2, bk: 32, pad: 8, buffers: 2, xF16: true },
  { name: "128x128-sg2x2-k64-db-xd", sgRows: 2, sgCols: 2, tileM: 4, tileN: 4, bk: 64, pad: 8, buffers: 2, xF16: true, xDirect: true },
  { name: "128x128-sg2x2-rb-x16", ...PREFETCHING_128 },
  { name: "64x128-sg2x2-rb-x16", ...PREFETCHING_128, tileM: 2 },
  // Kernel-lab variants of the prefetching 128×128 tile (not tile classes; bench/NOTES.md, session 9).
  { name: "128x128-sg2x2-rb-pf-x16", ...PREFETCHING_128, plainFence: true },
  { name: "128x128-sg2x2-rb2-x16", ...PREFETCHING_128, prefetchDepth: 2 },
  // Skinny tile classes (one row of subgroups) for decode batches of 8–64 rows (bench/NOTES.md, session 13).
  { name: "16x128-sg1x4-k64-rb2-x16", ...SKINNY, prefetchDepth: 2, pairConvert: true },
  { name: "32x128-sg1x4-k64-rb-x16", ...SKINNY, tileM: 2, pairConvert: true },
  { name: "64x128-sg1x4-k32-rb-x16", ...SKINNY, tileM: 4, bk: 32 },
  // The branch-free prefetch, with and without pairConvert (session 19: the -uf-pc ones are tile classes now).
  { name: "128x128-sg2x2-rb-uf-x16", ...PREFETCHING_128, unconditionalFetch: true },
  { name: "128x128-sg2x2-rb-uf-pc-x16", ...PREFETCHING_128, unconditionalFetch: true, pairConvert: true },
  { name: "64x128-sg1x4-k32-rb-uf-pc-x16", ...SKINNY, tileM: 4, bk: 32, unconditionalFetch: true, pairConvert: true },
  { name: "16x128-sg1x4-k64-rb2-uf-pc-x16", ...SKINNY, prefetchDepth: 2, unconditionalFetch: true, pairConvert: true },
  // More K slices in flight for the skinny tiles (session 23): their products read the weights at ~2.35 TB/s, where
  // two 20.7 KB workgroups per SM with two 16 KB slices ahead each keep ~64 KB per SM in flight. Measured on the H200
  // (bench/NOTES.md, session 24): none beats its class end to end (16 rows 8.11 → 8.35 / 8.99 ms with three / four
  // slices ahead; 32 rows within the spread), so they stay lab variants.
  { name: "16x128-sg1x4-k64-rb3-x16", ...SKINNY, prefetchDepth: 3, pairConvert: true },
  { name: "16x128-sg1x4-k64-rb4-x16", ...SKINNY, prefetchDepth: 4, pairConvert: true },
  { name: "32x128-sg1x4-k64-rb2-x16", ...SKINNY, tileM: 2, prefetchDepth: 2, pairConvert: true },
  { name: "32x128-sg1x4-k64-rb3-x16", ...SKINNY, tileM: 2, prefetchDepth: 3, pairConvert: true },
  { name: "64x128-sg1x4-k32-rb3-uf-pc-x16", ...SKINNY, tileM: 4, bk: 32, prefetchDepth: 3, unconditionalFetch: true, pairConvert: true },
  // The 128×256 and 256×128 tiles (eight subgroups, one workgroup per SM by the ~48 KB rule) and two slices ahead
  // in today's form: the branch-free prefetch and paired conversion. H200, session 24 (bench/NOTES.md): the large
  // tiles match the class in the lab (±4%) and are slower end to end (prefill 2,048 10,866 / 10,774 against 11,238 /
  // 11,018 tok/s); two slices ahead is 12–18% slower in the lab. End to end (session 25, two rounds each beside the
  // class): prefill 2,048 11,253 / 11,211 / 11,369 / 11,536 against 11,004 / 11,087 / 11,377 / 11,332 tok/s, 256-row
  // steps 27.09 / 26.27 / 27.59 / 26.98 against 27.19 / 27.41 / 26.94 / 27.32 ms, but serving at concurrency 128
  // 3,169.6 / 3,158.9 against 3,433.9 / 3,474.7 output tok/s: not a class.
  { name: "256x128-sg4x2-rb-uf-pc-x16", ...PREFETCHING_128, sgRows: 4, unconditionalFetch: true, pairConvert: true },
  { name: "128x256-sg2x4-rb-uf-pc-x16", ...PREFETCHING_128, sgCols: 4, unconditionalFetch: true, pairConvert: true },
  { name: "128x128-sg2x2-rb2-uf-pc-x16", ...PREFETCHING_128, prefetchDepth: 2, unconditionalFetch: true, pairConvert: true },
  ...(["fetch", "stage", "multiply"] as const).map((ablate): TensorVariant => ({
    name: `128x128-sg2x2-rb-x16-no-${ablate}`,
    ...PREFETCHING_128,
    ablate,
  })),
];

/**
 * The row padding every variant takes without robustness (Dawn's disable_robustness). Sessions 5–10 padded rows
 * to 44 halves (88 bytes) there because rows of a multiple of 16 bytes read wrong values on the H100; the cause
 * was the kernel's 4-byte workgroup variables beside the staged arrays, which left those arrays off the 16-byte
 * alignment that the fast load of 16-byte-aligned rows assumes. With every workgroup variable a multiple of 16
 * bytes, 40-half rows (80 bytes) load right and the 2,048-token prefill went 282 → 244 ms (bench/NOTES.md,
 * session 11); 8 is also the robust variants' padding, so the layouts are the same either way.
 */
export const UNCLAMPED_PAD = 8;

/** `variant` as run without robustness: its rows padded by UNCLAMPED_PAD (named "-p8"). */
export function unclampedVariant(variant: TensorVariant): TensorVariant {
  return { ...variant, pad: UNCLAMPED_PAD, name: `${variant.name}-p${UNCLAMPED_PAD}` };
}

/**
 * Batches shorter than this keep the GEMV kernel, whose FMA work grows with the rows (it reads each weight once per
 * 8 tokens). Decode steps on the H100 (bench/NOTES.md, session 12; ms per step, GEMV → tensor tiles): 4 rows 8.7 →
 * 17.4, 8 rows 18.1 → 17.4, 16 rows 28.8 → 17.6, 32 rows 55.9 → 18.2, 48 rows 80.8 → 18.9. (64 until then, from a
 * kernel lab run when the tensor tiles were half as fast and had no split-K.) 3 since session 23, once the skinny tiles
 * had made a 16-row step cost little more than the GEMV's 2-row one; H200, same build, ms per step, GEMV → tensor:
 * 2 rows 5.80 → 7.91, 3 rows 8.09 → 7.91, 4 rows 8.75 → 7.93, 5–7 rows (the GEMV's 8-token block) 14.5–15.5 → 7.9–8.0.
 */
export const TENSOR_MIN_TOKENS = 3;

/** Largest finite f16. */
export const F16_MAX = 65504;

/**
 * bf16 bit patterns (sign cleared) at or above this are ≥ 65536, ±inf or NaN: they do not fit f16. Every
 * finite bf16 below it converts to f16 exactly when ≥ 2^-14 (bf16's 8 significant bits fit f16's 11), and
 * to an f16 subnormal (absolute error ≤ 2^-25) below that.
 */
export const BF16_F16_LIMIT_BITS = 143 << 7; // exponent field 143 = 2^16

/**
 * Added to a u32 holding two bf16 magnitudes (each half & 0x7fff), it sets a half's bit 15 exactly where that value
 * does not fit f16 (≥ BF16_F16_LIMIT_BITS), and no half carries into the next (0x7fff + this < 0x10000): the GEMM's
 * range check of a weight pair in two integer operations (bf16PairOutOfRange is the same test on the host).
 */
export const BF16_PAIR_RANGE_ADD = (0x8000 - BF16_F16_LIMIT_BITS) * 0x10001;

/** Whether either of the two bf16 values in `word` (low and high half) does not fit f16, as the GEMM tests it. */
export function bf16PairOutOfRange(word: number): boolean {
  return (((word & 0x7fff7fff) + BF16_PAIR_RANGE_ADD) & 0x80008000) !== 0;
}

/** Whether a bf16 value (its 16 bits) converts to a finite f16 without overflow. */
export function bf16FitsF16(bits: number): boolean {
  return (bits & 0x7fff) < BF16_F16_LIMIT_BITS;
}

/** Whether an f32 activation converts to a finite f16 (round to nearest: up to 65504 stays finite). */
export function f32FitsF16(value: number): boolean {
  return Math.abs(value) <= F16_MAX;
}

/**
 * The configuration the kernel uses: f16 operands with an f32 result (f16 accumulation would lose the
 * sums), preferring 16×16×16 (fewest loads per multiply), else the largest M·N·K.
 */
export function pickF16Config(configs: readonly SubgroupMatrixConfig[]): SubgroupMatrixConfig | null {
  const usable = configs.filter((c) => c.componentType === "f16" && c.resultComponentType === "f32");
  if (usable.length === 0) return null;
  return [...usable].sort((a, b) => b.M * b.N * b.K - a.M * a.N * a.K || b.K - a.K)[0];
}

/** A variant laid out for one configuration and subgroup size. */
export interface TensorLayout {
  variant: TensorVariant;
  config: SubgroupMatrixConfig;
  majorness: MajornessSyntax;
  subgroupSize: number;
  /** Output rows (tokens) and columns per workgroup. */
  bm: number;
  bn: number;
  threads: number;
  /** Stride of a staged row in f16 elements (bk + pad). */
  stride: number;
  /** x chunks (vec4<f32>, or 8 halves with xF16) and 8-half weight chunks (vec4<u32>) each thread stages per K slice. */
  xChunksPerThread: number;
  wChunksPerThread: number;
  workgroupBytes: number;
  /**
   * With robustness: each matrix load's offset from workgroup memory passes through min(offset, last valid offset).
   * Tint's robustness predicates a subgroupMatrixLoad whose offset is not a constant (`if in bounds { load } else
   * { zero }` through a function variable); a clamped offset lets the driver's compiler prove the predicate true.
   * In-bounds offsets are unchanged, so the results are too. The staging's chunked workgroup stores are bounded the
   * same way (clampChunkIndex), for Tint's integer range analysis.
   */
  clampOffsets?: boolean;
}

/** Lays out `variant`, or says why it cannot run on this device. */
export function layoutVariant(variant: TensorVariant, setup: TensorCoreSetup): TensorLayout | string {
  const { config, subgroupSize } = setup;
  const subgroups = variant.sgRows * variant.sgCols;
  const threads = subgroups * subgroupSize;
  const bm = variant.sgRows * variant.tileM * config.M;
  const bn = variant.sgCols * variant.tileN * config.N;
  const stride = variant.bk + variant.pad;
  if (variant.bk % 8 !== 0 || variant.bk % config.K !== 0)
    return `${variant.name}: bk ${variant.bk} is not a multiple of 8 and of K ${config.K}`;
  if (threads > setup.maxInvocations) return `${variant.name}: ${threads} threads exceed the device's ${setup.maxInvocations}`;
  if (variant.xDirect && !variant.xF16) return `${variant.name}: xDirect needs xF16`;
  const xChunks = variant.xDirect ? 0 : (bm * variant.bk) / (variant.xF16 ? 8 : 4);
  const wChunks = (bn * variant.bk) / 8;
  if (xChunks % threads !== 0 || wChunks % threads !== 0) {
    return `${variant.name}: the ${xChunks} x and ${wChunks} weight chunks of a K slice do not split evenly over ${threads} threads`;
  }
  // f16 staging for x and W per buffer; the overflow flag, its uniform copy and the fence word in two 16-byte arrays.
  const stagedRows = (variant.xDirect ? 0 : bm) + bn;
  const workgroupBytes = variant.buffers * stagedRows * stride * 2 + 32;
  if (workgroupBytes > setup.maxWorkgroupBytes) {
    return `${variant.name}: ${workgroupBytes} bytes of workgroup memory exceed the device's ${setup.maxWorkgroupBytes}`;
  }
  return {
    variant,
    config,
    majorness: setup.majorness ?? "argument",
    subgroupSize,
    bm,
    bn,
    threads,
    stride,
    xChunksPerThread: xChunks / threads,
    wChunksPerThread: wChunks / threads,
    workgroupBytes,
  };
}

/**
 * The tile classes the backend picks from per matmul (each at UNCLAMPED_PAD without robustness): 128×128 tiles of
 * four subgroups (two or more workgroups per SM) that fetch the next K slice into registers before multiplying the
 * staged one. With robustness too since session 16 (bench/NOTES.md; H100, ms per decode step, the robust list of
 * sessions 4–15 → this one: 8 rows 26.98 → 17.11, 32 rows 27.66 → 18.40, 128 rows 30.59 → 29.63, 256 rows 53.85 →
 * 51.64; prefill 2,048 6,164 → 6,376 tok/s). Without robustness: Measured
 * on the H100 in one call (bench/NOTES.md, session 9; TFLOP/s q·o / k·v / gate·up / down), against the same
 * tile without the prefetch (session 8's class): T = 256 109 / 60 / 113 / 127 against 97 / 55 / 103 / 118,
 * T = 2048 138 / 112 / 141 / 140 against 134 / 105 / 87 (an outlier; 138 in session 8) / 136. Below it the
 * 64×128 tile with the same prefetch (T = 256 75 / 55 / 77 / 85, where two buffers gave 50 / 44 / 50 / 53).
 * Variants with bk = 64 and with producer subgroups (warp specialization) measured slower (session 8).
 * The 128×128 and 64-row skinny classes fetch the next slice without a branch (unconditionalFetch) and convert bf16
 * weight pairs with one packed cast (pairConvert) since session 19: without the branch the driver keeps the fetched
 * registers apart from the multiply's (session 18's SASS), and the cheaper staging pays. Same call, robustness on,
 * two runs each: prefill 512 7,537 / 7,457 → 7,985 / 7,986 tok/s, 2,048 10,290 / 10,560 → 10,973 / 10,698; decode
 * steps of 64 rows 17.35 / 17.32 → 16.31 / 16.45 ms, 128 rows 21.65 / 21.61 → 20.56 / 20.58, 256 rows 34.38 / 34.20 →
 * 32.23 / 31.92.
 */
export const TENSOR_TILE_CLASSES: readonly string[] = [
  "128x128-sg2x2-rb-uf-pc-x16",
  "64x128-sg2x2-rb-x16",
  "16x128-sg1x4-k64-rb2-x16",
  "32x128-sg1x4-k64-rb-x16",
  "64x128-sg1x4-k32-rb-uf-pc-x16",
];

/**
 * Skinny tile classes: one row of subgroups (a 16-, 32- or 64-row tile) for batches that fit one row tile, the
 * decode steps of 8–64 sequences. A workgroup then stages little x and has room for K slices of 64. Measured on
 * the H100 (bench/NOTES.md, session 13), 8B decode step, ms, 128×128 tiles → the skinny class for the batch:
 * 8 rows 17.42 → 11.92 (16-row tile), 16: 17.58 → 12.11, 32: 18.22 → 13.05 (32-row tile), 64: 19.14 → 16.88
 * (64-row tile); at 128 rows the 128×128 tile stays best (20.95 against 25.91 for 64-row tiles). With pairConvert on
 * the 16- and 32-row classes (session 18, two runs each, with robustness): 8 rows 12.33 / 12.40 → 10.27 / 11.37, 16:
 * 12.57 / 13.06 → 10.38 / 11.22, 32: 13.59 / 13.41 → 11.78 / 12.14.
 */
function isSkinny(layout: TensorLayout): boolean {
  return layout.variant.sgRows === 1;
}

/**
 * A tile class is taken when its tiles, times the splits split-K may add, make at least this many workgroups
 * (about one per SM of an H100). Measured at 128 tokens (bench/NOTES.md): the 128×256 tile with split-K beats
 * the smaller tiles with or without it (4096 × 4096: 0.069 ms against 0.082 / 0.105), except where even 8
 * splits leave it too few workgroups (N = 1024: 0.062 ms against 0.033 for 64×128).
 */
export const MIN_TENSOR_WORKGROUPS = 128;

/**
 * The tile class for a [tokens, k] · [n, k]ᵀ product: the smallest skinny class whose one row tile holds the
 * batch, else the largest other class (layouts largest first) that makes MIN_TENSOR_WORKGROUPS workgroups with
 * split-K (the smallest when none does; a lone skinny layout when there is no other).
 */
export function layoutForShape(layouts: readonly TensorLayout[], tokens: number, n: number, k: number): TensorLayout {
  if (layouts.length === 0) throw new Error("layoutForShape: no tensor-core layout");
  // Runs for every product of every step: the skinny pick is a plain loop (no filtered, sorted copy).
  let skinny: TensorLayout | null = null;
  for (const layout of layouts) if (isSkinny(layout) && layout.bm >= tokens && (!skinny || layout.bm < skinny.bm)) skinny = layout;
  if (skinny) return skinny;
  const tiled = layouts.filter((layout) => !isSkinny(layout));
  if (tiled.length === 0) return layouts[0];
  const reach = (layout: TensorLayout) => tensorWorkgroups(layout, tokens, n) * maxSplits(layout, k);
  return tiled.find((layout) => reach(layout) >= MIN_TENSOR_WORKGROUPS) ?? tiled[tiled.length - 1];
}

/**
 * Tensor-core workgroups that run at once on an H100 or H200: two per SM (the 128×128 tile's registers and the
 * driver's ~48 KB of workgroup memory per SM, bench/NOTES.md session 12; the 16- and 32-row skinny tiles' workgroup
 * memory too) × 132 SMs. WebGPU does not say how many SMs a GPU has; on other GPUs the split choice below is still
 * sound, only tuned for these.
 */
export const WAVE_WORKGROUPS = 264;

/**
 * What a workgroup costs beyond its K slices, in slices (start-up, the result stores, its share of the reduce), fitted
 * to the H200 lab sweep of session 21 (bench/NOTES.md): 16 makes the split choice below the fastest or within the
 * lab's spread of it at 16–256 rows for every 8B product but one, the down projection at 256 rows (4 splits, as
 * before; 7–8 read ~10% faster).
 */
const WORKGROUP_OVERHEAD_SLICES = 16;

/** Split-K never leaves a split less of K than this (the partial sums cost a write and a read each): 16 slices of 32. */
const MIN_SPLIT_K = 512;

/** Read once: SWALLOW_TENSOR_SPLIT=off turns split-K off (kernel-lab comparisons). */
const splitOff = envVar("SWALLOW_TENSOR_SPLIT") === "off";

/**
 * How many ways the tensor-core matmul splits K for a [tokens, n] · [n, k]ᵀ product (at most 8, never below
 * MIN_SPLIT_K of K each): the count with the least time by waves, (workgroups ÷ WAVE_WORKGROUPS, rounded up) ×
 * (slices per split + WORKGROUP_OVERHEAD_SLICES), the fewer splits on a tie. Until session 21 it aimed at 256
 * workgroups, which put a second, partly filled wave on some products (bench/NOTES.md; H200 lab, ms): the merged
 * gate·up (224 tiles) took two splits (448 workgroups, two waves of half the slices) where one is faster, at 128 rows
 * 0.213 → 0.190 and on the 16-, 32- and 64-row skinny tiles 0.105–0.125 → 0.088, 0.115–0.128 → 0.102, 0.180 →
 * 0.157; at 256 rows q/k/v (96 tiles) took three splits where two are faster (0.131–0.138 → 0.108).
 */
export function tensorSplits(layout: TensorLayout, tokens: number, n: number, k: number): number {
  const tiles = tensorWorkgroups(layout, tokens, n);
  const most = maxSplits(layout, k);
  const slices = Math.ceil(k / layout.variant.bk);
  let best = 1;
  let bestCost = Infinity;
  for (let splits = 1; splits <= most; splits++) {
    const waves = Math.ceil((tiles * splits) / WAVE_WORKGROUPS);
    const cost = waves * (Math.ceil(slices / splits) + WORKGROUP_OVERHEAD_SLICES);
    if (cost < bestCost) [best, bestCost] = [splits, cost];
  }
  return best;
}

/** The most ways K may be split: 8, fewer when a split would get under MIN_SPLIT_K; 1 when off. */
function maxSplits(layout: TensorLayout, k: number): number {
  if (splitOff) return 1;
  const bk = layout.variant.bk;
  return Math.max(1, Math.min(8, Math.floor((Math.ceil(k / bk) * bk) / MIN_SPLIT_K)));
}

/** The default variant: the first of TENSOR_VARIANTS that fits the device. */
export function defaultLayout(setup: TensorCoreSetup): TensorLayout | null {
  for (const variant of TENSOR_VARIANTS) {
    const layout = layoutVariant(variant, setup);
    if (typeof layout !== "string") return layout;
  }
  return null;
}

/**
 * Why a matmul cannot take the tensor path (null when it can): weights must be bf16 or f16 (read as
 * 8-half vectors), K a multiple of 8 (x read as vec4<f32>, W as vec4<u32>; a K tail inside the last slice is
 * zero-filled) and, given the layout, N a multiple of its result matrices' width (they are stored whole).
 */
export function tensorIneligibility(dtype: WeightDtype, k: number, layout?: TensorLayout, n?: number): string | null {
  if (dtype !== "bf16" && dtype !== "f16") return `weights are ${dtype} (the tensor path takes bf16 or f16)`;
  if (k % 8 !== 0) return `K = ${k} is not a multiple of 8`;
  if (layout && n !== undefined && n % layout.config.N !== 0) return `N = ${n} is not a multiple of ${layout.config.N}`;
  return null;
}

/**
 * Why a [tokens, n] output cannot be written by the kernel (null when it can): Dawn requires a storage
 * binding that subgroupMatrixStore writes to hold at least one result matrix (M·N f32).
 */
export function tensorOutputIneligibility(layout: TensorLayout, tokens: number, n: number): string | null {
  const minimum = layout.config.M * layout.config.N;
  return tokens * n < minimum
    ? `the output [${tokens}, ${n}] is smaller than one ${layout.config.M}×${layout.config.N} result matrix`
    : null;
}

/** The buffers the tensor-core matmul of [tokens, k] · [n, k]ᵀ allocates (matmulTensor), by rows. */
export interface TensorAllocation {
  /** K split this many ways (1: no split-K). */
  splits: number;
  /** Output rows the kernel stores: whole row tiles (`splits` blocks of them with split-K, then reduced to `tokens`). */
  capacityRows: number;
  /** The xF16 pre-pass's f16 copy of x: rows × kPadded values (and a flag per row); null without the pre-pass. */
  x16: { rows: number; kPadded: number } | null;
}

/** matmulTensor's buffers for one product (shared with the memory account, tensorScratchBytes). */
export function tensorAllocation(layout: TensorLayout, tokens: number, n: number, k: number): TensorAllocation {
  const splits = tensorSplits(layout, tokens, n, k);
  const capacityRows = Math.ceil(tokens / layout.bm) * layout.bm;
  // xDirect loads whole 16-row, K-slice matrices from the copy: it is padded to whole tiles.
  const direct = layout.variant.xDirect === true;
  const x16 = layout.variant.xF16
    ? { rows: direct ? capacityRows : tokens, kPadded: direct ? Math.ceil(k / layout.variant.bk) * layout.variant.bk : k }
    : null;
  return { splits, capacityRows, x16 };
}

/**
 * Bytes the tensor-core matmul of [tokens, k] · [n, k]ᵀ allocates beyond its [tokens, n] f32 output: the f16 copy
 * of x and its row flags, and the output's whole row tiles, times the split-K partial sums when K is split (the
 * reduce pass's own [tokens, n] result is the output itself).
 */
export function tensorScratchBytes(layout: TensorLayout, tokens: number, n: number, k: number): number {
  const { splits, capacityRows, x16 } = tensorAllocation(layout, tokens, n, k);
  const outputBytes = (splits > 1 ? capacityRows * splits + tokens : capacityRows) * n * 4;
  const xBytes = x16 ? x16.rows * x16.kPadded * 2 + x16.rows * 4 : 0;
  return xBytes + outputBytes - tokens * n * 4;
}

/** Workgroups for a [tokens, n] output: one per bm × bn tile. */
export function tensorWorkgroups(layout: TensorLayout, tokens: number, n: number): number {
  return Math.ceil(tokens / layout.bm) * Math.ceil(n / layout.bn);
}

/** Rounds an f32 to the nearest f16 value (ties to even), as the kernel's f32 → f16 conversion does. */
export function roundToF16(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  const magnitude = Math.abs(value);
  if (magnitude > F16_MAX) return magnitude >= 65520 ? Math.sign(value) * Infinity : Math.sign(value) * F16_MAX;
  // Spacing of f16 values near `magnitude`: 2^(e - 10) for normals, 2^-24 for subnormals.
  const exponent = Math.max(Math.floor(Math.log2(magnitude)), -14);
  const ulp = 2 ** (exponent - 10);
  const scaled = magnitude / ulp;
  let rounded = Math.round(scaled);
  if (Math.abs(scaled - Math.trunc(scaled) - 0.5) === 0 && rounded % 2 === 1) rounded -= 1; // ties to even
  return Math.sign(value) * rounded * ulp;
}

/**
 * `offset` (WGSL) clamped to the last offset at which a matrix of `major` rows (or columns, column-major) of `minor`
 * elements, `stride` apart, fits an array of `length` elements: Tint's robustness predicate on that matrix access,
 * `offset + stride·(major − 1) + minor ≤ length`, then holds for every offset, which a compiler can prove.
 */
export function clampMatrixOffset(offset: string, length: number, stride: number, major: number, minor: number): string {
  const last = length - (stride * (major - 1) + minor);
  if (last < 0) throw new Error(`clampMatrixOffset: a ${major} × ${minor} matrix at stride ${stride} does not fit ${length} elements`);
  return `min(${offset}, ${last}u)`;
}

/**
 * WGSL for the first index of a `chunk` of consecutive scalar stores into a workgroup array of `length` elements with
 * rows `stride` apart, bounded for Tint's robustness (its integer range analysis then drops the clamp of each store
 * of the chunk). Where the rows keep chunks aligned (stride a multiple of chunk) the bound is taken in whole chunks,
 * min(index / chunk, last chunk) · chunk: the same value for every chunk-aligned index, and still visibly aligned to
 * the driver, which then merges the stores (a plain min(index, length − chunk) left them scalar on the H100:
 * bench/NOTES.md, session 17). Otherwise the plain min.
 */
export function clampChunkIndex(index: string, length: number, stride: number, chunk: number): string {
  if (length < chunk) throw new Error(`clampChunkIndex: a chunk of ${chunk} does not fit ${length} elements`);
  return stride % chunk === 0 && length % chunk === 0
    ? `min((${index}) / ${chunk}u, ${length / chunk - 1}u) * ${chunk}u`
    : `min(${index}, ${length - chunk}u)`;
}

/** WGSL that loads a subgroup matrix of `type` from `pointer` at `offset` with row `stride`, in `syntax`. */
export function matrixLoad(
  syntax: MajornessSyntax,
  type: string,
  pointer: string,
  offset: string,
  colMajor: boolean,
  stride: string,
): string {
  return syntax === "template"
    ? `subgroupMatrixLoad<${type}, ${colMajor ? "col_major" : "row_major"}>(${pointer}, ${offset}, ${stride})`
    : `subgroupMatrixLoad<${type}>(${pointer}, ${offset}, ${colMajor}, ${stride})`;
}

/** WGSL that stores subgroup matrix `value` row-major to `pointer` at `offset` with row `stride`, in `syntax`. */
export function matrixStoreRowMajor(syntax: MajornessSyntax, pointer: string, offset: string, value: string, stride: string): string {
  return syntax === "template"
    ? `subgroupMatrixStore<row_major>(${pointer}, ${offset}, ${value}, ${stride})`
    : `subgroupMatrixStore(${pointer}, ${offset}, ${value}, false, ${stride})`;
}
