/**
 * Compiles a JSON schema (the subset vLLM/outlines users rely on) into a small graph of {@link JsonNode}s
 * that the byte automaton walks. Keywords that would constrain the output but are not supported are
 * rejected with a one-line SwallowError naming them: a constraint is never silently dropped.
 *
 * Choices that make the output stricter than the schema (it still validates):
 * - object properties are emitted in declared order; extra properties are never emitted when
 *   `properties` is given (even if `additionalProperties` allows them);
 * - `integer` is `-?(0|[1-9][0-9]*)` (no fraction, no exponent); numbers with minimum/maximum have no exponent;
 * - numbers have at most 20 integer digits, 20 fraction digits and 2 exponent digits;
 * - strings never use `\u` escapes of surrogates (write the character as UTF-8 instead); strings with a `pattern`
 *   use no `\u` escapes at all;
 * - enum/const values are emitted in compact `JSON.stringify` form.
 */

import { SwallowError } from "../../errors.js";
import { type NumberBounds, numberBounds } from "./number-bounds.js";
import { Regex } from "./regex.js";
import { computeMinBytes, disjoint, findLeftRecursion } from "./schema-checks.js";

export interface ObjectProp {
  name: string;
  /** The key as it appears in the output, quotes included (`"name"`), UTF-8. */
  keyBytes: Uint8Array;
  node: JsonNode;
  required: boolean;
}

export type JsonNode =
  | { kind: "any"; id: number }
  | { kind: "object"; id: number; props: ObjectProp[]; free: JsonNode | null }
  | { kind: "array"; id: number; items: JsonNode; minItems: number; maxItems: number }
  | { kind: "string"; id: number; minLength: number; maxLength: number; pattern: Regex | null }
  | { kind: "number"; id: number; integer: boolean; bounds: NumberBounds | null }
  /** `values`: the JSON texts, UTF-8, sorted by bytes (the automaton narrows candidates by binary search). */
  | { kind: "literal"; id: number; values: Uint8Array[] }
  | { kind: "union"; id: number; options: JsonNode[] };

/** A node before it gets its id. */
type NodeInit = JsonNode extends infer N ? (N extends JsonNode ? Omit<N, "id"> : never) : never;

/** Keywords that only annotate (they never make a document invalid). */
const ANNOTATIONS = new Set([
  "title",
  "description",
  "default",
  "examples",
  "$schema",
  "$id",
  "$comment",
  "readOnly",
  "writeOnly",
  "deprecated",
  "discriminator",
  "format", // accepted as a plain string (documented choice)
  "$defs",
  "definitions",
]);
const SUPPORTED = new Set([
  "type",
  "properties",
  "required",
  "additionalProperties",
  "enum",
  "const",
  "anyOf",
  "oneOf",
  "allOf",
  "$ref",
  "items",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "minimum",
  "maximum",
  "exclusiveMinimum",
  "exclusiveMaximum",
  "pattern",
]);
const TYPES = ["object", "array", "string", "number", "integer", "boolean", "null"] as const;

const utf8 = new TextEncoder();

/** A compiled schema: the root node and every node's minimum serialized length in bytes. */
export interface CompiledSchema {
  root: JsonNode;
  /** `minBytes[node.id]`: the fewest bytes of any document the node accepts (finite for every reachable node). */
  minBytes: number[];
  nodeCount: number;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

class Compiler {
  private nextId = 0;
  readonly nodes: JsonNode[] = [];
  private readonly byRef = new Map<string, JsonNode>();

  constructor(private readonly rootSchema: unknown) {}

  private fail(path: string, what: string): never {
    throw new SwallowError(`response_format json_schema at ${path || "/"}: ${what}`);
  }

  add(node: NodeInit): JsonNode {
    const full = { ...node, id: this.nextId++ } as JsonNode;
    this.nodes.push(full);
    return full;
  }

  /** The shared "any JSON value" node (json_object values, schemas without constraints). */
  private anyNode: JsonNode | null = null;
  any(): JsonNode {
    this.anyNode ??= this.add({ kind: "any" });
    return this.anyNode;
  }

