#!/usr/bin/env python3
"""Make adversarial tokenizer parity vectors with Hugging Face `tokenizers` as the reference.

Usage:
    python scripts/make_tokenizer_vectors.py TOKENIZER_JSON OUTPUT_JSON

Writes {"made_by": "tokenizers <version>", "vectors": [{"category", "text", "ids", "ids_with_bos",
"decoded"}]} where
    ids          = encode(text, add_special_tokens=False).ids
    ids_with_bos = encode(text, add_special_tokens=True).ids
    decoded      = decode(ids, skip_special_tokens=False)

The strings are built deterministically (no randomness), stress the Llama-3 pre-tokenizer regex
(whitespace lookahead, 1-3 digit groups, case-insensitive contractions, punctuation runs), byte-level
BPE on multi-byte scripts and emoji, and added/special-token splitting. Every string is valid Unicode
(no lone surrogates) so it survives JSON.
"""

import json
import sys

import tokenizers
from tokenizers import Tokenizer


def whitespace_cases():
    out = []
    kinds = {
        "space": " ",
        "tab": "\t",
        "lf": "\n",
        "crlf": "\r\n",
        "cr": "\r",
        "nbsp": "\u00a0",
        "ideographic": "\u3000",
        "line_sep": "\u2028",
        "para_sep": "\u2029",
        "nel": "\u0085",
        "vt": "\u000b",
        "ff": "\u000c",
        "em_space": "\u2003",
        "thin_space": "\u2009",
        "narrow_nbsp": "\u202f",
    }
    # Runs of each kind, alone and between / after words (the `\s+(?!\S)` lookahead splits the last
    # whitespace character off a run that is followed by a word).
    for name, ch in kinds.items():
        out.append(ch * 2)
        out.append("a" + ch * 3 + "b")
        out.append("word" + ch * 2)
    for ch in (" ", "\t", "\n", "\r\n"):
        for n in (1, 3, 7):
            out.append(ch * n)
        out.append(ch * 4 + "word")
    out += [
        "",
        "hello world  ",
        "hello   world",
        "  leading and trailing  ",
        "line1\nline2\n\nline3\n\n\n",
        "a\n\n\nb",
        "\n\n\n\n\n\n\n\n",
        "x \n y",
        "x  \n\n  y",
        "tab\tthen\t\tmore\t\t\t",
        "\t\n \t\n",
        "windows\r\nline\r\n\r\nends\r\n",
        "mixed \t\u00a0\u3000 space kinds x",
        " \u00a0 \u00a0 ",
        "a\u00a0b \u00a0c",
        "\u3000\u3000全角スペース\u3000",
        "sep\u2028line\u2029para",
        # Zero-width and format characters: not White_Space, not letters.
        "zero\u200bwidth\u200b space",
        "join\u200dme and\u200cnot",
        "\ufeffBOM at start",
        "mid\ufeffBOM",
        "word\u2060joiner",
        "soft\u00adhyphen",
        "mongolian\u180evowel sep",
        "ctrl\u001cfs\u001dgs\u001ers\u001fus",
        "nul\u0000byte and bell\u0007",
        "del\u007fchar",
        " " * 20 + "x",
        " " * 33,
        "\t" * 16,
        "\n" * 20,
        "a" + " " * 12 + "\n" + " " * 12 + "b",
    ]
    return out


def digit_cases():
    out = ["".join(str((i + 1) % 10) for i in range(n)) for n in range(1, 11)]
    out += [
        "0",
        "007",
        "1,234,567.89",
        "3.14159265358979",
        "-42",
        "+1-800-555-0199",
        "1e10 2E-5",
        "abc123def4567ghi",
        "x1y22z333w4444",
        "123abc",
        "v1.2.3-rc.10",
        "2024年12月31日",
        "99%の確率",
        "１２３４５",
        "ＡＢＣ１２３",
        "٠١٢٣٤٥٦٧٨٩",
        "۱۲۳۴",
        "०१२३४५",
        "๑๒๓",
        "x² + y³ = z¹⁰",
        "H₂O and CO₂",
        "½ ¼ ¾ ⅓",
        "Ⅻ ⅻ Ⅳ",
        "①②③ ⑳",
        "𝟎𝟏𝟐𝟑",
        "12\u00a034",
        "1 000 000",
        "0x1F600 0b1010 0o777",
    ]
    return out


