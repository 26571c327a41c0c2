// RFC 4180 CSV reader (quoted fields may hold commas, doubled quotes and newlines), read the way Python's
// `csv.reader` (excel dialect, non-strict) reads: a quote inside an unquoted field is literal, and text after a
// closing quote joins the field. JMMLU's CSVs have no header row: name the columns with `columns`.

import { atLine, dataError, readUtf8 } from "./errors.js";

export interface CsvOptions {
  /**
   * Column names. With `header: false` (the default when `columns` is given) they name the columns of every row;
   * with `header: true` the first row must equal them (a check against a wrong file).
   */
  columns?: readonly string[];
  /** The first record is a header naming the columns. Default: true when `columns` is absent, else false. */
  header?: boolean;
  /** Field separator (default ","); readTsv passes "\t". */
  delimiter?: string;
  /**
   * Rows may have more fields than `columns` (extra ones are dropped, as JMMLU's loader ignores them).
   * Default false: a row whose field count differs is an error naming its line.
   */
  allowExtraFields?: boolean;
  /**
   * Translate "\r\n" and lone "\r" to "\n" before parsing, as Python does for a file opened in text mode without
   * `newline=""` (JMMLU's loader): a line break inside a quoted field then reads as "\n". Default false (RFC 4180).
   */
  universalNewlines?: boolean;
}

/** One CSV record and the 1-based line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * Splits CSV text into records. Line ends are `\r\n`, `\n` or `\r`; a record never ends inside quotes.
 * An unterminated quoted field is an error naming the line where it opened (Python would silently keep it).
 */
export function parseCsvRecords(text: string, file: string, delimiter = ","): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let quoteLine = 0;
  // start: at the start of a field; plain: inside an unquoted field; quoted: inside quotes; afterQuote: just after a closing quote.
  let state: "start" | "plain" | "quoted" | "afterQuote" = "start";
  let recordHasContent = false;
  const endField = () => {
    fields.push(field);
    field = "";
    state = "start";
  };
  const endRecord = () => {
    endField();
    // Python yields [] for a blank line; such lines carry no data, so they are skipped here.
    if (recordHasContent || fields.length > 1) records.push({ line: recordLine, fields });
    fields = [];
    recordHasContent = false;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (state === "quoted") {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else state = "afterQuote";
      } else {
        if (c === "\n" || (c === "\r" && text[i + 1] !== "\n")) line++;
        field += c;
      }
      continue;
    }
    if (c === "\r" || c === "\n") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      recordLine = line;
      continue;
    }
    recordHasContent = true;
    if (c === delimiter) {
      endField();
    } else if (c === '"' && state === "start") {
      state = "quoted";
      quoteLine = line;
    } else {
      field += c;
      state = "plain";
    }
  }
  if (state === "quoted") throw dataError(atLine(file, quoteLine), "a quoted field is never closed (truncated file?)");
  if (recordHasContent || fields.length > 0) endRecord();
  return records;
}

/**
 * Reads a CSV file into row objects keyed by column name, in file order. Errors name the file and line:
 * invalid UTF-8, an unclosed quote, a header that is not the expected one, a row with the wrong number of fields.
 */
export function readCsv(file: string, options: CsvOptions = {}): Record<string, string>[] {
  const header = options.header ?? options.columns === undefined;
  const text = readUtf8(file);
  const records = parseCsvRecords(options.universalNewlines ? text.replace(/\r\n?/g, "\n") : text, file, options.delimiter ?? ",");
  let columns = options.columns;
  let body = records;
  if (header) {
    const first = records[0];
    if (first === undefined) throw dataError(atLine(file, 1), "empty file: expected a header row");
    if (columns !== undefined && first.fields.join("\u0000") !== columns.join("\u0000")) {
      throw dataError(atLine(file, first.line), `header is ${JSON.stringify(first.fields)}, expected ${JSON.stringify(columns)}`);
    }
    columns ??= first.fields;
    body = records.slice(1);
  }
  if (columns === undefined) throw new Error("readCsv: no columns (pass options.columns or a file with a header)");
  const names = columns;
  return body.map((record) => {
    const n = record.fields.length;
    if (n < names.length || (n > names.length && !options.allowExtraFields)) {
      throw dataError(atLine(file, record.line), `expected ${names.length} fields (${names.join(", ")}), found ${n}`);
    }
    const row: Record<string, string> = {};
    names.forEach((name, i) => (row[name] = record.fields[i]));
    return row;
  });
}

/**
 * Reads a tab-separated file (no quoting, as MGSM's and most TSV exports are written: a `"` is literal).
 * Same options and errors as `readCsv`.
 */
export function readTsv(file: string, options: Omit<CsvOptions, "delimiter"> = {}): Record<string, string>[] {
  const header = options.header ?? options.columns === undefined;
  const lines = readUtf8(file).split(/\r\n|\r|\n/);
  const records: CsvRecord[] = [];
  lines.forEach((text, i) => {
    if (text !== "") records.push({ line: i + 1, fields: text.split("\t") });
  });
  let columns = options.columns;
  let body = records;
  if (header) {
    const first = records[0];
    if (first === undefined) throw dataError(atLine(file, 1), "empty file: expected a header row");
    if (columns !== undefined && first.fields.join("\t") !== columns.join("\t")) {
      throw dataError(atLine(file, first.line), `header is ${JSON.stringify(first.fields)}, expected ${JSON.stringify(columns)}`);
    }
    columns ??= first.fields;
    body = records.slice(1);
  }
  if (columns === undefined) throw new Error("readTsv: no columns (pass options.columns or a file with a header)");
  const names = columns;
  return body.map((record) => {
    const n = record.fields.length;
    if (n < names.length || (n > names.length && !options.allowExtraFields)) {
      throw dataError(atLine(file, record.line), `expected ${names.length} tab-separated fields (${names.join(", ")}), found ${n}`);
    }
    const row: Record<string, string> = {};
    names.forEach((name, j) => (row[name] = record.fields[j]));
    return row;
  });
}
