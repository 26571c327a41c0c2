import { SwallowError } from "../../errors.js";
import { loadTokenizer } from "../../tokenizer/tokenizer.js";
import { parseCommandArgs } from "../args.js";
import { readAllStdin, stdinLines, writeLine } from "../io.js";
import { modelDirectory } from "../model-dir.js";

const HELP = `usage: swallow tokenize [--model DIR|ORG/NAME] [--bos] [--jsonl]

Reads text on stdin and prints {"ids":[…]}. Special-token strings in the text (e.g. <|eot_id|>) map to
their ids. --bos puts the BOS token first. --jsonl: each stdin line is a JSON string or {"text":…},
each output line {"ids":[…]}. Needs only tokenizer.json (no weights).`;

export async function runTokenize(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("tokenize", argv, {
    model: { type: "string" },
    bos: { type: "boolean" },
    jsonl: { type: "boolean" },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const tokenizer = await loadTokenizer(await modelDirectory(values.model));
  const encode = (text: string) => JSON.stringify({ ids: tokenizer.encode(text, { addBos: values.bos ?? false }) });
  if (!values.jsonl) return writeLine(encode(await readAllStdin()));
  for await (const { line, lineNumber } of stdinLines()) {
    await writeLine(encode(textOfLine(line, lineNumber)));
  }
}

function textOfLine(line: string, lineNumber: number): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new SwallowError(`stdin line ${lineNumber}: not JSON; each line must be a JSON string or {"text": …}`);
  }
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && typeof (value as { text?: unknown }).text === "string") return (value as { text: string }).text;
  throw new SwallowError(`stdin line ${lineNumber}: expected a JSON string or {"text": …}`);
}
