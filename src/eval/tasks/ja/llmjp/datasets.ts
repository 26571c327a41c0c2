// Replays of llm-jp-eval v1.3.0's preprocess_evaluation_data for the five card tasks (datasets/*.py), reading the
// raw files in their published formats. Train data is split by llmjpTrainSplit; test data keeps file order.

import path from "node:path";

import { PythonRandom } from "../../../random/python-random.js";
import { pythonStrip } from "../../../metrics/index.js";
import type { DatasetAccess } from "../../../types.js";
import {
  atLine,
  childElements,
  dataError,
  expectArray,
  expectString,
  readCsv,
  readJson,
  readJsonLines,
  readXml,
  textContent,
  type XmlElement,
} from "../../../datasets/readers/index.js";
import { JCOMMONSENSEQA_DATASET, JEMHOPQA_DATASET, JMMLU_DATASET, JMMLU_SUBJECTS, JSQUAD_DATASET, NIILC_DATASET } from "../datasets.js";
import { type LlmjpSplits, type LlmjpTestSample, llmjpTrainSplit } from "./task.js";
import type { LlmjpSample } from "./prompt.js";

// --- JCommonsenseQA (JGLUE JSON lines) -------------------------------------------------------------------------------

/** One JGLUE JCommonsenseQA row as llm-jp-eval formats it. */
export function jcommonsenseqaSample(d: Record<string, unknown>): LlmjpSample {
  return {
    input: `質問：${d.question}\n選択肢：0.${d.choice0},1.${d.choice1},2.${d.choice2},3.${d.choice3},4.${d.choice4}`,
    output: String(d.label),
  };
}

function jcommonsenseqaSamples(file: string): LlmjpSample[] {
  const fields = {
    question: "string",
    choice0: "string",
    choice1: "string",
    choice2: "string",
    choice3: "string",
    choice4: "string",
    label: "integer",
  } as const;
  return readJsonLines(file, { fields }).map(jcommonsenseqaSample);
}

export function preprocessJcommonsenseqa(data: DatasetAccess): LlmjpSplits {
  const dir = data.dir(JCOMMONSENSEQA_DATASET.name);
  return {
    train: llmjpTrainSplit(jcommonsenseqaSamples(path.join(dir, "train-v1.1.json"))),
    test: jcommonsenseqaSamples(path.join(dir, "valid-v1.1.json")),
  };
}

// --- JEMHopQA (JSON array) -------------------------------------------------------------------------------------------

function jemhopqaSamples(file: string): LlmjpSample[] {
  return expectArray(readJson(file), file, "the top level").map((value, i) => {
    const where = `${file} item ${i}`;
    const d = value as Record<string, unknown>;
    return { input: `質問：${expectString(d?.question, where, "question")}`, output: expectString(d?.answer, where, "answer") };
  });
}

export function preprocessJemhopqa(data: DatasetAccess): LlmjpSplits {
  const dir = data.dir(JEMHOPQA_DATASET.name);
  return { train: llmjpTrainSplit(jemhopqaSamples(path.join(dir, "train.json"))), test: jemhopqaSamples(path.join(dir, "dev.json")) };
}

// --- NIILC (XML read the way xmltodict presents it) ------------------------------------------------------------------

/** xmltodict's value for a text-only element: its text stripped (Python str.strip), or null when empty. */
function xmltodictText(element: XmlElement, file: string): string | null {
  if (element.children.some((c) => typeof c !== "string") || Object.keys(element.attributes).length > 0) {
    throw dataError(atLine(file, element.line), `<${element.name}> must hold only text`);
  }
  const text = pythonStrip(textContent(element));
  return text === "" ? null : text;
}

function only(parent: XmlElement, name: string, file: string): XmlElement {
  const found = childElements(parent, name);
  if (found.length !== 1)
    throw dataError(atLine(file, parent.line), `<${parent.name}> must have exactly one <${name}>, found ${found.length}`);
  return found[0];
}

