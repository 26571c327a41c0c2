set -u
echo "== tests"
timeout 200 node --test --test-concurrency=2 dist/test/webgpu-tensor.test.js dist/test/webgpu-f16-copy.test.js dist/test/webgpu.test.js dist/test/webgpu-model.test.js dist/test/webgpu-kv-fused.test.js dist/test/webgpu-attention.test.js 2>&1 | grep -v "warning\|\^\|subgroupMatrix\|Compilation log" | grep -E "^not ok|^# (tests|pass|fail|skipped)|split-K\)|→ norm|error:" | head -30
b() { D=$1; shift; timeout 150 node $D/src/cli/main.js bench --shape llama-3.1-8b --backend webgpu "$@" 2>&1 | grep -E "^\| (prefill|decode|[0-9])" ; }
for round in 1 2; do
  for D in dist-head dist; do
    echo "== $D round $round"
    b $D --prefill 2048 --prompt 128 --new 32 --decode-batch 16,32,64,128,256
  done
done
for D in dist-head dist dist-head dist; do
  echo "== $D serving"
  b $D --prefill "" --prompt 128 --new 16 --concurrency 128 --requests 256
done
