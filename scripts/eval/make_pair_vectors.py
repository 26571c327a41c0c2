"""Reference vectors for src/eval/backends/tokenize-pair.ts.

Runs HF `tokenizers` on fixtures/tiny-tokenizer/tokenizer.json and applies lm-evaluation-harness v0.4.2's
`_encode_pair` (lm_eval/api/model.py, TemplateLM._encode_pair): trailing whitespace of the context moves to the
continuation, continuation tokens = tok(ctx + cont)[len(tok(ctx)):], no special tokens (add_special_tokens=False).
The BOS variant encodes with add_special_tokens=True (the post-processor's BOS), as an HF model with BOS would.

usage: python3 scripts/eval/make_pair_vectors.py > fixtures/eval/backends/pair-vectors.json
"""
import json
import sys

import tokenizers
from tokenizers import Tokenizer

tok = Tokenizer.from_file(sys.argv[1] if len(sys.argv) > 1 else "fixtures/tiny-tokenizer/tokenizer.json")


def ids(text, bos=False):
    return tok.encode(text, add_special_tokens=bos).ids


def encode_pair(context, continuation):
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = ids(context + continuation)
    context_enc = ids(context)
    return context_enc, whole[len(context_enc):]


CASES = [
    ("Question: What is the capital of Japan?\nAnswer:", " Tokyo"),
    ("Question: What is the capital of Japan?\nAnswer: ", "Tokyo"),
    ("The quick brown fox", " jumps over the lazy dog."),
    ("The quick brown fox  \n", "jumps"),
    ("質問：日本の首都は？\n回答：", "東京"),
    ("東京タワーは1958年に", "完成した。"),
    ("def add(a, b):\n    return", " a + b\n"),
    ("2 + 2 =", " 4"),
    ("Sentence: The trophy doesn't fit into the brown suitcase because the", " trophy is too large."),
    ("A man is sitting on a roof. he", " starts pulling up roofing on a roof."),
    ("abc", "def"),
    ("hello world   ", "  again"),
]

out = {"made_by": f"tokenizers {tokenizers.__version__}", "tokenizer": "fixtures/tiny-tokenizer/tokenizer.json", "cases": []}
for context, continuation in CASES:
    context_ids, continuation_ids = encode_pair(context, continuation)
    out["cases"].append(
        {
            "context": context,
            "continuation": continuation,
            "context_ids": context_ids,
            "continuation_ids": continuation_ids,
            "context_ids_with_bos": ids(context.rstrip() if context != context.rstrip() else context, bos=True),
            "whole_ids": ids(context + continuation),
        }
    )
json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
sys.stdout.write("\n")
