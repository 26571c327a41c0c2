import { test } from "node:test";
import assert from "node:assert/strict";

import { SwallowError } from "../../errors.js";
import { compileSchema } from "./schema.js";

/** Bad schemas and the words their error must contain (the keyword or the contradiction, and where). */
const BAD: [string, unknown, RegExp][] = [
  ["pattern lookahead", { type: "string", pattern: "^(?=a)a+$" }, /"pattern" "\^\(\?=a\)a\+\$" uses lookaround and named groups/],
  ["pattern backreference", { type: "string", pattern: "(a)\\1" }, /uses the escape \\1/],
  ["pattern word boundary", { type: "string", pattern: "\\bx" }, /uses the escape \\b/],
  ["pattern inner anchor", { type: "string", pattern: "a^b" }, /`\^` or `\$` other than at the start or end/],
  ["pattern anchored alternation", { type: "string", pattern: "^a|b$" }, /wrap the alternatives/],
  ["pattern matching nothing", { type: "string", pattern: "[^\\s\\S]" }, /matches no string/],
  ["pattern with maxLength", { type: "string", pattern: "^a+$", maxLength: 3 }, /put the length into the pattern/],
  ["multipleOf", { type: "object", properties: { n: { type: "integer", multipleOf: 2 } } }, /at \/properties\/n: keyword "multipleOf"/],
  ["draft-4 exclusiveMinimum", { type: "number", minimum: 0, exclusiveMinimum: true }, /"exclusiveMinimum" must be a number/],
  ["empty integer range", { type: "integer", minimum: 0.2, maximum: 0.8 }, /no integer lies between the minimum and the maximum/],
  ["empty number range", { type: "number", exclusiveMinimum: 1, maximum: 1 }, /no number lies between/],
  ["not", { not: { type: "string" } }, /keyword "not"/],
  ["patternProperties", { type: "object", patternProperties: { "^x": {} } }, /keyword "patternProperties"/],
  ["uniqueItems", { type: "array", uniqueItems: true }, /keyword "uniqueItems"/],
  ["minProperties", { type: "object", minProperties: 1 }, /keyword "minProperties"/],
  ["prefixItems", { type: "array", prefixItems: [{ type: "string" }] }, /keyword "prefixItems"/],
  ["tuple items", { type: "array", items: [{ type: "string" }] }, /tuple "items"/],
  ["unknown type", { type: "decimal" }, /unknown type "decimal"/],
  ["false schema", false, /accepts nothing/],
  ["non-object schema", 42, /must be an object or a boolean/],
  ["remote $ref", { $ref: "https://example.com/s.json" }, /only local "\$ref"s/],
  ["dangling $ref", { $ref: "#/$defs/Missing" }, /points to nothing/],
  ["$ref with siblings", { $ref: "#/$defs/A", maxLength: 3, $defs: { A: { type: "string" } } }, /"\$ref" next to other constraints/],
  ["left recursion", { $defs: { A: { anyOf: [{ $ref: "#/$defs/A" }, { type: "null" }] } }, $ref: "#/$defs/A" }, /refers to itself/],
  ["infinite required recursion", { type: "object", properties: { c: { $ref: "#" } }, required: ["c"] }, /no finite JSON document/],
  ["allOf of two", { allOf: [{ type: "string" }, { maxLength: 2 }] }, /"allOf" with more than one schema/],
  ["anyOf with siblings", { type: "string", anyOf: [{ maxLength: 2 }] }, /"anyOf" next to other constraints/],
  ["empty anyOf", { anyOf: [] }, /non-empty list/],
  ["empty enum", { enum: [] }, /leaves no value/],
  ["enum filtered by type", { type: "string", enum: [1, 2] }, /leaves no value/],
  ["enum with minLength", { enum: ["a"], minLength: 1 }, /"minLength" next to "enum"/],
  ["minLength > maxLength", { type: "string", minLength: 3, maxLength: 2 }, /minLength 3 > maxLength 2/],
  ["minItems > maxItems", { type: "array", minItems: 3, maxItems: 1 }, /minItems 3 > maxItems 1/],
  ["negative maxLength", { type: "string", maxLength: -1 }, /"maxLength" must be an integer >= 0/],
  [
    "overlapping oneOf",
    { oneOf: [{ type: "string" }, { type: "string", maxLength: 5 }] },
    /"oneOf" branches that can match the same value/,
  ],
  [
    "oneOf of objects without a discriminator",
    {
      oneOf: [
        { type: "object", properties: { k: { const: "a" } } },
        { type: "object", properties: { k: { const: "b" } } },
      ],
    },
    /"oneOf" branches that can match the same value/,
  ],
  ["required not allowed", { type: "object", required: ["x"], additionalProperties: false }, /"x" is not in "properties"/],
];

for (const [name, schema, message] of BAD) {
  test(`bad schema: ${name} gets a one-line SwallowError`, () => {
    assert.throws(
      () => compileSchema(schema as object),
      (error: unknown) => {
        assert.ok(error instanceof SwallowError, `SwallowError, got ${String(error)}`);
        assert.match(error.message, message);
        assert.match(error.message, /^response_format json_schema/);
        assert.ok(!error.message.includes("\n"), "one line");
        return true;
      },
    );
  });
}

test("annotations are ignored and format is a plain string; oneOf with disjoint branches compiles", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "T",
    description: "d",
    type: "object",
    properties: {
      when: { type: "string", format: "date-time", default: "", examples: ["x"] },
      kind: { oneOf: [{ const: "a" }, { const: "b" }, { type: "integer" }] },
    },
  };
  const compiled = compileSchema(schema);
  assert.equal(compiled.root.kind, "object");
  // `{}`: no property is required, so the shortest document has 2 bytes.
  assert.equal(compiled.minBytes[compiled.root.id], 2);
});

test("oneOf of objects discriminated by a required const property compiles (pydantic's tagged unions)", () => {
  const cat = { type: "object", properties: { pet: { const: "cat" }, lives: { type: "integer" } }, required: ["pet"] };
  const dog = { type: "object", properties: { pet: { enum: ["dog", "wolf"] } }, required: ["pet"] };
  const compiled = compileSchema({ $defs: { Cat: cat, Dog: dog }, oneOf: [{ $ref: "#/$defs/Cat" }, { $ref: "#/$defs/Dog" }] });
  assert.equal(compiled.root.kind, "union");
});

test("minimum document sizes follow required properties and minItems", () => {
  const compiled = compileSchema({
    type: "object",
    properties: { a: { type: "array", items: { type: "boolean" }, minItems: 2 }, b: { type: "string", minLength: 3 } },
    required: ["a", "b"],
  });
  // {"a":[true,true],"b":"xxx"}
  assert.equal(compiled.minBytes[compiled.root.id], JSON.stringify({ a: [true, true], b: "xxx" }).length);
});
