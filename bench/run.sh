#!/usr/bin/env bash
# `npm run bench` on the GPU machine: our engine and the PyTorch peers on the same card in one call, then one
# table (bench/compare.ts). Needs a build (dist/) and Python with torch + transformers. Writes raw results to
# ${OUT:-/tmp}/bench-*.json|csv. Options pass through to `swallow bench` (e.g. --layers 8 for a quick run).
# --profile adds the decode step's GPU time and the GPU's idle time between steps to the table (one more readback per step).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp}
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$out/bench-memory.csv" &
poll=$!
node dist/src/cli/main.js bench --shape llama-3.1-8b --backend webgpu --prefill 512,2048 --prompt 128 --new 256 \
  --concurrency 1,8,32,128 --json "$@" > "$out/bench-ours.json"
kill $poll
# The default takes the tensor cores where the GPU has them (a forward pass then takes 2,048 tokens, so a 2,048-token
# prompt is one pass). The fastest configuration beside it (no bounds clamping): prefill, batch-1 decode and a decode
# step of 256 requests, the serving size (later options win, so the serving levels and the default's batch sizes
# are dropped here), then on its own run serving at FAST_CONCURRENCY (default 256; "" skips it)
# with a FAST_KV_CACHE (default 48GB) KV cache and FAST_REQUESTS requests (default 1,000, as vLLM's serving
# benchmark sends: with twice the concurrency, the run's last third was its tail of finishing requests).
node dist/src/cli/main.js bench --shape llama-3.1-8b --backend webgpu --prefill 512,2048 --prompt 128 --new 256 \
  --json "$@" --no-robustness --concurrency "" --decode-batch 256 > "$out/bench-fast.json"
fast_serving=""
if [ -n "${FAST_CONCURRENCY-256}" ]; then
  node dist/src/cli/main.js bench --shape llama-3.1-8b --backend webgpu --prompt 128 \
    --json "$@" --prefill "" --new 16 --no-robustness --concurrency "${FAST_CONCURRENCY-256}" --decode-batch "" \
    --max-num-batched-tokens 2048 --kv-cache-memory-bytes "${FAST_KV_CACHE-48GB}" --requests "${FAST_REQUESTS:-1000}" \
    > "$out/bench-fast-serving.json"
  fast_serving="$out/bench-fast-serving.json"
fi
python3 scripts/bench_torch_peers.py --prompt 128 --new 256 --prefill 512,2048 > "$out/bench-torch.json"
node dist/bench/compare.js "$out/bench-ours.json" "$out/bench-torch.json" "$out/bench-memory.csv" "$out/bench-fast.json" $fast_serving
