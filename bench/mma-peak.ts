/**
 * Ceiling of the subgroup-matrix (tensor-core) path through Dawn: how fast can WGSL multiply f16 matrices into f32
 * accumulators at all, and what do the loads and stores around the multiplies cost? The answer says whether the
 * tensor-core GEMM (kernels/matmul-tensor.ts, ~100 TFLOP/s on an H100) is far from what WebGPU can reach. Every case
 * is its own small kernel with the configuration the GEMM uses (tensorCoreSetup: f16 × f16 → f32, 16×16×16 on the
 * H100) and the same WGSL subgroup-matrix syntax (plan.ts matrixLoad / matrixStoreRowMajor, probed like the backend):
 *
 *   mma      Each subgroup loads R left and C right matrices once (from a small storage buffer) and then runs a loop of
 *            subgroupMatrixMultiplyAccumulate into R×C independent f32 accumulators (1×1 is one dependent chain:
 *            latency; 4×4 is 16 chains: throughput), storing them at the end so nothing is optimised away.
 *   wg-mma   As mma, but every K step reloads the R lefts and C rights with subgroupMatrixLoad from workgroup memory
 *            laid out as the GEMM stages it (rows of a 2K-wide slice, row stride 40 halves, also 32 and 36), i.e. the
 *            GEMM's inner loop without the staging. The offsets include a uniform that is always 0 times the loop
 *            counter, so the driver cannot hoist the loads out of the loop. All subgroups of a workgroup load the same
 *            matrices. Lefts are row-major, rights column-major (W's rows staged as they are, like the GEMM).
 *   wg-mma-var  wg-mma changed along one axis, at the pairs (--subgroups[i], --tiles[i]) (1 / 1x1, 4 / 2x2, 8 / 4x4)
 *            and each --variant-strides (40): "rights row-major" (each 16×16 W block staged transposed, the same rows
 *            and columns of memory read, only the majorness differs); "stride from a uniform" (the stride argument is
 *            params.stride instead of a WGSL const: a driver may only take a fast path for compile-time strides);
 *            "one shared array" (x and W in one workgroup array instead of one each); "lefts loaded once" / "rights
 *            loaded once" (those are loaded before the loop, only the others every K step: which operand the time
 *            goes to); "offsets x8" ((fence + iteration·zero)·8 + constant: offsets the compiler can see are
 *            multiples of 16 bytes).
 *   wg-mma-nofence  wg-mma without the fence/zero trick in the offsets: they are WGSL constants (so Tint's robustness
 *            needs no clamping either, and the stride stays a constant), and the loads stay in the loop because every
 *            iteration first stores into each array at index iteration·zero (= 0, unknown to the compiler, so it may
 *            overlap any load), once with the const stride and once with the stride from a uniform, at the same
 *            pairs and strides as wg-mma-var. With one subgroup the stored value is the staged one + iteration % 2
 *            (checked), so loads hoisted out of the loop anyway would show as WRONG; with more subgroups it is the
 *            staged value itself (subgroups are not in step), so there only a speed near mma's would betray hoisting.
 *   st-mma   As wg-mma (1/4/8 subgroups, 1x1/2x2/4x4), but the matrices are loaded straight from storage buffers
 *            (rows 2K halves apart, rights column-major) with no workgroup memory: each buffer holds ST_COPIES (16)
 *            different copies of the operands (64 KB at the default tiles, 128 KB in all: L1/L2-resident), and
 *            subgroup g reads copies (iteration + g) % 16 (x) and (5·iteration + g) % 16 (W), so the loads stay in
 *            the loop and neighbouring subgroups read different addresses.
 *   stores   Workgroup-memory store throughput of staging 8-half chunks (4 per thread per iteration, rows of 32 halves
 *            at the same strides, workgroups of the largest --subgroups count: 256 threads by default): scalar f16 stores into array<f16> (what the GEMM does, and the only layout
 *            subgroupMatrixLoad can read an f16 matrix from: WGSL cannot reinterpret workgroup memory) against word
 *            stores into array<u32> and vector stores into array<vec2<f16>> / <vec4<f16>> / <vec4<u32>>, and
 *            "f16-rot": scalar f16 stores placed and ordered so that the 32 lanes of each store hit 32 banks; f16, f16-rot and
 *            vec4<u32> also with a workgroupBarrier per iteration (the staging loop's shape, and a guard against the
 *            compiler dropping stores that the next iteration overwrites).
 *
 *   node dist/bench/mma-peak.js [--no-robustness] [--majorness probe|template|argument]
 *                               [--cases mma,wg-mma,wg-mma-var,wg-mma-nofence,st-mma,stores] (default: all)
 *                               [--subgroups 1,4,8] [--tiles 1x1,2x2,4x4] [--strides 40,32,36] [--variant-strides 40]
 *                               [--workgroups 1056] [--pass-ms 25]
 *
 * Workgroups default to 1056 (132 SMs × 8). Each case is first checked (3 iterations, the first workgroup's results
 * against the host: small integers, exact in f16 and f32; "WRONG" is reported, not fatal, since loads at row strides
 * 32/40 without robustness are known to read wrong values, bench/NOTES.md session 5), then calibrated: the iteration
 * count grows until one dispatch takes ≥ 1 ms (which also warms it up), then one compute pass of D dispatches between
 * two timestamp queries (timestampWrites) lasting ≥ --pass-ms (at least 20 ms: Dawn quantises timestamps to 65.5 µs)
 * is timed. TFLOP/s = 2·M·N·K per multiply × multiplies / time; "wg TB/s" is the bytes the matrix loads in the loop
 * move per second (wg-mma and its variants: from workgroup memory; st-mma: from storage, mostly L1/L2 hits) or the
 * stores (stores) write. One JSON line per case, then a markdown table whose first column names the kind and, for
 * wg-mma's variants, what they change. A device without an f16→f32 subgroup-matrix configuration (lavapipe) gets a
 * one-line message and exit code 0 (`--cases stores` still runs there).
 */
import { describeDevice, openWebGpu, type WebGpuDevice } from "../src/gpu/webgpu/device.js";
import { BufferUsage, MAP_MODE_READ } from "../src/gpu/webgpu/buffers.js";
import { matrixLoad, matrixStoreRowMajor, type MajornessSyntax, type SubgroupMatrixConfig } from "../src/gpu/webgpu/kernels/tensor/plan.js";
import { tensorCoreSetup } from "../src/gpu/webgpu/kernels/tensor/setup.js";
import { probeMajornessSyntax, smallIntF16Bits } from "../src/gpu/webgpu/kernels/tensor/majorness-probe.js";
import { xorshift } from "./xorshift.js";

