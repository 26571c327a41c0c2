#!/usr/bin/env python3
"""Reference vectors for the metrics that need libraries only the GPU machine has.

Writes one JSON document to stdout (saved as fixtures/eval/metrics/bleu-vectors.json):
  - sacrebleu corpus BLEU (13a tokenizer, smooth 'exp', the defaults the JP harness relied on) with
    per-line 13a tokenisations, n-gram counts/totals and lengths, for English and for Japanese text
    that is already word-segmented (what nagisa would hand to sacrebleu) as well as raw Japanese;
  - pass@k exactly as bigcode-evaluation-harness computes it (numpy: 1 - prod(1 - k/arange(n-c+1, n+1)));
  - rouge_score's BootstrapAggregator mid (numpy's seeded resampling, mean, percentile), as the JP harness's XL-Sum;
  - numpy argmax on tied/NaN/-inf log-likelihood lists (lm-eval's `acc` tie rule);
  - optional sections when the library happens to be importable (nagisa segmentation, rouge_score
    ROUGE-2, lm-eval's exact_match); a missing library is recorded as null, never faked.

Usage (GPU machine, which has sacrebleu + numpy): python3 scripts/eval/make_bleu_vectors.py > bleu-vectors.json
"""
import json
import platform
import sys

import numpy as np
import sacrebleu

# (name, hypotheses, references): each corpus is scored as one corpus_bleu call with one reference stream.
CORPORA = [
    ("en-basic", ["The cat sat on the mat.", "A quick brown fox jumps over the lazy dog."],
     ["The cat is sitting on the mat.", "The quick brown fox jumped over the lazy dog."]),
    ("en-numbers-punct", ["It costs $3.50, or 1,000 yen (approx.) in 2020-2021.", "Hello, world!", "e.g. U.S.A. vs. UK"],
     ["It costs 3.50 dollars, i.e. 1,000 yen in 2020 - 2021.", "Hello world !", "e.g. the U.S.A. versus the UK"]),
    ("en-entities-skipped", ["Tom &amp; Jerry said &quot;hi&quot; &lt;b&gt;", "<skipped> well-\nknown line\nbreak"],
     ["Tom & Jerry said \"hi\" <b>", "well-known line break"]),
    ("en-brevity", ["the the the"], ["the cat sat on the mat with the hat"]),
    ("en-too-short", ["hi there"], ["hi there"]),
    ("en-no-4gram", ["a b c d e", "x y z"], ["a b c x e", "x y q"]),
    ("en-exact", ["Identical sentence here , friends .", "Another one ."], ["Identical sentence here , friends .", "Another one ."]),
    ("en-empty-hyp", ["", "The dog barked loudly at night."], ["Something was said.", "The dog barked loudly at night."]),
    ("en-empty-all", [""], [""]),
    ("en-unicode-space", ["caf\u00e9 cr\u00e8me\u3000br\u00fbl\u00e9e\u00a0tonight  \u0085", "tabs\tand\u2003em  spaces\u2028x"],
     ["caf\u00e9 cr\u00e8me br\u00fbl\u00e9e tonight", "tabs and em spaces x"]),
    ("en-emoji-fullwidth", ["I love \U0001F600 \uff21\uff22\uff23 stuff!!", "\u00bfQu\u00e9? \u00a1S\u00ed!"],
     ["I love \U0001F600 ABC stuff !", "\u00bfQu\u00e9 ? \u00a1S\u00ed !"]),
    ("en-dash-digit", ["pages 10-20 and 3-4-5 a-b", "1.5.2 v2.0, 3,4"], ["pages 10 - 20 and 3 - 4 - 5 a-b", "1.5.2 v2.0 , 3,4"]),
    ("ja-segmented",
     ["東京 に 行き まし た 。", "今日 は 良い 天気 です ね 。", "Python で 簡単 に 使える ツール です"],
     ["東京 へ 行き まし た 。", "今日 は とても 良い 天気 です 。", "Python で 簡単 に 使える ツール です"]),
    ("ja-raw", ["東京に行きました。", "今日は、良い天気ですね！", "価格は1,000円（税込）です。"],
     ["東京へ行きました。", "今日は、とても良い天気です。", "価格は1,000円（税込）です。"]),
    ("ja-mixed-emoji", ["猫 が 好き 😺 です 。 ＡＢＣ １２３", "ｶﾀｶﾅ と カタカナ"], ["猫 が 大好き 😺 です 。 ABC 123", "カタカナ と カタカナ"]),
]

TOKENIZE_LINES = [
    "Hello, world!", "3.50 1,000 2020-2021 a-b", "U.S.A. e.g. x.y", "end.", ".start", ",a,b,", "  lead and trail  ",
    "&amp;&quot;&lt;&gt;&apos;", "<skipped>x", "a-\nb\nc", "{curly} [square] `tick` ~tilde^ |pipe|", "50% off #1 @home *star*",
    "東京に行きました。", "価格は1,000円（税込）です。", "😀.😀,😀", "caf\u00e9.", "\u3000全角\u3000スペース\u3000", "9.a", "a.9", "9-a",
    "x\u00a0y\u0085z\u2028w", "\u200bzero\u200bwidth", "", "   ",
]

PASS_AT_K = [
    (10, 0, 1), (10, 1, 1), (10, 3, 1), (10, 10, 1), (10, 9, 1), (10, 5, 5), (10, 9, 2), (10, 2, 10), (10, 0, 10),
    (1, 0, 1), (1, 1, 1), (5, 2, 3), (20, 7, 5), (100, 1, 1), (100, 13, 10), (200, 37, 100), (200, 1, 100), (200, 0, 100),
    (1000, 3, 10), (7, 4, 4), (3, 1, 2),
]


