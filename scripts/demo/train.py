"""Trains the demo model (models/demo/) and writes its reference perplexity (models/demo/reference.json).

Run on the GPU machine (torch, transformers 5.x, tokenizers), after
    python3 scripts/demo/extract_text.py --ja JA_MAN --en EN_MAN --out .demo-data
    python3 scripts/demo/train_tokenizer.py .demo-data models/demo
with
    python3 scripts/demo/train.py --data .demo-data --tokenizer models/demo --out models/demo --budget-s 330

Data. Training documents are train.jsonl's pages (Japanese and English man pages) minus a validation set
(Japanese pages with int(sha1(page), 16) % 50 == 1, used only to pick the best checkpoint and variant),
plus one chat-formatted sample per Japanese training page built from its 名前 (NAME) line and the start of
its 説明 (DESCRIPTION) section, rendered as the Llama-3 chat template renders it (some with the CLI's
default system prompt). Each document is <|begin_of_text|> ids <|end_of_text|>; all are concatenated in a
seeded random order; a training sequence is <|begin_of_text|> + SEQ-1 consecutive tokens from a random
offset of that stream (the evaluation windows have the same shape).

Training. LlamaForCausalLM (see CONFIG), bf16 autocast, AdamW (0.9, 0.95, weight decay 0.1 on matrices),
linear warmup then cosine decay to 10%, gradient clip 1.0. Several VARIANTS (epochs, peak lr) run one after
the other within --budget-s; each keeps its lowest-validation-loss state; the best variant overall is saved
with save_pretrained in bf16.

Reference. The saved bf16 model is loaded back in float32 with eager attention. The held-out text
(heldout.txt, exactly what `extract_text.py --heldout` prints) is tokenized without special tokens and cut
into consecutive chunks of WINDOW-1 tokens (the last one shorter); each window is <|begin_of_text|> + chunk,
scored independently; its NLL is the sum of -ln P(token | BOS and the preceding tokens of its chunk) over
the chunk's tokens (the BOS itself is not scored). Perplexity = exp(sum NLL / sum tokens), over all windows
and over the first TEST_WINDOWS (what the test scores). The unigram baseline is the same tokens' perplexity
under add-one-smoothed token frequencies of the training stream (vocabulary 4096).
"""
import argparse
import copy
import hashlib
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F
import tokenizers
import transformers
from tokenizers import Tokenizer
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

SEQ = 512
BATCH = 32
WINDOW = 256
TEST_WINDOWS = 12
SYSTEM_PROMPT = "あなたは誠実で優秀な日本人のアシスタントです。"
CONFIG = dict(hidden_size=256, intermediate_size=640, num_hidden_layers=4, num_attention_heads=8,
              num_key_value_heads=2, head_dim=32, max_position_embeddings=1024, rms_norm_eps=1e-5,
              tie_word_embeddings=True, hidden_act="silu", attention_bias=False, mlp_bias=False,
              initializer_range=0.02,
              rope_parameters=dict(rope_type="llama3", rope_theta=500000.0, factor=8.0, low_freq_factor=1.0,
                                   high_freq_factor=4.0, original_max_position_embeddings=128))
# (epochs over the training stream, peak learning rate)
VARIANTS = [(12, 3e-3), (24, 3e-3), (40, 2e-3)]
PROMPTS = ["名前\ncp - ", "ファイルを", "このコマンドは", "東京タワーは"]
CHAT_PROMPT = "ls とは何ですか？"


def page_hash(page):
    key = page.split("/", 1)[1]
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 50


def chat_text(user, assistant, system=None):
    text = "<|begin_of_text|>"
    if system:
        text += f"<|start_header_id|>system<|end_header_id|>\n\n{system.strip()}<|eot_id|>"
    text += f"<|start_header_id|>user<|end_header_id|>\n\n{user.strip()}<|eot_id|>"
    return text + f"<|start_header_id|>assistant<|end_header_id|>\n\n{assistant.strip()}<|eot_id|>"


def chat_prompt(user):
    return f"<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"


QUESTIONS = ["{} とは何ですか？", "{} について教えてください。", "{} は何をするものですか？", "{} の説明をしてください。"]


