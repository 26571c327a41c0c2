// The JP LM Evaluation Harness's (Stability-AI @9b42d41) document order, few-shot draws and context layout
// (evaluator.py, base.py Task.fewshot_context), spec §2.1:
//   docs = list(test_docs); rnd = Random(); rnd.seed(42); rnd.shuffle(docs)
//   for each doc in that order: shots = rnd.sample(training_docs, k)                       (tasks with training docs)
//                               shots = [x for x in rnd.sample(test_docs, k + 1) if x != doc][:k]   (WMT: none)
//   context = DESCRIPTION + SEP.join(doc_to_text(x) + doc_to_target(x) for x in shots) + SEP + doc_to_text(doc)
// The RNG is shared by the shuffle and all draws, so draws depend on evaluation order; `limit` keeps a prefix.

import { PythonRandom } from "../../../random/python-random.js";
import type { GenerateRequest } from "../../../types.js";

/** Swallow's cap on max_length (models/huggingface.py patch) and the harness's max_gen_toks. */
export const JP_HARNESS_MAX_LENGTH = 4096;
export const JP_HARNESS_MAX_GEN_TOKS = 256;

export interface JpHarnessPromptStyle<D> {
  /** Class DESCRIPTION ("" when the class has none). */
  description: string;
  /** FEWSHOT_SEP, else SEP + SEP, else "\n\n". */
  fewshotSep: string;
  docToText(doc: D): string;
  docToTarget(doc: D): string;
}

/** Few-shot source: the training split, or (no training docs) the test split itself with the current doc removed. */
export type FewshotSource<D> = { kind: "train"; docs: readonly D[] } | { kind: "test"; docs: readonly D[]; same(a: D, b: D): boolean };

/** One document in evaluation order with its rendered context and the shots drawn for it. */
export interface JpHarnessContext<D> {
  doc: D;
  /** Position of the doc in the test split as loaded (a stable item id). */
  index: number;
  context: string;
  shots: D[];
}

/**
 * Contexts for the first `limit` docs (all when absent) in the harness's order. Stopping early consumes the same
 * draws as the full run's prefix, so a limited run's prompts equal the full run's first prompts.
 */
export function jpHarnessContexts<D>(
  testDocs: readonly D[],
  numFewshot: number,
  source: FewshotSource<D>,
  style: JpHarnessPromptStyle<D>,
  limit?: number,
): JpHarnessContext<D>[] {
  const order = testDocs.map((doc, index) => ({ doc, index }));
  const rnd = new PythonRandom(42);
  rnd.shuffle(order);
  const count = limit !== undefined && limit > 0 ? Math.min(limit, order.length) : order.length;
  const out: JpHarnessContext<D>[] = [];
  for (const { doc, index } of order.slice(0, count)) {
    let shots: D[] = [];
    if (numFewshot > 0) {
      if (source.kind === "train") shots = rnd.sample(source.docs, numFewshot);
      else
        shots = rnd
          .sample(source.docs, numFewshot + 1)
          .filter((x) => !source.same(x, doc))
          .slice(0, numFewshot);
    }
    const labeled =
      numFewshot === 0 ? "" : shots.map((x) => style.docToText(x) + style.docToTarget(x)).join(style.fewshotSep) + style.fewshotSep;
    out.push({ doc, index, shots, context: style.description + labeled + style.docToText(doc) });
  }
  return out;
}

/**
 * The request hf-causal-experimental makes: greedy, no BOS (add_special_tokens=False), max_gen_toks new tokens
 * whatever the task asked for, context left-truncated to max_length − max_gen_toks, cut at `until` (and EOS).
 */
export function jpHarnessRequest(context: string, until: string[]): GenerateRequest {
  return {
    kind: "generate",
    context,
    until,
    maxTokens: JP_HARNESS_MAX_GEN_TOKS,
    addBos: false,
    temperature: 0,
    maxContextTokens: JP_HARNESS_MAX_LENGTH - JP_HARNESS_MAX_GEN_TOKS,
  };
}
