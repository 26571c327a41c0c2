/**
 * lm-eval v0.4.2 request construction (`ConfigurableTask.construct_requests`) and per-doc scoring for the two output
 * types the card's English tasks use: multiple_choice (loglikelihood per choice, `acc`) and generate_until.
 */
import { accFromLoglikelihoods, argmaxFirst } from "../../metrics/index.js";
import type { EvalItem, GenerateRequest, ItemOutcome, LoglikelihoodRequest } from "../../types.js";
import { fewshotContext, isMultipleInput, type ContextSampler, type LmevalPromptDef } from "./lmeval-prompt.js";

/** lm-eval's HF model default when a task's generation_kwargs set no `max_gen_toks`. */
export const LMEVAL_DEFAULT_MAX_GEN_TOKS = 256;

/**
 * The loglikelihood requests of one multiple_choice doc: `(ctx, " " + choice)` per choice, or in multiple_input mode
 * `(ctx + choice, " " + target)`. No BOS (lm-eval v0.4.2 encodes with add_special_tokens=False for Llama).
 */
export function multipleChoiceRequests<Doc>(def: LmevalPromptDef<Doc>, ctx: string, doc: Doc): LoglikelihoodRequest[] {
  if (def.docToChoice === undefined) throw new Error("multiple_choice task without docToChoice");
  const choices = def.docToChoice(doc);
  const delimiter = def.targetDelimiter ?? " ";
  if (isMultipleInput(def, doc)) {
    const target = def.docToTarget(doc);
    return choices.map((choice) => ({
      kind: "loglikelihood",
      context: ctx + choice,
      continuation: `${delimiter}${target}`,
      addBos: false,
    }));
  }
  return choices.map((choice) => ({ kind: "loglikelihood", context: ctx, continuation: `${delimiter}${choice}`, addBos: false }));
}

/**
 * The gold index of a multiple_choice doc: docToTarget's index, or in multiple_input mode docToText's index
 * (lm-eval's process_results swaps them there).
 */
export function multipleChoiceGold<Doc>(def: LmevalPromptDef<Doc>, doc: Doc): number {
  const gold = isMultipleInput(def, doc) ? def.docToText(doc) : def.docToTarget(doc);
  if (typeof gold !== "number") throw new Error(`multiple_choice gold must be an index, got ${JSON.stringify(gold)}`);
  return gold;
}

/** Builds one multiple_choice item: every choice's summed logprob, `acc` = argmax == gold. */
export function multipleChoiceItem<Doc>(
  def: LmevalPromptDef<Doc>,
  sampler: ContextSampler<Doc> | undefined,
  doc: Doc,
  numFewshot: number,
  itemId: string,
  extra: Record<string, unknown> = {},
): EvalItem {
  // The context is built now (not in run) so the sampler's random stream advances in dataset order.
  const ctx = fewshotContext(def, sampler, doc, numFewshot);
  const requests = multipleChoiceRequests(def, ctx, doc);
  const gold = multipleChoiceGold(def, doc);
  const labels = def.docToChoice!(doc);
  return {
    itemId,
    async run(models): Promise<ItemOutcome> {
      const results = await Promise.all(requests.map((r) => models.model.loglikelihood(r)));
      const logprobs = results.map((r) => r.logprob);
      const chosen = argmaxFirst(logprobs);
      return {
        itemId,
        scores: { acc: accFromLoglikelihoods(logprobs, gold) },
        prediction: String(chosen),
        gold: String(gold),
        extra: { ...extra, logprobs, choices: labels },
      };
    },
  };
}

/** What a generate_until doc's scorer returns for its (unfiltered) model output. */
export interface GenerationScore {
  prediction: string;
  gold: string | string[];
  scores: Record<string, number>;
  extra?: Record<string, unknown>;
}

/** The greedy generate_until request lm-eval sends: no BOS, `until` as the task gives it (the backend adds EOS). */
export function generateRequest(context: string, until: string[], maxTokens: number = LMEVAL_DEFAULT_MAX_GEN_TOKS): GenerateRequest {
  return { kind: "generate", context, until: [...until], maxTokens, addBos: false, temperature: 0 };
}

/** Builds one generate_until item from its request and a scorer of the raw output. */
export function generateItem(itemId: string, request: GenerateRequest, score: (output: string) => GenerationScore): EvalItem {
  return {
    itemId,
    async run(models): Promise<ItemOutcome> {
      const output = await models.model.generateUntil(request);
      const s = score(output);
      return { itemId, scores: s.scores, prediction: s.prediction, gold: s.gold, extra: { ...s.extra, output } };
    },
  };
}

/** Mean of one per-item score over all outcomes (lm-eval's `mean` aggregation; over a whole group it is the micro average). */
export function meanScore(outcomes: readonly ItemOutcome[], key: string): number {
  if (outcomes.length === 0) return Number.NaN;
  let sum = 0;
  for (const o of outcomes) {
    const v = o.scores[key];
    if (typeof v !== "number") throw new Error(`item ${o.itemId} has no '${key}' score`);
    sum += v;
  }
  return sum / outcomes.length;
}

/** `--limit N`: lm-eval keeps the first N docs (after building every earlier doc's context, which it never skips). */
export function applyLimit<T>(items: T[], limit: number | undefined): T[] {
  return limit === undefined ? items : items.slice(0, Math.max(0, limit));
}
