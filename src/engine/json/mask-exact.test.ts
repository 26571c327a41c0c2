/**
 * Masks are exact: on small hand-made vocabularies, every allowed token keeps the output a prefix of some valid
 * document and every masked one breaks it. The reference is independent of the automaton: a finite universe of
 * candidate documents filtered by `ajv` (and by the documented stricter choices), or JSON.parse + ajv over a few
 * completions for numbers. Every reachable prefix up to a few tokens is checked against every vocabulary entry.
 */

import { test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";

import { createJsonConstraint } from "./json-constraint.js";
import type { VocabSource } from "./vocab-trie.js";

type TokenSpec = string | number[];

/**
 * A fake tokenizer: one token per spec, every single byte that occurs in them (as in byte-level BPE, where all 256
 * bytes are tokens), and a special stop token at the end.
 */
function fakeVocab(specs: TokenSpec[]): { vocab: VocabSource; bytes: Uint8Array[]; stop: number } {
  const bytes = specs.map((s) => (typeof s === "string" ? new TextEncoder().encode(s) : Uint8Array.from(s)));
  const singles = new Set(bytes.filter((b) => b.length === 1).map((b) => b[0]));
  for (const b of new Set(bytes.flatMap((t) => [...t]))) if (!singles.has(b)) bytes.push(Uint8Array.of(b));
  const stop = bytes.length;
  const vocab: VocabSource = {
    vocabSize: bytes.length + 1,
    specialTokenIds: new Set([stop]),
    idToToken: (id) => (id <= stop ? `t${id}` : undefined),
    tokenBytes: (id) => (id === stop ? new TextEncoder().encode("<|eot|>") : bytes[id]),
  };
  return { vocab, bytes, stop };
}

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const utf8Latin1 = (s: string) => latin1(new TextEncoder().encode(s));

interface Reference {
  /** Is this byte string (latin1) a prefix of some valid document? */
  viable(prefix: string): boolean;
  /** Is it a complete valid document? */
  complete(prefix: string): boolean;
}

const ajv = new Ajv({ strict: false });

/** Reference from a finite universe of candidate values (serialized compactly), kept when ajv and `policy` accept them. */
function universeReference(schema: object, universe: unknown[], policy: (doc: string) => boolean = () => true): Reference {
  const validate = ajv.compile(schema);
  const docs = new Set(universe.map((v) => JSON.stringify(v)).filter((d) => validate(JSON.parse(d)) && policy(d)));
  assert.ok(docs.size > 0, "universe has valid documents");
  const prefixes = new Set<string>();
  for (const doc of docs) {
    const b = utf8Latin1(doc);
    for (let i = 0; i <= b.length; i++) prefixes.add(b.slice(0, i));
  }
  const complete = new Set([...docs].map(utf8Latin1));
  return { viable: (p) => prefixes.has(p), complete: (p) => complete.has(p) };
}

/** Reference that tries a few completions with JSON.parse + ajv (for infinite languages such as numbers). */
function completionReference(schema: object, completions: string[], policy: (doc: string) => boolean = () => true): Reference {
  const validate = ajv.compile(schema);
  const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
  const valid = (latin1Bytes: string) => {
    try {
      const text = strictUtf8.decode(Buffer.from(latin1Bytes, "latin1"));
      // Documented: no whitespace before or after the top-level value.
      return !/^[ \t\n\r]|[ \t\n\r]$/.test(text) && policy(text) && validate(JSON.parse(text)) === true;
    } catch {
      return false;
    }
  };
  return { viable: (p) => completions.some((c) => valid(p + c)), complete: (p) => valid(p) };
}

/**
 * Breadth-first over token sequences (up to `maxDepth` tokens, `maxNodes` prefixes): at each prefix, the mask must
 * allow exactly the tokens the reference calls viable, allow the stop token exactly when the prefix is complete, and
 * isComplete() must agree. Returns how many (prefix, token) pairs were checked.
 */
function checkExact(schema: object, specs: TokenSpec[], reference: Reference, maxDepth = 5, maxNodes = 600): number {
  const { vocab, bytes, stop } = fakeVocab(specs);
  let queue: number[][] = [[]];
  let visited = 0;
  let pairs = 0;
  for (let depth = 0; depth <= maxDepth && queue.length > 0 && visited < maxNodes; depth++) {
    const next: number[][] = [];
    for (const path of queue) {
      if (visited++ >= maxNodes) break;
      const constraint = createJsonConstraint(vocab, { schema, stopTokenIds: [stop], maxWhitespace: 0 });
      for (const id of path) constraint.accept(id);
      const prefix = path.map((id) => latin1(bytes[id])).join("");
      const logits = new Float32Array(vocab.vocabSize);
      constraint.mask(logits);
      const complete = reference.complete(prefix);
      assert.equal(constraint.isComplete(), complete, `isComplete after ${JSON.stringify(prefix)}`);
      assert.equal(logits[stop] === 0, complete, `stop token after ${JSON.stringify(prefix)}`);
      let allowed = complete ? 1 : 0;
      for (let id = 0; id < stop; id++) {
        const expected = reference.viable(prefix + latin1(bytes[id]));
        const actual = logits[id] === 0;
        assert.equal(actual, expected, `token ${JSON.stringify(latin1(bytes[id]))} after ${JSON.stringify(prefix)}`);
        pairs++;
        if (actual) {
          allowed++;
          next.push([...path, id]);
        }
      }
      assert.ok(allowed > 0, `at least one token is allowed after ${JSON.stringify(prefix)}`);
    }
    queue = next;
  }
  return pairs;
}

/** All sequences of distinct keys (in any order) of up to `maxKeys`, with every combination of values from `pool`. */
function objects(keys: string[], pool: unknown[], maxKeys: number): object[] {
  const out: object[] = [{}];
  const grow = (entries: [string, unknown][]) => {
    if (entries.length >= maxKeys) return;
    for (const key of keys) {
      if (entries.some(([k]) => k === key)) continue;
      for (const value of pool) {
        const longer: [string, unknown][] = [...entries, [key, value]];
        out.push(Object.fromEntries(longer));
        grow(longer);
      }
    }
  };
  grow([]);
  return out;
}

/** All arrays of up to `maxLength` items from `pool`. */
function arrays(pool: unknown[], maxLength: number): unknown[][] {
  let level: unknown[][] = [[]];
  const out: unknown[][] = [[]];
  for (let n = 1; n <= maxLength; n++) {
    level = level.flatMap((a) => pool.map((v) => [...a, v]));
    out.push(...level);
  }
  return out;
}

/** The documented choice: properties appear in declared order. */
const inDeclaredOrder = (declared: string[]) => (doc: string) => {
  const keys = Object.keys(JSON.parse(doc));
  return keys.every((k, i) => i === 0 || declared.indexOf(keys[i - 1]) < declared.indexOf(k));
};

test("object with enum, boolean and null properties, required and optional, declared order", (t) => {
  const schema = {
    type: "object",
    properties: { a: { enum: [1, 12, "x"] }, b: { type: "boolean" }, c: { type: "null" } },
    required: ["a"],
    additionalProperties: false,
  };
  const universe = objects(["a", "b", "c", "d"], [1, 12, 2, "x", "y", true, false, null], 3);
  const vocab = ["{", "}", '"', "a", "b", "c", "d", '"a"', '":', ":", ",", "1", "12", "2", '"x"', "x", "tr", "ue", "true", "fal"];
  vocab.push("se", "null", "n", "},", "1,", ',"b":', '"}', '{"', '{"a":1}', " ", ',"c":null}', '"d"');
  const pairs = checkExact(schema, vocab, universeReference(schema, universe, inDeclaredOrder(["a", "b", "c"])), 6, 500);
  t.diagnostic(`${pairs} (prefix, token) pairs checked`);
});

test("free-form object (json_object) with string keys and small values", (t) => {
  const schema = { type: "object", additionalProperties: { type: "integer" } };
  // Keys are free strings, so a finite universe cannot hold them all; instead every viable prefix has one of these
  // completions (inside a key, after it, after `:` or `-`, after a value, after `,`).
  const completions = ["", "}", "1}", ":1}", '":1}', '"":1}'];
  const vocab = ["{", "}", '"', "k", "v", '"k"', '":', ":", ",", "1", "0", "-", "10", '"s"', "true", '"}', '{"', "}}", "{}"];
  // Documented: integers are written without fraction or exponent (`1e1` is an integer to ajv but is never emitted).
  const noFraction = (doc: string) => !/[.eE]/.test(doc.replace(/"(?:[^"\\]|\\.)*"/g, '""'));
  const pairs = checkExact(schema, vocab, completionReference(schema, completions, noFraction), 5, 500);
  t.diagnostic(`${pairs} pairs checked`);
});

test("array of enum values with minItems/maxItems and literal prefixes (1 vs 12)", (t) => {
  const schema = { type: "array", items: { enum: [1, 12, "a", null, true] }, minItems: 1, maxItems: 3 };
  const universe = arrays([1, 12, 2, "a", "b", null, true, false], 4);
  const vocab = ["[", "]", ",", "1", "12", "2", "1,", '"a"', '"', "a", "nu", "ll", "null", "true", "tr", "]]", "[1", "1]", ",1"];
  const pairs = checkExact(schema, vocab, universeReference(schema, universe), 6, 600);
  t.diagnostic(`${pairs} pairs checked`);
});

test("anyOf of null, boolean, enum, bounded array and object branches", (t) => {
  const schema = {
    anyOf: [
      { type: "null" },
      { type: "boolean" },
      { enum: [1, 12] },
      { type: "array", items: { type: "boolean" }, maxItems: 2 },
      { type: "object", properties: { k: { const: "v" } }, required: ["k"], additionalProperties: false },
    ],
  };
  const universe: unknown[] = [
    null,
    true,
    false,
    1,
    12,
    2,
    "v",
    ...arrays([true, false, 1], 3),
    { k: "v" },
    { k: "w" },
    {},
    { k: "v", z: 1 },
  ];
  const vocab = ["null", "n", "true", "t", "rue", "false", "1", "12", "2", "[", "]", ",", "{", "}", '"k"', ":", '"v"', '"w"', "[t"];
  const pairs = checkExact(schema, vocab, universeReference(schema, universe), 6, 600);
  t.diagnostic(`${pairs} pairs checked`);
});

test("$ref into $defs and oneOf with disjoint branches", (t) => {
  const schema = {
    $defs: { B: { type: "boolean" }, E: { oneOf: [{ const: "p" }, { const: "q" }, { type: "null" }] } },
    type: "object",
    properties: { x: { $ref: "#/$defs/B" }, y: { $ref: "#/$defs/E" } },
    required: ["y"],
    additionalProperties: false,
  };
  const universe = objects(["x", "y"], [true, false, null, "p", "q", "r", 1], 2);
  const vocab = ["{", "}", '"x"', '"y"', ":", ",", "true", "false", "null", '"p"', '"q"', '"r"', '"', "p", "1"];
  const pairs = checkExact(schema, vocab, universeReference(schema, universe, inDeclaredOrder(["x", "y"])), 6, 600);
  t.diagnostic(`${pairs} pairs checked`);
});

test("strings: minLength/maxLength in code points, escapes, UTF-8 split across tokens, invalid bytes refused", (t) => {
  const schema = { type: "string", minLength: 1, maxLength: 3 };
  // Every viable prefix (bytes) completes with one of these: close, add a character, finish an escape or a UTF-8 sequence.
  const completions = ['"', 'a"', 'n"', '\x80"', '\x80\x80"', '\x80\x80\x80"', '\xa0\x80"', '\x90\x80\x80"', ""];
  const e = [0xc3, 0xa9];
  const smile = [0xf0, 0x9f, 0x98, 0x80];
  const vocab: TokenSpec[] = ['"', "a", "aa", 'a"', "é", [0xc3], [0xa9], [0xa9, 0x22], smile, smile.slice(0, 2), smile.slice(2)];
  vocab.push([...smile, 0x22], "\\", "n", "\\n", '\\"', '"\\', "\\\\", [0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x0a], [...e, ...e]);
  const pairs = checkExact(schema, vocab, completionReference(schema, completions), 5, 800);
  t.diagnostic(`${pairs} pairs checked`);
});

test("numbers: sign, leading zero, fraction and exponent syntax against JSON.parse", (t) => {
  const schema = { type: "array", items: { type: "number" }, maxItems: 2 };
  const exponentDigits = (doc: string) => !/[eE][+-]?\d{3}/.test(doc); // documented bound: at most 2 exponent digits
  const vocab = ["[", "]", ",", "-", "0", "1", "12", ".", ".5", "e", "E", "+", "e-", "1e", "00", "0.", "-0", "1]"];
  const pairs = checkExact(schema, vocab, completionReference(schema, ["", "]", "0]"], exponentDigits), 5, 800);
  t.diagnostic(`${pairs} pairs checked`);
});

test("top-level integer: no fraction or exponent; complete numbers may still grow", (t) => {
  const schema = { type: "integer" };
  const noFraction = (doc: string) => !/[.eE]/.test(doc); // documented: integers are written -?(0|[1-9][0-9]*)
  const vocab = ["-", "0", "1", "12", ".", ".5", "e1", "00", "-0", "5"];
  const pairs = checkExact(schema, vocab, completionReference(schema, ["", "0"], noFraction), 4, 300);
  t.diagnostic(`${pairs} pairs checked`);
});

test("integer minimum/maximum: every digit keeps a value in range reachable", (t) => {
  const schema = { type: "array", items: { type: "integer", minimum: -3, maximum: 12 }, maxItems: 2 };
  const vocab = ["[", "]", ",", "-", "0", "1", "12", "2", "3", "4", "5", "-1", "13", "00", ".", "e"];
  const noFraction = (doc: string) => !/[.eE]/.test(doc); // documented: integers are written -?(0|[1-9][0-9]*)
  const pairs = checkExact(schema, vocab, completionReference(schema, ["", "]", "0]", "1]"], noFraction), 5, 800);
  const large = { type: "integer", minimum: 100, exclusiveMaximum: 1000 };
  const pairs2 = checkExact(large, ["1", "0", "5", "9", "00", "99", "-", "1000"], completionReference(large, ["", "0", "00"]), 4, 400);
  t.diagnostic(`${pairs + pairs2} pairs checked`);
});

test("number exclusiveMinimum/maximum with fractions (bounded numbers have no exponent)", (t) => {
  const schema = { type: "array", items: { type: "number", exclusiveMinimum: 0, maximum: 1.5 }, maxItems: 2 };
  const vocab = ["[", "]", ",", "-", "0", "1", "2", "5", "6", ".", ".5", "0.", "1.5", "e", "15", "00"];
  const noExponent = (doc: string) => !/[eE]/.test(doc);
  const completions = ["", "]", "0]", "1]", ".1]", "1.1]"];
  const pairs = checkExact(schema, vocab, completionReference(schema, completions, noExponent), 5, 800);
  t.diagnostic(`${pairs} pairs checked`);
});

test("string pattern (anchored): characters must keep a match reachable", (t) => {
  const schema = { type: "string", pattern: "^[a-c]{2,3}-\\d+$" };
  const vocab = ['"', "a", "b", "c", "d", "-", "1", "2", "ab", '"a', "c-", "-1", '12"', "\\", "n", "é", "a-", "abcd"];
  const completions = ["", '"', '1"', '-1"', 'a-1"', 'aa-1"'];
  const pairs = checkExact(schema, vocab, completionReference(schema, completions), 6, 600);
  t.diagnostic(`${pairs} pairs checked`);
});

test("string pattern (unanchored, non-ASCII, escapes, UTF-8 split across tokens)", (t) => {
  const schema = { type: "string", pattern: "東京|\\n" };
  const kyo = [0xe4, 0xba, 0xac]; // 京
  const vocab: TokenSpec[] = ['"', "東", "京", kyo.slice(0, 1), kyo.slice(1), "東京", "x", "é", [0xc3], "\\", "n", '"x', "\\u", "0041"];
  const finish = ["", "\x80", "\x80\x80", "\x80\x80\x80", "\xa0\x80", "\x90\x80\x80", "\xba\xac", "\xac", "\x9d\xb1", "\xb1"];
  const tails = ['"', '東京"', '京"', 'n東京"', 'n"', "n"].map(utf8Latin1);
  const completions = [...finish.flatMap((f) => tails.map((tail) => f + tail)), ""];
  const pairs = checkExact(
    schema,
    vocab,
    completionReference(schema, completions, (doc) => !/(?:^|[^\\])(?:\\\\)*\\u/.test(doc)), // documented: no \u escapes with a pattern
    5,
    400,
  );
  t.diagnostic(`${pairs} pairs checked`);
});

test("whitespace is bounded per gap (maxWhitespace)", () => {
  const { vocab, bytes, stop } = fakeVocab(["{", "}", " ", "  ", "   ", "\n", "\n ", '"a"', ":", "1", "\t"]);
  const schema = { type: "object", properties: { a: { type: "integer" } } };
  const allowedAfter = (path: number[]) => {
    const c = createJsonConstraint(vocab, { schema, stopTokenIds: [stop], maxWhitespace: 2 });
    for (const id of path) c.accept(id);
    const logits = new Float32Array(vocab.vocabSize);
    c.mask(logits);
    return new Set([...logits.keys()].filter((id) => logits[id] === 0).map((id) => (id === stop ? "<stop>" : latin1(bytes[id]))));
  };
  assert.deepEqual(allowedAfter([0]), new Set(["}", " ", "  ", "\n", "\n ", '"a"', '"', "\t"]));
  assert.deepEqual(allowedAfter([0, 2]), new Set(["}", " ", "\n", '"a"', '"', "\t"]));
  assert.deepEqual(allowedAfter([0, 3]), new Set(["}", '"a"', '"']));
  assert.deepEqual(allowedAfter([0, 7, 2, 8, 5, 9, 6, 1]), new Set(["<stop>"])); // `{"a" :\n1\n }` then only the stop token
});

test("\\u escapes: any BMP character except surrogates", () => {
  const { vocab, bytes, stop } = fakeVocab(['"', "\\u", "0041", "00e9", "D83D", "d7ff", "DE00", "dc"]);
  const c = createJsonConstraint(vocab, { schema: { type: "string" }, stopTokenIds: [stop] });
  c.accept(0);
  c.accept(1);
  const logits = new Float32Array(vocab.vocabSize);
  c.mask(logits);
  const allowed = [...logits.keys()].filter((id) => logits[id] === 0 && bytes[id].length === 4).map((id) => latin1(bytes[id]));
  assert.deepEqual(allowed, ["0041", "00e9", "d7ff"]);
  c.accept(bytes.findIndex((b) => latin1(b) === "d"));
  c.mask(logits.fill(0));
  const digits = [...logits.keys()].filter((id) => logits[id] === 0 && bytes[id].length === 1).map((id) => latin1(bytes[id]));
  assert.deepEqual(digits.sort(), ["0", "1", "3", "4", "7"]); // \ud0.. to \ud7.. only: d8–df would be surrogates
});
