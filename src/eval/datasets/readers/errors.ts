// Shared error wording for the dataset readers: every problem with a data file is one line that names the
// file and the line (or row), says what is wrong, and says how to get a good copy.

import { readFileSync } from "node:fs";

import { SwallowError } from "../../../errors.js";

/** Where in a file a problem is: `file:line` for text formats, `file row N` for Parquet. */
export type Where = string;

/** `path:line` (1-based line), the form editors and terminals make clickable. */
export function atLine(file: string, line: number): Where {
  return `${file}:${line}`;
}

/** The one-line error every reader throws for bad input. */
export function dataError(where: Where, what: string): SwallowError {
  return new SwallowError(
    `${where}: ${what}; fix the file or run \`swallow eval data download\` again to replace it with the published copy`,
  );
}

/**
 * Reads a whole file as strict UTF-8 (an invalid byte sequence is an error naming its line, never U+FFFD).
 * A leading UTF-8 BOM is dropped, as Python's `utf-8-sig` codec does (JMMLU's CSVs are read with it; for the other
 * formats a BOM would otherwise end up inside the first field).
 */
export function readUtf8(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SwallowError(
      code === "ENOENT"
        ? `${file}: file not found; run \`swallow eval data download\` to fetch the dataset`
        : `${file}: cannot read (${(error as Error).message})`,
    );
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    return text.startsWith("\uFEFF") ? text.slice(1) : text;
  } catch {
    throw dataError(atLine(file, lineOfInvalidUtf8(bytes)), "not valid UTF-8");
  }
}

/** 1-based line of the first invalid UTF-8 sequence (found by decoding ever longer valid prefixes line by line). */
function lineOfInvalidUtf8(bytes: Uint8Array): number {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      try {
        decoder.decode(bytes.subarray(start, i));
      } catch {
        return line;
      }
      line++;
      start = i + 1;
    }
  }
  return line;
}

/** Splits text into lines the way Python's universal newlines do (`\r\n`, `\r` and `\n` all end a line). */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  return lines;
}