def tokenizer_13a():
    try:
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a  # sacrebleu >= 1.5
    except ImportError:  # pragma: no cover - very old layouts
        from sacrebleu.tokenizers import TOKENIZERS

        return TOKENIZERS["13a"]()
    return Tokenizer13a()


def bleu_section():
    tok = tokenizer_13a()
    corpora = []
    for name, hyps, refs in CORPORA:
        score = sacrebleu.corpus_bleu(hyps, [refs])
        corpora.append({
            "name": name, "hyps": hyps, "refs": refs, "score": score.score,
            "counts": list(score.counts), "totals": list(score.totals),
            "sys_len": score.sys_len, "ref_len": score.ref_len,
            "hyps_13a": [tok(h.rstrip()) for h in hyps], "refs_13a": [tok(r.rstrip()) for r in refs],
        })
    return {"corpora": corpora, "tokenize_13a": [{"line": s, "tokens": tok(s)} for s in TOKENIZE_LINES]}


def pass_at_k(n, c, k):
    # bigcode_eval/tasks/custom_metrics/code_eval.py estimate_pass_at_k.estimator, verbatim arithmetic.
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


ARGMAX = [
    [-1.5, -0.5, -0.5], [-2.0, -2.0], [0.0], [-1e-300, -0.0, 0.0], [-float("inf"), -float("inf")],
    [-3.0, float("nan"), -1.0], [float("nan"), float("nan")], [-7.25, -7.25, -7.0, -7.0], [-1e9, -1e9 + 1e-7],
]


def argmax_section():
    # lm-eval's acc: np.argmax(lls) == gold; numpy returns the first maximum and treats NaN as the maximum.
    return [{"logprobs": [repr(x) for x in xs], "argmax": int(np.argmax(np.array(xs)))} for xs in ARGMAX]


def bootstrap_section():
    # rouge_score scoring.BootstrapAggregator._bootstrap_resample (n_samples=1000, confidence 0.95), re-typed because
    # rouge_score is not installable; the randomness, means and percentile are numpy's own. The JP harness calls it
    # right after simple_evaluate's np.random.seed(1234).
    import random

    def mid_fmeasure(rows, seed):
        np.random.seed(seed)
        matrix = np.vstack(tuple(rows))
        n_samples = 1000
        sample_mean = np.zeros((n_samples, matrix.shape[1]))
        for i in range(n_samples):
            sample_idx = np.random.choice(np.arange(matrix.shape[0]), size=matrix.shape[0])
            sample_mean[i, :] = np.mean(matrix[sample_idx, :], axis=0)
        q = 100 * np.array([0.025, 0.5, 0.975])
        return float(np.percentile(sample_mean, q, axis=0)[1, 2]) * 100

    draws = {}
    for n in (1, 2, 5, 766, 1000, 70000):
        np.random.seed(1234)
        draws[str(n)] = [int(x) for x in np.random.choice(np.arange(n), size=25)]
    rng = random.Random(7)
    cases = []
    for n in (1, 3, 37, 766):
        rows = []
        for _ in range(n):
            p, r = (0.0, 0.0) if rng.random() < 0.15 else (rng.random() * 0.6, rng.random() * 0.6)
            f = 2 * p * r / (p + r) if p + r > 0 else 0.0
            rows.append((p, r, f))
        cases.append({"fmeasures": [row[2] for row in rows], "seed": 1234, "mid_fmeasure_x100": mid_fmeasure(rows, 1234),
                      "mean_x100": float(np.mean([row[2] for row in rows])) * 100})
    return {"choice_draws_seed_1234": draws, "cases": cases}


def optional_nagisa():
    try:
        import nagisa
    except Exception as e:  # noqa: BLE001 - record why, do not fake
        return {"available": False, "error": repr(e)}
    lines = [h for _, hs, rs in CORPORA if _.startswith("ja-raw") for h in hs + rs]
    return {"available": True, "version": getattr(nagisa, "__version__", None),
            "segmented": [{"text": t, "words": nagisa.tagging(t.strip()).words} for t in lines]}


def optional_rouge():
    try:
        from rouge_score import rouge_scorer
    except Exception as e:  # noqa: BLE001
        return {"available": False, "error": repr(e)}

    class Space:
        def tokenize(self, text):
            return text.split()

    scorer = rouge_scorer.RougeScorer(["rouge2"], tokenizer=Space())
    cases = [("a b c d", "a b c e"), ("a a a a", "a a"), ("", "a b"), ("x y", "x y"), ("東京 に 行く", "東京 に 行っ た")]
    out = []
    for ref, pred in cases:
        s = scorer.score(ref, pred)["rouge2"]
        out.append({"ref": ref, "pred": pred, "precision": s.precision, "recall": s.recall, "fmeasure": s.fmeasure})
    return {"available": True, "cases": out}


def main():
    doc = {
        "generator": "scripts/eval/make_bleu_vectors.py",
        "python": platform.python_version(),
        "sacrebleu": sacrebleu.__version__,
        "numpy": np.__version__,
        "note": "JP harness pinned sacrebleu==1.5.0; 13a tokenisation and corpus BLEU (exp smoothing) are the same algorithm in 2.x",
        "bleu": bleu_section(),
        "pass_at_k": [{"n": n, "c": c, "k": k, "value": pass_at_k(n, c, k)} for n, c, k in PASS_AT_K],
        "argmax": argmax_section(),
        "rouge_bootstrap": bootstrap_section(),
        "nagisa": optional_nagisa(),
        "rouge_score": optional_rouge(),
    }
    json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
