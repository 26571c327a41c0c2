// One MT-Bench question as an EvalItem: all answer runs, then one judge call per turn and run (FastChat judges each
// of the 5 choices separately: 80 questions × 2 turns × 5 = 800 calls), ratings parsed, kept for the aggregation.

import type { EvalBackend, EvalModels, ItemOutcome } from "../../types.js";
import { SwallowError } from "../../../errors.js";
import { type AnswerOptions, generateAnswerRun } from "./answers.js";
import type { MtbenchData, MtbenchQuestion } from "./dataset.js";
import { buildJudgeMessages, judgePromptNameFor } from "./judge.js";
import { UNPARSED_RATING, parseRating } from "../../metrics/mtbench-rating.js";
import { JUDGE_MAX_TOKENS, JUDGE_TEMPERATURE, NEED_REF_CATS, RATING_SCALE } from "./settings.js";

/** What an MT-Bench outcome keeps in `extra` (the aggregation reads `ratings`). */
export interface MtbenchItemExtra {
  questionId: number;
  category: string;
  /** ratings[turn − 1][run]: the judge's rating of that turn of that answer run, −1 when none was found. */
  ratings: number[][];
  /** answers[run][turn − 1]: the cleaned answers. */
  answers: string[][];
  /** judgments[turn − 1][run]: the judge's full replies. */
  judgments: string[][];
  /** judgePrompts[turn − 1]: the judge_prompts.jsonl entry used. */
  judgePrompts: string[];
}

export interface QuestionRunOptions extends AnswerOptions {
  numChoices: number;
}

async function judgeTurn(
  judge: EvalBackend,
  data: MtbenchData,
  question: MtbenchQuestion,
  answers: string[][],
  turn: 1 | 2,
): Promise<{ promptName: string; judgments: string[]; ratings: number[] }> {
  const promptName = judgePromptNameFor(question.category, turn);
  const prompt = data.judgePrompts.get(promptName)!;
  const referenceTurns = NEED_REF_CATS.includes(question.category) ? data.references.get(question.questionId) : undefined;
  const judgments = await Promise.all(
    answers.map((answerTurns, run) =>
      judge.chat({
        kind: "chat",
        messages: buildJudgeMessages(prompt, { questionTurns: question.turns, answerTurns, referenceTurns, turn }),
        maxTokens: JUDGE_MAX_TOKENS,
        temperature: JUDGE_TEMPERATURE,
        // Distinct requests per run, as FastChat made 5 calls even when the answers are identical (greedy categories).
        seed: run,
      }),
    ),
  );
  return { promptName, judgments, ratings: judgments.map(parseRating) };
}

/** Mean of the valid ratings on the 0–1 scale (NaN when none): a per-item view for reports, not the card's number. */
function meanRating(ratings: number[][]): number {
  const valid = ratings.flat().filter((r) => r !== UNPARSED_RATING);
  return valid.reduce((a, b) => a + b, 0) / valid.length / RATING_SCALE;
}

/** Answers, judges and scores one question. */
export async function runQuestion(
  question: MtbenchQuestion,
  data: MtbenchData,
  models: EvalModels,
  options: QuestionRunOptions,
): Promise<ItemOutcome> {
  const judge = models.judge;
  if (!judge) throw new SwallowError("Japanese MT-Bench needs a judge model: pass --judge-endpoint URL --judge-model NAME");
  const runs = Array.from({ length: options.numChoices }, (_, run) => run);
  const answers = await Promise.all(runs.map((run) => generateAnswerRun(models.model, question, run, options)));
  const turns = question.turns.map((_, t) => (t + 1) as 1 | 2);
  const judged = await Promise.all(turns.map((turn) => judgeTurn(judge, data, question, answers, turn)));
  const extra: MtbenchItemExtra = {
    questionId: question.questionId,
    category: question.category,
    ratings: judged.map((j) => j.ratings),
    answers,
    judgments: judged.map((j) => j.judgments),
    judgePrompts: judged.map((j) => j.promptName),
  };
  return {
    itemId: String(question.questionId),
    scores: { "mtbench.rating": meanRating(extra.ratings) },
    prediction: answers[0].join("\n\n"),
    gold: (NEED_REF_CATS.includes(question.category) && data.references.get(question.questionId)) || [],
    extra: extra as unknown as Record<string, unknown>,
  };
}
