// The datasets the Japanese tasks read, at their original download locations (spec §1.6, §2.2–§2.4). Files keep
// their published names inside `data.dir(name)`.

import type { DatasetSpec } from "../../types.js";

/** JGLUE pinned to tag v1.1.0: `main` moved to v1.3.0 in 2025-03 and dropped JSQuAD training questions (spec §1.6). */
const JGLUE = "https://raw.githubusercontent.com/yahoojapan/JGLUE/v1.1.0/datasets";
const HF_PARQUET = (repo: string, config: string, split: string) =>
  `https://huggingface.co/datasets/${repo}/resolve/refs%2Fconvert%2Fparquet/${config}/${split}/0000.parquet`;

/** llm-jp-eval v1.3.0's JMMLU subjects (datasets/jmmlu.py FILENAMES), in its order: the split's RNG draws follow it. */
export const JMMLU_SUBJECTS: readonly string[] = [
  "econometrics",
  "human_aging",
  "high_school_psychology",
  "professional_medicine",
  "electrical_engineering",
  "college_mathematics",
  "medical_genetics",
  "formal_logic",
  "nutrition",
  "prehistory",
  "world_religions",
  "japanese_history",
  "high_school_geography",
  "international_law",
  "logical_fallacies",
  "human_sexuality",
  "philosophy",
  "college_medicine",
  "professional_accounting",
  "high_school_mathematics",
  "global_facts",
  "business_ethics",
  "high_school_chemistry",
  "college_physics",
  "high_school_statistics",
  "moral_disputes",
  "high_school_biology",
  "miscellaneous",
  "high_school_macroeconomics",
  "high_school_computer_science",
  "abstract_algebra",
  "elementary_mathematics",
  "jurisprudence",
  "security_studies",
  "high_school_physics",
  "college_computer_science",
  "public_relations",
  "management",
  "computer_security",
  "college_chemistry",
  "anatomy",
  "high_school_european_history",
  "machine_learning",
  "virology",
  "high_school_microeconomics",
  "astronomy",
  "world_history",
  "college_biology",
  "clinical_knowledge",
  "conceptual_physics",
  "professional_psychology",
  "sociology",
  "marketing",
];

export const JCOMMONSENSEQA_DATASET: DatasetSpec = {
  name: "jcommonsenseqa-v1.1",
  license: "CC BY-SA 4.0",
  homepage: "https://github.com/yahoojapan/JGLUE",
  files: [
    { url: `${JGLUE}/jcommonsenseqa-v1.1/train-v1.1.json`, path: "train-v1.1.json" },
    { url: `${JGLUE}/jcommonsenseqa-v1.1/valid-v1.1.json`, path: "valid-v1.1.json" },
  ],
};

export const JSQUAD_DATASET: DatasetSpec = {
  name: "jsquad-v1.1",
  license: "CC BY-SA 4.0",
  homepage: "https://github.com/yahoojapan/JGLUE",
  files: [
    { url: `${JGLUE}/jsquad-v1.1/train-v1.1.json`, path: "train-v1.1.json" },
    { url: `${JGLUE}/jsquad-v1.1/valid-v1.1.json`, path: "valid-v1.1.json" },
  ],
};

export const JEMHOPQA_DATASET: DatasetSpec = {
  name: "jemhopqa",
  license: "CC BY-SA 4.0",
  homepage: "https://github.com/aiishii/JEMHopQA",
  files: [
    { url: "https://raw.githubusercontent.com/aiishii/JEMHopQA/main/corpus/train.json", path: "train.json" },
    { url: "https://raw.githubusercontent.com/aiishii/JEMHopQA/main/corpus/dev.json", path: "dev.json" },
  ],
};

export const NIILC_DATASET: DatasetSpec = {
  name: "niilc",
  license: "CC BY-SA 4.0",
  homepage: "https://github.com/mynlp/niilc-qa",
  files: [
    { url: "https://raw.githubusercontent.com/mynlp/niilc-qa/master/data/NIILC-ECQA2015_dev.xml", path: "NIILC-ECQA2015_dev.xml" },
    { url: "https://raw.githubusercontent.com/mynlp/niilc-qa/master/data/NIILC-ECQA2015_test.xml", path: "NIILC-ECQA2015_test.xml" },
  ],
};

export const JMMLU_DATASET: DatasetSpec = {
  name: "jmmlu",
  license: "CC BY-SA 4.0 (the 3 CC BY-NC-ND subjects are not downloaded)",
  homepage: "https://github.com/nlp-waseda/JMMLU",
  files: JMMLU_SUBJECTS.map((subject) => ({
    url: `https://raw.githubusercontent.com/nlp-waseda/JMMLU/main/JMMLU/${subject}.csv`,
    path: `${subject}.csv`,
  })),
};

export const XLSUM_JA_DATASET: DatasetSpec = {
  name: "xlsum-ja",
  license: "CC BY-NC-SA 4.0",
  homepage: "https://huggingface.co/datasets/mkshing/xlsum_ja",
  files: ["train", "test"].map((split) => ({
    url: HF_PARQUET("mkshing/xlsum_ja", "default", split),
    path: `default/${split}/0000.parquet`,
  })),
};

export const MGSM_JA_DATASET: DatasetSpec = {
  name: "mgsm-ja",
  license: "CC BY-SA 4.0 (MGSM; not confirmed from the dataset card)",
  homepage: "https://huggingface.co/datasets/juletxara/mgsm",
  files: ["train", "test"].map((split) => ({ url: HF_PARQUET("juletxara/mgsm", "ja", split), path: `ja/${split}/0000.parquet` })),
};

/** sacrebleu 1.5.0's `wmt20` test set: one archive with SGML files for every pair; the tasks read sgm/*enja*, sgm/*jaen*. */
export const WMT20_DATASET: DatasetSpec = {
  name: "wmt20",
  license: "WMT news test sets, released for research use (terms not verified)",
  homepage: "https://www.statmt.org/wmt20/translation-task.html",
  files: [{ url: "http://data.statmt.org/wmt20/translation-task/test.tgz", path: "test.tgz", unpack: "tar.gz" }],
};

export const WMT20_FILES = {
  "en-ja": { src: "sgm/newstest2020-enja-src.en.sgm", ref: "sgm/newstest2020-enja-ref.ja.sgm" },
  "ja-en": { src: "sgm/newstest2020-jaen-src.ja.sgm", ref: "sgm/newstest2020-jaen-ref.en.sgm" },
} as const;

export const jaDatasets: DatasetSpec[] = [
  JCOMMONSENSEQA_DATASET,
  JEMHOPQA_DATASET,
  NIILC_DATASET,
  JSQUAD_DATASET,
  JMMLU_DATASET,
  XLSUM_JA_DATASET,
  MGSM_JA_DATASET,
  WMT20_DATASET,
];
