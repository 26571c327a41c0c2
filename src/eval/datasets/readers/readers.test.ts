import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { SwallowError } from "../../../errors.js";
import { fixturesDir } from "../../../../test/support/paths.js";
import { childElements, readCsv, readJson, readJsonLines, readParquet, readSgmSegments, readTsv, readXml, textContent } from "./index.js";

const data = path.join(fixturesDir, "eval", "data");
const tmp = mkdtempSync(path.join(tmpdir(), "swallow-readers-"));
let counter = 0;
after(() => rmSync(tmp, { recursive: true, force: true }));
function tmpFile(content: string | Uint8Array, ext = ".txt"): string {
  const file = path.join(tmp, `f${counter++}${ext}`);
  writeFileSync(file, content);
  return file;
}

/** Asserts a one-line SwallowError whose message names `where` and matches `what`. */
function assertDataError(fn: () => unknown, where: string, what: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof SwallowError, `expected SwallowError, got ${String(error)}`);
    assert.ok(error.message.startsWith(where), `message should start with ${where}: ${error.message}`);
    assert.match(error.message, what);
    assert.ok(!error.message.includes("\n"), "one line");
    return true;
  });
}

async function assertDataErrorAsync(fn: () => Promise<unknown>, where: string, what: RegExp): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof SwallowError, `expected SwallowError, got ${String(error)}`);
    assert.ok(error.message.startsWith(where), `message should start with ${where}: ${error.message}`);
    assert.match(error.message, what);
    return true;
  });
}

test("readJsonLines reads JGLUE rows in order with field checks", () => {
  const rows = readJsonLines(path.join(data, "jcommonsenseqa-v1.1", "valid-v1.1.json"), {
    fields: { question: "string", label: "integer" },
  });
  assert.equal(rows.length, 4);
  assert.equal(rows[0].question, 'JSONで{"key": 1}の{}は何を表す？');
  assert.equal(rows[2].choice0, "a\tb");
  assert.equal(rows[3].label, 0);
});

test("readJsonLines: invalid UTF-8, bad JSON, missing and mistyped fields name file and line", () => {
  const badUtf8 = tmpFile(Buffer.concat([Buffer.from('{"a": "ok"}\n{"a": "'), Buffer.from([0xe3, 0x81]), Buffer.from('"}\n')]));
  assertDataError(() => readJsonLines(badUtf8), `${badUtf8}:2`, /not valid UTF-8/);
  const badJson = tmpFile('{"a": 1}\n\n{"a": 2,}\n');
  assertDataError(() => readJsonLines(badJson), `${badJson}:3`, /invalid JSON/);
  const missing = tmpFile('{"question": "q", "label": 1}\n{"question": "q"}\n');
  assertDataError(
    () => readJsonLines(missing, { fields: { question: "string", label: "integer" } }),
    `${missing}:2`,
    /missing field "label"/,
  );
  const wrongType = tmpFile('{"question": "q", "label": "1"}\n');
  assertDataError(
    () => readJsonLines(wrongType, { fields: { label: "integer" } }),
    `${wrongType}:1`,
    /"label" must be an integer, found a string/,
  );
  const notObject = tmpFile("[1, 2]\n");
  assertDataError(() => readJsonLines(notObject, { fields: { a: "string" } }), `${notObject}:1`, /expected an object/);
  assertDataError(
    () => readJsonLines(path.join(tmp, "absent.json")),
    path.join(tmp, "absent.json"),
    /file not found.*swallow eval data download/,
  );
});

test("readJson parses a document; a syntax error names line and column", () => {
  const doc = readJson(path.join(data, "jemhopqa", "dev.json")) as { question: string }[];
  assert.equal(doc.length, 3);
  assert.equal(doc[2].question, "ＮＨＫの本部がある区は？");
  const bad = tmpFile('[\n  {"a": 1},\n  {"a": }\n]\n');
  assertDataError(() => readJson(bad), `${bad}:3:`, /invalid JSON/);
});