/** mma: multiplies per accumulator per loop iteration (written out, so the loop counter costs little). */
const UNROLL = 4;
/** Iterations of the correctness run. */
const CHECK_ITERS = 3;
/** Calibration grows the iteration count until one dispatch takes this long (the gap between dispatches is ~5 µs). */
const TARGET_DISPATCH_NS = 1e6;
const QUANTUM_NS = 65_536;
const MAX_ITERS = 1 << 24;
/** stores: 8-half chunks per thread per iteration (the 128x256 GEMM variant stages 4 weight chunks per thread) and halves per row. */
const STORE_CHUNKS = 4;
const STORE_ROW = 32;
const QUERY_RESOLVE = 0x0200;

type StoreKind = "f16" | "f16-rot" | "vec2<f16>" | "u32" | "vec4<f16>" | "vec4<u32>";
/** Halves per element of the workgroup array each store kind writes. */
const STORE_ELEMENT_HALVES: Record<StoreKind, number> = { f16: 1, "f16-rot": 1, "vec2<f16>": 2, u32: 2, "vec4<f16>": 4, "vec4<u32>": 8 };

/** st-mma: copies of the operands in each storage buffer (a different one per iteration and subgroup; 4 KB a copy at 4x4). */
const ST_COPIES = 16;

/**
 * How a workgroup-memory case feeds its multiplies: wg-mma is BASE_LOADS (the GEMM's inner loop); wg-mma-var and
 * wg-mma-nofence change one or two of these.
 */
interface WgLoads {
  /** Right matrices loaded column-major (the GEMM: W's rows staged as they are) or row-major (W staged transposed). */
  rights: "col-major" | "row-major";
  /** The row stride of the loads: a WGSL const, or a uniform (the same value). */
  stride: "const" | "uniform";
  /** One workgroup array per operand, or both operands in one array. */
  arrays: "split" | "shared";
  /** Operands loaded once before the loop (both K steps) instead of every K step. */
  once: "none" | "lefts" | "rights";
  /**
   * How the loads stay in the loop. "fence": offsets = fence + iteration·zero + constant (the GEMM's trick: fence is
   * read after the staging barrier, zero is a uniform 0). "fence-x8": (fence + iteration·zero)·8 + constant, so the
   * compiler can see every offset is a multiple of 8 halves (16 bytes). "constant": offsets are WGSL constants (Tint's
   * robustness then needs no clamping either) and every iteration first stores into each array at index
   * iteration·zero (= 0, unknown to the compiler), which may overlap any load, so none can leave the loop.
   */
  offsets: "fence" | "fence-x8" | "constant";
}
const BASE_LOADS: WgLoads = { rights: "col-major", stride: "const", arrays: "split", once: "none", offsets: "fence" };
/** wg-mma-var: one axis each, against wg-mma at the same subgroups, accumulators and stride. */
const VARIANT_LOADS: Partial<WgLoads>[] = [
  { rights: "row-major" },
  { stride: "uniform" },
  { arrays: "shared" },
  { once: "lefts" },
  { once: "rights" },
  { offsets: "fence-x8" },
];
/** wg-mma-nofence: constant offsets with a const stride (no runtime offset or stride at all) and with a uniform stride. */
const NOFENCE_LOADS: Partial<WgLoads>[] = [{ offsets: "constant" }, { offsets: "constant", stride: "uniform" }];

type WgKind = "wg-mma" | "wg-mma-var" | "wg-mma-nofence";
const WG_KINDS: readonly string[] = ["wg-mma", "wg-mma-var", "wg-mma-nofence"] satisfies WgKind[];
const CASE_KINDS = ["mma", "wg-mma", "wg-mma-var", "wg-mma-nofence", "st-mma", "stores"];

type Case =
  | { kind: "mma"; subgroups: number; rows: number; cols: number }
  | { kind: WgKind; subgroups: number; rows: number; cols: number; stride: number; loads?: WgLoads }
  | { kind: "st-mma"; subgroups: number; rows: number; cols: number }
  | { kind: "stores"; subgroups: number; store: StoreKind; stride: number; barrier: boolean };
type WgCase = Extract<Case, { kind: WgKind }>;
type MatrixCase = Exclude<Case, { kind: "stores" }>;

const isWg = (c: Case): c is WgCase => WG_KINDS.includes(c.kind);
const loadsOf = (c: WgCase): WgLoads => c.loads ?? BASE_LOADS;
/**
 * wg-mma-nofence with one subgroup: its stores add iteration % 2 to the first element of each operand (no other
 * subgroup reads it meanwhile), so loads that left the loop anyway show up as WRONG.
 */
const storesVary = (c: WgCase) => loadsOf(c).offsets === "constant" && c.subgroups === 1;

/** What a wg case changes from wg-mma, in words ("" for wg-mma itself). */
function describeLoads(loads: WgLoads): string {
  const words: string[] = [];
  if (loads.rights === "row-major") words.push("rights row-major");
  if (loads.stride === "uniform") words.push("stride from a uniform");
  if (loads.arrays === "shared") words.push("one shared array");
  if (loads.once !== "none") words.push(`${loads.once} loaded once`);
  if (loads.offsets === "fence-x8") words.push("offsets x8 (16-byte aligned)");
  if (loads.offsets === "constant") words.push("constant offsets, kept by stores");
  return words.join(", ");
}

export function parseArgs(argv: string[]) {
  const list = (s: string) => s.split(",").filter(Boolean);
  const opts = {
    noRobustness: false,
    majorness: "probe" as MajornessSyntax | "probe",
    cases: [...CASE_KINDS],
    subgroups: [1, 4, 8],
    tiles: [
      [1, 1],
      [2, 2],
      [4, 4],
    ] as [number, number][],
    strides: [40, 32, 36],
    variantStrides: [40],
    workgroups: 132 * 8,
    passMs: 25,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i] ?? "";
    if (a === "--no-robustness") opts.noRobustness = true;
    else if (a === "--majorness") opts.majorness = next() as MajornessSyntax | "probe";
    else if (a === "--cases") opts.cases = list(next());
    else if (a === "--subgroups") opts.subgroups = list(next()).map(Number);
    else if (a === "--tiles") opts.tiles = list(next()).map((t) => t.split("x").map(Number) as [number, number]);
    else if (a === "--strides") opts.strides = list(next()).map(Number);
    else if (a === "--variant-strides") opts.variantStrides = list(next()).map(Number);
    else if (a === "--workgroups") opts.workgroups = Number(next());
    else if (a === "--pass-ms") opts.passMs = Math.max(20, Number(next()));
    else throw new Error(`unknown argument ${a}`);
  }
  const unknown = opts.cases.filter((c) => !CASE_KINDS.includes(c));
  if (unknown.length > 0) throw new Error(`unknown --cases ${unknown.join(",")} (known: ${CASE_KINDS.join(",")})`);
  return opts;
}

