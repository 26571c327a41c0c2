// Checks that a parsed row has the fields a task needs, with the JSON types it needs, so a bad file fails at
// load time with its file and line instead of producing `undefined` in a prompt.

import { type Where, dataError } from "./errors.js";

/** The type a field must have. "integer" is a JSON number with no fraction; "string|null" allows JSON null. */
export type FieldType = "string" | "number" | "integer" | "boolean" | "array" | "object" | "string|null" | "any";

/** Field name → required type. */
export type FieldSchema = Readonly<Record<string, FieldType>>;

function typeOk(value: unknown, type: FieldType): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "string|null":
      return typeof value === "string" || value === null;
    case "number":
      return typeof value === "number" || typeof value === "bigint";
    case "integer":
      return (typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint";
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return typeof value === "object" && value !== null && !Array.isArray(value);
    case "any":
      return value !== undefined;
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "number" && !Number.isInteger(value)) return `the number ${value}`;
  return `a ${typeof value}`;
}

/**
 * Throws a one-line SwallowError naming `where` when `row` is not an object or misses a field of `schema`
 * or has one of the wrong type. Returns the row typed as a record for convenience.
 */
export function checkFields(row: unknown, schema: FieldSchema, where: Where): Record<string, unknown> {
  if (typeof row !== "object" || row === null || Array.isArray(row)) {
    throw dataError(where, `expected an object with fields ${Object.keys(schema).join(", ")}, found ${describe(row)}`);
  }
  const record = row as Record<string, unknown>;
  for (const [name, type] of Object.entries(schema)) {
    if (!(name in record) || record[name] === undefined) throw dataError(where, `missing field "${name}"`);
    if (!typeOk(record[name], type)) {
      throw dataError(where, `field "${name}" must be ${type === "integer" ? "an integer" : `a ${type}`}, found ${describe(record[name])}`);
    }
  }
  return record;
}

/** A string value inside a nested document (e.g. JSQuAD's data[i].paragraphs[j].context); `path` names it in the error. */
export function expectString(value: unknown, where: Where, path: string): string {
  if (typeof value !== "string")
    throw dataError(where, `${path} must be a string, found ${value === undefined ? "nothing" : describe(value)}`);
  return value;
}

/** An array value inside a nested document; `path` names it in the error. */
export function expectArray(value: unknown, where: Where, path: string): unknown[] {
  if (!Array.isArray(value)) throw dataError(where, `${path} must be an array, found ${value === undefined ? "nothing" : describe(value)}`);
  return value;
}