def chat_sample(doc, rng):
    """A question about the page's subject and an answer from its NAME line and description, or None."""
    lines = doc["text"].split("\n")
    if len(lines) < 2 or lines[0] != "名前" or " - " not in lines[1]:
        return None
    name, summary = lines[1].split(" - ", 1)
    name = name.split(",")[0].strip()
    if not name or not summary.strip():
        return None
    answer = f"{name} は「{summary.strip()}」ものです。"
    if "説明" in lines:
        start = lines.index("説明") + 1
        body = []
        for line in lines[start:]:
            if not line:
                if body:
                    break
                continue
            body.append(line)
        desc = "".join(body)[:240]
        if desc:
            answer += "\n\n" + desc
    return chat_text(rng.choice(QUESTIONS).format(name), answer, SYSTEM_PROMPT if rng.random() < 0.5 else None)


def load_stream(data_dir, tok, seed):
    with open(os.path.join(data_dir, "train.jsonl"), encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    val = [d for d in docs if d["page"].startswith("ja/") and page_hash(d["page"]) == 1]
    train = [d for d in docs if not (d["page"].startswith("ja/") and page_hash(d["page"]) == 1)]
    rng = random.Random(seed)
    chats = [c for c in (chat_sample(d, rng) for d in train if d["page"].startswith("ja/")) if c]
    bos, eot = tok.token_to_id("<|begin_of_text|>"), tok.token_to_id("<|end_of_text|>")

    def stream(texts, specials):
        enc = tok.encode_batch(texts, add_special_tokens=False)
        seqs = [e.ids if specials else [bos] + e.ids + [eot] for e in enc]
        return seqs

    seqs = stream([d["text"] for d in train], False) + stream(chats, True)
    rng.shuffle(seqs)
    train_ids = torch.tensor([i for s in seqs for i in s], dtype=torch.long)
    val_ids = torch.tensor([i for s in stream([d["text"] for d in val], False) for i in s], dtype=torch.long)
    info = dict(train_pages=len(train), chat_samples=len(chats), val_pages=len(val), train_tokens=len(train_ids),
                val_tokens=len(val_ids), example_chat=chats[0] if chats else None)
    return train_ids, val_ids, info


def batch_at(stream, offsets, bos, seq):
    rows = [torch.cat([torch.tensor([bos]), stream[o:o + seq - 1]]) for o in offsets]
    return torch.stack(rows)


def lm_loss(model, x):
    logits = model(input_ids=x).logits
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))


@torch.no_grad()
def evaluate(model, val, bos, seq, device, max_batches=8):
    model.eval()
    n = (len(val) - 1) // (seq - 1)
    offsets = [k * (seq - 1) for k in range(n)]
    losses = []
    for b in range(0, min(len(offsets), max_batches * BATCH), BATCH):
        x = batch_at(val, offsets[b:b + BATCH], bos, seq).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            losses.append(lm_loss(model, x).item())
    model.train()
    return sum(losses) / len(losses)


