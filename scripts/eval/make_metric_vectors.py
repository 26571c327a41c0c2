#!/usr/bin/env python3
"""Reference vectors for src/eval/metrics from the real Python code paths.

Writes into fixtures/eval/metrics/ (or the directory given with --out):
  char-f1-vectors.json     fuzzywuzzy 0.18 fuzz.token_sort_ratio (llm-jp-eval's char_f1), with the processed strings.
                           Needs Debian's /usr/bin/python3 (python3-fuzzywuzzy + python3-levenshtein).
  python-re-vectors.json   Python `re` behaviour the TS regex translator must reproduce: re.sub(p, "", s),
                           re.search(p, s) groups and re.findall(p, s), for the patterns lm-eval/the JP harness use
                           plus adversarial ones.
  squad-v2-vectors.json    SQuAD 2.0 `exact` (official script's normalize_answer, as HF evaluate's squad_v2), re-typed.
  exact-match-vectors.json HF evaluate's exact_match._compute (the code lm-eval v0.4.2 calls), re-typed here because
                           `evaluate` is not installable; it runs the real `re`, `str.lower`, `string.punctuation`
                           and, when importable, numpy's arrays (np.char.lower/translate, trailing-NUL stripping).

The Levenshtein backend matters: llm-jp-eval pinned python-Levenshtein 0.21.1 (rapidfuzz), whose ratio is
`1.0 - dist/lensum`; Debian ships 0.12.2, whose ratio is `(lensum - dist)/lensum`. Both are recorded
(`library` = what fuzzywuzzy returned here, `expected_0_21` = the same computation with 0.21.1's formula), and
cases where `round()` sees a different side of .5 are searched for and kept.

Usage: /usr/bin/python3 scripts/eval/make_metric_vectors.py [--out DIR] [--only char_f1,python_re,exact_match,squad]
"""
import argparse
import json
import os
import platform
import random
import re
import statistics
import string
import sys

