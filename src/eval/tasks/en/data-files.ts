/**
 * Reads the English tasks' split files from the data directory with the shared dataset readers, and checks the
 * fields each task needs so a bad file fails with one line naming the file and row.
 */
import { existsSync } from "node:fs";
import path from "node:path";

import { SwallowError } from "../../../errors.js";
import { readJson, readJsonLines, readParquet } from "../../datasets/readers/index.js";
import type { DatasetAccess } from "../../types.js";

export type Row = Record<string, unknown>;

/** Rows of one split file, `data.dir(dataset)/<relPath>`, read by its extension: .parquet, .jsonl, else one JSON value. */
export async function readSplit(data: DatasetAccess, dataset: string, relPath: string): Promise<{ file: string; rows: Row[] }> {
  const dir = data.dir(dataset);
  const file = path.join(dir, relPath);
  if (!existsSync(file)) throw new SwallowError(`${file}: missing; run \`swallow eval data download ${dataset}\``);
  if (file.endsWith(".parquet")) return { file, rows: asRows(await readParquet(file), file) };
  if (file.endsWith(".jsonl")) return { file, rows: asRows(readJsonLines(file), file) };
  return { file, rows: [readJson(file)] as Row[] };
}

function asRows(value: unknown, file: string): Row[] {
  if (!Array.isArray(value)) throw new SwallowError(`${file}: expected a list of rows`);
  return value as Row[];
}

/** Field access that names the file and 1-based row on a missing or mistyped field. */
export class RowReader {
  constructor(
    readonly file: string,
    readonly dataset: string,
  ) {}

  private fail(row: number, what: string): never {
    throw new SwallowError(`${this.file}: row ${row + 1}: ${what}; re-download with \`swallow eval data download ${this.dataset}\``);
  }

  string(row: Row, index: number, name: string): string {
    const v = row[name];
    if (typeof v !== "string") this.fail(index, `field '${name}' must be a string`);
    return v;
  }

  stringList(row: Row, index: number, name: string): string[] {
    const v = row[name];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) this.fail(index, `field '${name}' must be a list of strings`);
    return v as string[];
  }

  integer(row: Row, index: number, name: string): number {
    const v = row[name];
    const n = typeof v === "bigint" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isInteger(n)) this.fail(index, `field '${name}' must be an integer`);
    return n;
  }

  object(row: Row, index: number, name: string): Row {
    const v = row[name];
    if (typeof v !== "object" || v === null || Array.isArray(v)) this.fail(index, `field '${name}' must be an object`);
    return v as Row;
  }

  /** For checks beyond a field's type (e.g. an answer key that is not among the labels). */
  invalid(index: number, what: string): never {
    this.fail(index, what);
  }
}