  compile(schema: unknown, path: string): JsonNode {
    if (schema === true) return this.any();
    if (schema === false) this.fail(path, "the schema `false` accepts nothing");
    if (!isRecord(schema)) this.fail(path, `a schema must be an object or a boolean, got ${JSON.stringify(schema)}`);
    for (const key of Object.keys(schema)) {
      if (!SUPPORTED.has(key) && !ANNOTATIONS.has(key)) {
        this.fail(path, `keyword "${key}" is not supported by constrained decoding; remove it from the schema`);
      }
    }
    if (schema.$ref !== undefined) {
      if (Object.keys(schema).some((k) => SUPPORTED.has(k) && k !== "$ref")) {
        this.fail(path, `"$ref" next to other constraints is not supported; move them into the referenced schema`);
      }
      return this.ref(schema.$ref, path);
    }
    for (const combiner of ["anyOf", "oneOf", "allOf"] as const) {
      if (schema[combiner] === undefined) continue;
      if (Object.keys(schema).some((k) => SUPPORTED.has(k) && k !== combiner)) {
        this.fail(path, `"${combiner}" next to other constraints is not supported; move them into each branch`);
      }
      const list = schema[combiner];
      if (!Array.isArray(list) || list.length === 0) this.fail(path, `"${combiner}" must be a non-empty list of schemas`);
      if (combiner === "allOf") {
        if (list.length !== 1) this.fail(path, `"allOf" with more than one schema is not supported; merge them into one`);
        return this.compile(list[0], `${path}/allOf/0`);
      }
      const options = list.map((s, k) => this.compile(s, `${path}/${combiner}/${k}`));
      const node = options.length === 1 ? options[0] : this.add({ kind: "union", options });
      if (combiner === "oneOf") (this.pendingOneOf ??= []).push({ node, path });
      return node;
    }
    if (schema.const !== undefined || schema.enum !== undefined) return this.literal(schema, path);
    let types: string[];
    if (schema.type === undefined) {
      types = inferTypes(schema);
    } else {
      types = Array.isArray(schema.type) ? schema.type : [schema.type];
      for (const t of types) {
        if (!TYPES.includes(t as (typeof TYPES)[number])) this.fail(path, `unknown type ${JSON.stringify(t)}`);
      }
    }
    if (types.length === 0) return this.any();
    const options = [...new Set(types)].map((t) => this.typed(t, schema, path));
    return options.length === 1 ? options[0] : this.add({ kind: "union", options });
  }

  pendingOneOf: { node: JsonNode; path: string }[] | null = null;

  private ref(ref: unknown, path: string): JsonNode {
    if (typeof ref !== "string" || !(ref === "#" || ref.startsWith("#/"))) {
      this.fail(path, `only local "$ref"s ("#" or "#/$defs/Name") are supported, got ${JSON.stringify(ref)}`);
    }
    const known = this.byRef.get(ref);
    if (known) return known;
    let target: unknown = this.rootSchema;
    for (const raw of ref
      .slice(2)
      .split("/")
      .filter((p) => p.length > 0)) {
      const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
      if (!isRecord(target) || !(part in target)) this.fail(path, `"$ref" ${ref} points to nothing`);
      target = target[part];
    }
    // A placeholder lets recursive schemas (a tree of nodes) point back at a node being compiled.
    const placeholder = this.add({ kind: "union", options: [] }) as Extract<JsonNode, { kind: "union" }>;
    this.byRef.set(ref, placeholder);
    const node = this.compile(target, ref.slice(1));
    placeholder.options.push(node);
    return placeholder;
  }

  private literal(schema: Record<string, unknown>, path: string): JsonNode {
    let values: unknown[];
    if (schema.const !== undefined) {
      values = [schema.const];
      if (schema.enum !== undefined) {
        if (!Array.isArray(schema.enum)) this.fail(path, `"enum" must be a list`);
        if (!schema.enum.some((v) => JSON.stringify(v) === JSON.stringify(schema.const))) values = [];
      }
    } else {
      if (!Array.isArray(schema.enum)) this.fail(path, `"enum" must be a list`);
      values = schema.enum;
    }
    if (schema.type !== undefined) {
      const types = Array.isArray(schema.type) ? schema.type : [schema.type];
      values = values.filter((v) => types.some((t) => hasType(v, t)));
    }
    for (const key of Object.keys(schema)) {
      if (SUPPORTED.has(key) && !["enum", "const", "type"].includes(key)) {
        this.fail(path, `"${key}" next to "enum"/"const" is not supported; list only the allowed values`);
      }
    }
    const texts = [...new Set(values.map((v) => JSON.stringify(v)))];
    if (texts.length === 0) this.fail(path, `"enum"/"const" leaves no value that matches "type"`);
    return this.add({ kind: "literal", values: texts.map((t) => utf8.encode(t)).sort(compareBytes) });
  }

  private typed(type: string, schema: Record<string, unknown>, path: string): JsonNode {
    const count = (key: string, fallback: number): number => {
      const v = schema[key];
      if (v === undefined) return fallback;
      if (!Number.isSafeInteger(v) || (v as number) < 0) this.fail(path, `"${key}" must be an integer >= 0, got ${JSON.stringify(v)}`);
      return v as number;
    };
    switch (type) {
      case "object":
        return this.object(schema, path);
      case "array": {
        const minItems = count("minItems", 0);
        const maxItems = count("maxItems", Infinity);
        if (minItems > maxItems) this.fail(path, `minItems ${minItems} > maxItems ${maxItems}`);
        if (Array.isArray(schema.items)) this.fail(path, `tuple "items" (a list) is not supported; give one schema for all items`);
        const items = schema.items === undefined ? this.any() : this.compile(schema.items, `${path}/items`);
        return this.add({ kind: "array", items, minItems, maxItems });
      }
      case "string": {
        const minLength = count("minLength", 0);
        const maxLength = count("maxLength", Infinity);
        if (minLength > maxLength) this.fail(path, `minLength ${minLength} > maxLength ${maxLength}`);
        return this.add({ kind: "string", minLength, maxLength, pattern: this.pattern(schema, path) });
      }
      case "number":
      case "integer": {
        const keywords: Record<string, number> = {};
        for (const key of ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]) {
          const v = schema[key];
          if (v === undefined) continue;
          if (typeof v !== "number" || !Number.isFinite(v)) this.fail(path, `"${key}" must be a number, got ${JSON.stringify(v)}`);
          keywords[key] = v;
        }
        const bounds = numberBounds(keywords, type === "integer");
        if (bounds === "empty") this.fail(path, `no ${type} lies between the minimum and the maximum`);
        return this.add({ kind: "number", integer: type === "integer", bounds });
      }
      case "boolean":
        return this.add({ kind: "literal", values: [utf8.encode("false"), utf8.encode("true")] }); // sorted
      default:
        return this.add({ kind: "literal", values: [utf8.encode("null")] });
    }
  }

