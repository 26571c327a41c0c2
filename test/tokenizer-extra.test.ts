import test from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer } from "../src/tokenizer/tokenizer.js";
import { fixturesDir, sharedDir } from "./support/paths.js";

/**
 * Id parity with Hugging Face `tokenizers` on adversarial strings (whitespace runs, digit groups,
 * contractions, Japanese, emoji, rare code points, special-token strings inside text, ...) made by
 * scripts/make_tokenizer_vectors.py, plus the tiny fixture tokenizer's reference ids. Every mismatch is
 * collected and reported with the text and the first differing index, not just the first one.
 */

interface Vector {
  category?: string;
  text: string;
  ids: number[];
  ids_with_bos: number[];
  decoded?: string;
}

interface VectorFile {
  made_by: string;
  vectors: Vector[];
}

const MAX_REPORTED = 25;

function firstDifference(expected: readonly number[], actual: readonly number[]): number {
  const n = Math.min(expected.length, actual.length);
  for (let i = 0; i < n; i++) if (expected[i] !== actual[i]) return i;
  return expected.length === actual.length ? -1 : n;
}

function window(ids: readonly number[], at: number): string {
  const from = Math.max(0, at - 2);
  const to = Math.min(ids.length, at + 4);
  return `${from > 0 ? "… " : ""}[${ids.slice(from, to).join(", ")}]${to < ids.length ? " …" : ""}`;
}

function describeText(text: string): string {
  const shown = JSON.stringify(text.length > 80 ? text.slice(0, 80) : text);
  return text.length > 80 ? `${shown}… (${text.length} UTF-16 units)` : shown;
}

/** Returns null when equal, otherwise one line naming the text, the first differing index and the ids there. */
function compareIds(what: string, text: string, expected: readonly number[], actual: readonly number[]): string | null {
  const at = firstDifference(expected, actual);
  if (at < 0) return null;
  return (
    `${what} ${describeText(text)}: first difference at index ${at} ` +
    `(lengths ${expected.length} expected, ${actual.length} actual); ` +
    `expected ${window(expected, at)}, actual ${window(actual, at)}`
  );
}

function report(label: string, failures: string[], total: number): void {
  if (failures.length === 0) return;
  const shown = failures.slice(0, MAX_REPORTED).map((f) => `  - ${f}`);
  const more = failures.length > MAX_REPORTED ? [`  … and ${failures.length - MAX_REPORTED} more`] : [];
  assert.fail(`${label}: ${failures.length} of ${total} checks failed\n${[...shown, ...more].join("\n")}`);
}

async function loadJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

const llama3Json = join(sharedDir, "data", "llama3-tokenizer", "tokenizer.json");
const extraVectors = join(fixturesDir, "tokenizer", "llama3-extra-vectors.json");

test("Llama-3 tokenizer matches Hugging Face tokenizers on the adversarial vectors", async (t) => {
  const tokenizer = Tokenizer.fromJson(await readFile(llama3Json, "utf8"), llama3Json);
  const file = await loadJson<VectorFile>(extraVectors);
  assert.ok(file.vectors.length > 0, "no vectors in llama3-extra-vectors.json");

  const categories = new Map<string, Vector[]>();
  for (const v of file.vectors) {
    const key = v.category ?? "uncategorized";
    if (!categories.has(key)) categories.set(key, []);
    categories.get(key)!.push(v);
  }

  for (const [category, vectors] of categories) {
    await t.test(`${category} (${vectors.length} strings)`, () => {
      const failures: string[] = [];
      for (const v of vectors) {
        const check = (what: string, run: () => string | null): void => {
          try {
            const failure = run();
            if (failure !== null) failures.push(failure);
          } catch (error) {
            failures.push(`${what} ${describeText(v.text)}: threw ${(error as Error).message}`);
          }
        };
        check("encode", () => compareIds("encode", v.text, v.ids, tokenizer.encode(v.text)));
        check("encode addBos", () => compareIds("encode addBos", v.text, v.ids_with_bos, tokenizer.encode(v.text, { addBos: true })));
        check("decode", () => {
          const expected = v.decoded ?? v.text;
          const actual = tokenizer.decode(v.ids);
          return actual === expected
            ? null
            : `decode of the ids of ${describeText(v.text)}: expected ${describeText(expected)}, actual ${describeText(actual)}`;
        });
      }
      report(`${category} vectors (${file.made_by})`, failures, vectors.length * 3);
    });
  }
});

test("tiny fixture tokenizer matches its reference ids", async () => {
  const dir = join(fixturesDir, "tiny-tokenizer");
  const tokenizer = Tokenizer.fromJson(await readFile(join(dir, "tokenizer.json"), "utf8"), join(dir, "tokenizer.json"));
  const file = await loadJson<VectorFile>(join(dir, "reference-ids.json"));
  assert.ok(file.vectors.length > 0, "no vectors in reference-ids.json");
  const failures: string[] = [];
  for (const v of file.vectors) {
    for (const failure of [
      compareIds("encode", v.text, v.ids, tokenizer.encode(v.text)),
      compareIds("encode addBos", v.text, v.ids_with_bos, tokenizer.encode(v.text, { addBos: true })),
    ]) {
      if (failure !== null) failures.push(failure);
    }
    const decoded = tokenizer.decode(v.ids);
    if (decoded !== v.text) failures.push(`decode of the ids of ${describeText(v.text)}: got ${describeText(decoded)}`);
  }
  report(`tiny tokenizer (${file.made_by})`, failures, file.vectors.length * 3);
});
