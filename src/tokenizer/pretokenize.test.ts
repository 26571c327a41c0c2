import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { caseFoldPartners, translateOnigurumaPattern, RegexTranslationError } from "./onig-regex.js";
import {
  compileOnigurumaRegex,
  LLAMA3_PATTERN,
  PreTokenizer,
  PreTokenizerConfigError,
  RegexSplit,
  type SplitBehavior,
} from "./pretokenize.js";

/** All matches of an Oniguruma pattern, as strings (the expected values come from tokenizers 0.23.2). */
function matches(pattern: string, text: string): string[] {
  return [...text.matchAll(compileOnigurumaRegex(pattern))].map((m) => m[0]);
}

function pieces(text: string, pattern = LLAMA3_PATTERN): string[] {
  const out: string[] = [];
  PreTokenizer.fromPattern(pattern).split(text, out);
  return out;
}

describe("Llama 3 pre-tokenizer regex", () => {
  it("splits like Meta's pat_str", () => {
    assert.deepEqual(pieces("Hello world! I'm here, aren't you?"), [
      "Hello",
      " world",
      "!",
      " I",
      "'m",
      " here",
      ",",
      " aren",
      "'t",
      " you",
      "?",
    ]);
    assert.deepEqual(pieces("12345 abc"), ["123", "45", " abc"]);
    assert.deepEqual(pieces("a\n\n  b"), ["a", "\n\n", " ", " b"]);
    assert.deepEqual(pieces("東京タワー、きれい。"), ["東京タワー", "、きれい", "。"]);
    assert.deepEqual(pieces("x   \n"), ["x", "   \n"]);
    assert.deepEqual(pieces("IT'S"), ["IT", "'S"]);
  });

  it("treats U+0085 as white space and U+FEFF, U+180E, U+200B as not (Oniguruma's \\s)", () => {
    // From tokenizers 0.23.2: pre_tokenize_str with this pattern.
    assert.deepEqual(pieces("a \ufeff b"), ["a", " \ufeff", " b"]);
    assert.deepEqual(pieces("x \u180e y"), ["x", " \u180e", " y"]);
    assert.deepEqual(matches("\\s", "a\x85b\ufeffc\u180ed\u200be\u3000f\u2028"), ["\x85", "\u3000", "\u2028"]);
  });

  it("makes (?i:'s) match 'ſ (U+017F) as Oniguruma does", () => {
    assert.deepEqual(pieces("it'ſ x"), ["it", "'ſ", " x"]);
  });
});

describe("Oniguruma → JavaScript translation", () => {
  it("expands case-insensitive letters to their fold partners", () => {
    assert.deepEqual(caseFoldPartners("s".codePointAt(0)!), [0x53, 0x73, 0x17f]);
    assert.deepEqual(caseFoldPartners("k".codePointAt(0)!), [0x4b, 0x6b, 0x212a]);
    assert.deepEqual(caseFoldPartners("1".codePointAt(0)!), [0x31]);
    assert.deepEqual(matches("(?i:k)", "kK\u212ax"), ["k", "K", "\u212a"]);
    assert.deepEqual(matches("(?i:σ)", "σςΣx"), ["σ", "ς", "Σ"]);
    assert.deepEqual(matches("(?i:å)", "Å\u212b"), ["Å", "\u212b"]);
    assert.deepEqual(matches("(?i:[a-c]+)", "ABCd"), ["ABC"]);
    assert.deepEqual(matches("(?i:[a-z]+)", "ſKx-"), ["ſKx"]);
  });

  it("scopes (?i) to the rest of its group, alternatives included", () => {
    assert.deepEqual(matches("a(?i)b|c", "aB C aC"), ["aB", "aC"]);
    assert.deepEqual(matches("(?i:a(?-i:b))", "AbAB"), ["Ab"]);
  });

  it("translates Unicode-aware classes, anchors and escapes", () => {
    assert.deepEqual(matches("\\d+", "x١٢٣y12"), ["١٢٣", "12"]);
    assert.deepEqual(matches("\\w+", "ab_c\u0301d-é ²"), ["ab_c\u0301d", "é", "²"]);
    assert.deepEqual(matches(".", "a\nb\r"), ["a", "b", "\r"]);
    assert.deepEqual(matches("^a", "a\na a"), ["a", "a"]);
    assert.deepEqual(matches("a$", "a\na a"), ["a", "a"]);
    assert.deepEqual(matches("\\Aa", "aa"), ["a"]);
    assert.deepEqual(matches("a\\Z", "aa\n"), ["a"]);
    assert.deepEqual(matches("\\bx", "ax x éx"), ["x"]);
    assert.deepEqual(matches("\\h+", "fg12"), ["f", "12"]);
    assert.deepEqual(matches("a{,2}", "aaaa"), ["aa", "aa", ""]);
    assert.deepEqual(matches("x{", "x{"), ["x{"]);
    assert.deepEqual(matches("\\p{Han}+", "漢字かな"), ["漢字"]);
    assert.deepEqual(matches("\\p{^L}+", "ab12"), ["12"]);
    assert.deepEqual(matches("[]a]", "a]"), ["a", "]"]);
    assert.deepEqual(matches("\\x{41}\\e", "A\x1b"), ["A\x1b"]);
    assert.deepEqual(matches("[\\s-]+", "a - b"), [" - "]);
  });

  it("rejects constructs JavaScript cannot express", () => {
    for (const pattern of ["a++", "a*+", "(?>a)", "[[:alpha:]]", "[a-z&&[^c]]", "(?m:.)", "\\G", "\\K", "\\R", "[\\S]", "(a", "a)"]) {
      assert.throws(() => translateOnigurumaPattern(pattern), RegexTranslationError, pattern);
    }
    assert.throws(() => compileOnigurumaRegex("(?>a)"), PreTokenizerConfigError);
  });
});

