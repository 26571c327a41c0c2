"""PyTorch peers of `swallow bench --shape llama-3.1-8b` on the same card, same shapes, random bf16 weights:

  1. Hugging Face transformers `generate` (eager, dynamic cache, greedy, batch 1): TTFT, decode tok/s;
  2. a decode loop we wrote: transformers' LlamaForCausalLM over a StaticCache, one `decode_one(token, pos)`
     step compiled with torch.compile(mode="reduce-overhead", fullgraph=True) (CUDA graphs), as gpt-fast does;
  3. prefill tok/s for 512 and 2048 tokens (one eager forward, the logits of the last position only);
  4. device-to-device copy bandwidth (the decode ceiling: weight bytes per token / bandwidth) and peak memory.

Prints one JSON line. Usage (GPU machine): python3 scripts/bench_torch_peers.py [--layers 32] [--prompt 128] [--new 256]
"""
import argparse
import inspect
import json
import time
import traceback

import torch
from transformers import LlamaConfig, LlamaForCausalLM

parser = argparse.ArgumentParser()
parser.add_argument("--layers", type=int, default=32)
parser.add_argument("--prompt", type=int, default=128)
parser.add_argument("--new", type=int, default=256)
parser.add_argument("--prefill", default="512,2048")
args = parser.parse_args()

config = LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=args.layers,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=8192,
                     rms_norm_eps=1e-5, tie_word_embeddings=False,
                     rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                          high_freq_factor=4.0, original_max_position_embeddings=8192))
with torch.device("cuda"):
    model = LlamaForCausalLM(config).to(torch.bfloat16).eval()
weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
bytes_per_token = weight_bytes - config.vocab_size * config.hidden_size * 2  # the embedding reads one row
result = dict(torch=torch.__version__, device=torch.cuda.get_device_name(), layers=args.layers,
              weight_gb=round(weight_bytes / 1e9, 2))


def sync_time(fn):
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start, out


prompt = torch.randint(256, 128000, (1, args.prompt), device="cuda")

# 1. transformers generate
with torch.no_grad():
    gen = lambda n: model.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0)
    gen(4)
    first = min(sync_time(lambda: gen(1))[0] for _ in range(3))
    full = min(sync_time(lambda: gen(args.new + 1))[0] for _ in range(2))
result["hf_generate"] = dict(ttft_ms=round(first * 1000, 1), decode_tok_s=round(args.new / (full - first), 1))

# 3. prefill
prefill = {}
with torch.no_grad():
    for n in [int(x) for x in args.prefill.split(",")]:
        ids = torch.randint(256, 128000, (1, n), device="cuda")
        run = lambda: model(ids, logits_to_keep=1, use_cache=False)
        run()
        t = min(sync_time(run)[0] for _ in range(3))
        prefill[str(n)] = dict(ms=round(t * 1000, 1), tok_s=round(n / t, 0))
result["prefill_eager"] = prefill

# 2. torch.compile static-cache decode loop
try:
    from transformers import StaticCache

    total = args.prompt + args.new + 8
    wanted = dict(config=config, max_batch_size=1, max_cache_len=total, device="cuda", dtype=torch.bfloat16)
    accepted = inspect.signature(StaticCache.__init__).parameters
    cache = StaticCache(**{k: v for k, v in wanted.items() if k in accepted})

    def forward(ids, positions):
        out = model(input_ids=ids, position_ids=positions.unsqueeze(0), cache_position=positions, past_key_values=cache,
                    use_cache=True, logits_to_keep=1)
        return out.logits[:, -1].argmax(-1, keepdim=True)

    decode_one = torch.compile(forward, mode="reduce-overhead", fullgraph=True)

    def generate_static(new_tokens):
        cache.reset()
        with torch.no_grad():
            token = forward(prompt, torch.arange(args.prompt, device="cuda"))
            for i in range(new_tokens):
                pos = torch.tensor([args.prompt + i], device="cuda")
                token = decode_one(token.clone(), pos).clone()
        return token

    compile_s, _ = sync_time(lambda: generate_static(8))  # compiles and captures the CUDA graphs
    generate_static(8)
    t_short = min(sync_time(lambda: generate_static(8))[0] for _ in range(2))
    t_long = min(sync_time(lambda: generate_static(args.new + 8))[0] for _ in range(2))
    result["compiled_static"] = dict(decode_tok_s=round(args.new / (t_long - t_short), 1), compile_s=round(compile_s, 1))
except Exception as error:  # report, do not hide: the peer is part of the table
    result["compiled_static"] = dict(error=f"{type(error).__name__}: {error}", trace=traceback.format_exc()[-1500:])

# 4. copy bandwidth, peak memory
src = torch.empty(1 << 30, dtype=torch.uint8, device="cuda")
dst = torch.empty_like(src)
for _ in range(3):
    dst.copy_(src)
t, _ = sync_time(lambda: [dst.copy_(src) for _ in range(20)])
copy = 20 * 2 * (1 << 30) / t / 1e9  # bytes read + written
result["copy_gb_s"] = round(copy, 0)
result["weight_bytes_per_token"] = bytes_per_token
result["ceiling_tok_s"] = round(copy * 1e9 / bytes_per_token, 1)
result["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 1e9, 2)
print(json.dumps(result))
