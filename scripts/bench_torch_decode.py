"""The PyTorch peer of bench/decode.ts on the same card: Hugging Face transformers `generate` (greedy, batch 1)
on a random-weight LlamaForCausalLM of Llama-3.1-8B's shapes in bf16, and the device-to-device copy bandwidth
that sets the decode ceiling. Prints one JSON line.

Usage (GPU machine): python3 scripts/bench_torch_decode.py [--layers 32] [--prompt 128] [--new 32]
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

parser = argparse.ArgumentParser()
parser.add_argument("--layers", type=int, default=32)
parser.add_argument("--prompt", type=int, default=128)
parser.add_argument("--new", type=int, default=32)
args = parser.parse_args()

config = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=args.layers,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=8192,
                     rms_norm_eps=1e-5, tie_word_embeddings=False,
                     rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=8192))
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
prompt = torch.randint(0, 128000, (1, args.prompt), device="cuda")


def timed_generate(new_tokens):
    torch.cuda.synchronize()
    start = time.perf_counter()
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - start


timed_generate(4)  # warm-up
first = min(timed_generate(1) for _ in range(3))
full = min(timed_generate(args.new + 1) for _ in range(3))
decode_ms = (full - first) / args.new * 1000

src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
dst = torch.empty_like(src)
for _ in range(3):
    dst.copy_(src)
torch.cuda.synchronize()
start = time.perf_counter()
for _ in range(20):
    dst.copy_(src)
torch.cuda.synchronize()
copy_gbs = 20 * 2 * (1 << 30) / (time.perf_counter() - start) / 1e9  # read + write

print(json.dumps(dict(impl="hf-transformers-generate", torch=torch.__version__, layers=args.layers,
                      device=torch.cuda.get_device_name(), decode_ms=round(decode_ms, 2),
                      decode_tok_s=round(1000 / decode_ms, 1), ttft_ms=round(first * 1000, 1),
                      copy_gb_s=round(copy_gbs, 0))))
