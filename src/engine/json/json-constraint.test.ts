/**
 * Validity on real tokenizers: random (seeded) logits drive the constraint on the Llama 3 tokenizer and on the tiny
 * test tokenizer; every output must complete within max_tokens, parse with JSON.parse and validate with ajv.
 * Also: special tokens never appear inside the JSON, only stop tokens once complete, and mask timings.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv } from "ajv";

import { driveConstraint } from "../../../test/support/drive-constraint.js";
import { fixturesDir, sharedDir } from "../../../test/support/paths.js";
import { Tokenizer } from "../../tokenizer/tokenizer.js";
import { JsonAutomaton, type Stack } from "./automaton.js";
import { createJsonConstraint, JsonGrammar } from "./json-constraint.js";
import { compileSchema } from "./schema.js";
import { buildVocabTrie, vocabTrieOf } from "./vocab-trie.js";

const llama3 = Tokenizer.fromJson(readFileSync(join(sharedDir, "data", "llama3-tokenizer", "tokenizer.json"), "utf8"));
const tiny = Tokenizer.fromJson(readFileSync(join(fixturesDir, "tiny-tokenizer", "tokenizer.json"), "utf8"));
/** The stop tokens of a tokenizer: <|eot_id|> and <|end_of_text|>. */
const stopsOf = (tokenizer: Tokenizer) => ["<|eot_id|>", "<|end_of_text|>"].map((t) => tokenizer.tokenToId(t)!);
const EOT = stopsOf(tiny)[0];

const SCHEMAS: Record<string, object | undefined> = {
  json_object: undefined,
  nested: {
    type: "object",
    properties: {
      name: { type: "string", minLength: 1, maxLength: 20 },
      age: { type: "integer" },
      address: { type: "object", properties: { city: { type: "string" }, zip: { type: "string", maxLength: 8 } }, required: ["city"] },
      tags: { type: "array", items: { type: "string" }, maxItems: 3 },
    },
    required: ["name", "age"],
    additionalProperties: false,
  },
  arrayOfObjects: {
    type: "array",
    items: { type: "object", properties: { id: { type: "integer" }, score: { type: "number" } }, required: ["id", "score"] },
    minItems: 1,
    maxItems: 3,
  },
  enums: {
    type: "object",
    properties: { color: { enum: ["red", "green", "青", "🟦"] }, size: { enum: [1, 2, 3.5, null] }, ok: { const: true } },
    required: ["color"],
  },
  numbers: { type: "array", items: { type: "number" }, minItems: 3, maxItems: 5 },
  pydantic: {
    $defs: {
      Address: {
        properties: {
          street: { title: "Street", type: "string" },
          zip: { anyOf: [{ type: "string", pattern: "^\\d{3}-\\d{4}$" }, { type: "null" }], default: null, title: "Zip" },
        },
        required: ["street"],
        title: "Address",
        type: "object",
      },
    },
    properties: {
      name: { title: "Name", type: "string" },
      age: { exclusiveMinimum: 0, title: "Age", type: "integer" },
      address: { $ref: "#/$defs/Address", description: "where" },
      kind: { enum: ["a", "b"], title: "Kind", type: "string" },
    },
    required: ["name", "age", "address"],
    title: "Person",
    type: "object",
  },
  patterns: {
    type: "object",
    properties: {
      date: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$" },
      code: { type: "string", pattern: "^[A-Z]{3}(?:-[0-9]+)?$" },
      place: { type: "string", pattern: "東京|大阪" },
    },
    required: ["date", "code", "place"],
  },
  bounded: {
    type: "object",
    properties: { p: { type: "number", minimum: 0, maximum: 1 }, n: { type: "integer", exclusiveMinimum: -5, maximum: 300 } },
    required: ["p", "n"],
  },
  text: { type: "object", properties: { text: { type: "string", minLength: 3 }, note: { type: "string" } }, required: ["text", "note"] },
  tree: {
    $defs: {
      node: {
        type: "object",
        properties: { value: { type: "integer" }, children: { type: "array", items: { $ref: "#/$defs/node" }, maxItems: 2 } },
        required: ["value"],
      },
    },
    $ref: "#/$defs/node",
  },
  anyOf: { anyOf: [{ type: "string", maxLength: 5 }, { type: "integer" }, { type: "null" }] },
  oneOf: { oneOf: [{ type: "boolean" }, { type: "array", items: { const: "x" }, maxItems: 2 }] },
  tagged: {
    oneOf: [
      { type: "object", properties: { pet: { const: "cat" }, lives: { type: "integer" } }, required: ["pet", "lives"] },
      { type: "object", properties: { pet: { enum: ["dog", "wolf"] }, name: { type: "string", maxLength: 10 } }, required: ["pet"] },
    ],
  },
};

/** Text whose tokens get a bonus, so escapes, Japanese, emoji and exponents show up in random outputs. */
const FAVORED = '{"text": "東京タワー\\n\\"引用\\" 🗼😀", "note": "a\\\\b\\u00e9", "v": [1.5e-3, -0.25E+2, 12], "é": true}';

const ajv = new Ajv({ strict: false });

interface Run {
  text: string;
  steps: number;
  maskMs: number[];
}

/** Samples the argmax of random logits (+ a bonus for favored tokens) under the constraint until a stop token. */
function drive(tokenizer: Tokenizer, schema: object | undefined, seed: number, maxTokens: number): Run {
  const stopTokenIds = stopsOf(tokenizer);
  const constraint = createJsonConstraint(tokenizer, { schema, stopTokenIds, maxTokensHint: maxTokens });
  const { ids, text, maskMs } = driveConstraint(tokenizer, constraint, {
    stopTokenIds,
    seed,
    maxTokens,
    favored: tokenizer.encode(FAVORED),
  });
  return { text, steps: ids.length, maskMs };
}

