/** Bad or missing dataset files fail with one SwallowError line naming the file (and row) and what to do. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { isSwallowError } from "../../../errors.js";
import type { DatasetAccess } from "../../types.js";
import { gsm8k } from "./gsm8k.js";
import { makeBbhTask } from "./bbh.js";
import { xwinogradEn } from "./xwinograd.js";

function tempData(files: Record<string, string>): { data: DatasetAccess; root: string } {
  const root = mkdtempSync(path.join(tmpdir(), "en-tasks-"));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
  }
  return { data: { dir: (name) => path.join(root, name) }, root };
}

async function rejectsWith(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (error: unknown) => {
    assert.ok(isSwallowError(error), `not a SwallowError: ${String(error)}`);
    assert.match((error as Error).message, pattern);
    assert.ok(!(error as Error).message.includes("\n"), "one line");
    return true;
  });
}

test("a missing split file says to run the download command", async () => {
  const { data, root } = tempData({ "gsm8k/test.jsonl": '{"question":"q","answer":"#### 1"}\n' });
  try {
    await rejectsWith(gsm8k.load(data, {}), /train\.jsonl: missing; run `swallow eval data download gsm8k`/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a row without a required field names the file and the row", async () => {
  const { data, root } = tempData({
    "gsm8k/train.jsonl": '{"question":"q","answer":"#### 1"}\n{"question":"q2"}\n',
    "gsm8k/test.jsonl": '{"question":"q","answer":"#### 1"}\n',
  });
  try {
    await rejectsWith(gsm8k.load(data, {}), /train\.jsonl: row 2: field 'answer' must be a string/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("an XWINO sentence without its blank is rejected", async () => {
  const { data, root } = tempData({ "xwinograd/test/en.jsonl": '{"sentence":"no blank","option1":"a","option2":"b","answer":"1"}\n' });
  try {
    await rejectsWith(xwinogradEn.load(data, {}), /en\.jsonl: row 1: field 'sentence' has no '_' blank/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("a BBH prompt file without exemplars is rejected", async () => {
  const { data, root } = tempData({ "bbh/cot-prompts/navigate.txt": "Only a description.", "bbh/bbh/navigate.json": '{"examples":[]}' });
  try {
    await rejectsWith(makeBbhTask(["navigate"]).load(data, {}), /navigate\.txt has no exemplars/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