CHAR_F1_CASES = [
    ("東京", "東京"), ("東京都", "東京"), ("", ""), ("", "東京"), ("東京", ""), ("。、「」", ""), ("！？", "…"),
    ("ダイ・ハード", "ダイハード"), ("ダイ・ハード", "ダイ ハード"), ("YES", "yes"), ("NO", "YES"),
    ("モモ", "もも"), ("ﾓﾓ", "モモ"), ("ＡＢＣ", "abc"), ("ＡＢＣ", "ａｂｃ"), ("１２３", "123"),
    ("café", "cafe"), ("Café au lait", "cafe au lait"), ("naïve résumé", "naive resume"), ("Ærø", "aero"), ("ß", "ss"),
    ("Straße", "strasse"), ("İstanbul", "istanbul"), ("ΟΔΟΣ", "οδος"), ("ΣΊΣΥΦΟΣ", "σίσυφος"),
    ("😀東京😀", "東京"), ("😀", "😀"), ("😀", ""), ("👨‍👩‍👧", "👨"), ("𠮷野家", "吉野家"), ("𠮷 ｱ", "ｱ 𠮷"), ("ｱ 𠮷 a", "a 𠮷 ｱ"),
    ("b a", "a b"), ("徳川 家康", "家康 徳川"), ("徳川家康", "家康 徳川"), ("  東京  タワー ", "東京タワー"),
    ("東京\tタワー\n", "東京 タワー"), ("東京\u3000タワー", "東京 タワー"), ("A_B", "a b"), ("a_b", "a_b"), ("x-y", "x y"),
    ("1,000円", "1000円"), ("3.14", "3 14"), ("Ⅻ", "12"), ("①②", "12"), ("½", "1/2"), ("²", "2"), ("٣", "3"),
    ("日本国憲法第九条", "憲法九条"), ("織田信長,豊臣秀吉", "豊臣秀吉,織田信長"), ("アメリカ合衆国", "アメリカ"),
    ("ａ", "a"), ("\u00a0東京\u00a0", "東京"), ("\x85東京", "東京"), ("東京\u200b", "東京"), ("東\u0301京", "東京"),
    ("abc", "abd"), ("a" * 7, "a"), ("ab", "ba"), ("the cat", "a cat"), ("x" * 100, "x" * 99 + "y"),
    # Half-way cases for Python's round(): lensum 16 with LCS 1 → 12.5 → 12; lensum 8 with LCS 1 → 25.
    ("a", "abcdefghijklmno"), ("b", "abcdefghijklmno"), ("a", "abcdefg"), ("ab", "abcdefghijklmn"), ("abc", "abcdefghijklm"),
    ("z", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789あいうえおかきくけこさしすせそたち"),
]

# Pieces for the random sweep: Japanese scripts, full-width forms, Latin-1, astral letters/emoji, punctuation, spaces.
ALPHABET = list("あいうかきくアイウカキク東京都大阪府一二三ー々〆ａｂＡＢ１２ｱｲabcABC12_") + [
    "é", "Ü", "ß", "\u00a0", "😀", "𠮷", "。", "、", "・", "「", "」", "（", "）", "!", "?", ",", ".", "-", " ", " ", "\u3000", "\t",
]

PYTHON_RE_CASES = [
    # GSM8K exact_match regexes_to_ignore and filters (lm-eval v0.4.2), MGSM answer regex (JP harness), BBH filter.
    (",", ["1,234,567", "", ",,,"]),
    ("\\$", ["$5", "costs $3.50$", "no dollar"]),
    ("(?s).*#### ", ["The answer:\n#### 42", "#### 1\n#### 2", "line1\nline2 #### 7\nmore #### 8", "no marker"]),
    (".*#### ", ["a\n#### 42", "x #### 1"]),
    ("\\.$", ["42.", "42.\n", "42.\n\n", "4.2", "end.\r", "a.b."]),
    ("$", ["abc", "abc\n", ""]),
    ("^\\s+|\\s+$", ["  padded\u3000", "\u0085x\u001c", "\ufeffbom\ufeff", "\u00a0nbsp\u00a0"]),
    ("#### (\\-?[0-9\\.\\,]+)", ["so #### -1,234.5 done", "#### 12\n#### 13", "####12"]),
    ("(-?[$0-9.,]{2,})|(-?[0-9]+)", ["I have $12.50 and 3 apples", "x 7 y", "-5 and --6"]),
    ("(\\-?[0-9\\.\\,]+)", ["答えは1,000個です。次は2.5", "-3と４５", "なし"]),
    ("(?<=the answer is )(.*)(?=.)", ["So the answer is (B).", "the answer is True.\nQ", "The answer is no"]),
    ("\\d+", ["abc １２３ ٣ 45", "Ⅻ½"]),
    ("\\w+", ["東京_tower ok！ é ß 𠮷😀", "a\u0301b"]),
    ("\\W", ["a-b c。d😀e", "\u00a0x"]),
    ("\\s+", ["a\u3000b\u00a0c\u2028d\u001ce\ufefff\u200bg", "x\u0085y"]),
    ("\\bcat\\b", ["cat concat cat_ caté 猫cat cat", "cats cat."]),
    ("\\Bcat", ["concat cat", "猫cat"]),
    ("(?i)straße", ["STRASSE Straße STRAßE", "İ i"]),
    ("(?m)^x", ["x\nx\r\nx", "ax\nx"]),
    ("(?m)x$", ["x\nx\r\nx", "ax\nx"]),
    ("a.c", ["abc a\nc a\rc a\u2028c a😀c"]),
    ("(?s)a.c", ["a\nc a\rc"]),
    ("[]a]", ["]a[b"]),
    ("[^]a]", ["]a[b"]),
    ("x{2}", ["xxxxx"]),
    ("x{,2}y", ["xxxy y"]),
    ("{curly}", ["a{curly}b"]),
    ("a{,}", ["aaa b"]),
    ("\\-\\#\\ \\'\\,", ["-# ',x"]),
    ("(?P<num>\\d)(?P=num)", ["1123 44"]),
    ("\\A\\d|\\d\\Z", ["12\n34", "5"]),
    ("\\x41\\u3042\\U0001F600\\101", ["Aあ😀A"]),
    ("[\\w.]+@", ["名前.first@example"]),
    ("x*", ["abxd"]),
    ("", ["ab"]),
    ("(?:a|b)+?c", ["aabc bc"]),
    ("[\\s]+", ["a \u3000 b"]),
]

EXACT_MATCH_CASES = [
    # (pred, ref, options) — options are lm-eval's exact_match kwargs.
    ("The answer is 1,234.", "1234", {"regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"], "ignore_case": True}),
    ("Natalia sold 48/2 = 24 clips.\n#### 72", "#### 72", {"regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"], "ignore_case": True}),
    ("#### $1,000.", "1000", {"regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"], "ignore_case": True}),
    ("#### 5.\n", "5", {"regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"], "ignore_case": True}),
    ("#### 5.\n\n", "5", {"regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"], "ignore_case": True}),
    ("[invalid]", "42", {"regexes_to_ignore": [",", "\\$", "(?s).*#### ", "\\.$"], "ignore_case": True}),
    ("Paris", "paris", {"ignore_case": True, "ignore_punctuation": True}),
    ("U.S.A.", "usa", {"ignore_case": True, "ignore_punctuation": True}),
    ("The Beatles!", "the beatles", {"ignore_case": True, "ignore_punctuation": True}),
    ("東京。", "東京", {"ignore_case": True, "ignore_punctuation": True}),
    ("「東京」", "東京", {"ignore_punctuation": True}),
    ("ＡＢＣ", "abc", {"ignore_case": True}),
    ("İstanbul", "i̇stanbul", {"ignore_case": True}),
    ("ΟΔΟΣ", "οδος", {"ignore_case": True}),
    ("Straße", "STRASSE", {"ignore_case": True}),
    ("(B)", "(B)", {}),
    ("(b)", "(B)", {}),
    (" True", "True", {}),
    ("a\x00", "a", {}),
    ("a\x00", "a", {"regexes_to_ignore": []}),
    ("a\x00", "a", {"regexes_to_ignore": [], "ignore_case": True}),
    ("a\x00b", "ab", {"regexes_to_ignore": ["b"]}),
    ("😀!", "😀", {"ignore_punctuation": True}),
    ("", "", {}),
    ("", " ", {"ignore_punctuation": True}),
    ("it's", "its", {"ignore_punctuation": True}),
    ("a_b-c", "abc", {"ignore_punctuation": True}),
]