  private pattern(schema: Record<string, unknown>, path: string): Regex | null {
    const source = schema.pattern;
    if (source === undefined) return null;
    if (typeof source !== "string") this.fail(path, `"pattern" must be a string`);
    if (schema.minLength !== undefined || schema.maxLength !== undefined) {
      this.fail(path, `"pattern" together with "minLength"/"maxLength" is not supported; put the length into the pattern`);
    }
    let regex: Regex;
    try {
      regex = new Regex(source);
    } catch (error) {
      this.fail(path, `"pattern" ${JSON.stringify(source)} uses ${(error as Error).message}, which constrained decoding does not support`);
    }
    if (regex.start.ids.length === 0) this.fail(path, `"pattern" ${JSON.stringify(source)} matches no string`);
    return regex;
  }

  private object(schema: Record<string, unknown>, path: string): JsonNode {
    const properties = schema.properties ?? {};
    if (!isRecord(properties)) this.fail(path, `"properties" must be an object`);
    const required = schema.required ?? [];
    if (!Array.isArray(required) || !required.every((r) => typeof r === "string")) this.fail(path, `"required" must be a list of names`);
    const props: ObjectProp[] = Object.entries(properties).map(([name, sub]) => ({
      name,
      keyBytes: utf8.encode(JSON.stringify(name)),
      node: this.compile(sub, `${path}/properties/${name}`),
      required: required.includes(name),
    }));
    const additional = schema.additionalProperties;
    for (const name of required) {
      if (props.some((p) => p.name === name)) continue;
      if (additional === false) this.fail(path, `required property "${name}" is not in "properties" and additionalProperties is false`);
      const node = additional === undefined || additional === true ? this.any() : this.compile(additional, `${path}/additionalProperties`);
      props.push({ name, keyBytes: utf8.encode(JSON.stringify(name)), node, required: true });
    }
    let free: JsonNode | null = null;
    if (props.length === 0 && additional !== false) {
      free = additional === undefined || additional === true ? this.any() : this.compile(additional, `${path}/additionalProperties`);
    } else if (additional !== undefined && typeof additional !== "boolean" && !isRecord(additional)) {
      this.fail(path, `"additionalProperties" must be a boolean or a schema`);
    }
    return this.add({ kind: "object", props, free });
  }
}

/** Types implied by type-specific keywords when "type" is absent (e.g. `{"properties": …}` is an object). */
function inferTypes(schema: Record<string, unknown>): string[] {
  const types: string[] = [];
  if (["properties", "required", "additionalProperties"].some((k) => k in schema)) types.push("object");
  if (["items", "minItems", "maxItems"].some((k) => k in schema)) types.push("array");
  if (["minLength", "maxLength", "pattern"].some((k) => k in schema)) types.push("string");
  if (["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"].some((k) => k in schema)) types.push("number");
  return types;
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "string":
      return typeof value === "string";
    case "array":
      return Array.isArray(value);
    case "object":
      return isRecord(value);
    default:
      return false;
  }
}

/**
 * Compiles `schema` (absent = any JSON object, OpenAI's `json_object`).
 * @throws SwallowError naming the unsupported keyword or the contradiction, with its JSON pointer.
 */
export function compileSchema(schema: object | undefined): CompiledSchema {
  const compiler = new Compiler(schema);
  const root = schema === undefined ? compiler.add({ kind: "object", props: [], free: compiler.any() }) : compiler.compile(schema, "");
  if (findLeftRecursion(compiler.nodes)) {
    throw new SwallowError(`response_format json_schema: a "$ref" refers to itself without an object or array in between`);
  }
  const minBytes = computeMinBytes(compiler.nodes);
  if (!Number.isFinite(minBytes[root.id])) {
    throw new SwallowError(
      "response_format json_schema: no finite JSON document matches the schema (a required property recurses forever)",
    );
  }
  for (const { node, path } of compiler.pendingOneOf ?? []) {
    const options = node.kind === "union" ? node.options : [node];
    if (!disjoint(options)) {
      throw new SwallowError(
        `response_format json_schema at ${path || "/"}: "oneOf" branches that can match the same value are not supported; use "anyOf"`,
      );
    }
  }
  return { root, minBytes, nodeCount: compiler.nodes.length };
}
