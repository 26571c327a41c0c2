"""Reference outputs of transformers' `clean_up_tokenization` (what `decode` applies when tokenizer_config.json sets
clean_up_tokenization_spaces: true) for src/tokenizer/clean-up.test.ts. Run where transformers is installed (the GPU
machine): python3 scripts/tokenizer/make_cleanup_vectors.py > fixtures/tokenizer/clean-up-vectors.json
"""
import json

import transformers
from transformers import PreTrainedTokenizerFast

CASES = [
    "Hello , world !",
    "It is 5 . Really ?",
    "I don 't know . We 're here , you 've seen it , I 'm sure and he 's gone .",
    "She can n't go",
    "a ' b",
    " .leading",
    "trailing .",
    "multiple  .  spaces",
    "答えは 5 です 。",
    "日本の首都は東京 。",
    "The answer is 42 .\n\nQ: next ?",
    "'s at start",
    "x 'sy 'm 've 're",
    "emoji 😀 ! ok",
    "",
    "   ",
    "no change here",
    "a , , b . . c",
    "tab\t. and newline\n.",
]

# The repository's tiny byte-level tokenizer: decode(encode(text)) is the text itself, so what decode adds is the
# clean-up alone. Both the function and the full decode are recorded.
tok = PreTrainedTokenizerFast(tokenizer_file="fixtures/tiny-tokenizer/tokenizer.json", clean_up_tokenization_spaces=True)
out = {
    "transformers": transformers.__version__,
    "cases": [
        {
            "input": c,
            "output": tok.clean_up_tokenization(c),
            "decoded": tok.decode(tok.encode(c, add_special_tokens=False), clean_up_tokenization_spaces=True),
        }
        for c in CASES
    ],
}
print(json.dumps(out, ensure_ascii=False, indent=1))
