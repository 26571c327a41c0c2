#!/usr/bin/env python3
"""Plain text from the roff man pages of Debian's `manpages-ja` (Japanese) and `manpages` (English): the
training and held-out text of the demo model (models/demo/).

Python 3 standard library only, deterministic: the same package gives the same bytes on every machine,
so the held-out text can be rebuilt from an installed package (test/demo-model.test.ts does that in CI
and checks its sha256 against models/demo/reference.json).

Usage:
  python3 scripts/demo/extract_text.py --heldout --package manpages-ja [--ja /usr/share/man/ja]
      prints the held-out text (UTF-8) of the installed package to stdout
  python3 scripts/demo/extract_text.py --ja JA_MAN_DIR --en EN_MAN_DIR --out DIR
      writes DIR/train.jsonl and DIR/heldout.jsonl ({"page": "ja/man1/ls.1", "text": ...} per line)
      and DIR/heldout.txt (exactly what --heldout prints)

Pages: every regular `*.gz` file under man*/ (symlinks and `.so` stubs are skipped), in sorted order.
Split rule: a Japanese page is held out when int(sha1("man1/ls.1"), 16) % 50 == 0, where "man1/ls.1" is
the path under the language directory without ".gz". English pages are training text only, except that
an English page with the same name as a held-out Japanese page is left out too (it is its original).
Held-out text = the held-out pages' texts joined with "\\n\\n", in sorted page order.

roff → text: request and macro lines (starting with "." or "'") are dropped, except that the text
arguments of font and heading macros (man: .SH .SS .B .I .BR .IR …; mdoc: .Sh .Nm .Ar .Fl .Xr …) are
kept; .de/.ig blocks, .TS table formats and `\\{ … \\}` blocks of dropped conditionals are skipped;
escapes are resolved (\\f fonts, \\s sizes, \\*(xx strings, \\n registers, \\h \\v \\w motions → nothing;
\\- → "-", \\e → "\\", \\(em → "—" …); spaces are squeezed and paragraphs separated by one blank line.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import sys

HELDOUT_MOD = 50

SPECIAL = {
    "em": "—", "en": "–", "hy": "-", "mi": "-", "bu": "•", "aq": "'", "dq": '"', "lq": "“", "rq": "”",
    "oq": "‘", "cq": "’", "Bq": "„", "bq": "‚", "co": "©", "rg": "®", "tm": "™", "mu": "×", "di": "÷",
    "+-": "±", "<=": "≤", ">=": "≥", "!=": "≠", "==": "≡", "->": "→", "<-": "←", "<>": "↔", "da": "↓",
    "ua": "↑", "rA": "⇒", "lA": "⇐", "de": "°", "ga": "`", "aa": "´", "ti": "~", "ha": "^", "rs": "\\",
    "sl": "/", "ba": "|", "or": "|", "br": "|", "ul": "_", "ru": "_", "lB": "[", "rB": "]", "lC": "{",
    "rC": "}", "la": "⟨", "ra": "⟩", "ss": "ß", "a:": "ä", "o:": "ö", "u:": "ü", "A:": "Ä", "O:": "Ö",
    "U:": "Ü", "e'": "é", "a'": "á", "o'": "ó", "ci": "○", "sq": "□", "pc": "·", "ps": "¶", "sc": "§",
    "dg": "†", "if": "∞", "Fo": "«", "Fc": "»", "fo": "‹", "fc": "›", "eu": "€", "Eu": "€", "Po": "£",
    "Ye": "¥", "ct": "¢", "at": "@", "sh": "#", "Do": "$", "ff": "ff", "fi": "fi", "fl": "fl",
    "12": "½", "14": "¼", "34": "¾", "*a": "α", "*b": "β", "*l": "λ", "*m": "μ", "*p": "π", "*s": "σ",
    "tno": "~", "sd": "″", "fm": "′", "nm": "∉", "mo": "∈", "sb": "⊂", "sp": "⊃", "ca": "∩", "cu": "∪",
}
STRINGS = {"lq": "“", "rq": "”", "R": "®", "Tm": "™", "C`": '"', "C'": '"', 'L"': '"', 'R"': '"',
           "--": "—", "PI": "π", "Aq": "'", "q": '"'}
# mdoc macros: their arguments are text (macro names among the arguments are dropped).
MDOC = set(
    "Ad An Ap Ar At Bsx Bx Cd Cm Dl Dq Dv Em Er Ev Fa Fd Fl Fn Fo Ft Fx Ic In It Li Lk Ms Mt Nd Nm Nx Op "
    "Ox Pa Pf Pq Ql Qq Sq St Sx Sy Tn Ux Va Vt Xr Aq Bq Brq Eo Ec Ns Oo Oc Do Dc Qo Qc So Sc Po Pc Bo Bc "
    "Ao Ac Xo Xc Sh Ss No Ta Ot Em Tg Lb Rv Ex Hf Fr".split()
)
FONT_MACROS = {"B", "I", "SM", "SB", "SH", "SS", "TQ", "UR", "MT"}
ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}
PARAGRAPH = {"PP", "P", "LP", "Pp", "Lp", "SH", "SS", "Sh", "Ss", "sp", "Sp"}
SKIP_BLOCK = {"de", "de1", "am", "ig"}


def special_char(name):
    if name.startswith("u") and len(name) >= 5 and all(c in "0123456789ABCDEFabcdef" for c in name[1:]):
        try:
            return chr(int(name[1:], 16))
        except ValueError:
            return ""
    return SPECIAL.get(name, "")


def _name(s, i):
    """A roff name after an escape: (xx, [long] or one character. Returns (name, next index)."""
    if i >= len(s):
        return "", i
    if s[i] == "(":
        return s[i + 1:i + 3], i + 3
    if s[i] == "[":
        j = s.find("]", i)
        if j < 0:
            return s[i + 1:], len(s)
        return s[i + 1:j], j + 1
    return s[i], i + 1


def _delimited(s, i):
    """A delimited escape argument ('…' or any delimiter). Returns (argument, next index)."""
    if i >= len(s):
        return "", i
    d = s[i]
    j = s.find(d, i + 1)
    if j < 0:
        return s[i + 1:], len(s)
    return s[i + 1:j], j + 1


def unescape(s):
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            break
        e = s[i + 1]
        i += 2
        if e in '"#':
            break  # comment to end of line
        if e == "f" or e in "mMFgkVY":
            _, i = _name(s, i)
        elif e == "n":
            if i < n and s[i] in "+-":
                i += 1
            _, i = _name(s, i)
        elif e == "(" or e == "[":
            name, i = _name(s, i - 1)
            out.append(special_char(name))
        elif e == "C":
            name, i = _delimited(s, i)
            out.append(special_char(name))
        elif e == "*":
            name, i = _name(s, i)
            out.append(STRINGS.get(name, ""))
        elif e == "s":
            if i < n and s[i] in "+-":
                i += 1
            if i < n and s[i] in "([":
                _, i = _name(s, i)
            elif i < n and s[i] == "'":
                _, i = _delimited(s, i)
            elif i < n and s[i].isdigit():
                i += 2 if (s[i] in "123" and i + 1 < n and s[i + 1].isdigit()) else 1
        elif e in "hvwoNlLDbxXZRABSH":
            _, i = _delimited(s, i)
        elif e == "-":
            out.append("-")
        elif e in "e\\E":
            out.append("\\")
        elif e in " ~0":
            out.append(" ")
        elif e == "t":
            out.append(" ")
        elif e in "&|^,/%:)cduaprz{}!?$+\n":
            pass
        else:
            out.append(e)  # \. \' \` \@ … stand for the character itself
    return "".join(out)


def split_args(s):
    """roff macro arguments: blank-separated, "quoted" with "" for a literal quote."""
    args, i, n = [], 0, len(s)
    while i < n:
        while i < n and s[i] in " \t":
            i += 1
        if i >= n:
            break
        if s[i] == '"':
            i += 1
            buf = []
            while i < n:
                if s[i] == '"':
                    if i + 1 < n and s[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(s[i])
                i += 1
            args.append("".join(buf))
        else:
            j = i
            while j < n and s[j] not in " \t":
                j += 2 if s[j] == "\\" else 1  # "\ " is an escaped space, not a separator
            j = min(j, n)
            args.append(s[i:j])
            i = j
    return args


def mdoc_text(name, args, state):
    if name == "Nm":
        if args and args[0] not in MDOC:
            state.setdefault("Nm", args[0])
        elif "Nm" in state:
            args = [state["Nm"]] + args
    if name == "Xr" and len(args) >= 2:
        args = [f"{args[0]}({args[1]})"] + args[2:]
    words, flag = [], False
    for a in args:
        if a in MDOC:
            flag = a == "Fl"
            continue
        words.append(("-" + a) if flag else a)
        flag = False
    return " ".join(words)


def roff_to_text(src):
    lines = src.split("\n")
    out = []
    skip_until = None  # ".." ends a .de/.ig block
    brace_depth = 0
    table = 0  # 0: no table, 1: table options/format, 2: table data
    mdoc_state = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        # Continuation lines: an unescaped backslash at the end joins the next line.
        while line.endswith("\\") and not line.endswith("\\\\") and i < len(lines):
            line = line[:-1] + lines[i]
            i += 1
        if skip_until is not None:
            if line.strip() == skip_until:
                skip_until = None
            continue
        if brace_depth > 0:
            brace_depth += line.count("\\{") - line.count("\\}")
            continue
        if line[:1] in (".", "'"):
            body = line[1:].lstrip(" \t")
            m = re.match(r"[^ \t]*", body)
            name = m.group(0)
            rest = body[m.end():]
            if name.startswith('\\"') or name.startswith("\\#"):
                continue
            if name in SKIP_BLOCK:
                args = split_args(rest)
                end = args[0] if name == "ig" and args else (args[1] if name != "ig" and len(args) > 1 else ".")
                skip_until = "." + end
                continue
            if "\\{" in line:
                brace_depth = line.count("\\{") - line.count("\\}")
                continue
            if name == "TS":
                table = 1
                continue
            if name == "TE":
                table = 0
                continue
            if name in PARAGRAPH:
                out.append("")
            if name in FONT_MACROS:
                out.append(unescape(" ".join(split_args(rest))))
            elif name in ALTERNATING:
                out.append(unescape("".join(split_args(rest))))
            elif name in MDOC:
                out.append(unescape(mdoc_text(name, split_args(rest), mdoc_state)))
            continue
        if table == 1:
            if line.rstrip().endswith("."):
                table = 2
            continue
        if table == 2:
            line = line.replace("T{", "").replace("T}", "")
        out.append(unescape(line))
    # Squeeze spaces, one blank line between paragraphs.
    text_lines, blank = [], False
    for line in out:
        line = re.sub(r"[ \t\u00a0]+", " ", line).strip()
        if not line:
            blank = bool(text_lines)
            continue
        if blank:
            text_lines.append("")
            blank = False
        text_lines.append(line)
    return "\n".join(text_lines)


def package_files(package):
    """The paths dpkg installed for `package` (/var/lib/dpkg/info/PACKAGE.list)."""
    for name in (f"{package}.list", f"{package}:all.list"):
        path = os.path.join("/var/lib/dpkg/info", name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                return {line.rstrip("\n") for line in f}
    sys.exit(f"package {package} is not installed (no /var/lib/dpkg/info/{package}.list)")


def pages(man_dir, only=None):
    """(key, path) of every regular man page file under man_dir/man*/, sorted by key; with `only`, just
    the paths in that set (an installed /usr/share/man/ja also holds other packages' Japanese pages)."""
    found = []
    if not os.path.isdir(man_dir):
        return found
    for section in sorted(os.listdir(man_dir)):
        sdir = os.path.join(man_dir, section)
        if not section.startswith("man") or not os.path.isdir(sdir) or os.path.islink(sdir):
            continue
        for name in sorted(os.listdir(sdir)):
            path = os.path.join(sdir, name)
            if not name.endswith(".gz") or os.path.islink(path) or not os.path.isfile(path):
                continue
            if only is not None and path not in only:
                continue
            found.append((f"{section}/{name[:-3]}", path))
    found.sort()
    return found


def read_page(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    src = raw.decode("utf-8", errors="replace").replace("\r\n", "\n")
    if re.match(r"^\s*(\.\\\".*\n\s*)*\.so\s", src) and len(src.strip().split("\n")) <= 3:
        return ""
    return roff_to_text(src)


def is_heldout(key):
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % HELDOUT_MOD == 0


def documents(ja_dir, en_dir=None, ja_only=None):
    """Returns (train, heldout): lists of {"page", "text"}; pages with no text are left out."""
    train, heldout, heldout_keys = [], [], set()
    for key, path in pages(ja_dir, ja_only):
        text = read_page(path)
        if not text:
            continue
        doc = {"page": "ja/" + key, "text": text}
        if is_heldout(key):
            heldout.append(doc)
            heldout_keys.add(key)
        else:
            train.append(doc)
    if en_dir:
        for key, path in pages(en_dir):
            if key in heldout_keys or is_heldout(key):
                continue
            text = read_page(path)
            if text:
                train.append({"page": "en/" + key, "text": text})
    return train, heldout


def heldout_text(heldout):
    return "\n\n".join(d["text"] for d in heldout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ja", default="/usr/share/man/ja", help="Japanese man directory (holds man1/ …)")
    ap.add_argument("--en", default=None, help="English man directory (holds man1/ …), training text only")
    ap.add_argument("--out", help="output directory for train.jsonl, heldout.jsonl, heldout.txt")
    ap.add_argument("--heldout", action="store_true", help="print the held-out text to stdout")
    ap.add_argument("--package", help="only the Japanese pages this installed Debian package owns "
                    "(e.g. manpages-ja; needed for /usr/share/man/ja, where other packages put pages too)")
    a = ap.parse_args()
    only = None
    if a.package:
        prefix = os.path.join(os.path.abspath(a.ja), "")
        only = {os.path.join(a.ja, p[len(prefix):]) for p in package_files(a.package) if p.startswith(prefix)}
    if not pages(a.ja, only):
        sys.exit(f"no man pages under {a.ja}/man*/ (is manpages-ja installed?)")
    if a.heldout:
        _, heldout = documents(a.ja, ja_only=only)
        sys.stdout.buffer.write(heldout_text(heldout).encode("utf-8"))
        return
    if not a.out:
        sys.exit("give --out DIR or --heldout")
    train, heldout = documents(a.ja, a.en, only)
    os.makedirs(a.out, exist_ok=True)
    for name, docs in (("train.jsonl", train), ("heldout.jsonl", heldout)):
        with open(os.path.join(a.out, name), "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(os.path.join(a.out, "heldout.txt"), "wb") as f:
        f.write(heldout_text(heldout).encode("utf-8"))
    ja = [d for d in train if d["page"].startswith("ja/")]
    print(f"train: {len(ja)} Japanese pages ({sum(len(d['text']) for d in ja)} chars), "
          f"{len(train) - len(ja)} English pages ({sum(len(d['text']) for d in train if d not in ja)} chars); "
          f"held out: {len(heldout)} pages ({sum(len(d['text']) for d in heldout)} chars): "
          + " ".join(d["page"] for d in heldout), file=sys.stderr)


if __name__ == "__main__":
    main()