describe("Split behaviors", () => {
  // Expected pieces from tokenizers 0.23.2 pre_tokenizers.Split(Regex(pattern), behavior, invert).
  const cases: Array<[SplitBehavior, boolean, string, string, string[]]> = [
    ["Removed", false, "-+", "a--b-c--", ["a", "b", "c"]],
    ["Removed", true, "-+", "a--b-c--", ["--", "-", "--"]],
    ["Removed", false, "\\s", "a  b ", ["a", "b"]],
    ["Isolated", false, "-+", "a--b-c--", ["a", "--", "b", "-", "c", "--"]],
    ["Isolated", true, "\\s", "a  b ", ["a", " ", " ", "b", " "]],
    ["MergedWithPrevious", false, "-+", "a--b-c--", ["a--", "b-", "c--"]],
    ["MergedWithPrevious", false, "-+", "--x", ["--", "x"]],
    ["MergedWithPrevious", true, "-+", "a--b-c--", ["a", "--b", "-c", "--"]],
    ["MergedWithPrevious", true, "\\s", "a  b ", ["a", " ", " b", " "]],
    ["MergedWithNext", false, "-+", "a--b-c--", ["a", "--b", "-c", "--"]],
    ["MergedWithNext", false, "\\s", "a  b ", ["a", " ", " b", " "]],
    ["MergedWithNext", true, "-+", "a--b-c--", ["a--", "b-", "c--"]],
    ["MergedWithNext", true, "\\s", "a  b ", ["a ", " ", "b "]],
    ["Contiguous", false, "\\s", "a  b ", ["a", "  ", "b", " "]],
    ["Contiguous", true, "-+", "--x", ["--", "x"]],
  ];
  for (const [behavior, invert, pattern, text, expected] of cases) {
    it(`${behavior}${invert ? " inverted" : ""} /${pattern}/ on ${JSON.stringify(text)}`, () => {
      const out: string[] = [];
      new RegexSplit(compileOnigurumaRegex(pattern), behavior, invert).apply(text, out);
      assert.deepEqual(out, expected);
    });
  }
});

describe("PreTokenizer.fromConfig", () => {
  it("builds Llama 3's Sequence[Split, ByteLevel]", () => {
    const pt = PreTokenizer.fromConfig({
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: LLAMA3_PATTERN }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    });
    const out: string[] = [];
    pt.split("Hello world", out);
    assert.deepEqual(out, ["Hello", " world"]);
  });

  it("applies GPT-2's regex and the prefix space for ByteLevel alone", () => {
    const out: string[] = [];
    PreTokenizer.fromConfig({ type: "ByteLevel", add_prefix_space: true, use_regex: true }).split("Hello  world's", out);
    assert.deepEqual(out, [" Hello", " ", " world", "'s"]);
  });

  it("rejects what it cannot reproduce", () => {
    assert.throws(() => PreTokenizer.fromConfig(null), /needs a ByteLevel/);
    assert.throws(() => PreTokenizer.fromConfig({ type: "Metaspace" }), /"Metaspace" is not supported/);
    assert.throws(() => PreTokenizer.fromConfig({ type: "Split", pattern: { Regex: "a" }, behavior: "Isolated" }), /no ByteLevel step/);
    assert.throws(
      () =>
        PreTokenizer.fromConfig({
          type: "Sequence",
          pretokenizers: [{ type: "ByteLevel" }, { type: "Split", pattern: { Regex: "a" }, behavior: "Isolated" }],
        }),
      /after ByteLevel/,
    );
    assert.throws(() => PreTokenizer.fromConfig({ type: "Split", pattern: { Regex: "a" }, behavior: "Sideways" }), /behavior "Sideways"/);
  });
});
