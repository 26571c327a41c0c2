// Parquet reader (Hugging Face's refs/convert/parquet exports of XL-Sum ja and MGSM) through the `hyparquet`
// package, with strict UTF-8 for string columns: hyparquet's default decoder would turn bad bytes into U+FFFD.

import { stat } from "node:fs/promises";

import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";

import { SwallowError } from "../../../errors.js";
import { dataError } from "./errors.js";
import { type FieldSchema, checkFields } from "./fields.js";

/** Marks a string value whose bytes are not UTF-8, so the row and column can be named after the read. */
class InvalidUtf8 {
  constructor(readonly bytes: Uint8Array) {}
}

const strict = new TextDecoder("utf-8", { fatal: true });

function decodeStrict(bytes: Uint8Array | undefined): string | InvalidUtf8 | undefined {
  if (bytes === undefined) return undefined;
  try {
    return strict.decode(bytes);
  } catch {
    return new InvalidUtf8(bytes);
  }
}

export interface ParquetOptions {
  /** Columns every row must have, with their types; errors name the 1-based row. */
  fields?: FieldSchema;
}

/**
 * Reads every row of a Parquet file as an object keyed by column name, in file order. INT64 columns come back as
 * bigint (hyparquet's choice); `checkFields` accepts them as "integer". Errors: a missing or unreadable file,
 * a file that is not Parquet, a string that is not UTF-8, a missing or mistyped column (naming file and row).
 */
export async function readParquet(file: string, options: ParquetOptions = {}): Promise<Record<string, unknown>[]> {
  try {
    await stat(file);
  } catch {
    throw new SwallowError(`${file}: file not found; run \`swallow eval data download\` to fetch the dataset`);
  }
  let rows: Record<string, unknown>[];
  try {
    const buffer = await asyncBufferFromFile(file);
    rows = (await parquetReadObjects({
      file: buffer,
      parsers: { stringFromBytes: decodeStrict as (bytes: Uint8Array) => string },
    })) as Record<string, unknown>[];
  } catch (error) {
    throw dataError(file, `not a readable Parquet file (${(error as Error).message})`);
  }
  rows.forEach((row, index) => {
    const where = `${file} row ${index + 1}`;
    for (const [column, value] of Object.entries(row)) {
      if (value instanceof InvalidUtf8) throw dataError(where, `column "${column}" is not valid UTF-8`);
    }
    if (options.fields) checkFields(row, options.fields, where);
  });
  return rows;
}
