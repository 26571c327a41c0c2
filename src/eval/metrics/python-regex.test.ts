import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { SwallowError } from "../../errors.js";
import { fixturesDir } from "../../../test/support/paths.js";
import { pythonFindAll, pythonRegex, pythonSearch } from "./python-regex.js";

interface ReVector {
  pattern: string;
  input: string;
  sub_empty: string;
  /** Span in code points (Python str indices) and group(0), group(1)… (null for a group that did not take part). */
  search: { span: [number, number]; groups: (string | null)[] } | null;
  findall: (string | string[])[];
}

const fixture = JSON.parse(readFileSync(join(fixturesDir, "eval", "metrics", "python-re-vectors.json"), "utf8")) as { cases: ReVector[] };

/** UTF-16 index → Python (code point) index. */
const codePointIndex = (s: string, utf16Index: number) => [...s.slice(0, utf16Index)].length;

test("fixture has the lm-eval / JP-harness patterns", () => {
  const patterns = new Set(fixture.cases.map((c) => c.pattern));
  for (const p of [",", "\\$", "(?s).*#### ", "\\.$", "(\\-?[0-9\\.\\,]+)", "(?<=the answer is )(.*)(?=.)"]) assert.ok(patterns.has(p), p);
});

for (const v of fixture.cases) {
  test(`re ${JSON.stringify(v.pattern)} on ${JSON.stringify(v.input)}`, () => {
    assert.equal(v.input.replace(pythonRegex(v.pattern), ""), v.sub_empty, "re.sub(p, '', s)");
    const m = pythonSearch(v.pattern, v.input);
    if (v.search === null) {
      assert.equal(m, null, "re.search");
    } else {
      assert.ok(m, "re.search found a match");
      const start = codePointIndex(v.input, m.index);
      assert.deepEqual([start, start + [...m[0]].length], v.search.span, "span");
      assert.deepEqual(
        [...m].map((g) => g ?? null),
        v.search.groups,
        "groups",
      );
    }
    assert.deepEqual(pythonFindAll(v.pattern, v.input), v.findall, "re.findall");
  });
}

test("constructs without a faithful translation are refused with a SwallowError", () => {
  for (const p of [
    "(?x) a b",
    "a(?i:b)",
    "(?>ab)",
    "a*+",
    "a{2}+",
    "(?(1)a|b)",
    "\\N{DASH}",
    "[\\W]",
    "(a)(?i)b",
    "\\q",
    "[abc",
    "abc\\",
  ]) {
    assert.throws(() => pythonRegex(p), SwallowError, p);
  }
});
