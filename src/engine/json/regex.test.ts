import { test } from "node:test";
import assert from "node:assert/strict";

import { Regex, type RegexSet } from "./regex.js";

/** Whether the NFA accepts the whole string (pattern semantics: search unless anchored). */
function matches(regex: Regex, text: string): boolean {
  let set: RegexSet | null = regex.start;
  for (const ch of text) {
    set = regex.step(set, ch.codePointAt(0)!);
    if (!set) return false;
  }
  return set.accepting;
}

/** Every string of up to `max` characters over `alphabet`. */
function strings(alphabet: string[], max: number): string[] {
  const out = [""];
  let level = [""];
  for (let n = 1; n <= max; n++) {
    level = level.flatMap((s) => alphabet.map((c) => s + c));
    out.push(...level);
  }
  return out;
}

const CASES: [string, string[]][] = [
  ["^[a-c]{2,3}-\\d+$", ["a", "b", "d", "-", "1", "x"]],
  ["^(?:ab|c)*$", ["a", "b", "c"]],
  ["東京|\\n", ["東", "京", "\n", "x"]],
  ["^\\w+@\\w+\\.com$", ["a", "@", ".", "c", "o", "m", "_"]],
  ["^[^a-c\\s]?x{1,2}?$", ["a", "x", " ", "d", "é"]],
  ["^\\u0041\\x42[\\u{1F600}-\\u{1F64F}]$", ["A", "B", "😀", "😎", "🙏", "x"]],
  ["^(a|b)?c+$", ["a", "b", "c"]],
  ["^.\\.$", ["a", ".", "\n", "😀"]],
  ["^\\S\\s\\D\\W$", ["a", " ", "1", "!", "\t"]],
  ["\\$\\^", ["$", "^", "a"]],
];

test("the pattern NFA agrees with JavaScript's RegExp (u flag, as ajv uses) on every short string", (t) => {
  let checked = 0;
  for (const [pattern, alphabet] of CASES) {
    const regex = new Regex(pattern);
    const reference = new RegExp(pattern, "u");
    for (const text of strings(alphabet, 4)) {
      assert.equal(matches(regex, text), reference.test(text), `${pattern} on ${JSON.stringify(text)}`);
      checked++;
    }
  }
  t.diagnostic(`${checked} (pattern, string) pairs agree`);
});

test("minBytes is the UTF-8 length of the shortest match", () => {
  assert.equal(new Regex("^[a-c]{2,3}-\\d+$").start.minBytes, 4); // aa-1
  assert.equal(new Regex("東京").start.minBytes, 6);
  assert.equal(new Regex("^$").start.minBytes, 0);
});

test("unsupported pattern features are refused with a reason", () => {
  for (const [pattern, reason] of [
    ["(?<=a)b", /lookaround/],
    ["(a)\\1", /escape \\1/],
    ["\\p{L}", /escape \\p/],
    ["a{2", /not a \{m,n\} quantifier/],
    ["[b-a]", /out of order/],
    ["(ab", /unclosed group/],
  ] as const) {
    assert.throws(() => new Regex(pattern), reason, pattern);
  }
});
