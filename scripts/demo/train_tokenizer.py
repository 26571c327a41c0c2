"""Trains the demo model's byte-level BPE tokenizer (models/demo/tokenizer.json, tokenizer_config.json).

Usage: python3 scripts/demo/train_tokenizer.py DATA_DIR OUT_DIR [LLAMA3_TOKENIZER_DIR]
  DATA_DIR: what scripts/demo/extract_text.py --out wrote (train.jsonl is read; the held-out pages never)
  LLAMA3_TOKENIZER_DIR (default ../shared/data/llama3-tokenizer): the Llama-3 pre-tokenizer regex and the
  chat template are taken from there.
Needs HF `tokenizers` (0.23). Deterministic for a given train.jsonl.

Structure, as Llama 3's: no normalizer; pre-tokenizer Sequence[Split(Llama-3 regex, Isolated),
ByteLevel(use_regex false)]; BPE with ignore_merges; ByteLevel decoder; post-processor
Sequence[ByteLevel, TemplateProcessing(<|begin_of_text|> $A)]. Ids 0..4079 are BPE tokens (all 256
bytes included), 4080..4095 the Llama-3.1 special tokens in Llama 3.1's order (<|begin_of_text|>,
<|end_of_text|>, <|reserved_special_token_0|>, <|reserved_special_token_1|>, <|finetune_right_pad_id|>,
<|reserved_special_token_2|>, <|start_header_id|>, <|end_header_id|>, <|eom_id|>, <|eot_id|>,
<|python_tag|>, then reserved 3..7), so the Llama-3 chat template works unchanged.
"""
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers

BPE_VOCAB = 4080
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
            "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"] + [f"<|reserved_special_token_{i}|>" for i in range(3, 8)]


def main():
    data_dir, out_dir = sys.argv[1], sys.argv[2]
    llama3_dir = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "llama3-tokenizer")
    with open(os.path.join(llama3_dir, "tokenizer.json"), encoding="utf-8") as f:
        llama3 = json.load(f)
    with open(os.path.join(llama3_dir, "tokenizer_config.json"), encoding="utf-8") as f:
        llama3_config = json.load(f)
    split = llama3["pre_tokenizer"]["pretokenizers"][0]
    assert split["type"] == "Split" and split["behavior"] == "Isolated", split
    pattern = split["pattern"]["Regex"]

    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), special_tokens=[])

    def texts():
        with open(os.path.join(data_dir, "train.jsonl"), encoding="utf-8") as f:
            for line in f:
                yield json.loads(line)["text"]

    tok.train_from_iterator(texts(), trainer=trainer)
    assert tok.get_vocab_size() == BPE_VOCAB, tok.get_vocab_size()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in SPECIALS])
    bos = tok.token_to_id("<|begin_of_text|>")
    assert bos == BPE_VOCAB, bos
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)]),
    ])
    os.makedirs(out_dir, exist_ok=True)
    tok.save(os.path.join(out_dir, "tokenizer.json"))

    config = {
        "added_tokens_decoder": {
            str(tok.token_to_id(s)): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                      "single_word": False, "special": True} for s in SPECIALS},
        "bos_token": "<|begin_of_text|>",
        "eos_token": "<|eot_id|>",
        "pad_token": "<|finetune_right_pad_id|>",
        "clean_up_tokenization_spaces": True,
        "model_input_names": ["input_ids", "attention_mask"],
        "model_max_length": 1024,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "chat_template": llama3_config["chat_template"],
    }
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=2)
        f.write("\n")
    sample = "東京タワーは1958年に完成した。ls - ディレクトリの内容をリスト表示する"
    print(f"vocab {tok.get_vocab_size()} ({BPE_VOCAB} BPE + {len(SPECIALS)} special); "
          f"{sample!r} → {len(tok.encode(sample).ids)} ids", file=sys.stderr)


main()
