// custom_utils.py `calculate_japanese_character_ratio` as of the card's code (swallow-evaluation @ 3762f0d; the
// markdown stripping came later): the share of Japanese characters over all answers (every run and turn),
// micro-averaged per category and overall. Reported by show_result.py beside the scores; not a card column.

import { SwallowError } from "../../../errors.js";
import { CATEGORY_TITLES, MTBENCH_CATEGORIES } from "./settings.js";

/** custom_utils.is_japanese_char on one code point. */
export function isJapaneseChar(codePoint: number): boolean {
  return (
    (codePoint >= 0x3041 && codePoint <= 0x309f) || // hiragana
    (codePoint >= 0x30a1 && codePoint <= 0x30ff) || // katakana
    (codePoint >= 0x4e00 && codePoint <= 0x9fff) || // CJK unified ideographs (no extensions)
    (codePoint >= 0xff01 && codePoint <= 0xff5e) || // full-width forms
    (codePoint >= 0x3000 && codePoint <= 0x3036) || // Japanese punctuation and symbols
    codePoint === 0x30fb
  );
}

/** custom_utils.map_question_to_category: `(question_id − 1) // 10 % 8` (unlike show_result.py it wraps past 160). */
function categoryTitleOf(questionId: number): string {
  if (!Number.isInteger(questionId) || questionId < 1) throw new SwallowError(`MT-Bench question_id ${questionId} must be 1 or more`);
  return CATEGORY_TITLES[MTBENCH_CATEGORIES[Math.floor((questionId - 1) / 10) % MTBENCH_CATEGORIES.length]];
}

/** One question's answers: turns[run][turn]. */
export interface AnswerRecord {
  questionId: number;
  turns: readonly (readonly string[])[];
}

/** Ratio of Japanese characters (code points, as Python's len) per category title and "overall"; 0 for no text. */
export function japaneseCharRatio(records: readonly AnswerRecord[]): Record<string, number> {
  const counts = new Map<string, { total: number; japanese: number }>();
  let total = 0;
  let japanese = 0;
  for (const record of records) {
    const title = categoryTitleOf(record.questionId);
    for (const run of record.turns) {
      for (const text of run) {
        // Python's defaultdict makes the category's entry at its first answer, even an empty one.
        const c = counts.get(title) ?? { total: 0, japanese: 0 };
        counts.set(title, c);
        for (const ch of text) {
          const ja = isJapaneseChar(ch.codePointAt(0)!) ? 1 : 0;
          c.total++;
          c.japanese += ja;
          total++;
          japanese += ja;
        }
      }
    }
  }
  const ratio = (num: number, den: number) => (den === 0 ? 0 : num / den);
  const result: Record<string, number> = {};
  for (const [title, c] of counts) result[title] = ratio(c.japanese, c.total);
  result.overall = ratio(japanese, total);
  return result;
}
