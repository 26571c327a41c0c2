#!/usr/bin/env node
import { isSwallowError } from "../errors.js";
import { info } from "./io.js";
import { useProxyFromEnvironment } from "./proxy.js";
import { runTokenize } from "./commands/tokenize.js";
import { runScore } from "./commands/score.js";
import { runGenerate } from "./commands/generate.js";
import { runChat } from "./commands/chat.js";
import { runPull } from "./commands/pull.js";
import { runMetric } from "./commands/metric.js";
import { runServe } from "./commands/serve.js";
import { runEval } from "./commands/eval.js";
import { runBench } from "./commands/bench.js";

const USAGE = `usage: swallow <command> [options]

commands:
  tokenize   text on stdin → token ids            swallow tokenize [--model DIR|ORG/NAME] [--bos] [--jsonl]
  score      token log-probs of JSON lines        swallow score [--model DIR|ORG/NAME] [--backend cpu|webgpu|auto]
  generate   complete a prompt                     swallow generate [--model DIR|ORG/NAME] --prompt TEXT [--json] …
  chat       interactive chat                      swallow chat [--model DIR|ORG/NAME] [--system TEXT]
  pull       download a model from the HF Hub      swallow pull ORG/NAME [--revision REV] [--include GLOB]…
  metric     score JSON lines with an eval metric  swallow metric NAME [--model DIR|ORG/NAME] < items.jsonl | --list
  serve      OpenAI-compatible server + chat page  swallow serve [--model DIR|ORG/NAME] [--port 8000] [--api-key KEY]
  eval       the model card's benchmarks           swallow eval --model DIR | --endpoint URL --tasks ja,en,mtbench | data download
  bench      prefill/decode/serving speed          swallow bench [--model DIR|ORG/NAME | --shape llama-3.1-8b] [--concurrency 1,8]

--model takes a checkpoint directory or a repo id in the Hugging Face cache; without it, the bundled demo model runs.
Run \`swallow <command> --help\` for a command's options. --verbose prints stack traces on errors.`;

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  tokenize: runTokenize,
  score: runScore,
  generate: runGenerate,
  chat: runChat,
  pull: runPull,
  metric: runMetric,
  serve: runServe,
  eval: runEval,
  bench: runBench,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    info(`swallow: unknown command "${name}"; commands: ${Object.keys(commands).join(", ")} (see swallow --help)`);
    return 2;
  }
  const verbose = rest.includes("--verbose");
  try {
    useProxyFromEnvironment();
    await command(rest);
    return 0;
  } catch (error) {
    if (isSwallowError(error)) {
      info(verbose && error.stack ? error.stack : `swallow ${name}: ${error.message}`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    info(
      verbose && error instanceof Error && error.stack
        ? error.stack
        : `swallow ${name}: internal error: ${message} (run with --verbose for details)`,
    );
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
