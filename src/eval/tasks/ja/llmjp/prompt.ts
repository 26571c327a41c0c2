// llm-jp-eval v1.3.0's prompt (utils.get_evaluation_prompt with custom_prompt_template = null) and the langchain
// f-string rendering it goes through. The instruction and few-shots are baked into the template text, so Python's
// str.format rules apply to them ("{{" → "{", "}}" → "}", any other brace is a template error that stops the run);
// the test input is substituted verbatim.

import { SwallowError } from "../../../../errors.js";

/** One llm-jp-eval sample (datasets/base.py `Sample`): the formatted input and the gold output. */
export interface LlmjpSample {
  input: string;
  output: string;
}

const HEADER = "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。";

/** The template text before rendering: header, instruction, few-shots, then the `{input}` slot. */
export function llmjpTemplate(instruction: string, fewShots: readonly LlmjpSample[]): string {
  let template = `${HEADER}\n\n### 指示:\n${instruction}`;
  for (const shot of fewShots) template += `\n\n### 入力:\n${shot.input}\n\n### 応答:\n${shot.output}`;
  return template + "\n\n### 入力:\n{input}\n\n### 応答:\n";
}

/**
 * Python `template.format(**values)` for the subset langchain's f-string templates use: `{{`/`}}` escapes and
 * `{name}` fields. A field that is not in `values`, a positional or formatted field, or a lone brace throws: Python
 * raises there too (langchain rejects the template), so such a dataset cannot be evaluated as the original did.
 */
export function pythonFormat(template: string, values: Readonly<Record<string, string>>, what: string): string {
  let out = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === "{") {
      if (template[i + 1] === "{") {
        out += "{";
        i++;
        continue;
      }
      const end = template.indexOf("}", i);
      const field = end < 0 ? null : template.slice(i + 1, end);
      if (field === null || !(field in values)) {
        throw new SwallowError(
          `${what}: the prompt template contains ${JSON.stringify(template.slice(i, end < 0 ? i + 20 : end + 1))}, which llm-jp-eval's ` +
            `f-string template cannot render (it would stop with an error); remove the brace from the few-shot/instruction text`,
        );
      }
      out += values[field];
      i = end;
    } else if (c === "}") {
      if (template[i + 1] !== "}") {
        throw new SwallowError(`${what}: the prompt template has a single '}', which llm-jp-eval's f-string template cannot render`);
      }
      out += "}";
      i++;
    } else out += c;
  }
  return out;
}

/** The exact prompt string llm-jp-eval sends for `input` (no chat template). */
export function llmjpPrompt(template: string, input: string, what: string): string {
  return pythonFormat(template, { input }, what);
}
