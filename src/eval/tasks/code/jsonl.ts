// JSON-lines reading for the code datasets, which are published as `.jsonl.gz` (openai/human-eval, JHumanEval):
// gzip is recognised by its magic bytes, so an unpacked copy reads the same. Errors name the file and line.

import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

import { SwallowError } from "../../../errors.js";

export type JsonRow = Record<string, unknown>;

/** One parsed line and its 1-based line number in the (decompressed) file. */
export interface JsonlRecord {
  line: number;
  row: JsonRow;
}

/** The error for a bad dataset file: where, what, and how to get a good copy. */
export function badDatasetFile(where: string, what: string, datasetName: string): SwallowError {
  return new SwallowError(`${where}: ${what}; run \`swallow eval data download ${datasetName}\` to get a good copy`);
}

/** Reads a UTF-8 JSON-lines file (optionally gzip-compressed) whose lines are objects; blank lines are skipped. */
export function readJsonl(file: string, datasetName: string): JsonlRecord[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    throw badDatasetFile(file, `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, datasetName);
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch {
      throw badDatasetFile(file, "not a valid gzip file", datasetName);
    }
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw badDatasetFile(file, "not valid UTF-8", datasetName);
  }
  const records: JsonlRecord[] = [];
  text.split("\n").forEach((source, i) => {
    if (source.trim() === "") return;
    let row: unknown;
    try {
      row = JSON.parse(source);
    } catch {
      row = undefined;
    }
    if (typeof row !== "object" || row === null || Array.isArray(row))
      throw badDatasetFile(`${file}:${i + 1}`, "not a JSON object", datasetName);
    records.push({ line: i + 1, row: row as JsonRow });
  });
  return records;
}
