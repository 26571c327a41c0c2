/**
 * One table from one `npm run bench` call: our engine (`swallow bench --json`), the PyTorch peers
 * (scripts/bench_torch_peers.py) and the GPU memory samples taken while ours ran (nvidia-smi, MiB).
 *
 *   node dist/bench/compare.js OURS.json TORCH.json MEMORY.csv [FAST.json [FAST-SERVING.json]]
 *
 * FAST.json: the same engine with `--no-robustness` (prefill, batch-1 decode), its own column;
 * FAST-SERVING.json: that configuration serving at high concurrency, its own serving rows.
 */
import { readFileSync } from "node:fs";
import type { BenchReport } from "../src/bench/engine-bench.js";

const [oursPath, torchPath, memoryPath, fastPath, fastServingPath] = process.argv.slice(2);
/** The last JSON line of a file (Dawn prints shader-compiler warnings on stdout too). */
const lastJson = (file: string) =>
  JSON.parse(
    readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .at(-1) ?? "null",
  );
const ours = lastJson(oursPath) as BenchReport & { title: string };
const fast = fastPath ? (lastJson(fastPath) as (BenchReport & { title: string }) | null) : null;
const fastServing = fastServingPath ? (lastJson(fastServingPath) as (BenchReport & { title: string }) | null) : null;
const torch = lastJson(torchPath) as {
  device: string;
  torch: string;
  hf_generate: { ttft_ms: number; decode_tok_s: number };
  compiled_static: { decode_tok_s?: number; error?: string };
  prefill_eager: Record<string, { ms: number; tok_s: number }>;
  copy_gb_s: number;
  ceiling_tok_s: number;
  peak_memory_gb: number;
};
const peakMiB = Math.max(
  ...readFileSync(memoryPath, "utf8")
    .split("\n")
    .map(Number)
    .filter((n) => Number.isFinite(n) && n > 0),
);

const share = (tokPerS: number) => `${((100 * tokPerS) / torch.ceiling_tok_s).toFixed(0)}%`;
const compiled = torch.compiled_static.decode_tok_s;
const fastPrefill = (tokens: number) => fast?.prefill.find((p) => p.tokens === tokens)?.tokensPerSecond.toFixed(0) ?? "—";
/** Rows of [measurement, ours, fast, transformers, compiled]. */
const rows: string[][] = [
  [
    "decode tok/s, batch 1 (prompt 128, 256 new)",
    ours.decode.tokensPerSecond.toFixed(1),
    fast?.decode.tokensPerSecond.toFixed(1) ?? "—",
    torch.hf_generate.decode_tok_s.toFixed(1),
    compiled?.toFixed(1) ?? `failed: ${torch.compiled_static.error}`,
  ],
  [
    "share of the copy-bandwidth ceiling",
    share(ours.decode.tokensPerSecond),
    fast ? share(fast.decode.tokensPerSecond) : "—",
    share(torch.hf_generate.decode_tok_s),
    compiled ? share(compiled) : "—",
  ],
  ...(ours.decode.gpu
    ? [
        [
          "decode step on the GPU / GPU idle between steps (ms, medians; --profile)",
          `${ours.decode.gpu.msPerStep.toFixed(2)} / ${ours.decode.gpu.idleMsBetweenSteps.toFixed(3)}`,
          fast?.decode.gpu ? `${fast.decode.gpu.msPerStep.toFixed(2)} / ${fast.decode.gpu.idleMsBetweenSteps.toFixed(3)}` : "—",
          "—",
          "—",
        ],
      ]
    : []),
  [
    "time to first token, 128-token prompt (ms)",
    ours.decode.ttftMs.toFixed(1),
    fast?.decode.ttftMs.toFixed(1) ?? "—",
    torch.hf_generate.ttft_ms.toFixed(1),
    "—",
  ],
  ...ours.prefill.map((p) => [
    `prefill ${p.tokens} tokens (tok/s)`,
    p.tokensPerSecond.toFixed(0),
    fastPrefill(p.tokens),
    torch.prefill_eager[String(p.tokens)]?.tok_s.toFixed(0) ?? "—",
    "—",
  ]),
  // Decode steps of equal requests batched together (ours: --decode-batch; the fast column: 256, the serving size).
  ...[...new Set([...ours.batchedDecode, ...(fast?.batchedDecode ?? [])].map((b) => b.batch))]
    .sort((a, b) => a - b)
    .map((batch) => {
      const cell = (report: BenchReport | null) => {
        const b = report?.batchedDecode.find((r) => r.batch === batch);
        // JSON turns a NaN step time (no decode-only step: raise --new) into null.
        return b && Number.isFinite(b.msPerStep) ? `${b.msPerStep.toFixed(2)} (${b.tokensPerSecond.toFixed(0)} tok/s)` : "—";
      };
      return [`decode batch ${batch}, ms per step`, cell(ours), cell(fast), "—", "—"];
    }),
  [
    "peak GPU memory (GB)",
    (peakMiB * 1.048576e-3).toFixed(1) + " (nvidia-smi, whole process)",
    "",
    `${torch.peak_memory_gb} (allocated)`,
    "",
  ],
];
const columns = fast ? rows : rows.map((row) => row.filter((_, i) => i !== 2));
console.log(`${torch.device}, ${new Date().toISOString().slice(0, 10)}; torch ${torch.torch}; ${ours.title}`);
// Each run's title names its flags and any kernel switches (SWALLOW_*) set for it.
const otherTitles = new Set([fast, fastServing].flatMap((report) => (report && report.title !== ours.title ? [report.title] : [])));
for (const title of otherTitles) console.log(`also: ${title}`);
console.log(`copy bandwidth ${torch.copy_gb_s} GB/s → decode ceiling ${torch.ceiling_tok_s} tok/s (weight bytes per token ÷ bandwidth)\n`);
console.log(
  `| measurement | swallow (WebGPU, default)${fast ? " | swallow --no-robustness" : ""} | transformers generate | torch.compile static-cache loop |`,
);
console.log(`|---|---:|${fast ? "---:|" : ""}---:|---:|`);
for (const row of columns) console.log(`| ${row.join(" | ")} |`);
const servingRows = [
  ...ours.serving.map((s) => ({ config: "default", ...s })),
  ...(fastServing?.serving ?? []).map((s) => ({ config: "--no-robustness", ...s })),
];
if (servingRows.length > 0) {
  console.log("\n| configuration | concurrency | output tok/s | TTFT p50 / p99 ms | TPOT p50 / p99 ms |\n|---|---:|---:|---:|---:|");
  for (const s of servingRows) {
    console.log(
      `| ${s.config} | ${s.concurrency} | ${s.outputTokensPerSecond.toFixed(1)} | ${s.ttftMs.p50.toFixed(0)} / ${s.ttftMs.p99.toFixed(0)} | ${s.tpotMs.p50.toFixed(1)} / ${s.tpotMs.p99.toFixed(1)} |`,
    );
  }
}
