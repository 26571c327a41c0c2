/**
 * MMLU as lm-eval v0.4.2 runs it (tasks/mmlu/default): 57 subject tasks on `hails/mmlu_no_train` test (14,042 in
 * all), 5 shots = the first 5 `dev` rows of the subject (`first_n` sampler), choices " A".." D", metric `acc`;
 * the `mmlu` group score is the micro average over every test item.
 */
import type { DatasetAccess, EvalItem, EvalTask } from "../../types.js";
import { readSplit, RowReader } from "./data-files.js";
import { meanScore, multipleChoiceItem } from "./lmeval-items.js";
import { ContextSampler, type LmevalPromptDef } from "./lmeval-prompt.js";
import { MMLU_SUBJECTS } from "./mmlu-subjects.js";
import { pyStrip, renderJinjaFields } from "./python-text.js";

export const MMLU_DATASET = "mmlu";

/** Split files of one subject inside the dataset directory (cais/mmlu's parquet layout; same rows as hails/mmlu_no_train). */
export function mmluFiles(subject: string): { dev: string; test: string } {
  return { dev: `${subject}/dev-00000-of-00001.parquet`, test: `${subject}/test-00000-of-00001.parquet` };
}

interface MmluDoc {
  raw: Record<string, unknown>;
  subject: string;
  question: string;
  options: string[];
  answer: number;
}

function makeDef(subject: string): LmevalPromptDef<MmluDoc> {
  // The YAML description ends "\n\n", but lm-eval renders it through Jinja, which drops one trailing newline.
  const description = renderJinjaFields(
    `The following are multiple choice questions (with answers) about ${subject.replaceAll("_", " ")}.\n\n`,
    {},
  );
  return {
    description: () => description,
    // "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\nAnswer:"
    docToText: (d) => `${pyStrip(d.question)}\nA. ${d.options[0]}\nB. ${d.options[1]}\nC. ${d.options[2]}\nD. ${d.options[3]}\nAnswer:`,
    docToTarget: (d) => d.answer,
    docToChoice: () => ["A", "B", "C", "D"],
  };
}

async function readDocs(data: DatasetAccess, subject: string, relPath: string): Promise<MmluDoc[]> {
  const { file, rows } = await readSplit(data, MMLU_DATASET, relPath);
  const r = new RowReader(file, MMLU_DATASET);
  return rows.map((row, i) => {
    const options = r.stringList(row, i, "choices");
    if (options.length !== 4) r.invalid(i, "field 'choices' must have 4 entries");
    const answer = r.integer(row, i, "answer");
    if (answer < 0 || answer > 3) r.invalid(i, "field 'answer' must be 0..3");
    return { raw: row, subject, question: r.string(row, i, "question"), options, answer };
  });
}

/** An MMLU task over some subjects (the card: all 57). Items run subject by subject, each with its own sampler. */
export function makeMmluTask(subjects: readonly string[] = MMLU_SUBJECTS.map(([s]) => s)): EvalTask {
  const category = new Map(MMLU_SUBJECTS);
  return {
    name: "mmlu",
    version: "lmeval-0.4.2/mmlu-default-v0.0/5shot-first_n",
    suite: "en",
    displayName: "MMLU",
    metric: "lmeval.acc",
    datasets: [MMLU_DATASET],
    async load(data, options) {
      const items: EvalItem[] = [];
      for (const subject of subjects) {
        const files = mmluFiles(subject);
        const def = makeDef(subject);
        const sampler = new ContextSampler(await readDocs(data, subject, files.dev), def, "first_n", false);
        const test = await readDocs(data, subject, files.test);
        // --limit applies per subject task in lm-eval.
        const n = options.limit === undefined ? test.length : Math.min(options.limit, test.length);
        for (let i = 0; i < n; i++) {
          items.push(multipleChoiceItem(def, sampler, test[i], 5, `${subject}/${i}`, { subject, category: category.get(subject) }));
        }
      }
      return items;
    },
    // Group `mmlu` = aggregate_subtask_metrics(weight_by_size=True): the micro average over all items.
    aggregate: (outcomes) => meanScore(outcomes, "acc"),
  };
}

export const mmlu: EvalTask = makeMmluTask();