test("readCsv: RFC 4180 quoting (commas, doubled quotes, newlines), BOM, CRLF, header-less columns", () => {
  const file = tmpFile('\uFEFF"a,b","say ""hi""","line1\r\nline2"\r\nplain,x"y,\r\n\r\n"",z,"q"tail\n');
  const rows = readCsv(file, { columns: ["c1", "c2", "c3"] });
  assert.deepEqual(rows, [
    { c1: "a,b", c2: 'say "hi"', c3: "line1\r\nline2" },
    { c1: "plain", c2: 'x"y', c3: "" },
    { c1: "", c2: "z", c3: "qtail" },
  ]);
  const withHeader = readCsv(tmpFile("x,y\n1,2\n"));
  assert.deepEqual(withHeader, [{ x: "1", y: "2" }]);
});

test("readCsv reads the JMMLU fixture with a quoted newline the way Python's csv module does", () => {
  const rows = readCsv(path.join(data, "jmmlu", "econometrics.csv"), { columns: ["q", "A", "B", "C", "D", "answer"] });
  assert.equal(rows[0].q, 'econometricsの問題、"引用"と改行\nを含む{式}は？');
  assert.equal(rows[0].B, "カンマ, を含む");
  // human_aging.csv is CRLF: the line end is not part of the last field.
  const crlf = readCsv(path.join(data, "jmmlu", "human_aging.csv"), { columns: ["q", "A", "B", "C", "D", "answer"] });
  assert.ok(crlf.every((r) => /^[ABCD]$/.test(r.answer)));
});

test("readCsv: unclosed quote, wrong field count and wrong header name the line", () => {
  const unclosed = tmpFile('a,b\n"x,y\nz\n');
  assertDataError(() => readCsv(unclosed, { columns: ["a", "b"] }), `${unclosed}:2`, /never closed/);
  const short = tmpFile("1,2,3\n4,5\n");
  assertDataError(() => readCsv(short, { columns: ["a", "b", "c"] }), `${short}:2`, /expected 3 fields.*found 2/);
  const long = tmpFile("1,2,3,4\n");
  assertDataError(() => readCsv(long, { columns: ["a", "b", "c"] }), `${long}:1`, /found 4/);
  assert.deepEqual(readCsv(long, { columns: ["a", "b", "c"], allowExtraFields: true }), [{ a: "1", b: "2", c: "3" }]);
  const header = tmpFile("x,z\n1,2\n");
  assertDataError(() => readCsv(header, { columns: ["x", "y"], header: true }), `${header}:1`, /header is/);
  const badUtf8 = tmpFile(Buffer.from([0x61, 0x2c, 0x62, 0x0a, 0xff, 0x2c, 0x63, 0x0a]));
  assertDataError(() => readCsv(badUtf8), `${badUtf8}:2`, /not valid UTF-8/);
});

test("readTsv: tabs only, quotes literal, field count checked", () => {
  const file = tmpFile('問題\t"18"\nq2\t3\n');
  assert.deepEqual(readTsv(file, { columns: ["question", "answer"] }), [
    { question: "問題", answer: '"18"' },
    { question: "q2", answer: "3" },
  ]);
  const bad = tmpFile("a\tb\nc\n");
  assertDataError(() => readTsv(bad, { columns: ["x", "y"] }), `${bad}:2`, /expected 2 tab-separated fields/);
});

test("readXml: NIILC structure, entities, CRLF normalisation, attributes", () => {
  const root = readXml(path.join(data, "niilc", "NIILC-ECQA2015_test.xml"));
  assert.equal(root.name, "questions");
  const questions = childElements(root, "question");
  assert.equal(questions.length, 4);
  assert.equal(questions[0].attributes.id, "NIILC-ECQA2015-01001-01");
  assert.equal(textContent(childElements(questions[2], "text")[0]), "{波括弧}を含む質問で、<タグ>風の文字も含むものは？");
  // The file has CRLF line ends; XML reports them as \n.
  assert.ok(!textContent(childElements(questions[3], "answers")[0]).includes("\r"));
  const parsed = readXml(tmpFile("<?xml version=\"1.0\"?>\n<!-- c --><r a='1 &amp; 2'><![CDATA[<x>]]>&#x3042;&#12354;<e/></r>\n"));
  assert.deepEqual(parsed.attributes, { a: "1 & 2" });
  assert.equal(textContent(parsed), "<x>ああ");
});