// ---------------------------------------------------------------------------------------------------------------
// WGSL

const HEADER = `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);`;

/**
 * Uniforms of every kernel: the loop count, a word that is always 0 (the host writes it; the compiler cannot know) and
 * the case's row stride (read by the "stride from a uniform" cases).
 */
const PARAMS = `struct Params { iters: u32, zero: u32, stride: u32, unused: u32 }
@group(0) @binding(0) var<uniform> params: Params;`;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * mma, wg-mma (and its variants) and st-mma. Inputs: `a` holds R·M rows of 2K halves (the left matrices, row-major),
 * `b` C·N rows of 2K halves (the right matrices column-major, as the GEMM stages W); for st-mma ST_COPIES such blocks,
 * `block` halves apart. Subgroup g of the dispatch stores its accumulators at y[(g·R·C + i·C + j)·M·N], row-major.
 */
export function mmaSource(c: MatrixCase, config: SubgroupMatrixConfig, syntax: MajornessSyntax, subgroupSize: number, block = 0) {
  const { M, N, K } = config;
  const { rows: R, cols: C, subgroups } = c;
  const slice = 2 * K; // the GEMM's bk = 32: two K steps per staged row
  const left = `subgroup_matrix_left<f16, ${K}, ${M}>`;
  const right = `subgroup_matrix_right<f16, ${N}, ${K}>`;
  const result = `subgroup_matrix_result<f32, ${N}, ${M}>`;
  const cells = range(R).flatMap((i) => range(C).map((j) => [i, j] as const));
  const acc = (i: number, j: number) => `acc${i}_${j}`;
  const multiplies = cells.map(([i, j]) => `${acc(i, j)} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, ${acc(i, j)});`);
  const scoped = (steps: string[]) => steps.map((step) => `{\n        ${step}\n      }`).join("\n      ");
  let prologue: string;
  let body: string;
  let workgroup = "";
  let staging = "";
  if (c.kind === "mma") {
    // Operands loaded once, from storage (the first K columns of each row).
    prologue = [
      ...range(R).map((i) => `let a${i} = ${matrixLoad(syntax, left, "&a", `${i * M * slice}u`, false, `${slice}u`)};`),
      ...range(C).map((j) => `let b${j} = ${matrixLoad(syntax, right, "&b", `${j * N * slice}u`, true, `${slice}u`)};`),
    ].join("\n    ");
    body = range(UNROLL)
      .map(() => multiplies.join("\n      "))
      .join("\n      ");
  } else if (c.kind === "st-mma") {
    // Every K step loads straight from storage, rows 2K halves apart, from the copy that the iteration and subgroup pick.
    workgroup = `const BLOCK: u32 = ${block}u; // halves per copy of the operands
const COPIES: u32 = ${ST_COPIES}u;`;
    prologue = "let g = wid.x * SUBGROUPS + sg;";
    const steps = range(slice / K).map((s) =>
      [
        ...range(R).map((i) => `let a${i} = ${matrixLoad(syntax, left, "&a", `baseA + ${i * M * slice + s * K}u`, false, `${slice}u`)};`),
        ...range(C).map((j) => `let b${j} = ${matrixLoad(syntax, right, "&b", `baseB + ${j * N * slice + s * K}u`, true, `${slice}u`)};`),
        ...multiplies,
      ].join("\n        "),
    );
    body = `let baseA = ((iteration + g) % COPIES) * BLOCK; // a copy per iteration and subgroup: the loads stay in the loop
      let baseB = ((iteration * 5u + g) % COPIES) * BLOCK;
      ${scoped(steps)}`;
  } else {
    const stride = c.stride;
    const loads = loadsOf(c);
    const shared = loads.arrays === "shared";
    const xs = shared ? "sm" : "xs";
    const ws = shared ? "sm" : "ws";
    const ws0 = shared ? "WS0 + " : ""; // where W's rows start in the array
    const strideName = loads.stride === "uniform" ? "stride" : "STRIDE";
    workgroup = shared
      ? `const STRIDE: u32 = ${stride}u;
const WS0: u32 = ${R * M * stride}u;
var<workgroup> sm: array<f16, ${(R * M + C * N) * stride}>; // R·M rows of x, then C·N rows of W, ${slice} halves each (+ padding)
var<workgroup> fenceWords: array<u32, 4>; // never written: 0 (16 bytes, as every workgroup variable here: bench/NOTES.md session 11)`
      : `const STRIDE: u32 = ${stride}u;
var<workgroup> xs: array<f16, ${R * M * stride}>; // R·M rows of ${slice} halves (+ padding), as the GEMM stages x
var<workgroup> ws: array<f16, ${C * N * stride}>; // C·N rows of ${slice} halves (+ padding), as the GEMM stages W
var<workgroup> fenceWords: array<u32, 4>; // never written: 0 (16 bytes, as every workgroup variable here: bench/NOTES.md session 11)`;
    // Row-major rights: each K×N block staged transposed (N = K), so the matrices cover the same rows and columns.
    const stageW =
      loads.rights === "row-major"
        ? `let r = e / ${slice}u; let k = e % ${slice}u; ${ws}[${ws0}(r - r % ${N}u + k % ${K}u) * STRIDE + k - k % ${K}u + r % ${N}u] = b[e];`
        : `${ws}[${ws0}(e / ${slice}u) * STRIDE + e % ${slice}u] = b[e];`;
    // Staged once; then the GEMM's fence: the loads' offsets depend on a value read after the barrier.
    staging = `for (var e = lid; e < ${R * M * slice}u; e += ${subgroups * subgroupSize}u) { ${xs}[(e / ${slice}u) * STRIDE + e % ${slice}u] = a[e]; }
  for (var e = lid; e < ${C * N * slice}u; e += ${subgroups * subgroupSize}u) { ${stageW} }
  let fence = workgroupUniformLoad(&fenceWords[0]);`;
    const base = { fence: "base + ", "fence-x8": "base + ", constant: "" }[loads.offsets];
    const onceBase = { fence: "fence + ", "fence-x8": "fence * 8u + ", constant: "" }[loads.offsets];
    const loadLeft = (i: number, s: number, b: string) =>
      matrixLoad(syntax, left, `&${xs}`, `${b}${i * M}u * ${strideName} + ${s * K}u`, false, strideName);
    const loadRight = (j: number, s: number, b: string) =>
      matrixLoad(syntax, right, `&${ws}`, `${ws0}${b}${j * N}u * ${strideName} + ${s * K}u`, loads.rights === "col-major", strideName);
    const prologueLines: string[] = [];
    if (loads.stride === "uniform") prologueLines.push("let stride = params.stride; // = STRIDE");
    // Operands loaded once: both K steps' matrices, before the loop.
    for (const s of range(slice / K)) {
      if (loads.once === "lefts") prologueLines.push(...range(R).map((i) => `let l${s}_${i} = ${loadLeft(i, s, onceBase)};`));
      if (loads.once === "rights") prologueLines.push(...range(C).map((j) => `let r${s}_${j} = ${loadRight(j, s, onceBase)};`));
    }
    if (loads.offsets === "constant") prologueLines.push("let keepX = a[0]; // = x's and W's first staged halves", "let keepW = b[0];");
    prologue = prologueLines.join("\n    ");
    // Two K steps per iteration, each R + C loads and R·C multiplies: the GEMM's inner loop over one staged slice.
    const steps = range(slice / K).map((s) =>
      [
        ...range(R).map((i) => `let a${i} = ${loads.once === "lefts" ? `l${s}_${i}` : loadLeft(i, s, base)};`),
        ...range(C).map((j) => `let b${j} = ${loads.once === "rights" ? `r${s}_${j}` : loadRight(j, s, base)};`),
        ...multiplies,
      ].join("\n        "),
    );
    const keep = {
      fence: "let base = fence + iteration * params.zero; // = fence, but not loop-invariant to the compiler",
      "fence-x8": "let base = (fence + iteration * params.zero) * 8u; // = 0: a multiple of 8 halves to the compiler, not loop-invariant",
      constant: (() => {
        const add = storesVary(c) ? " + f16(iteration & 1u)" : "";
        return `let z = iteration * params.zero; // = 0, unknown to the compiler: the stores may overlap any load below
      ${xs}[z] = keepX${add};
      ${ws}[${ws0}z] = keepW${add};`;
      })(),
    }[loads.offsets];
    body = `${keep}
      ${scoped(steps)}`;
  }
  const stores = cells
    .map(([i, j]) => `${matrixStoreRowMajor(syntax, "&y", `o + ${(i * C + j) * M * N}u`, acc(i, j), `${N}u`)};`)
    .join("\n    ");
  return `${HEADER}

${PARAMS}
@group(0) @binding(1) var<storage, read> a: array<f16>;
@group(0) @binding(2) var<storage, read> b: array<f16>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const SUBGROUPS: u32 = ${subgroups}u;
${workgroup}

@compute @workgroup_size(${subgroups * subgroupSize})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sgSize: u32) {
  // Subgroups beyond SUBGROUPS (a device whose subgroups are smaller than its maximum) stay idle.
  let sg = lid / sgSize;
  ${staging}
  if (sg < SUBGROUPS) {
    ${prologue}
    ${cells.map(([i, j]) => `var ${acc(i, j)} = ${result}();`).join("\n    ")}
    for (var iteration = 0u; iteration < params.iters; iteration++) {
      ${body}
    }
    let o = (wid.x * SUBGROUPS + sg) * ${R * C * M * N}u;
    ${stores}
  }
}
`;
}

