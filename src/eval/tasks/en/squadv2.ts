/**
 * SQuAD2 as lm-eval v0.4.2 runs it (tasks/squadv2/task.py, class SQuAD2): validation (11,873 questions), shots from
 * train, target " " + first answer or " unanswerable" (with the " " target delimiter a shot reads "Answer:  X"),
 * a greedy generation until "\n" plus the loglikelihood of " unanswerable"; the card reports HF `squad_v2` `exact`.
 */
import { SwallowError } from "../../../errors.js";
import type { DatasetAccess, EvalTask } from "../../types.js";
import { readSplit } from "./data-files.js";
import { applyLimit, generateRequest, meanScore } from "./lmeval-items.js";
import { ContextSampler, fewshotContext, type LmevalPromptDef } from "./lmeval-prompt.js";
import { squadV2Scores } from "./squad-metric.js";

export const SQUADV2_DATASET = "squad_v2";
export const SQUADV2_FILES = { train: "train-v2.0.json", validation: "dev-v2.0.json" } as const;

/** One question, flattened as the HF `squad_v2` loader does (title, context, question, id, answers). */
export interface SquadDoc {
  id: string;
  title: string;
  context: string;
  question: string;
  answers: { text: string[]; answer_start: number[] };
}

const def: LmevalPromptDef<SquadDoc> = {
  docToText: (d) => `Title: ${d.title}\n\nBackground: ${d.context}\n\nQuestion: ${d.question}\n\nAnswer:`,
  docToTarget: (d) => " " + (d.answers.text.length > 0 ? d.answers.text[0] : "unanswerable"),
};

/** Flattens the official SQuAD JSON (data → paragraphs → qas) in file order. */
export function flattenSquad(json: unknown, file: string): SquadDoc[] {
  const bad = (where: string): never => {
    throw new SwallowError(
      `${file}: ${where} is not in the SQuAD v2.0 JSON layout; re-download with \`swallow eval data download ${SQUADV2_DATASET}\``,
    );
  };
  const data = (json as { data?: unknown }).data;
  if (!Array.isArray(data)) bad("top-level 'data'");
  const docs: SquadDoc[] = [];
  (data as unknown[]).forEach((article, ai) => {
    const a = article as { title?: unknown; paragraphs?: unknown };
    const title = typeof a.title === "string" ? a.title : "";
    if (!Array.isArray(a.paragraphs)) bad(`data[${ai}].paragraphs`);
    (a.paragraphs as unknown[]).forEach((paragraph, pi) => {
      const p = paragraph as { context?: unknown; qas?: unknown };
      if (typeof p.context !== "string" || !Array.isArray(p.qas)) bad(`data[${ai}].paragraphs[${pi}]`);
      for (const [qi, qa] of (p.qas as unknown[]).entries()) {
        const q = qa as { id?: unknown; question?: unknown; answers?: unknown };
        const where = `data[${ai}].paragraphs[${pi}].qas[${qi}]`;
        if (typeof q.id !== "string" || typeof q.question !== "string" || !Array.isArray(q.answers)) bad(where);
        const answers = q.answers as { text?: unknown; answer_start?: unknown }[];
        if (!answers.every((x) => typeof x.text === "string")) bad(`${where}.answers`);
        docs.push({
          id: q.id as string,
          title,
          context: p.context as string,
          question: q.question as string,
          answers: { text: answers.map((x) => x.text as string), answer_start: answers.map((x) => Number(x.answer_start)) },
        });
      }
    });
  });
  return docs;
}

async function readDocs(data: DatasetAccess, relPath: string): Promise<SquadDoc[]> {
  const { file, rows } = await readSplit(data, SQUADV2_DATASET, relPath);
  return flattenSquad(rows[0], file);
}

export const squadv2: EvalTask = {
  name: "squadv2",
  version: "lmeval-0.4.2/squadv2-v3/4shot",
  suite: "en",
  displayName: "SQuAD2",
  metric: "squad_v2.exact",
  datasets: [SQUADV2_DATASET],
  async load(data, options) {
    const train = await readDocs(data, SQUADV2_FILES.train);
    const validation = applyLimit(await readDocs(data, SQUADV2_FILES.validation), options.limit);
    // A class-based task: fewshot_split and test_split are both None, so 5 are drawn and the first 4 kept.
    const sampler = new ContextSampler(train, def, "default", true);
    return validation.map((doc) => {
      const context = fewshotContext(def, sampler, doc, 4);
      const generate = generateRequest(context, ["\n"]);
      return {
        itemId: doc.id,
        async run(models) {
          const [output, unanswerable] = await Promise.all([
            models.model.generateUntil(generate),
            models.model.loglikelihood({ kind: "loglikelihood", context, continuation: " unanswerable", addBos: false }),
          ]);
          const s = squadV2Scores(output, doc.answers.text);
          return {
            itemId: doc.id,
            scores: { exact: s.exact, f1: s.f1 },
            prediction: output,
            gold: doc.answers.text,
            extra: { noAnswerProbability: Math.exp(unanswerable.logprob) },
          };
        },
      };
    });
  },
  // HF squad_v2 `exact` is 100 × the mean; the card divides by 100.
  aggregate: (outcomes) => meanScore(outcomes, "exact"),
};