test("readXml: mismatched tags, bare &, unknown entities and truncation name the line", () => {
  const mismatched = tmpFile("<a>\n<b>\n</a>\n");
  assertDataError(() => readXml(mismatched), `${mismatched}:3`, /<\/a> closes <b>/);
  const amp = tmpFile("<a>\nR&B</a>");
  assertDataError(() => readXml(amp), `${amp}:2`, /bare '&'/);
  const entity = tmpFile("<a>&nbsp;</a>");
  assertDataError(() => readXml(entity), `${entity}:1`, /unknown entity/);
  const truncated = tmpFile("<a>\n<b>x</b>\n");
  assertDataError(() => readXml(truncated), `${truncated}:1`, /never closed/);
});

test("readParquet reads the XL-Sum and MGSM fixtures (strings, INT64 and nulls)", async () => {
  const golden = JSON.parse(readFileSync(path.join(fixturesDir, "eval", "golden", "xlsum_ja.json"), "utf8"));
  const rows = await readParquet(path.join(data, "xlsum-ja", "default", "test", "0000.parquet"), { fields: { summary: "string" } });
  assert.equal(rows.length, golden.testSize);
  const bySummary = new Set(golden.expected.map((e: { gold: string }) => e.gold));
  for (const row of rows) assert.ok(bySummary.has(row.summary as string), `summary ${String(row.summary)}`);
  const mgsm = await readParquet(path.join(data, "mgsm-ja", "ja", "test", "0000.parquet"), {
    fields: { answer_number: "integer", answer: "string|null" },
  });
  assert.deepEqual(
    mgsm.map((r) => Number(r.answer_number)),
    [18, 3, 70000, 540, -2],
  );
  assert.equal(mgsm[0].answer, null);
});

test("readParquet: invalid UTF-8 names row and column; missing column, non-Parquet file", async () => {
  const good = readFileSync(path.join(data, "mgsm-ja", "ja", "test", "0000.parquet"));
  const needle = Buffer.from("ローブ", "utf8");
  const at = good.indexOf(needle);
  assert.ok(at > 0, "fixture strings are stored uncompressed");
  const bad = Buffer.from(good);
  bad[at] = 0xff;
  const badFile = tmpFile(bad, ".parquet");
  await assertDataErrorAsync(() => readParquet(badFile), `${badFile} row 2`, /column "question" is not valid UTF-8/);
  const goodFile = path.join(data, "mgsm-ja", "ja", "test", "0000.parquet");
  await assertDataErrorAsync(() => readParquet(goodFile, { fields: { text: "string" } }), `${goodFile} row 1`, /missing field "text"/);
  await assertDataErrorAsync(() => readParquet(goodFile, { fields: { question: "integer" } }), `${goodFile} row 1`, /must be an integer/);
  const notParquet = tmpFile("hello, world", ".parquet");
  await assertDataErrorAsync(() => readParquet(notParquet), notParquet, /not a readable Parquet file/);
});

test("readSgmSegments extracts <seg> text as sacrebleu does (whitespace incl. U+3000 collapsed)", () => {
  const segs = readSgmSegments(path.join(data, "wmt20", "sgm", "newstest2020-jaen-src.ja.sgm"));
  assert.equal(segs.length, 6);
  assert.equal(segs[2], "株価は 大幅に下落した。");
  const bad = tmpFile('<srcset>\n<seg id="1">no end\n</srcset>\n');
  assertDataError(() => readSgmSegments(bad), `${bad}:2`, /does not end on its line/);
  const none = tmpFile("plain text\n");
  assertDataError(() => readSgmSegments(none), none, /no <seg> lines/);
});
