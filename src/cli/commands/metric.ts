import { SwallowError } from "../../errors.js";
import { getMetric, listMetrics, scoreItem, type Metric, type MetricContext } from "../../eval/metrics/index.js";
import { loadTokenizer } from "../../tokenizer/tokenizer.js";
import { parseCommandArgs } from "../args.js";
import { stdinLines, writeLine } from "../io.js";
import { modelDirectory } from "../model-dir.js";

const HELP = `usage: swallow metric NAME [--model DIR|ORG/NAME] < items.jsonl
       swallow metric --list

Scores JSON lines on stdin with a registered metric. Each line is {"pred": "…", "gold": "…"}; a list
"gold" scores the best match. Per-item metrics print {"score": x} per line, then
{"metric": NAME, "value": aggregate}; corpus metrics (BLEU) print only the last line. pass@k reads
{"n": samples, "c": correct}; lmeval.acc reads {"logprobs": [per choice], "gold": index}.
Values are on the framework's scale (BLEU and ROUGE-2 0–100, others 0–1).
--model: the tokenizer jpharness.rouge2 needs (the evaluated model's). --list: names and descriptions.`;

export async function runMetric(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs("metric", argv, { list: { type: "boolean" }, model: { type: "string" } }, true);
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  if (values.list) return printList();
  if (positionals.length !== 1) {
    throw new SwallowError(`give exactly one metric name (got ${positionals.length}); see \`swallow metric --list\``);
  }
  const metric = getMetric(positionals[0]);
  const context: MetricContext = {};
  if (metric.kind === "item" && metric.needsTokenizer) {
    if (values.model === undefined)
      throw new SwallowError(`${metric.name} tokenises with the evaluated model's tokenizer: pass --model DIR|ORG/NAME`);
    const tokenizer = await loadTokenizer(await modelDirectory(values.model));
    context.tokenize = (text) => tokenizer.encode(text, { addBos: false });
  }
  await scoreStdin(metric, context);
}

async function printList(): Promise<void> {
  const metrics = listMetrics();
  const width = Math.max(...metrics.map((m) => m.name.length)) + 2;
  for (const m of metrics) await writeLine(`${m.name.padEnd(width)}${m.kind.padEnd(8)}${m.description}`);
}

async function scoreStdin(metric: Metric, context: MetricContext): Promise<void> {
  const scores: number[] = [];
  const preds: string[] = [];
  const golds: string[] = [];
  for await (const { line, lineNumber } of stdinLines()) {
    const record = parseLine(line, lineNumber);
    const where = `stdin line ${lineNumber}`;
    try {
      if (metric.kind === "record") {
        scores.push(metric.scoreRecord(record));
      } else {
        const { pred, gold } = predAndGold(record, metric.kind === "corpus");
        if (metric.kind === "corpus") {
          preds.push(pred);
          golds.push(gold as string);
          continue;
        }
        scores.push(scoreItem(metric, pred, gold, context));
      }
    } catch (error) {
      if (error instanceof SwallowError) throw new SwallowError(`${where}: ${error.message}`);
      throw error;
    }
    await writeLine(JSON.stringify({ score: scores[scores.length - 1] }));
  }
  const count = metric.kind === "corpus" ? preds.length : scores.length;
  if (count === 0) throw new SwallowError(`no items on stdin: give one JSON object per line (see \`swallow metric --help\`)`);
  const value = metric.kind === "corpus" ? metric.corpus(preds, golds, context) : metric.aggregate(scores);
  await writeLine(JSON.stringify({ metric: metric.name, value }));
}

function parseLine(line: string, lineNumber: number): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new SwallowError(`stdin line ${lineNumber}: not JSON; each line must be an object such as {"pred": "…", "gold": "…"}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new SwallowError(`stdin line ${lineNumber}: expected a JSON object such as {"pred": "…", "gold": "…"}`);
  }
  return value as Record<string, unknown>;
}

function predAndGold(record: Record<string, unknown>, corpus: boolean): { pred: string; gold: string | string[] } {
  const { pred, gold } = record;
  if (typeof pred !== "string") throw new SwallowError(`"pred" must be a string`);
  if (typeof gold === "string") return { pred, gold };
  if (corpus) throw new SwallowError(`"gold" must be one reference string for a corpus metric`);
  // An empty list is passed on: squad_v2.exact reads it as "unanswerable", the others reject it.
  if (Array.isArray(gold) && gold.every((g) => typeof g === "string")) return { pred, gold };
  throw new SwallowError(`"gold" must be a string or a list of strings`);
}
