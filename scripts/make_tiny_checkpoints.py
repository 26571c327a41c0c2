"""Makes the tiny random-weight Llama checkpoints under fixtures/tiny/ and their reference outputs.

Run on the GPU machine (it has torch, transformers 5.x and tokenizers):
    python3 scripts/make_tiny_checkpoints.py fixtures
Each checkpoint is saved by transformers `save_pretrained` in bf16 (one sharded via max_shard_size),
then loaded back in float32 with eager attention to compute the reference: per position the natural
log-prob of the next prompt token, the argmax and the top-2 logit margin (so tests can skip near-ties
instead of loosening tolerances), and a greedy continuation (min_new_tokens = max_new_tokens) with
each step's margin. transformers 5 writes `rope_parameters`; the `*-v4` variants rewrite config.json
to the 4.x layout (`rope_theta` + `rope_scaling`) with the same values, as published Llama 3.1 files are.
The vocabulary (1280) is fixtures/tiny-tokenizer (scripts/make_tiny_tokenizer.py); reference ids of
that tokenizer for a few strings come from HF `tokenizers` too.
"""
import json
import os
import zlib
import shutil
import sys

import torch
import transformers
from tokenizers import Tokenizer
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

root = sys.argv[1]
tok_dir = os.path.join(root, "tiny-tokenizer")
out_dir = os.path.join(root, "tiny")
VOCAB = 1280
BOS, EOT, EOM, EOS = 1024, 1033, 1032, 1025
LLAMA3_ROPE = dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                   original_max_position_embeddings=64)

VARIANTS = [
    # name, shape, rope, tied, shard, legacy (4.x) config layout
    dict(name="gqa-llama3", hidden=64, heads=4, kv=2, head_dim=32, layers=2, inter=96,
         rope=LLAMA3_ROPE, theta=500000.0, tied=False, shard=None, v4=False),
    dict(name="gqa-llama3-v4", same_as="gqa-llama3", v4=True),
    dict(name="mha-default-tied", hidden=64, heads=4, kv=4, head_dim=16, layers=2, inter=128,
         rope=None, theta=10000.0, tied=True, shard=None, v4=False),
    dict(name="mqa-llama3-sharded-v4", hidden=96, heads=6, kv=1, head_dim=16, layers=3, inter=160,
         rope=LLAMA3_ROPE, theta=500000.0, tied=False, shard="150KB", v4=True),
]

TEXTS = [
    "東京タワーは1958年に完成した。",
    "The quick brown fox jumps over the lazy dog.",
    "def add(a, b):\n    return a + b\n",
    "🦙 Llama-3.1 Swallow",
]


def make_model(v):
    torch.manual_seed(zlib.crc32(v.get("seed_name", v["name"]).encode()))
    kwargs = dict(vocab_size=VOCAB, hidden_size=v["hidden"], intermediate_size=v["inter"],
                  num_hidden_layers=v["layers"], num_attention_heads=v["heads"], num_key_value_heads=v["kv"],
                  head_dim=v["head_dim"], max_position_embeddings=256, rms_norm_eps=1e-5,
                  tie_word_embeddings=v["tied"], bos_token_id=BOS, eos_token_id=[EOS, EOM, EOT],
                  initializer_range=0.25, hidden_act="silu", attention_bias=False, mlp_bias=False)
    rope = dict(rope_type="default") if v["rope"] is None else dict(v["rope"])
    rope["rope_theta"] = v["theta"]
    cfg = LlamaConfig(rope_parameters=rope, **kwargs)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        # Random norm weights (not all ones) so a kernel that skips them fails.
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
    return model


def legacy_config(path, v):
    with open(path) as f:
        cfg = json.load(f)
    rope = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rope.pop("rope_theta")
    cfg["rope_scaling"] = None if rope.get("rope_type") == "default" else rope
    if "dtype" in cfg:
        cfg["torch_dtype"] = cfg.pop("dtype")
    cfg["transformers_version"] = "4.46.2"
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)


def reference(model_dir, prompts, max_new):
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    results = []
    for prompt in prompts:
        ids = torch.tensor([prompt])
        with torch.no_grad():
            logits = model(ids).logits[0].float()
        logp = torch.log_softmax(logits.double(), dim=-1)
        top2 = torch.topk(logits, 2, dim=-1).values
        entry = dict(
            tokens=prompt,
            logprobs=[None] + [logp[i - 1, prompt[i]].item() for i in range(1, len(prompt))],
            argmax=logits.argmax(-1).tolist(),
            margins=(top2[:, 0] - top2[:, 1]).tolist(),
        )
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False,
                                 output_scores=True, return_dict_in_generate=True, pad_token_id=0)
        new = out.sequences[0, len(prompt):].tolist()
        step_margins = []
        for s in out.scores:
            t2 = torch.topk(s[0].float(), 2).values
            step_margins.append((t2[0] - t2[1]).item())
        entry["greedy"] = dict(max_new_tokens=max_new, new_tokens=new, margins=step_margins)
        results.append(entry)
    return results


def main():
    tokenizer = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))
    token_vectors = [dict(text=t, ids=tokenizer.encode(t, add_special_tokens=False).ids,
                          ids_with_bos=tokenizer.encode(t, add_special_tokens=True).ids) for t in TEXTS]
    gen = torch.Generator().manual_seed(1234)
    random_prompt = lambda n: [BOS] + torch.randint(0, 1024, (n - 1,), generator=gen).tolist()
    prompts = [token_vectors[0]["ids_with_bos"], random_prompt(24), random_prompt(100)]

    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    made = {}
    for v in VARIANTS:
        if "same_as" in v:
            base = dict(made[v["same_as"]]); base.update(name=v["name"], v4=v["v4"], seed_name=v["same_as"]); v = base
        made[v["name"]] = v
        d = os.path.join(out_dir, v["name"])
        model = make_model(v).to(torch.bfloat16)
        kwargs = {"max_shard_size": v["shard"]} if v["shard"] else {}
        model.save_pretrained(d, **kwargs)
        GenerationConfig(bos_token_id=BOS, eos_token_id=[EOS, EOM, EOT], do_sample=True, temperature=0.6,
                         top_p=0.9).save_pretrained(d)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(tok_dir, f), os.path.join(d, f))
        if v["v4"]:
            legacy_config(os.path.join(d, "config.json"), v)
        ref = reference(d, prompts, max_new=16)
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(dict(made_by=f"torch {torch.__version__}, transformers {transformers.__version__}, "
                           "float32 eager attention on the bf16 weights", prompts=ref), f)
        print(v["name"], sorted(os.listdir(d)))
    with open(os.path.join(tok_dir, "reference-ids.json"), "w") as f:
        json.dump(dict(made_by=f"tokenizers {__import__('tokenizers').__version__}", vectors=token_vectors), f,
                  ensure_ascii=False, indent=1)


main()
