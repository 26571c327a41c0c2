import { test } from "node:test";
import assert from "node:assert/strict";

import { candidateProgram, stopAtStopWord, testProgram } from "./program.js";

// Hand-checked against bigcode-evaluation-harness `Task._stop_at_stop_token` (earliest occurrence of any stop word).
test("a completion is cut before the earliest stop word, not the first one listed", () => {
  assert.equal(stopAtStopWord("    return 1\nprint(f())\ndef g():"), "    return 1");
  assert.equal(stopAtStopWord("    x = 1\n    return x\n\n\nclass A:\n"), "    x = 1\n    return x\n\n");
  assert.equal(stopAtStopWord("    return 1\n# done"), "    return 1");
  assert.equal(stopAtStopWord("    return 1  # inline comments stay\n"), "    return 1  # inline comments stay\n");
  assert.equal(stopAtStopWord("    if x:\n        return 1\n"), "    if x:\n        return 1\n"); // indented: no "\nif"
  assert.equal(stopAtStopWord("\ndef g():\n"), "");
  assert.equal(stopAtStopWord("    return 1<file_sep>junk"), "    return 1");
  assert.equal(stopAtStopWord("    return 1\n```\n"), "    return 1");
  assert.equal(stopAtStopWord("    return 1\n@decorator"), "    return 1");
  assert.equal(stopAtStopWord(""), "");
});

test("the program is prompt + cut completion + \\n + \\n + test + \\n + check(entry_point), as code_eval.py joins it", () => {
  const candidate = candidateProgram("def f():\n", "    return 1\nif __name__ == '__main__':\n    f()");
  assert.equal(candidate, "def f():\n    return 1");
  assert.equal(
    testProgram(candidate, { test: "def check(c):\n    assert c() == 1\n", entryPoint: "f" }),
    "def f():\n    return 1\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)",
  );
});
