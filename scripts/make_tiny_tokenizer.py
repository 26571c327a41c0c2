"""Writes fixtures/tiny-tokenizer/: the Llama-3 tokenizer cut down to its first 1024 byte-level tokens
(the merges whose pieces and result survive) plus the 256 Llama-3.1 special tokens renumbered to
1024..1279, so tiny test checkpoints (vocab 1280) can be driven by text.

Usage: python3 scripts/make_tiny_tokenizer.py ../shared/data/llama3-tokenizer fixtures/tiny-tokenizer
Needs only the Python standard library; reference ids for it are made with HF `tokenizers` by
scripts/make_tiny_checkpoints.py on the GPU machine.
"""
import json
import os
import sys

BASE_VOCAB = 1024
SPECIAL_OFFSET = 128000 - BASE_VOCAB

src, dst = sys.argv[1], sys.argv[2]
with open(os.path.join(src, "tokenizer.json"), encoding="utf-8") as f:
    tok = json.load(f)
with open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8") as f:
    cfg = json.load(f)

vocab = {piece: i for piece, i in tok["model"]["vocab"].items() if i < BASE_VOCAB}
merges = []
for merge in tok["model"]["merges"]:
    a, b = merge if isinstance(merge, list) else merge.split(" ", 1)
    if a in vocab and b in vocab and (a + b) in vocab:
        merges.append([a, b])
tok["model"]["vocab"] = vocab
tok["model"]["merges"] = merges

for added in tok["added_tokens"]:
    added["id"] -= SPECIAL_OFFSET


def renumber(node):
    if isinstance(node, dict):
        return {k: ([i - SPECIAL_OFFSET for i in v] if k == "ids" else renumber(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [renumber(x) for x in node]
    return node


tok["post_processor"] = renumber(tok["post_processor"])
cfg["added_tokens_decoder"] = {str(int(k) - SPECIAL_OFFSET): v for k, v in cfg["added_tokens_decoder"].items()}

os.makedirs(dst, exist_ok=True)
with open(os.path.join(dst, "tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(tok, f, ensure_ascii=False, indent=1)
with open(os.path.join(dst, "tokenizer_config.json"), "w", encoding="utf-8") as f:
    json.dump(cfg, f, ensure_ascii=False, indent=1)
print(f"vocab {len(vocab)} + {len(tok['added_tokens'])} special, merges {len(merges)}")