/**
 * stores: each thread writes STORE_CHUNKS chunks of 8 halves per iteration at the GEMM's staging positions (chunk
 * e = lid + c·THREADS goes to row e / 4, halves (e % 4)·8 …, rows `stride` halves apart). Half h of chunk e holds
 * 0x3c00 + (e·8 + h) % 512 + iteration % 512 (a value in [1, 2): no NaN patterns). After the loop every thread copies
 * its neighbour's first chunk, as 4 words, to y[(wid·THREADS + lid)·4 …].
 */
export function storesSource(c: Extract<Case, { kind: "stores" }>, subgroupSize: number): string {
  const threads = c.subgroups * subgroupSize;
  const per = STORE_ELEMENT_HALVES[c.store];
  const halves = ((threads * STORE_CHUNKS * 8) / STORE_ROW) * c.stride;
  const store: Record<StoreKind, (q: string, p: string) => string> = {
    f16: (q, p) => `{ let h0 = bitcast<vec2<f16>>(${q}.x); let h1 = bitcast<vec2<f16>>(${q}.y);
        let h2 = bitcast<vec2<f16>>(${q}.z); let h3 = bitcast<vec2<f16>>(${q}.w);
        ws[${p}] = h0.x; ws[${p} + 1u] = h0.y; ws[${p} + 2u] = h1.x; ws[${p} + 3u] = h1.y;
        ws[${p} + 4u] = h2.x; ws[${p} + 5u] = h2.y; ws[${p} + 6u] = h3.x; ws[${p} + 7u] = h3.y; }`,
    // The GEMM's rotateStores order: lane group g writes word g of its chunk first (chunks placed by rotPosition).
    "f16-rot": (q, p) => `{ let g = (lid & 31u) >> 3u;
        let a = select(${q}, ${q}.yzwx, (g & 1u) != 0u); let r = select(a, a.zwxy, (g & 2u) != 0u);
        ${["x", "y", "z", "w"].map((w, i) => `{ let h = bitcast<vec2<f16>>(r.${w}); let o = ${p} + ((g + ${i}u) & 3u) * 2u; ws[o] = h.x; ws[o + 1u] = h.y; }`).join("\n        ")} }`,
    "vec2<f16>": (q, p) =>
      `ws[${p}] = bitcast<vec2<f16>>(${q}.x); ws[${p} + 1u] = bitcast<vec2<f16>>(${q}.y); ws[${p} + 2u] = bitcast<vec2<f16>>(${q}.z); ws[${p} + 3u] = bitcast<vec2<f16>>(${q}.w);`,
    u32: (q, p) => `ws[${p}] = ${q}.x; ws[${p} + 1u] = ${q}.y; ws[${p} + 2u] = ${q}.z; ws[${p} + 3u] = ${q}.w;`,
    "vec4<f16>": (q, p) => `ws[${p}] = bitcast<vec4<f16>>(${q}.xy); ws[${p} + 1u] = bitcast<vec4<f16>>(${q}.zw);`,
    "vec4<u32>": (q, p) => `ws[${p}] = ${q};`,
  };
  const load: Record<StoreKind, (p: string) => string> = {
    f16: (p) =>
      `vec4<u32>(bitcast<u32>(vec2<f16>(ws[${p}], ws[${p} + 1u])), bitcast<u32>(vec2<f16>(ws[${p} + 2u], ws[${p} + 3u])), bitcast<u32>(vec2<f16>(ws[${p} + 4u], ws[${p} + 5u])), bitcast<u32>(vec2<f16>(ws[${p} + 6u], ws[${p} + 7u])))`,
    "f16-rot": (p) =>
      `vec4<u32>(bitcast<u32>(vec2<f16>(ws[${p}], ws[${p} + 1u])), bitcast<u32>(vec2<f16>(ws[${p} + 2u], ws[${p} + 3u])), bitcast<u32>(vec2<f16>(ws[${p} + 4u], ws[${p} + 5u])), bitcast<u32>(vec2<f16>(ws[${p} + 6u], ws[${p} + 7u])))`,
    "vec2<f16>": (p) =>
      `vec4<u32>(bitcast<u32>(ws[${p}]), bitcast<u32>(ws[${p} + 1u]), bitcast<u32>(ws[${p} + 2u]), bitcast<u32>(ws[${p} + 3u]))`,
    u32: (p) => `vec4<u32>(ws[${p}], ws[${p} + 1u], ws[${p} + 2u], ws[${p} + 3u])`,
    "vec4<f16>": (p) => `vec4<u32>(bitcast<vec2<u32>>(ws[${p}]), bitcast<vec2<u32>>(ws[${p} + 1u]))`,
    "vec4<u32>": (p) => `ws[${p}]`,
  };
  // Position of a chunk in elements of the array (its first half / halves per element).
  // f16-rot places chunk e as the GEMM's rotateStores does for rows of 4 chunks: lane l of a block of 32 takes row
  // l / 8 + 4·((l % 8) / 4), so each group of 8 lanes starts its chunks in 8 different banks.
  const rowOf = (e: string) =>
    c.store === "f16-rot" ? `((${e} / 32u) * 8u + (${e} % 32u) / 8u + 4u * ((${e} % 8u) / 4u))` : `(${e} / ${STORE_ROW / 8}u)`;
  const position = (e: string) => `(${rowOf(e)} * STRIDE + (${e} % ${STORE_ROW / 8}u) * 8u) / ${per}u`;
  const chunks = range(STORE_CHUNKS);
  return `enable f16;

${PARAMS}
@group(0) @binding(1) var<storage, read_write> y: array<u32>;

const THREADS: u32 = ${threads}u;
const STRIDE: u32 = ${c.stride}u; // halves between staged rows of ${STORE_ROW}
var<workgroup> ws: array<${c.store === "f16-rot" ? "f16" : c.store}, ${halves / per}>;

/** The two halves 0x3c00 + (h % 512), 0x3c00 + ((h + 1) % 512) packed in a word. */
fn seedWord(h: u32) -> u32 { return (0x3c00u + (h & 0x1ffu)) | ((0x3c00u + ((h + 1u) & 0x1ffu)) << 16u); }

@compute @workgroup_size(${threads})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  ${chunks
    .map(
      (i) => `let e${i} = lid + ${i * threads}u;
  let p${i} = ${position(`e${i}`)};
  let seed${i} = vec4<u32>(seedWord(e${i} * 8u), seedWord(e${i} * 8u + 2u), seedWord(e${i} * 8u + 4u), seedWord(e${i} * 8u + 6u));`,
    )
    .join("\n  ")}
  for (var iteration = 0u; iteration < params.iters; iteration++) {
    let inc = iteration & 0x1ffu; // added to both halves of every word: no carry (mantissas stay below 0x400)
    let step = vec4<u32>(inc | (inc << 16u));
    ${chunks.map((i) => `{ let q = seed${i} + step; ${store[c.store]("q", `p${i}`)} }`).join("\n    ")}
    ${c.barrier ? "workgroupBarrier();" : ""}
  }
  workgroupBarrier();
  let neighbour = (lid + 1u) % THREADS;
  let p = ${position("neighbour")};
  let o = (wid.x * THREADS + lid) * 4u;
  let v = ${load[c.store]("p")};
  y[o] = v.x; y[o + 1u] = v.y; y[o + 2u] = v.z; y[o + 3u] = v.w;
}
`;
}

