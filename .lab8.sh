F='deprecat|^ *\^|subgroup_matrix|^$|warning|Compilation log|subgroupMatrix|^\{'
timeout 80 node dist/bench/decode.js --shape llama-3.1-8b --matmul fast --no-robustness --prompt 2048 --new 2 --batch 1 --profile-prefill 2>&1 | grep -Ev "$F" | grep -E '^\||per-kernel' | tee $OUT/prefill-profile.log
timeout 90 node dist/bench/decode.js --shape llama-3.1-8b --matmul fast --no-robustness --prompt 128 --new 8 --batch 256 --spread 1 --profile 2>&1 | grep -Ev "$F" | grep -E '^\||per-kernel' | tee $OUT/decode-profile.log
timeout 80 node dist/bench/matmul-lab.js --no-robustness --pads 12 --tokens 2048 --shapes 14336x4096,4096x4096 --variants 128x128-sg2x2-rb-x16,128x256-sg2x4-rb-x16,128x128-sg2x2-k64-rb-x16,128x128-sg2x2-rb-pf-x16 2>&1 | grep -Ev "$F" | grep '^|' | tee $OUT/lab.log
