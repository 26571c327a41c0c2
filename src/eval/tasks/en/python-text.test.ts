/** Python str / Jinja2 behaviours the prompts depend on (hand-checked against CPython 3.11 and Jinja2 3.1). */
import { test } from "node:test";
import assert from "node:assert/strict";

import { pyCapitalize, pyEqual, pyLstrip, pyStrip, renderJinjaFields } from "./python-text.js";

test("pyStrip removes exactly CPython's whitespace, unlike String.prototype.trim", () => {
  assert.equal(pyStrip("\u3000\x1c x \x85\n"), "x");
  assert.equal(pyStrip("\ufeffx"), "\ufeffx"); // trim() would remove U+FEFF; Python keeps it
  assert.equal(pyLstrip("  A "), "A ");
});

test("pyCapitalize lower-cases the rest of the string like str.capitalize", () => {
  assert.equal(pyCapitalize("the MAN runs"), "The man runs");
  assert.equal(pyCapitalize(""), "");
  assert.equal(pyCapitalize("éTAT"), "État");
});

test("renderJinjaFields drops one trailing newline of the template, never of a value", () => {
  assert.equal(renderJinjaFields("about x.\n\n", {}), "about x.\n");
  assert.equal(renderJinjaFields("Q: {{input}}\nA: step.\n", { input: "a\n" }), "Q: a\n\nA: step.");
  assert.equal(renderJinjaFields("{{answer}}", { answer: "#### 3\n" }), "#### 3\n");
  assert.throws(() => renderJinjaFields("{{missing}}", {}), /undefined/);
});

test("pyEqual compares documents by value like Python ==", () => {
  assert.ok(pyEqual({ a: [1, "x"], b: { c: null } }, { b: { c: null }, a: [1, "x"] }));
  assert.ok(!pyEqual({ a: [1, "x"] }, { a: [1, "y"] }));
  assert.ok(!pyEqual({ a: 1 }, { a: 1, b: 2 }));
});