function niilcSamples(file: string): LlmjpSample[] {
  const root = readXml(file);
  if (root.name !== "questions") throw dataError(atLine(file, root.line), `root element is <${root.name}>, expected <questions>`);
  const samples: LlmjpSample[] = [];
  for (const question of childElements(root, "question")) {
    const text = xmltodictText(only(question, "text", file), file);
    if (text === null) throw dataError(atLine(file, question.line), "empty <text>");
    const answers = childElements(only(question, "answers", file), "answer").map((a) => xmltodictText(a, file));
    if (answers.length === 0) throw dataError(atLine(file, question.line), "<answers> has no <answer>");
    // A list (2+ answers) is joined without its empty entries; a single answer is used as is.
    const answer = answers.length > 1 ? answers.filter((a): a is string => a !== null).join(",") : answers[0];
    if (answer === null) throw dataError(atLine(file, question.line), "the only <answer> is empty");
    if (answer === "-") continue; // unanswerable questions are skipped
    samples.push({ input: `質問：${text}`, output: answer });
  }
  return samples;
}

export function preprocessNiilc(data: DatasetAccess): LlmjpSplits {
  const dir = data.dir(NIILC_DATASET.name);
  return {
    train: llmjpTrainSplit(niilcSamples(path.join(dir, "NIILC-ECQA2015_dev.xml"))),
    test: niilcSamples(path.join(dir, "NIILC-ECQA2015_test.xml")),
  };
}

// --- JSQuAD (SQuAD-format JSON); the gold is answers[0] only ---------------------------------------------------------

function jsquadSamples(file: string): LlmjpSample[] {
  const doc = readJson(file) as Record<string, unknown> | null;
  const samples: LlmjpSample[] = [];
  expectArray(doc?.data, file, "data").forEach((article, a) => {
    expectArray((article as Record<string, unknown>)?.paragraphs, file, `data[${a}].paragraphs`).forEach((paragraph, p) => {
      const para = paragraph as Record<string, unknown>;
      const at = `data[${a}].paragraphs[${p}]`;
      const context = expectString(para?.context, file, `${at}.context`);
      expectArray(para?.qas, file, `${at}.qas`).forEach((qa, q) => {
        const entry = qa as Record<string, unknown>;
        const question = expectString(entry?.question, file, `${at}.qas[${q}].question`);
        const first = expectArray(entry?.answers, file, `${at}.qas[${q}].answers`)[0] as Record<string, unknown> | undefined;
        const answer = expectString(first?.text, file, `${at}.qas[${q}].answers[0].text`);
        samples.push({ input: `文章：${context}\n質問：${question}`, output: answer });
      });
    });
  });
  return samples;
}

export function preprocessJsquad(data: DatasetAccess): LlmjpSplits {
  const dir = data.dir(JSQUAD_DATASET.name);
  return {
    train: llmjpTrainSplit(jsquadSamples(path.join(dir, "train-v1.1.json"))),
    test: jsquadSamples(path.join(dir, "valid-v1.1.json")),
  };
}

// --- JMMLU (header-less CSVs, one per subject) -----------------------------------------------------------------------

const JMMLU_COLUMNS = ["question", "A", "B", "C", "D", "answer"] as const;

/** One JMMLU CSV row (named by JMMLU_COLUMNS) as llm-jp-eval formats it. */
export function jmmluSample(r: Record<string, string>): LlmjpSample {
  return { input: `質問：${r.question}\n選択肢：A.${r.A},B.${r.B},C.${r.C},D.${r.D}`, output: r.answer };
}

/**
 * datasets/jmmlu.py: `random.seed(42)` once; per subject (FILENAMES order) shuffle and put floor(n/2) into dev, the
 * rest into test; shuffle dev, shuffle test; train = dev[:16] + test[:16]; the evaluated test set is test[16:].
 */
export function preprocessJmmlu(data: DatasetAccess): LlmjpSplits {
  const dir = data.dir(JMMLU_DATASET.name);
  const rnd = new PythonRandom(42);
  const dev: LlmjpTestSample[] = [];
  const test: LlmjpTestSample[] = [];
  for (const subject of JMMLU_SUBJECTS) {
    const rows = readCsv(path.join(dir, `${subject}.csv`), { columns: JMMLU_COLUMNS, allowExtraFields: true, universalNewlines: true });
    const samples: LlmjpTestSample[] = rows.map((r) => ({ ...jmmluSample(r), extra: { subject } }));
    rnd.shuffle(samples);
    const half = Math.floor(samples.length / 2);
    dev.push(...samples.slice(0, half));
    test.push(...samples.slice(half));
  }
  rnd.shuffle(dev);
  rnd.shuffle(test);
  const NUM_TRAIN = 16;
  const strip = ({ input, output }: LlmjpSample): LlmjpSample => ({ input, output });
  return { train: [...dev.slice(0, NUM_TRAIN), ...test.slice(0, NUM_TRAIN)].map(strip), test: test.slice(NUM_TRAIN) };
}
