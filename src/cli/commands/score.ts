import { SwallowError } from "../../errors.js";
import { scoreTokens } from "../../engine/score.js";
import { parseCommandArgs } from "../args.js";
import { stdinLines, writeLine } from "../io.js";
import { loadFromFlags, modelFlags } from "../load.js";

const HELP = `usage: swallow score [--model DIR|ORG/NAME] [--backend cpu|webgpu|auto] [--max-model-len N] [--batch-invariant]

Reads JSON lines {"tokens":[…]} or {"text":…} on stdin (text is tokenized with the BOS token first) and
prints one line per input: {"tokens":[…],"logprobs":[null,l1,…],"argmax":[a0,…]} where logprobs[i] is
the natural log P(tokens[i] | tokens[0..i-1]) and argmax[i] the most likely token after tokens[0..i].
On a GPU with tensor cores a line's log-probs depend in their last bits on how its tokens are split into forward
passes; --batch-invariant uses kernels whose results do not.`;

export async function runScore(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("score", argv, modelFlags);
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const model = await loadFromFlags(values);
  for await (const { line, lineNumber } of stdinLines()) {
    const tokens = tokensOfLine(line, lineNumber, (text) => model.tokenizer.encode(text, { addBos: true }));
    try {
      await writeLine(JSON.stringify(await scoreTokens(model.runner, tokens)));
    } catch (error) {
      if (error instanceof SwallowError) throw new SwallowError(`stdin line ${lineNumber}: ${error.message}`);
      throw error;
    }
  }
}

function tokensOfLine(line: string, lineNumber: number, encode: (text: string) => number[]): number[] {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new SwallowError(`stdin line ${lineNumber}: not JSON; each line must be {"tokens": [ids]} or {"text": "…"}`);
  }
  const record = (value ?? {}) as { tokens?: unknown; text?: unknown };
  if (Array.isArray(record.tokens) && record.tokens.every((id) => Number.isInteger(id))) return record.tokens as number[];
  if (typeof record.text === "string") return encode(record.text);
  throw new SwallowError(`stdin line ${lineNumber}: expected {"tokens": [integer ids]} or {"text": "…"}`);
}