// ---------------------------------------------------------------------------------------------------------------
// Host side

interface Bench {
  gpu: WebGpuDevice;
  params: GPUBuffer;
  a: GPUBuffer;
  b: GPUBuffer;
  y: GPUBuffer;
  readback: GPUBuffer;
  /** Host copies of a and b (numbers). */
  hostA: number[];
  hostB: number[];
  /** st-mma's operands (ST_COPIES blocks of stBlock halves each) and their host copies; null without st-mma cases. */
  st: { a: GPUBuffer; b: GPUBuffer; hostA: number[]; hostB: number[]; block: number } | null;
  timestamps: { querySet: GPUQuerySet; resolve: GPUBuffer; read: GPUBuffer } | null;
  workgroups: number;
}

interface Kernel {
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  compilerMessages: number;
  /** Written to params.stride (the cases that read their stride from a uniform). */
  stride: number;
}

async function compile(bench: Bench, c: Case, code: string): Promise<Kernel> {
  const { device } = bench.gpu;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code, label: label(c) });
  const info = await module.getCompilationInfo();
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" }, label: label(c) });
  const error = await device.popErrorScope();
  const errors = info.messages.filter((m) => m.type === "error");
  if (error || errors.length > 0) {
    const first = errors[0];
    throw new Error(`compiling ${label(c)}: ${first ? `line ${first.lineNum}: ${first.message}` : error?.message}`);
  }
  const buffers =
    c.kind === "stores"
      ? [bench.params, bench.y]
      : c.kind === "st-mma"
        ? [bench.params, bench.st!.a, bench.st!.b, bench.y]
        : [bench.params, bench.a, bench.b, bench.y];
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  return { pipeline, bindGroup, compilerMessages: info.messages.length, stride: "stride" in c ? c.stride : 0 };
}

