// llm-jp-eval's answer extraction (utils.get_evaluation_result): the first paragraph of the output, stripped the
// Python way, NFKC-normalised. Gold answers are NFKC-normalised only.

import { pythonStrip } from "../../../metrics/index.js";

/** `normalize(output.split("\n\n")[0].strip())`. */
export function llmjpPrediction(output: string): string {
  return pythonStrip(output.split("\n\n")[0]).normalize("NFKC");
}

/** `normalize(sample["output"])`. */
export function llmjpGold(output: string): string {
  return output.normalize("NFKC");
}
