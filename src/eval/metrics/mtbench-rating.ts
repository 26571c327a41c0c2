// Rating extraction of common.py `run_judge_single` (output_format "[[rating]]"):
//   match = re.search(r"\[\[(\d+\.?\d*)\]\]", judgment) or re.search(r"\[(\d+\.?\d*)\]", judgment)
//   rating = ast.literal_eval(match.groups()[0]) if match else -1
// Python 3's `\d` is any Unicode decimal digit, hence `\p{Nd}` here.

/** The rating FastChat records when no rating is found; show_result.py leaves such entries out of every mean. */
export const UNPARSED_RATING = -1;

const ONE_SCORE = /\[\[(\p{Nd}+\.?\p{Nd}*)\]\]/u;
const ONE_SCORE_BACKUP = /\[(\p{Nd}+\.?\p{Nd}*)\]/u;
/** What `ast.literal_eval` accepts of the matched text: an int without leading zeros (or all zeros), or a float. */
const PY_INT = /^(?:0+|[1-9][0-9]*)$/;
const PY_FLOAT = /^[0-9]+\.[0-9]*$/;

/**
 * The judge's rating, or -1 when there is none. Where FastChat's `ast.literal_eval` raises SyntaxError on the
 * matched text (an int with a leading zero like "07", or non-ASCII digits like "７") the FastChat judging run
 * stops with that exception; here the judgment counts as unparsed (-1) instead, so one odd reply cannot stop a run.
 */
export function parseRating(judgment: string): number {
  const match = ONE_SCORE.exec(judgment) ?? ONE_SCORE_BACKUP.exec(judgment);
  if (!match) return UNPARSED_RATING;
  const text = match[1];
  if (!PY_INT.test(text) && !PY_FLOAT.test(text)) return UNPARSED_RATING;
  return Number(text);
}