def contraction_cases():
    out = []
    for c in ("s", "t", "re", "ve", "m", "ll", "d"):
        for form in (c, c.upper(), c.capitalize()):
            out.append(f"it'{form} here")
    out += [
        "I'M HERE",
        "don't DON'T Don't",
        "we'll WE'LL",
        "they're THEY'RE They'Re",
        "it’s the dog’s bone",
        "don’t won’t",
        "'s at start",
        "ends with '",
        "''s double",
        "it''s",
        "rock 'n' roll",
        "'tis 'twas",
        "o'clock O'Neil",
        "can't've y'all'd've",
        "'ſ long s",
        "it'ſ",
        "'S'LL'RE'VE'M'D'T",
        "x's 1's 's's",
        "l'été c'est",
        "`backtick's`",
        "'ll",
        " 're",
    ]
    return out


def punctuation_cases():
    return [
        "!!!",
        "?!?!",
        "...",
        "…",
        "Hello, world!",
        "wait... what?!",
        "a--b---c",
        "—em–en",
        "((()))",
        "[{<>}]",
        "@#$%^&*",
        "~`|\\/",
        "\"quoted\" 'single'",
        "«guillemets» „low“",
        "a.b.c",
        "end.\n",
        "end.\n\n\nnext",
        ".\r\n",
        " !!\n\n",
        "§¶†‡",
        "©®™",
        "¡Hola! ¿Qué?",
        "#include <stdio.h>",
        "=>->::",
        "***bold*** __under__",
        "____________",
        "-----\n=====",
    ]


def japanese_cases():
    return [
        "ひらがなだけのぶん",
        "カタカナダケノブン",
        "漢字文字列",
        "日本語の文章と漢字とカタカナ",
        "ｶﾀｶﾅ ﾊﾝｶｸ",
        "ｶﾞｷﾞｸﾞ",
        "「こんにちは」、世界。",
        "『二重かぎ括弧』",
        "中黒・長音ー",
        "ラーメン・ギョーザ",
        "第3章のGPT-4は",
        "iPhone15を買った",
        "東京タワーは1958年に完成した。",
        "Llama-3.1 Swallowは日本語に強いモデルです。",
        "（全角括弧）［角］｛波｝",
        "！？",
        "〜ですね〜",
        "ゝゞヽヾ々〆",
        "㍿㌔㌢",
        "ゐゑヰヱ",
        "が\u3099",
        "か\u3099き\u3099",
        "私は、AIです。I am AI.",
        "価格は¥1,000（税込）です",
        "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。",
        "\u3000字下げした段落。\n\u3000次の段落。",
    ]


def emoji_cases():
    return [
        "😀",
        "😀😀😀",
        "hi 😀 there",
        "👨\u200d👩\u200d👧",
        "👨\u200d👩\u200d👧\u200d👦 family",
        "🏳️\u200d🌈",
        "🇯🇵",
        "🇯🇵🇺🇸🇩🇪",
        "👍🏻👍🏼👍🏽👍🏾👍🏿",
        "👩🏽\u200d💻",
        "❤️ vs ❤",
        "☺︎ text style",
        "#️⃣ 1️⃣",
        "🧑\u200d🤝\u200d🧑",
        "emoji😀inside",
        "🫠🫡🪿",
        "🇦",
        "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
    ]