/**
 * Runs `dispatches` dispatches of `iters` iterations in one compute pass; returns the pass's GPU time (timestamp
 * queries, else wall clock around submit → done) and, when `readBytes` > 0, the start of y.
 */
async function runPass(bench: Bench, kernel: Kernel, iters: number, dispatches: number, readBytes = 0) {
  const { device } = bench.gpu;
  device.queue.writeBuffer(bench.params, 0, Uint32Array.of(iters, 0, kernel.stride, 0));
  device.pushErrorScope("validation");
  const encoder = device.createCommandEncoder();
  const t = bench.timestamps;
  const pass = encoder.beginComputePass(
    t ? { timestampWrites: { querySet: t.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
  );
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, kernel.bindGroup);
  for (let d = 0; d < dispatches; d++) pass.dispatchWorkgroups(bench.workgroups);
  pass.end();
  if (t) {
    encoder.resolveQuerySet(t.querySet, 0, 2, t.resolve, 0);
    encoder.copyBufferToBuffer(t.resolve, 0, t.read, 0, 16);
  }
  if (readBytes > 0) encoder.copyBufferToBuffer(bench.y, 0, bench.readback, 0, readBytes);
  const start = performance.now();
  device.queue.submit([encoder.finish()]);
  const error = await device.popErrorScope();
  if (error) throw new Error(`WebGPU error: ${error.message}`);
  await device.queue.onSubmittedWorkDone();
  let ns = (performance.now() - start) * 1e6;
  if (t) {
    await t.read.mapAsync(MAP_MODE_READ);
    const [begin, end] = new BigUint64Array(t.read.getMappedRange().slice(0));
    t.read.unmap();
    ns = end > begin ? Number(end - begin) : 0;
  }
  let data: ArrayBuffer | null = null;
  if (readBytes > 0) {
    await bench.readback.mapAsync(MAP_MODE_READ, 0, readBytes);
    data = bench.readback.getMappedRange(0, readBytes).slice(0);
    bench.readback.unmap();
  }
  return { ns, data };
}

/** What the first workgroup must have written after `iters` iterations (y's first checkWords words). */
function expected(bench: Bench, c: Case, config: SubgroupMatrixConfig, subgroupSize: number, iters: number): Float32Array | Uint32Array {
  if (c.kind === "stores") {
    const threads = c.subgroups * subgroupSize;
    const half = (h: number) => 0x3c00 + (h & 0x1ff) + ((iters - 1) & 0x1ff);
    const words = new Uint32Array(threads * 4);
    for (let lid = 0; lid < threads; lid++) {
      const e = (lid + 1) % threads;
      for (let w = 0; w < 4; w++) words[lid * 4 + w] = (half(e * 8 + 2 * w) | (half(e * 8 + 2 * w + 1) << 16)) >>> 0;
    }
    return words;
  }
  const { M, N, K } = config;
  const slice = 2 * K;
  const out = new Float32Array(c.subgroups * c.rows * c.cols * M * N);
  // Adds `times` × the product of the R·M rows of hostA from aBase and the C·N rows of hostB from bBase (depth columns of
  // rows `slice` apart) to subgroup sg's accumulators.
  const add = (sg: number, hostA: number[], aBase: number, hostB: number[], bBase: number, depth: number, times: number) => {
    for (let i = 0; i < c.rows; i++) {
      for (let j = 0; j < c.cols; j++) {
        const o = ((sg * c.rows + i) * c.cols + j) * M * N;
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let sum = 0;
            for (let k = 0; k < depth; k++) sum += hostA[aBase + (i * M + m) * slice + k] * hostB[bBase + (j * N + n) * slice + k];
            out[o + m * N + n] += sum * times;
          }
        }
      }
    }
  };
  for (let sg = 0; sg < c.subgroups; sg++) {
    if (c.kind === "st-mma") {
      // Workgroup 0: subgroup g = sg reads copies (iteration + g) % ST_COPIES and (5·iteration + g) % ST_COPIES.
      const st = bench.st!;
      for (let it = 0; it < iters; it++) {
        add(sg, st.hostA, ((it + sg) % ST_COPIES) * st.block, st.hostB, ((5 * it + sg) % ST_COPIES) * st.block, slice, 1);
      }
    } else if (isWg(c) && storesVary(c)) {
      // The first element of x and of W is 1 larger in odd iterations.
      for (let it = 0; it < iters; it++) {
        const hostA = [...bench.hostA];
        const hostB = [...bench.hostB];
        hostA[0] += it & 1;
        hostB[0] += it & 1;
        add(sg, hostA, 0, hostB, 0, slice, 1);
      }
    } else {
      // mma multiplies the first K columns UNROLL times per iteration; wg-mma both K steps of the slice once.
      const [depth, times] = c.kind === "mma" ? [K, iters * UNROLL] : [slice, iters];
      add(sg, bench.hostA, 0, bench.hostB, 0, depth, times);
    }
  }
  return out;
}

function checkWords(c: Case, config: SubgroupMatrixConfig, subgroupSize: number): number {
  return c.kind === "stores" ? c.subgroups * subgroupSize * 4 : c.subgroups * c.rows * c.cols * config.M * config.N;
}

/** Words of y a case writes over the whole dispatch. */
function outputWords(c: Case, config: SubgroupMatrixConfig, subgroupSize: number, workgroups: number): number {
  return checkWords(c, config, subgroupSize) * workgroups;
}

function label(c: Case): string {
  if (c.kind === "stores") return `stores ${c.store}${c.barrier ? "+barrier" : ""} stride ${c.stride} sg${c.subgroups}`;
  const what = isWg(c) ? describeLoads(loadsOf(c)) : "";
  return `${c.kind} ${c.rows}x${c.cols} sg${c.subgroups}${isWg(c) ? ` stride ${c.stride}` : ""}${what ? ` (${what})` : ""}`;
}

/** The table's first column: the kind, and for wg-mma's variants what they change. */
function tableCase(c: Case): string {
  const what = isWg(c) ? describeLoads(loadsOf(c)) : "";
  return what ? `${c.kind}: ${what}` : c.kind;
}

interface Result {
  case: Case;
  check: string;
  iters: number;
  dispatches: number;
  msPerDispatch: number;
  tflops: number | null;
  wgTBs: number | null;
  compilerMessages: number;
}

