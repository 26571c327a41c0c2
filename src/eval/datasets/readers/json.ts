// JSON and JSON-lines readers (JGLUE's *.json files are JSON lines; JEMHopQA and JSQuAD are single JSON documents).

import { type Where, atLine, dataError, readUtf8, splitLines } from "./errors.js";
import { type FieldSchema, checkFields } from "./fields.js";

export interface JsonLinesOptions {
  /** Fields every line's object must have, with their types; a missing or mistyped field is an error naming the line. */
  fields?: FieldSchema;
}

/** One parsed line with its 1-based line number (for errors raised later by the task). */
export interface JsonLine {
  line: number;
  where: Where;
  value: Record<string, unknown>;
}

/**
 * Reads a JSON-lines file: one JSON object per line, in file order. Blank lines are skipped (Python's
 * `json.loads(line.strip())` would fail on them; skipping is the useful reading of a trailing blank line).
 * Errors name the file and line: invalid UTF-8, invalid JSON, a line that is not an object, missing/mistyped fields.
 */
export function readJsonLinesWithLines(file: string, options: JsonLinesOptions = {}): JsonLine[] {
  const out: JsonLine[] = [];
  splitLines(readUtf8(file)).forEach((text, index) => {
    if (text.trim() === "") return;
    const where = atLine(file, index + 1);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw dataError(where, `invalid JSON (${(error as Error).message})`);
    }
    const row = checkFields(value, options.fields ?? {}, where);
    out.push({ line: index + 1, where, value: row });
  });
  return out;
}

/** `readJsonLinesWithLines` without the line numbers: the row objects in file order. */
export function readJsonLines(file: string, options: JsonLinesOptions = {}): Record<string, unknown>[] {
  return readJsonLinesWithLines(file, options).map((line) => line.value);
}

/** 1-based line and column of a 0-based UTF-16 offset in `text`. */
function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lines = before.split(/\r\n|\r|\n/);
  return { line: lines.length, column: lines[lines.length - 1].length + 1 };
}

/**
 * Reads a whole-file JSON document. A syntax error names the file, line and column (from V8's "at position N"),
 * so a truncated download is easy to tell from a bad edit.
 */
export function readJson(file: string): unknown {
  const text = readUtf8(file);
  try {
    return JSON.parse(text);
  } catch (error) {
    const where = lineAndColumn(text, jsonErrorOffset(text));
    const message = (error as Error).message.split("\n")[0];
    throw dataError(`${atLine(file, where.line)}:${where.column}`, `invalid JSON (${message})`);
  }
}

/**
 * Offset of the first JSON syntax error in `text` (only called after JSON.parse failed: V8's messages do not
 * always carry a position). A small recursive-descent scan over RFC 8259's grammar.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  class At extends Error {}
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i])) i++;
  };
  const expect = (literal: string) => {
    for (const c of literal) {
      if (text[i] !== c) throw new At();
      i++;
    }
  };
  const string = () => {
    expect('"');
    for (;;) {
      if (i >= text.length) throw new At();
      const c = text[i];
      if (c === '"') return void i++;
      if (c < " ") throw new At();
      if (c === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) throw new At();
          i += 5;
        } else if ('"\\/bfnrt'.includes(text[i] ?? "x")) i++;
        else throw new At();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      ws();
      if (text[i] === "}") return void i++;
      for (;;) {
        ws();
        string();
        ws();
        expect(":");
        value();
        ws();
        if (text[i] === ",") i++;
        else return expect("}");
      }
    }
    if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") return void i++;
      for (;;) {
        value();
        ws();
        if (text[i] === ",") i++;
        else return expect("]");
      }
    }
    if (c === '"') return string();
    if (c === "t") return expect("true");
    if (c === "f") return expect("false");
    if (c === "n") return expect("null");
    const m = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
    m.lastIndex = i;
    if (!m.exec(text)) throw new At();
    i = m.lastIndex;
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (error) {
    if (error instanceof At) return Math.min(i, text.length);
    throw error;
  }
}
