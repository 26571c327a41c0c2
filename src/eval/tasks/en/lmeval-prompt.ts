/**
 * lm-evaluation-harness v0.4.2 prompt assembly (`ConfigurableTask.fewshot_context` and `ContextSampler.get_context`
 * in lm_eval/api/task.py and api/samplers.py), reproduced byte for byte.
 */
import { PythonRandom } from "../../random/python-random.js";
import { pyEqual } from "./python-text.js";

/** A task's doc-level prompt functions, with lm-eval's return conventions. */
export interface LmevalPromptDef<Doc> {
  /** The rendered `description` for this doc ("" when the task has none). Prepended to every context. */
  description?: (doc: Doc) => string;
  /** A string, or (multiple_input mode, XWINO) the index of the correct entry of `docToChoice`. */
  docToText: (doc: Doc) => string | number;
  /** A string, a list (first element is the shot's target: TriviaQA aliases) or an index into `docToChoice`. */
  docToTarget: (doc: Doc) => string | number | string[];
  docToChoice?: (doc: Doc) => string[];
  /** Between a doc's text and its target (lm-eval default " "). */
  targetDelimiter?: string;
  /** Between shots, and after the last shot (lm-eval default "\n\n"). */
  fewshotDelimiter?: string;
}

/** How a task picks its shots: `rnd.sample` (lm-eval's default sampler) or the first k docs (`first_n`, MMLU). */
export type SamplerKind = "default" | "first_n";

/** The seed lm-eval v0.4.2 gives every task's sampler (`random.Random(1234)`); `--seed` does not reach it. */
export const LMEVAL_FEWSHOT_SEED = 1234;

/**
 * lm-eval's `ContextSampler`: one per task, created once with `random.Random(1234)`; docs are evaluated in dataset
 * order, so each doc's shots depend on every earlier draw.
 */
export class ContextSampler<Doc> {
  private readonly rnd = new PythonRandom(LMEVAL_FEWSHOT_SEED);

  /**
   * @param drawExtra lm-eval's `config.fewshot_split == config.test_split` test, which is also true when BOTH are
   *   unset (None == None: TriviaQA, HellaSwag, SQuAD2). It then draws k+1 docs and keeps the first k that differ
   *   from the evaluated doc, which changes the random stream.
   */
  constructor(
    private readonly docs: readonly Doc[],
    private readonly def: LmevalPromptDef<Doc>,
    private readonly kind: SamplerKind,
    private readonly drawExtra: boolean,
  ) {}

  /** The shots for `doc`, each `text + target_delimiter + target`, joined and followed by the few-shot delimiter. */
  getContext(doc: Doc, numFewshot: number): string {
    const nSamples = this.drawExtra ? numFewshot + 1 : numFewshot;
    const drawn = this.sample(nSamples);
    const selected = drawn.filter((x) => !pyEqual(x, doc)).slice(0, numFewshot);
    const delimiter = this.def.fewshotDelimiter ?? "\n\n";
    return selected.map((shot) => shotText(this.def, shot)).join(delimiter) + delimiter;
  }

  private sample(n: number): Doc[] {
    if (this.kind === "first_n") {
      if (n > this.docs.length) {
        throw new Error(`number of fewshot samples requested exceeds the ${this.docs.length} that are available`);
      }
      return this.docs.slice(0, n);
    }
    return this.rnd.sample(this.docs, n);
  }
}

/** One labelled example as `get_context` writes it. */
function shotText<Doc>(def: LmevalPromptDef<Doc>, doc: Doc): string {
  const text = def.docToText(doc);
  const target = def.docToTarget(doc);
  const textPart = typeof text === "string" || def.docToChoice === undefined ? String(text) : def.docToChoice(doc)[text];
  let targetPart: string;
  if (Array.isArray(target)) targetPart = String(target[0]);
  else if (typeof target === "string" || def.docToChoice === undefined) targetPart = String(target);
  else targetPart = def.docToChoice(doc)[target];
  return textPart + (def.targetDelimiter ?? " ") + targetPart;
}

/**
 * `ConfigurableTask.fewshot_context`: description + shots + the doc's own text. In multiple_input mode (docToText
 * returns an index) the doc's text is left out: the caller appends each choice to the context instead.
 */
export function fewshotContext<Doc>(
  def: LmevalPromptDef<Doc>,
  sampler: ContextSampler<Doc> | undefined,
  doc: Doc,
  numFewshot: number,
): string {
  const description = def.description?.(doc) ?? "";
  let labeled = description;
  if (numFewshot > 0) {
    if (sampler === undefined) throw new Error("num_fewshot > 0 but the task has no few-shot docs");
    labeled += sampler.getContext(doc, numFewshot);
  }
  const example = def.docToText(doc);
  if (typeof example === "string") return labeled + example;
  if (isMultipleInput(def, doc)) return labeled;
  return labeled + (def.docToChoice ? def.docToChoice(doc)[example] : String(example));
}

/** lm-eval sets multiple_input when docToText gives an int and the task has choices. */
export function isMultipleInput<Doc>(def: LmevalPromptDef<Doc>, doc: Doc): boolean {
  return typeof def.docToText(doc) === "number" && def.docToChoice !== undefined;
}