def char_f1_section():
    from fuzzywuzzy import fuzz, utils
    import Levenshtein

    def lcs(a, b):
        row = [0] * (len(b) + 1)
        for ca in a:
            diag = 0
            for j, cb in enumerate(b, 1):
                above = row[j]
                row[j] = diag + 1 if ca == cb else max(above, row[j - 1])
                diag = above
        return row[len(b)]

    def expected_0_21(sa, sb):
        # fuzz.ratio's decorators (None → 0, equal → 100, empty → 0), then rapidfuzz's 1.0 - dist/lensum.
        if sa == sb:
            return 100
        if len(sa) == 0 or len(sb) == 0:
            return 0
        lensum = len(sa) + len(sb)
        dist = lensum - 2 * lcs(sa, sb)
        assert dist == lensum - round(Levenshtein.ratio(sa, sb) * lensum), (sa, sb)
        return int(round(100 * (1.0 - dist / lensum)))

    def entry(pred, gold):
        sp = fuzz._process_and_sort(pred, force_ascii=True, full_process=True)
        sg = fuzz._process_and_sort(gold, force_ascii=True, full_process=True)
        return {"pred": pred, "gold": gold, "processed_pred": sp, "processed_gold": sg,
                "library": fuzz.token_sort_ratio(pred, gold), "expected_0_21": expected_0_21(sp, sg)}

    cases = [entry(p, g) for p, g in CHAR_F1_CASES]
    rng = random.Random(20241230)
    sweep = []
    for _ in range(400):
        pred = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        gold = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 14)))
        sweep.append(entry(pred, gold))
    # Search for strings where 0.12's and 0.21's float formulas round to different integers.
    disagreements = []
    for lensum in range(2, 401):
        for lcs_len in range(1, lensum // 2 + 1):
            dist = lensum - 2 * lcs_len
            old = int(round(100 * ((lensum - dist) / lensum)))
            new = int(round(100 * (1.0 - dist / lensum)))
            if old != new and len(disagreements) < 6:
                la = lcs_len
                lb = lensum - la  # a = "a"*la, b = "a"*la + "b"*(lb-la): LCS = la
                if lb >= la:
                    disagreements.append(entry("a" * la, "a" * la + "b" * (lb - la)))
    # llm-jp-eval averages per-item char_f1 with statistics.mean (exact sum, one rounding).
    mean_rng = random.Random(5)
    mean_lists = [[0.1] * 10, [c["expected_0_21"] / 100 for c in sweep], [0.33, 0.67, 0.5], [0.01 * k for k in range(1, 101)],
                  [mean_rng.randint(0, 100) / 100 for _ in range(1119)], [1.0], [0.0, 0.0], [1e-300, 3e-300], [0.7] * 3]
    means = [{"values": xs, "statistics_mean": statistics.mean(xs)} for xs in mean_lists]
    return {
        "generator": "scripts/eval/make_metric_vectors.py",
        "python": platform.python_version(),
        "fuzzywuzzy": "0.18.0",
        "statistics_means": means,
        "levenshtein_backend": "python-Levenshtein (Debian) " + getattr(Levenshtein, "__version__", "0.12.2"),
        "note": "library = fuzz.token_sort_ratio here; expected_0_21 = same with python-Levenshtein 0.21.1's ratio formula (llm-jp-eval's pin)",
        "cases": cases, "sweep": sweep, "formula_disagreements": disagreements,
    }


def python_re_section():
    out = []
    for pattern, inputs in PYTHON_RE_CASES:
        rx = re.compile(pattern)
        for s in inputs:
            m = rx.search(s)
            out.append({
                "pattern": pattern, "input": s, "sub_empty": rx.sub("", s),
                "search": None if m is None else {"span": list(m.span()), "groups": [m.group(0), *m.groups()]},
                "findall": [list(x) if isinstance(x, tuple) else x for x in rx.findall(s)],
            })
    return {"generator": "scripts/eval/make_metric_vectors.py", "python": platform.python_version(), "cases": out}


def exact_match_section():
    try:
        import numpy as np
    except ImportError:
        np = None

    def compute(predictions, references, regexes_to_ignore=None, ignore_case=False, ignore_punctuation=False):
        # HF evaluate metrics/exact_match/exact_match.py _compute, step for step.
        arr = (lambda xs: np.array(xs)) if np else (lambda xs: [x.rstrip("\x00") for x in xs])
        if regexes_to_ignore is not None:
            for s in regexes_to_ignore:
                predictions = arr([re.sub(s, "", x) for x in predictions])
                references = arr([re.sub(s, "", x) for x in references])
        else:
            predictions = np.asarray(predictions) if np else arr(predictions)
            references = np.asarray(references) if np else arr(references)
        if ignore_case:
            predictions = np.char.lower(predictions) if np else [x.rstrip("\x00").lower() for x in predictions]
            references = np.char.lower(references) if np else [x.rstrip("\x00").lower() for x in references]
        if ignore_punctuation:
            table = string.punctuation.maketrans("", "", string.punctuation)
            predictions = np.char.translate(predictions, table=table) if np else [x.rstrip("\x00").translate(table) for x in predictions]
            references = np.char.translate(references, table=table) if np else [x.rstrip("\x00").translate(table) for x in references]
        if np is not None:
            return float(np.mean(predictions == references))
        return float(predictions == references)

    cases = [{"pred": p, "ref": r, "options": o, "exact_match": compute([p], [r], **o)} for p, r, o in EXACT_MATCH_CASES]
    return {"generator": "scripts/eval/make_metric_vectors.py", "python": platform.python_version(),
            "numpy": np.__version__ if np else None, "cases": cases}


SQUAD_CASES = [
    ("The Eiffel Tower", ["Eiffel Tower", "the eiffel tower"]), ("an apple a day", ["apple day"]), ("Theatre", ["theatre"]),
    ("unanswerable", []), ("", []), ("", ["", " "]), (" ", ["."]), ("a", ["the"]), ("U.S.", ["US"]), ("café", ["cafe"]),
    ("The  answer\tis\u3000 42.", ["answer is 42"]), ("the-the", ["-"]), ("théâtre the", ["théâtre"]), ("anthem", ["them"]),
    ("東京 the タワー", ["東京 タワー"]), ("1,000", ["1000"]), ("İ", ["i̇"]), ("Αn", ["αn"]), ("a_an", ["a an"]), ("a‐b", ["a b"]),
]


def squad_section():
    # Official SQuAD 2.0 evaluation script (as HF evaluate's squad_v2 compute_score), re-typed: evaluate is not installable.
    def normalize_answer(text):
        text = text.lower()
        exclude = set(string.punctuation)
        text = "".join(ch for ch in text if ch not in exclude)
        text = re.sub(re.compile(r"\b(a|an|the)\b", re.UNICODE), " ", text)
        return " ".join(text.split())

    cases = []
    for pred, answers in SQUAD_CASES:
        gold = [a for a in answers if normalize_answer(a)] or [""]
        cases.append({"pred": pred, "answers": answers, "normalized_pred": normalize_answer(pred),
                      "exact": max(int(normalize_answer(a) == normalize_answer(pred)) for a in gold)})
    return {"generator": "scripts/eval/make_metric_vectors.py", "python": platform.python_version(), "cases": cases}


SECTIONS = {
    "char_f1": ("char-f1-vectors.json", char_f1_section),
    "python_re": ("python-re-vectors.json", python_re_section),
    "exact_match": ("exact-match-vectors.json", exact_match_section),
    "squad": ("squad-v2-vectors.json", squad_section),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(here, "..", "..", "fixtures", "eval", "metrics"))
    parser.add_argument("--only", default=",".join(SECTIONS))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name in args.only.split(","):
        filename, make = SECTIONS[name]
        with open(os.path.join(args.out, filename), "w", encoding="utf-8") as f:
            json.dump(make(), f, ensure_ascii=False, indent=1)
            f.write("\n")
        print(f"wrote {filename}", file=sys.stderr)


if __name__ == "__main__":
    main()