def combining_cases():
    return [
        "e\u0301",
        "caf\u00e9 vs cafe\u0301",
        "n\u0303o",
        "a\u0300\u0301\u0302\u0303",
        "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319",
        "\u0301 leading mark",
        " \u0301",
        "अ\u093cक",
        "x\u20dd",
        "ḱṷṓn",
    ]


def script_cases():
    return [
        "안녕하세요 세계",
        "한국어 문장입니다. 123개",
        "你好，世界！",
        "中文简体和繁體",
        "مرحبا بالعالم",
        "العربية ١٢٣ mixed",
        "नमस्ते दुनिया",
        "हिन्दी में लिखा गया",
        "สวัสดีชาวโลก",
        "ภาษาไทยไม่มีช่องว่าง",
        "Привет, мир!",
        "ЗАГЛАВНЫЕ и строчные",
        "Γειά σου Κόσμε",
        "שלום עולם",
        "עִבְרִית",
        "Tiếng Việt có dấu",
        "ქართული",
        "Հայերեն",
        "አማርኛ",
        "ᚠᚢᚦᚨᚱᚲ",
        "mixed English русский 日本語 한국어",
    ]


def case_cases():
    return [
        "İstanbul ıspanak",
        "İI ıi",
        "Straße STRASSE ẞ",
        "ǅemal ǈ ǋ",
        "ΣΊΣΥΦΟΣ σίσυφος",
        "ὈΔΥΣΣΕΎΣ",
        "ﬁ ﬂ ﬀ",
        "Ǆ ǆ",
        "K Kelvin Å Angstrom",
        "ΐ ΰ",
        "'S 'LL 'RE",
        "İ's",
        "Ꭰ Cherokee ꭰ",
    ]


def rare_cases():
    return [
        "\ufffd",
        "bad\ufffd\ufffdbytes",
        "\ue000\ue001 private use",
        "\U000f0000 plane 15",
        "𝐀𝐁𝐂 𝑎𝑏𝑐",
        "𝕳𝖊𝖑𝖑𝖔",
        "𝒜𝓁𝓅𝒽𝒶",
        "\U00020000\U0002a6d6 CJK ext B",
        "\U00031350 ext H",
        "\U0002ebf0 ext I",
        "\U0001f8b0 legacy",
        "\U00010000 linear B",
        "𓀀 hieroglyph",
        "\U0010fffd last",
        "\ufffe\uffff nonchars",
        "\U0001d11e music",
        "ꙮ",
        "\U00016fe4 khitan filler",
    ]


def code_cases():
    return [
        "def f(x):\n    return x * 2\n",
        "class A:\n    def __init__(self):\n        self.x = {'a': 1}\n\n\n",
        "if x:\n\tpass\n\telse:\n\t\treturn None",
        "for i in range(10):\n        print(f\"{i:03d}\")",
        "const f = (a, b) => { return a + b; };",
        "function foo() {\n  console.log('hi');\n}\n",
        "let s = `template ${x}`;\n",
        '{"key": "value", "n": [1, 2, 3], "nested": {"a": null}}',
        '{\n  "a": 1,\n  "b": [\n    true,\n    false\n  ]\n}',
        "<div class=\"x\">&amp;&lt;</div>",
        "SELECT * FROM users WHERE id = 42;",
        "#!/bin/bash\nset -euo pipefail\necho \"$HOME\"",
        "x<<=2; y>>>=3; z**=4",
        "// comment\n/* block */\n",
        "    \n    \n",
        "a = b  # trailing spaces   \n",
        "\\n\\t\\r escaped",
        "std::vector<int> v{1,2,3};",
        "fn main() -> Result<(), Box<dyn Error>> {}",
    ]


def url_cases():
    return [
        "https://example.com/path?query=1&b=two#frag",
        "http://localhost:8080/api/v1/users/123",
        "https://日本語.jp/パス",
        "mailto:user@example.com",
        "ftp://files.example.org/pub/file-1.2.3.tar.gz",
        "www.example.co.uk",
        "https://huggingface.co/tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.3",
        "C:\\Users\\name\\file.txt",
        "/usr/local/bin/node --version",
        "user@host:~$ ls -la",
    ]


