/**
 * Where the English tasks' data comes from: the files lm-eval v0.4.2's HF datasets were built from, at their
 * original locations. Where HF serves parquet (OpenBookQA, TriviaQA, MMLU) we take that; where the HF loader read
 * upstream JSON / JSON lines (HellaSwag, SQuAD 2.0, GSM8K, XWinograd, BBH) we take the upstream files, which give
 * the same rows in the same order.
 */
import type { DatasetSpec } from "../../types.js";
import { BBH_DATASET, BBH_SUBTASKS, bbhFiles } from "./bbh.js";
import { GSM8K_DATASET, GSM8K_FILES } from "./gsm8k.js";
import { HELLASWAG_DATASET, HELLASWAG_FILES } from "./hellaswag.js";
import { MMLU_DATASET, mmluFiles } from "./mmlu.js";
import { MMLU_SUBJECTS } from "./mmlu-subjects.js";
import { OPENBOOKQA_DATASET, OPENBOOKQA_FILES } from "./openbookqa.js";
import { SQUADV2_DATASET, SQUADV2_FILES } from "./squadv2.js";
import { TRIVIAQA_DATASET, TRIVIAQA_FILES } from "./triviaqa.js";
import { XWINOGRAD_DATASET, XWINOGRAD_FILES } from "./xwinograd.js";

const hf = (repo: string, file: string) => ({ url: `https://huggingface.co/datasets/${repo}/resolve/main/${file}`, path: file });
const raw = (base: string, file: string) => ({ url: `${base}/${file}`, path: file });

const BBH_RAW = "https://raw.githubusercontent.com/suzgunmirac/BIG-Bench-Hard/main";

export const enDatasets: DatasetSpec[] = [
  {
    name: OPENBOOKQA_DATASET,
    license: "unknown (as the allenai/openbookqa card states; see https://allenai.org/data/open-book-qa)",
    homepage: "https://huggingface.co/datasets/allenai/openbookqa",
    files: [hf("allenai/openbookqa", OPENBOOKQA_FILES.train), hf("allenai/openbookqa", OPENBOOKQA_FILES.test)],
  },
  {
    name: TRIVIAQA_DATASET,
    license: "unknown (as the mandarjoshi/trivia_qa card states; see http://nlp.cs.washington.edu/triviaqa/)",
    homepage: "https://huggingface.co/datasets/mandarjoshi/trivia_qa",
    files: [hf("mandarjoshi/trivia_qa", TRIVIAQA_FILES.train), hf("mandarjoshi/trivia_qa", TRIVIAQA_FILES.validation)],
  },
  {
    name: HELLASWAG_DATASET,
    license: "MIT (rowanz/hellaswag)",
    homepage: "https://github.com/rowanz/hellaswag",
    files: [HELLASWAG_FILES.train, HELLASWAG_FILES.validation].map((f) => ({
      url: `https://raw.githubusercontent.com/rowanz/hellaswag/master/data/${f}`,
      path: f,
    })),
  },
  {
    name: SQUADV2_DATASET,
    license: "CC BY-SA 4.0",
    homepage: "https://rajpurkar.github.io/SQuAD-explorer/",
    files: [SQUADV2_FILES.train, SQUADV2_FILES.validation].map((f) => raw("https://rajpurkar.github.io/SQuAD-explorer/dataset", f)),
  },
  {
    name: XWINOGRAD_DATASET,
    license: "CC BY 4.0",
    homepage: "https://huggingface.co/datasets/Muennighoff/xwinograd",
    files: [hf("Muennighoff/xwinograd", XWINOGRAD_FILES.test)],
  },
  {
    name: MMLU_DATASET,
    license: "MIT (hendrycks/test)",
    homepage: "https://huggingface.co/datasets/cais/mmlu",
    files: MMLU_SUBJECTS.flatMap(([subject]) => {
      const f = mmluFiles(subject);
      return [hf("cais/mmlu", f.dev), hf("cais/mmlu", f.test)];
    }),
  },
  {
    name: GSM8K_DATASET,
    license: "MIT (openai/grade-school-math)",
    homepage: "https://github.com/openai/grade-school-math",
    files: [GSM8K_FILES.train, GSM8K_FILES.test].map((f) =>
      raw("https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data", f),
    ),
  },
  {
    name: BBH_DATASET,
    license: "MIT (suzgunmirac/BIG-Bench-Hard)",
    homepage: "https://github.com/suzgunmirac/BIG-Bench-Hard",
    // lukaemon/bbh (what lm-eval loads) mirrors bbh/<task>.json; cot-prompts/<task>.txt are what lm-eval's
    // BBH YAMLs were generated from (see bbh.ts).
    files: BBH_SUBTASKS.flatMap((t) => {
      const f = bbhFiles(t);
      return [raw(BBH_RAW, f.examples), raw(BBH_RAW, f.cotPrompt)];
    }),
  },
];