def train_variant(cfg, train, val, bos, epochs, peak_lr, deadline, device, seq, batch, log, max_steps=None):
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(device)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=0.1), dict(params=no_decay, weight_decay=0.0)],
                            lr=peak_lr, betas=(0.9, 0.95), eps=1e-8, fused=device.type == "cuda")
    steps = max(1, int(epochs * len(train) / (batch * (seq - 1))))
    if max_steps:
        steps = min(steps, max_steps)
    warmup = max(1, steps // 20)
    eval_every = max(1, steps // 20)
    gen = torch.Generator().manual_seed(1)
    best = (float("inf"), None, 0)
    t0 = time.time()
    step = 0
    for step in range(1, steps + 1):
        lr = peak_lr * (step / warmup if step <= warmup else
                        0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        offsets = torch.randint(0, len(train) - seq, (batch,), generator=gen).tolist()
        x = batch_at(train, offsets, bos, seq).to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = lm_loss(model, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % eval_every == 0 or step == steps:
            v = evaluate(model, val, bos, seq, device)
            log(f"  step {step}/{steps} lr {lr:.2e} train loss {loss.item():.4f} val loss {v:.4f} ({time.time() - t0:.0f} s)")
            if v < best[0]:
                best = (v, {k: t.detach().to("cpu", copy=True) for k, t in model.state_dict().items()}, step)
        if time.time() > deadline:
            log(f"  out of time at step {step}/{steps}")
            break
    return dict(val_loss=best[0], state=best[1], best_step=best[2], steps_run=step, steps_planned=steps,
                final_train_loss=loss.item(), seconds=time.time() - t0, epochs=epochs, peak_lr=peak_lr)


@torch.no_grad()
def reference(model_dir, data_dir, train_ids, vocab, log):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    bos = tok.token_to_id("<|begin_of_text|>")
    model = LlamaForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with open(os.path.join(data_dir, "heldout.txt"), "rb") as f:
        raw = f.read()
    with open(os.path.join(data_dir, "heldout.jsonl"), encoding="utf-8") as f:
        pages = [json.loads(line)["page"] for line in f]
    ids = tok.encode(raw.decode("utf-8"), add_special_tokens=False).ids
    counts = torch.bincount(train_ids, minlength=vocab).double()
    uni_logp = torch.log((counts + 1) / (counts.sum() + vocab))
    windows = []
    for start in range(0, len(ids), WINDOW - 1):
        chunk = ids[start:start + WINDOW - 1]
        x = torch.tensor([[bos] + chunk])
        logp = torch.log_softmax(model(input_ids=x).logits[0].double(), dim=-1)
        nll = -sum(logp[i, t].item() for i, t in enumerate(chunk))
        uni = -sum(uni_logp[t].item() for t in chunk)
        windows.append(dict(start=start, tokens=len(chunk), nll=nll, unigram_nll=uni))

    def ppl(ws, key):
        return math.exp(sum(w[key] for w in ws) / sum(w["tokens"] for w in ws))

    test = windows[:TEST_WINDOWS]
    result = dict(
        made_by=f"scripts/demo/train.py; torch {torch.__version__}, transformers {transformers.__version__}, "
                f"tokenizers {tokenizers.__version__}; float32 eager attention on the saved bf16 weights",
        heldout=dict(pages=pages, sha256=hashlib.sha256(raw).hexdigest(), bytes=len(raw), tokens=len(ids),
                     first_ids=ids[:32],
                     rule="extract_text.py --heldout: Japanese pages with int(sha1('manN/name.N'), 16) % 50 == 0"),
        windowing=dict(window=WINDOW, rule=f"<|begin_of_text|> + consecutive chunks of {WINDOW - 1} held-out tokens "
                       "(last one shorter), each scored independently; the BOS is not scored"),
        perplexity=ppl(windows, "nll"), unigram_perplexity=ppl(windows, "unigram_nll"),
        test_windows=TEST_WINDOWS, test_tokens=sum(w["tokens"] for w in test),
        test_perplexity=ppl(test, "nll"), test_unigram_perplexity=ppl(test, "unigram_nll"),
        windows=windows)
    log(f"held-out: {len(ids)} tokens in {len(windows)} windows; perplexity {result['perplexity']:.4f}, "
        f"unigram {result['unigram_perplexity']:.2f}; first {TEST_WINDOWS} windows: {result['test_perplexity']:.4f} "
        f"(unigram {result['test_unigram_perplexity']:.2f})")

    gen_cfg = GenerationConfig.from_pretrained(model_dir)
    samples = []
    for prompt in PROMPTS + [None]:
        text = chat_prompt(CHAT_PROMPT) if prompt is None else prompt
        p = tok.encode(text, add_special_tokens=prompt is not None).ids
        # An explicit all-ones attention mask and a pad id that is not BOS: with pad_token_id == BOS,
        # generate() would infer a mask that hides the BOS.
        x = torch.tensor([p])
        out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=48, do_sample=False,
                             output_scores=True, return_dict_in_generate=True, eos_token_id=gen_cfg.eos_token_id,
                             pad_token_id=tok.token_to_id("<|finetune_right_pad_id|>"))
        new = out.sequences[0, len(p):].tolist()
        margins = [(lambda t: (t[0] - t[1]).item())(torch.topk(s[0].float(), 2).values) for s in out.scores]
        sample = dict(prompt=prompt, messages=None if prompt is not None else [dict(role="user", content=CHAT_PROMPT)],
                      prompt_tokens=p, new_tokens=new, margins=margins, text=tok.decode(new, skip_special_tokens=True))
        samples.append(sample)
        log(f"greedy {text!r} → {sample['text']!r}")
    result["greedy"] = samples
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--budget-s", type=float, default=330.0, help="wall-clock seconds for all training variants")
    ap.add_argument("--log", help="also write the log to this file")
    ap.add_argument("--reference-only", action="store_true",
                    help="no training: recompute reference.json for the checkpoint in --out")
    ap.add_argument("--tiny", action="store_true", help="CPU smoke test: few steps, short sequences")
    a = ap.parse_args()
    logs = []

    def log(msg):
        print(msg, flush=True)
        logs.append(msg)

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        log(f"device {torch.cuda.get_device_name()}")
    tok = Tokenizer.from_file(os.path.join(a.tokenizer, "tokenizer.json"))
    vocab = tok.get_vocab_size()
    bos = tok.token_to_id("<|begin_of_text|>")
    eos_ids = [tok.token_to_id(t) for t in ("<|end_of_text|>", "<|eom_id|>", "<|eot_id|>")]
    train, val, info = load_stream(a.data, tok, seed=0)
    log(f"data: {json.dumps({k: v for k, v in info.items() if k != 'example_chat'})}")
    cfg = LlamaConfig(vocab_size=vocab, bos_token_id=bos, eos_token_id=eos_ids, **CONFIG)
    seq, batch, variants, max_steps = SEQ, BATCH, VARIANTS, None
    if a.tiny:
        seq, batch, variants, max_steps = 64, 4, [(1, 3e-3)], 6
    if a.reference_only:
        # Recomputes reference.json for the checkpoint already in --out, keeping its "training" record.
        with open(os.path.join(a.out, "reference.json"), encoding="utf-8") as f:
            training = json.load(f)["training"]
        ref = reference(a.out, a.data, train, vocab, log)
        ref["training"] = training
        with open(os.path.join(a.out, "reference.json"), "w", encoding="utf-8") as f:
            json.dump(ref, f, ensure_ascii=False, indent=1)
            f.write("\n")
        return
    t_start = time.time()
    results = []
    for epochs, lr in variants:
        remaining = a.budget_s - (time.time() - t_start)
        if results and remaining < 0.5 * results[-1]["seconds"] * epochs / results[-1]["epochs"]:
            log(f"variant epochs={epochs} lr={lr}: skipped, {remaining:.0f} s left")
            continue
        log(f"variant epochs={epochs} lr={lr}")
        r = train_variant(cfg, train, val, bos, epochs, lr, t_start + a.budget_s, device, seq, batch, log, max_steps)
        log(f"variant epochs={epochs} lr={lr}: best val loss {r['val_loss']:.4f} at step {r['best_step']}/{r['steps_planned']}, "
            f"{r['seconds']:.0f} s")
        results.append(r)
    best = min(results, key=lambda r: r["val_loss"])
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(best["state"])
    model = model.to(torch.bfloat16)
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out)
    GenerationConfig(bos_token_id=bos, eos_token_id=eos_ids, do_sample=True, temperature=0.6, top_p=0.9).save_pretrained(a.out)
    if os.path.abspath(a.tokenizer) != os.path.abspath(a.out):
        for f in ("tokenizer.json", "tokenizer_config.json"):
            with open(os.path.join(a.tokenizer, f), "rb") as src, open(os.path.join(a.out, f), "wb") as dst:
                dst.write(src.read())
    n_params = sum(p.numel() for p in model.parameters())
    ref = reference(a.out, a.data, train, vocab, log)
    ref["training"] = dict(
        device=torch.cuda.get_device_name() if device.type == "cuda" else "cpu", params=n_params, seq=seq, batch=batch,
        data={k: v for k, v in info.items() if k != "example_chat"},
        variants=[{k: v for k, v in r.items() if k != "state"} for r in results],
        chosen=dict(epochs=best["epochs"], peak_lr=best["peak_lr"], step=best["best_step"], val_loss=best["val_loss"]),
        total_seconds=time.time() - t_start)
    with open(os.path.join(a.out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if a.log:
        with open(a.log, "w", encoding="utf-8") as f:
            f.write("\n".join(logs) + "\n")
    log(f"saved {a.out}: {n_params} parameters; example chat sample: {info['example_chat']!r}")


main()