def long_cases():
    return [
        "a" * 1000,
        "あ" * 500,
        "!" * 300,
        " " * 200,
        "ab" * 300,
        "1" * 100,
        "😀" * 50,
        "\n" * 100,
        ("The quick brown fox jumps over the lazy dog. " * 20).strip(),
        "漢" * 200,
        "a " * 200,
        "-" * 250,
    ]


def special_token_cases():
    return [
        "<|eot_id|>",
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "hello<|eot_id|>",
        "<|eot_id|>hello",
        "hel<|begin_of_text|>lo",
        "<|eot_id|><|eot_id|>",
        "<|eot_id",
        "eot_id|>",
        "<|EOT_ID|>",
        "<|eot_id |>",
        "< |eot_id|>",
        "<<|eot_id|>>",
        "<|<|eot_id|>|>",
        "<|reserved_special_token_247|>",
        "<|reserved_special_token_248|>",
        "<|reserved_special_token_0|><|reserved_special_token_1|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are helpful.<|eot_id|>",
        "<|python_tag|>print(1)<|eom_id|>",
        "<|finetune_right_pad_id|>",
        "text <|eot_id|> text",
        "text  <|eot_id|>  text",
        " <|eot_id|>",
        "<|eot_id|> ",
        "  <|eot_id|>",
        "\n<|eot_id|>\n",
        "\n\n<|eot_id|>\n\n",
        "\t<|eot_id|>\t",
        "日本語<|eot_id|>日本語",
        "😀<|eot_id|>😀",
        "123<|eot_id|>456",
        "'s<|eot_id|>'s",
        "<|begin_of_text|>" * 3,
        "<|",
        "|>",
        "<||>",
        "<|>",
    ]


CATEGORIES = [
    ("whitespace", whitespace_cases),
    ("digits", digit_cases),
    ("contractions", contraction_cases),
    ("punctuation", punctuation_cases),
    ("japanese", japanese_cases),
    ("emoji", emoji_cases),
    ("combining", combining_cases),
    ("scripts", script_cases),
    ("case", case_cases),
    ("rare", rare_cases),
    ("code", code_cases),
    ("urls", url_cases),
    ("long", long_cases),
    ("special_tokens", special_token_cases),
]


def check_valid(text):
    for ch in text:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"lone surrogate in {text!r}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: make_tokenizer_vectors.py TOKENIZER_JSON OUTPUT_JSON")
    tok = Tokenizer.from_file(sys.argv[1])
    seen = set()
    vectors = []
    for category, make in CATEGORIES:
        for text in make():
            if text in seen:
                continue
            seen.add(text)
            check_valid(text)
            ids = tok.encode(text, add_special_tokens=False).ids
            ids_with_bos = tok.encode(text, add_special_tokens=True).ids
            decoded = tok.decode(ids, skip_special_tokens=False)
            vectors.append(
                {"category": category, "text": text, "ids": ids, "ids_with_bos": ids_with_bos, "decoded": decoded}
            )
    out = {"made_by": f"tokenizers {tokenizers.__version__}", "vectors": vectors}
    # One vector per line, compact id lists: small and still diffable.
    lines = ",\n".join("  " + json.dumps(v, ensure_ascii=False, separators=(",", ":")) for v in vectors)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write('{"made_by":' + json.dumps(out["made_by"]) + ',"vectors":[\n' + lines + "\n]}\n")
    counts = {}
    for v in vectors:
        counts[v["category"]] = counts.get(v["category"], 0) + 1
    print(f"{len(vectors)} vectors: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    mismatched = [v["text"] for v in vectors if v["decoded"] != v["text"]]
    if mismatched:
        print(f"{len(mismatched)} strings do not round-trip through decode: {mismatched!r}")


if __name__ == "__main__":
    main()
