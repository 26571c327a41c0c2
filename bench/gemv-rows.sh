#!/usr/bin/env bash
# Kernel lab for the GEMV's rows per lane group (kernels/matmul.ts, SWALLOW_GEMV_ROWS="R1,R2,R4,R8" for token
# blocks of 1, 2, 4, 8): the same 8B random-weight model decoded at batch 1, 8 and 32 and a 512-token prefill,
# once per setting, in one call on one card. Usage: bash bench/gemv-rows.sh "1,2,4,4" "1,1,1,1" ...
set -euo pipefail
cd "$(dirname "$0")/.."
for rows in "$@"; do
  echo "== SWALLOW_GEMV_ROWS=$rows"
  SWALLOW_GEMV_ROWS=$rows node dist/src/cli/main.js bench --shape llama-3.1-8b --backend webgpu --prefill 512 --prompt 128 \
    --new 64 --decode-batch 8,32 --json | tail -1
done