async function measure(
  bench: Bench,
  c: Case,
  config: SubgroupMatrixConfig,
  syntax: MajornessSyntax,
  subgroupSize: number,
  passMs: number,
): Promise<Result> {
  const code = c.kind === "stores" ? storesSource(c, subgroupSize) : mmaSource(c, config, syntax, subgroupSize, bench.st?.block ?? 0);
  const kernel = await compile(bench, c, code);

  // Correctness of the first workgroup's output (also the pipeline's first run).
  const words = checkWords(c, config, subgroupSize);
  const { data } = await runPass(bench, kernel, CHECK_ITERS, 1, words * 4);
  const want = Array.from(expected(bench, c, config, subgroupSize, CHECK_ITERS));
  const got = Array.from(c.kind === "stores" ? new Uint32Array(data!) : new Float32Array(data!));
  const wrong = want.filter((value, i) => got[i] !== value).length;
  const firstWrong = want.findIndex((value, i) => got[i] !== value);
  const check =
    wrong === 0 ? "ok" : `WRONG: ${wrong}/${want.length} (first at ${firstWrong}: ${got[firstWrong]}, want ${want[firstWrong]})`;

  // Calibration (and warm-up): grow the iterations until one dispatch takes TARGET_DISPATCH_NS.
  let iters = 16;
  let ns = (await runPass(bench, kernel, iters, 1)).ns;
  while (ns < TARGET_DISPATCH_NS && iters < MAX_ITERS) {
    iters = Math.min(MAX_ITERS, Math.ceil(iters * Math.min(16, (1.5 * TARGET_DISPATCH_NS) / Math.max(ns, QUANTUM_NS))));
    ns = (await runPass(bench, kernel, iters, 1)).ns;
  }
  // The timed pass: enough dispatches for passMs (once more if it came out shorter than 20 ms).
  let dispatches = Math.max(2, Math.ceil((passMs * 1e6) / Math.max(ns, QUANTUM_NS)));
  let pass = (await runPass(bench, kernel, iters, dispatches)).ns;
  if (pass < 20e6) {
    dispatches = Math.min(100_000, Math.ceil((dispatches * passMs * 1e6) / Math.max(pass, QUANTUM_NS)));
    pass = (await runPass(bench, kernel, iters, dispatches)).ns;
  }
  const seconds = pass / 1e9 / dispatches;
  const subgroupsPerDispatch = bench.workgroups * c.subgroups;
  const { M, N, K } = config;
  let tflops: number | null = null;
  let wgBytes: number | null = null;
  if (c.kind === "stores") {
    wgBytes = bench.workgroups * c.subgroups * subgroupSize * iters * STORE_CHUNKS * 16;
  } else {
    const steps = c.kind === "mma" ? UNROLL : 2; // multiplies per accumulator per iteration
    tflops = (2 * M * N * K * subgroupsPerDispatch * iters * steps * c.rows * c.cols) / seconds / 1e12;
    // Bytes of the matrix loads in the loop (st-mma: from storage, mostly L1/L2 hits).
    const once = isWg(c) ? loadsOf(c).once : "none";
    const loaded = (once === "lefts" ? 0 : c.rows * M * K) + (once === "rights" ? 0 : c.cols * K * N);
    if (c.kind !== "mma") wgBytes = subgroupsPerDispatch * iters * steps * loaded * 2;
  }
  return {
    case: c,
    check,
    iters,
    dispatches,
    msPerDispatch: seconds * 1e3,
    tflops,
    wgTBs: wgBytes === null ? null : wgBytes / seconds / 1e12,
    compilerMessages: kernel.compilerMessages,
  };
}

