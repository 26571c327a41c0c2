/**
 * Readers for dataset files in their published formats. Every reader decodes strict UTF-8 and throws a one-line
 * SwallowError naming the file and line (Parquet: row) for bad input: invalid UTF-8, syntax errors, missing or
 * mistyped fields/columns. Row-shaped readers return plain objects in file order.
 *
 * - `readJsonLines(path, { fields })`: JSON lines (JGLUE) → objects; `readJsonLinesWithLines` keeps line numbers.
 * - `readJson(path)`: one JSON document (JEMHopQA, JSQuAD) → unknown; check nested values with `expectString`/`expectArray`.
 * - `readCsv(path, { columns, header, delimiter, allowExtraFields })`: RFC 4180 with quoted newlines, read like
 *   Python's csv.reader. Header-less files (JMMLU) pass `columns`.
 * - `readTsv(path, options)`: tab-separated, no quoting (for a TSV read with Python's csv quoting, e.g. MGSM's
 *   mgsm_<lang>.tsv, use `readCsv(path, { delimiter: "\t", columns })`).
 * - `readXml(path)`: element tree (NIILC); `childElements`, `textContent` walk it.
 * - `readParquet(path, { fields })`: async, Parquet → objects via hyparquet (INT64 → bigint).
 * - `readSgmSegments(path)`: WMT SGML → segment strings as sacrebleu 1.5.0 extracts them.
 * - `checkFields(row, schema, where)`: the field check the readers use, for rows from elsewhere.
 */
export { readJson, readJsonLines, readJsonLinesWithLines, type JsonLine, type JsonLinesOptions } from "./json.js";
export { readCsv, readTsv, parseCsvRecords, type CsvOptions, type CsvRecord } from "./csv.js";
export { readXml, parseXml, childElements, textContent, type XmlElement, type XmlNode } from "./xml.js";
export { readParquet, type ParquetOptions } from "./parquet.js";
export { readSgmSegments } from "./sgm.js";
export { checkFields, expectArray, expectString, type FieldSchema, type FieldType } from "./fields.js";
export { atLine, dataError, readUtf8, type Where } from "./errors.js";