for (const [label, tokenizer, seeds, maxTokens] of [
  ["Llama 3", llama3, [1], 40],
  ["tiny", tiny, [1, 2], 64],
] as const) {
  test(`random logits on the ${label} tokenizer always give valid JSON that matches the schema`, (t) => {
    let nonAscii = 0;
    let escapes = 0;
    for (const [name, schema] of Object.entries(SCHEMAS)) {
      const validate = ajv.compile(schema ?? { type: "object" });
      for (const seed of seeds) {
        const run = drive(tokenizer, schema, seed, maxTokens);
        let value: unknown;
        assert.doesNotThrow(() => (value = JSON.parse(run.text)), `${name}: ${JSON.stringify(run.text)} parses`);
        assert.ok(validate(value), `${name}: ${run.text} validates: ${ajv.errorsText(validate.errors)}`);
        if (/[^\x00-\x7f]/.test(run.text)) nonAscii++;
        if (run.text.includes("\\")) escapes++;
      }
    }
    t.diagnostic(`${Object.keys(SCHEMAS).length * seeds.length} outputs valid; ${nonAscii} with non-ASCII text, ${escapes} with escapes`);
  });
}

test("with max_tokens equal to the shortest document's length in bytes, the output still completes (tiny tokenizer)", (t) => {
  let runs = 0;
  for (const name of ["nested", "arrayOfObjects", "numbers", "text", "bounded", "tagged", "patterns"]) {
    const schema = SCHEMAS[name]!;
    const compiled = compileSchema(schema);
    const budget = compiled.minBytes[compiled.root.id];
    const validate = ajv.compile(schema);
    for (const seed of [11, 12, 13]) {
      const run = drive(tiny, schema, seed, budget);
      assert.ok(validate(JSON.parse(run.text)), `${name}: ${run.text} validates`);
      runs++;
    }
  }
  t.diagnostic(`${runs} outputs completed within a budget of exactly the minimum size`);
});

test("inside strings, the per-token tables allow exactly what the trie walk allows (Llama 3, mid-character states too)", (t) => {
  const schema = {
    type: "object",
    properties: { s: { type: "string", minLength: 2, maxLength: 4 }, t: { type: "string" } },
    required: ["s", "t"],
  };
  const automaton = new JsonAutomaton(compileSchema(schema), { maxWhitespace: 2 });
  const trie = vocabTrieOf(llama3);
  const fast = new JsonGrammar(automaton, trie);
  const slow = new JsonGrammar(automaton, trie, { stringTables: false });
  let states: Stack[] = [automaton.initial()];
  let compared = 0;
  for (const b of new TextEncoder().encode('{"s":"é😀\\n","t":"東\\u0')) {
    const next: Stack[] = [];
    for (const s of states) automaton.step(s, b, next);
    states = next;
    assert.equal(states.length, 1);
    if (!automaton.stringPosition(states[0])) continue;
    const key = automaton.stateKey(states[0]);
    for (const bound of [Infinity, 9]) {
      const a = fast.maskFor(states, key, bound);
      const e = slow.maskFor(states, key, bound);
      assert.equal(a.count, e.count, `allowed count after byte ${b} (bound ${bound})`);
      assert.deepEqual(a.bits, e.bits, `same tokens after byte ${b} (bound ${bound})`);
      assert.equal(a.maxDistNext, e.maxDistNext);
      compared++;
    }
  }
  t.diagnostic(`${compared} string states compared over the 128,256-token vocabulary`);
});

test("when complete, only stop tokens are allowed; a top-level number may still grow", () => {
  const object = createJsonConstraint(tiny, { schema: { type: "object", properties: {} }, stopTokenIds: [EOT] });
  for (const id of tiny.encode("{}")) object.accept(id);
  assert.ok(object.isComplete());
  const logits = new Float32Array(tiny.vocabSize);
  object.mask(logits);
  assert.deepEqual(
    [...logits.keys()].filter((id) => logits[id] > -Infinity),
    [EOT],
  );
  object.accept(EOT); // accepted as the end

  const number = createJsonConstraint(tiny, { schema: { type: "integer" }, stopTokenIds: [EOT] });
  number.accept(tiny.encode("7")[0]);
  assert.ok(number.isComplete());
  number.mask(logits.fill(0));
  assert.ok(logits[EOT] === 0 && logits[tiny.encode("1")[0]] === 0);
  assert.equal(logits[tiny.encode(".")[0]], -Infinity);
});

test("accepting a masked token is an error that names it", () => {
  const c = createJsonConstraint(tiny, { stopTokenIds: [EOT] });
  assert.throws(() => c.accept(tiny.encode("[")[0]), /does not continue the JSON document/);
  assert.throws(() => c.accept(EOT), /masks it/);
  assert.throws(() => createJsonConstraint(tiny, { stopTokenIds: [] }), /at least one stop token/);
});

test("mask time per step on the Llama 3 tokenizer (128,256 tokens)", (t) => {
  const start = performance.now();
  buildVocabTrie(llama3);
  const trieMs = performance.now() - start;
  for (const name of ["json_object", "nested", "text"]) {
    const times = drive(llama3, SCHEMAS[name], 7, 40).maskMs.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const p50 = times[times.length >> 1];
    t.diagnostic(
      `${name}: ${times.length} steps, mask mean ${mean.toFixed(2)} ms, p50 ${p50.toFixed(2)} ms, max ${times.at(-1)!.toFixed(2)} ms`,
    );
  }
  t.diagnostic(`building the vocabulary trie (once per tokenizer): ${trieMs.toFixed(0)} ms`);
});