export function cases(opts: ReturnType<typeof parseArgs>, config: SubgroupMatrixConfig): Case[] {
  const slice = 2 * config.K;
  const list: Case[] = [];
  const strides = opts.strides.filter((s) => s >= slice);
  if (opts.cases.includes("mma")) {
    for (const subgroups of opts.subgroups) for (const [rows, cols] of opts.tiles) list.push({ kind: "mma", subgroups, rows, cols });
  }
  if (opts.cases.includes("wg-mma")) {
    for (const stride of strides)
      for (const subgroups of opts.subgroups)
        for (const [rows, cols] of opts.tiles) list.push({ kind: "wg-mma", subgroups, rows, cols, stride });
  }
  // The variants run at the pairs (subgroups[i], tiles[i]): 1 / 1x1, 4 / 2x2, 8 / 4x4 by default.
  const pairs = opts.subgroups.slice(0, opts.tiles.length).map((subgroups, i) => [subgroups, ...opts.tiles[i]] as const);
  const variants: [WgKind, Partial<WgLoads>[]][] = [
    ["wg-mma-var", VARIANT_LOADS],
    ["wg-mma-nofence", NOFENCE_LOADS],
  ];
  for (const [kind, changes] of variants) {
    if (!opts.cases.includes(kind)) continue;
    for (const stride of opts.variantStrides.filter((s) => s >= slice))
      for (const change of changes)
        for (const [subgroups, rows, cols] of pairs) {
          if (change.rights === "row-major" && config.N !== config.K) continue; // W's blocks are transposed in place
          list.push({ kind, subgroups, rows, cols, stride, loads: { ...BASE_LOADS, ...change } });
        }
  }
  if (opts.cases.includes("st-mma")) {
    for (const subgroups of opts.subgroups) for (const [rows, cols] of opts.tiles) list.push({ kind: "st-mma", subgroups, rows, cols });
  }
  if (opts.cases.includes("stores")) {
    // The GEMM's staging workgroup shape: the largest subgroup count asked for.
    const subgroups = Math.max(...opts.subgroups);
    for (const stride of opts.strides.filter((s) => s >= STORE_ROW)) {
      for (const store of Object.keys(STORE_ELEMENT_HALVES) as StoreKind[]) {
        if (stride % STORE_ELEMENT_HALVES[store] !== 0) continue; // vec4<u32> rows must start on 16 bytes
        list.push({ kind: "stores", subgroups, store, stride, barrier: false });
        if (store === "f16" || store === "f16-rot" || store === "vec4<u32>")
          list.push({ kind: "stores", subgroups, store, stride, barrier: true });
      }
    }
  }
  return list;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const gpu = await openWebGpu(opts.noRobustness ? { disableRobustness: true } : {});
  void gpu.device.lost.then((info) => {
    if (info.reason !== "destroyed") console.error(`mma-peak: device lost: ${info.message}`);
  });
  const probed = tensorCoreSetup(gpu);
  const needsMatrices = opts.cases.some((c) => c !== "stores");
  if (!probed && (needsMatrices || !gpu.features.shaderF16)) {
    console.log(
      `mma-peak: ${describeDevice(gpu)} has no f16→f32 subgroup-matrix configuration (chromium-experimental-subgroup-matrix): nothing to measure`,
    );
    gpu.device.destroy();
    return;
  }
  const majorness: MajornessSyntax =
    opts.majorness !== "probe"
      ? opts.majorness
      : probed
        ? await probeMajornessSyntax(gpu.device, probed.config, probed.subgroupSize)
        : "argument";
  // Without subgroup matrices (`--cases stores` on lavapipe) only the store kernels run: a nominal config for sizes.
  const config = probed?.config ?? { componentType: "f16", resultComponentType: "f32", M: 16, N: 16, K: 16 };
  const subgroupSize = probed?.subgroupSize ?? gpu.adapter.subgroupMaxSize ?? 32;
  const robustness = opts.noRobustness ? "off" : "on";
  console.log(`device: ${describeDevice(gpu)}, robustness ${robustness}`);
  console.log(
    `subgroup-matrix config ${config.M}x${config.N}x${config.K} ${config.componentType}→${config.resultComponentType}, subgroup size ${subgroupSize}, ` +
      `load/store syntax ${probed ? `${majorness}${opts.majorness === "probe" ? " (probed)" : ""}` : "n/a (no subgroup matrices)"}, ${opts.workgroups} workgroups, ` +
      `timer ${gpu.features.timestampQuery ? "timestamp queries" : "wall clock (no timestamp-query)"}`,
  );
  const slice = 2 * config.K;
  const list = cases(opts, config);
  if (opts.workgroups > gpu.limits.maxComputeWorkgroupsPerDimension)
    throw new Error(`--workgroups above ${gpu.limits.maxComputeWorkgroupsPerDimension}`);

  // Every buffer is made before anything runs, and kept (webgpu.md: buffers made after others were destroyed read slower).
  const { device } = gpu;
  const maxRows = Math.max(1, ...opts.tiles.flat());
  const next = xorshift(0x9e3779b9);
  const ints = (count: number) => Array.from({ length: count }, () => Math.min(2, Math.floor((next() + 1) * 2.5) - 2)); // -2..2
  const hostA = ints(maxRows * config.M * slice);
  const hostB = ints(maxRows * config.N * slice);
  const upload = (values: number[]) => {
    const buffer = device.createBuffer({ size: Math.ceil(values.length / 2) * 4, usage: BufferUsage.STORAGE, mappedAtCreation: true });
    new Uint16Array(buffer.getMappedRange(), 0, values.length).set(values.map(smallIntF16Bits));
    buffer.unmap();
    return buffer;
  };
  // st-mma: ST_COPIES blocks of the largest operands (16 KB a buffer at 4x4 with 16x16x16).
  const stBlock = maxRows * Math.max(config.M, config.N) * slice;
  const stHostA = list.some((c) => c.kind === "st-mma") ? ints(ST_COPIES * stBlock) : null;
  const stHostB = stHostA ? ints(ST_COPIES * stBlock) : null;
  const yBytes = Math.max(16, ...list.map((c) => outputWords(c, config, subgroupSize, opts.workgroups) * 4));
  const readBytes = Math.max(16, ...list.map((c) => checkWords(c, config, subgroupSize) * 4));
  if (yBytes > gpu.limits.maxStorageBufferBindingSize) throw new Error(`the output needs ${yBytes} bytes: use fewer --workgroups`);
  const bench: Bench = {
    gpu,
    params: device.createBuffer({ size: 16, usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST }),
    a: upload(hostA),
    b: upload(hostB),
    y: device.createBuffer({ size: yBytes, usage: BufferUsage.STORAGE | BufferUsage.COPY_SRC }),
    readback: device.createBuffer({ size: readBytes, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
    hostA,
    hostB,
    st: stHostA && stHostB ? { a: upload(stHostA), b: upload(stHostB), hostA: stHostA, hostB: stHostB, block: stBlock } : null,
    timestamps: gpu.features.timestampQuery
      ? {
          querySet: device.createQuerySet({ type: "timestamp", count: 2 }),
          resolve: device.createBuffer({ size: 16, usage: QUERY_RESOLVE | BufferUsage.COPY_SRC }),
          read: device.createBuffer({ size: 16, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST }),
        }
      : null,
    workgroups: opts.workgroups,
  };

  const rows: string[] = [];
  const fixed = (v: number | null, digits: number) => (v === null || !Number.isFinite(v) ? "" : v.toFixed(digits));
  for (const c of list) {
    const tile = c.kind === "stores" ? "" : `${c.rows}x${c.cols}`;
    const stride = c.kind === "mma" ? "" : c.kind === "st-mma" ? `${slice} (storage)` : String(c.stride);
    const store = c.kind === "stores" ? `${c.store}${c.barrier ? " + barrier" : ""}` : "";
    const common = { bench: "mma-peak", case: label(c), device: gpu.adapter.name, robustness, majorness };
    try {
      const r = await measure(bench, c, config, majorness, subgroupSize, opts.passMs);
      console.log(
        JSON.stringify({
          ...common,
          ...c,
          config: `${config.M}x${config.N}x${config.K}`,
          workgroups: opts.workgroups,
          iters: r.iters,
          dispatches: r.dispatches,
          msPerDispatch: r.msPerDispatch,
          tflops: r.tflops,
          wgTBs: r.wgTBs,
          check: r.check,
          compilerMessages: r.compilerMessages,
        }),
      );
      rows.push(
        `| ${tableCase(c)} | ${c.subgroups} | ${tile} | ${stride} | ${store} | ${fixed(r.msPerDispatch, 3)} | ${fixed(r.tflops, 1)} | ${fixed(r.wgTBs, 2)} | ${r.check} |`,
      );
    } catch (error) {
      const message = String((error as Error)?.message ?? error)
        .split("\n")[0]
        .slice(0, 300);
      console.log(JSON.stringify({ ...common, ...c, error: message }));
      rows.push(`| ${tableCase(c)} | ${c.subgroups} | ${tile} | ${stride} | ${store} | | | | error: ${message} |`);
    }
  }
  console.log(`\n${gpu.adapter.name}, robustness ${robustness}, ${majorness} syntax, ${opts.workgroups} workgroups`);
  console.log("| case | subgroups/wg | accumulators | row stride | store | ms/dispatch | TFLOP/s | wg TB/s | check |");
  console.log("| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | --- |");
  for (const row of rows) console.log(row);
  gpu.device.destroy();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
