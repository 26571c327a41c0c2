import path from "node:path";
import { SwallowError } from "../../errors.js";
import { EngineBackend } from "../../eval/backends/engine-backend.js";
import { OpenAIBackend } from "../../eval/backends/openai-backend.js";
import { FanOutBackend } from "../../eval/backends/fan-out-backend.js";
import type { PairTokenizer } from "../../eval/backends/tokenize-pair.js";
import { downloadDatasets } from "../../eval/datasets/download.js";
import { datasetsForTasks, defaultDataDir, LocalDatasets, selectDatasets } from "../../eval/datasets/registry.js";
import { buildReport, reportMarkdown } from "../../eval/report/tables.js";
import { writeReport } from "../../eval/report/write.js";
import { runTasks } from "../../eval/runner/run-tasks.js";
import { ResultStore } from "../../eval/store/result-store.js";
import { allTasks, selectTasks } from "../../eval/tasks/index.js";
import type { EvalBackend, EvalTask } from "../../eval/types.js";
import { loadTokenizer } from "../../tokenizer/tokenizer.js";
import { parseTokenizerConfig } from "../../tokenizer/chat-template.js";
import { numberFlag, parseCommandArgs } from "../args.js";
import { info } from "../io.js";
import { loadFromFlags, modelFlags } from "../load.js";
import { modelDirectory } from "../model-dir.js";

const HELP = `usage: swallow eval (--model DIR|ORG/NAME | --endpoint URL [--api-key K] [--served-model NAME] --tokenizer DIR|ORG/NAME)
                    --tasks ja,en,mtbench,code|NAMES [--limit N] [--output DIR] [--run NAME] [--data-dir DIR]
                    [--judge-endpoint URL --judge-model NAME [--judge-api-key K]] [--mtbench-answers fastchat|chat-template]
                    [--concurrency N] [--timeout SECONDS]
       swallow eval data download [NAMES|all] [--data-dir DIR]
       swallow eval report [--output DIR]

Runs the model card's benchmarks and writes report.md, report.json and chart.svg (the card's three tables on
the 0–1 scale; every run in --output's result store is a row) into --output (default ./eval-results).
Every request and outcome is stored in DIR/results.sqlite: rerunning the same command resumes an interrupted run.
--endpoint is any OpenAI-compatible server (swallow serve, vLLM), or several replicas of one model, comma-separated:
each request goes to the least busy one, --concurrency at a time each. --tokenizer must be the served model's tokenizer,
so prompts are sent as the same token ids the original harnesses used. MT-Bench needs --judge-endpoint and --judge-model
(the card used gpt-4o-2024-08-06); its answers use FastChat's llama-3 prompt string by default (as the card, double
BOS included) or, with --mtbench-answers chat-template, the model's chat template. Datasets are read from --data-dir (default $SWALLOW_DATA_DIR or
~/.cache/swallow/eval-data); \`swallow eval data download\` fetches them and records their sha256 in SHA256SUMS.
With --model on a GPU that has tensor cores, scores can differ in their last bits with what shares a batch (as with
vLLM); --batch-invariant makes each one independent of batching and --concurrency, at a slower prefill.`;

export async function runEval(argv: string[]): Promise<void> {
  if (argv[0] === "data") return runDataCommand(argv.slice(1));
  if (argv[0] === "report") return runReportCommand(argv.slice(1));
  const { values } = parseCommandArgs("eval", argv, {
    ...modelFlags,
    endpoint: { type: "string" },
    "api-key": { type: "string" },
    "served-model": { type: "string" },
    tokenizer: { type: "string" },
    tasks: { type: "string" },
    limit: { type: "string" },
    output: { type: "string" },
    run: { type: "string" },
    "data-dir": { type: "string" },
    "judge-endpoint": { type: "string" },
    "judge-model": { type: "string" },
    "judge-api-key": { type: "string" },
    concurrency: { type: "string" },
    timeout: { type: "string" },
    "mtbench-answers": { type: "string" },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  if (values.tasks === undefined)
    throw new SwallowError("give --tasks (ja, en, mtbench, code or task names, comma-separated); see `swallow eval --help`");
  if ((values.model === undefined) === (values.endpoint === undefined))
    throw new SwallowError("give exactly one of --model DIR and --endpoint URL");
  const limit = numberFlag("limit", values.limit, true);
  if (limit !== undefined && limit < 1) throw new SwallowError(`--limit must be at least 1, got ${limit}`);
  const concurrency = numberFlag("concurrency", values.concurrency, true) ?? 8;
  if (concurrency < 1) throw new SwallowError(`--concurrency must be at least 1, got ${concurrency}`);
  const timeoutS = numberFlag("timeout", values.timeout) ?? 600;
  if ((values["judge-endpoint"] === undefined) !== (values["judge-model"] === undefined)) {
    throw new SwallowError("give --judge-endpoint and --judge-model together");
  }

  const answerFormat = values["mtbench-answers"] ?? "fastchat";
  if (answerFormat !== "fastchat" && answerFormat !== "chat-template") {
    throw new SwallowError(`--mtbench-answers must be fastchat or chat-template, got "${answerFormat}"`);
  }
  const tasks = selectTasks(values.tasks, allTasks({ mtbench: { answerFormat } }));
  const needsJudge = tasks.some((t) => t.suite === "mtbench");
  if (needsJudge && values["judge-endpoint"] === undefined) {
    throw new SwallowError("MT-Bench needs a judge: add --judge-endpoint URL --judge-model NAME (the card used gpt-4o-2024-08-06)");
  }
  const data = new LocalDatasets(path.resolve(values["data-dir"] ?? defaultDataDir()));
  for (const spec of datasetsForTasks(tasks)) data.dir(spec.name); // fail before loading a 70B model, not after

  const { backend, tokenizer, replicas } = await openBackend(values, concurrency, timeoutS);
  for (const task of tasks) giveTokenizer(task, tokenizer);
  const judge =
    values["judge-endpoint"] === undefined
      ? undefined
      : new OpenAIBackend({
          baseUrl: values["judge-endpoint"],
          apiKey: values["judge-api-key"] ?? process.env.OPENAI_API_KEY,
          model: values["judge-model"],
          tokenizer: noTokenizer,
          concurrency,
          timeoutMs: timeoutS * 1000,
        });

  const output = path.resolve(values.output ?? "eval-results");
  const store = new ResultStore(path.join(output, "results.sqlite"));
  try {
    const runId = values.run ?? backend.id;
    info(`evaluating ${backend.id} on ${tasks.map((t) => t.name).join(", ")} (run "${runId}", results in ${output})`);
    const results = await runTasks({
      runId,
      tasks,
      models: { model: backend, ...(judge ? { judge } : {}) },
      store,
      data,
      limit,
      // Each endpoint takes --concurrency requests at a time.
      concurrency: concurrency * replicas,
      meta: {
        tasks: values.tasks,
        ...(values.endpoint ? { endpoint: values.endpoint } : { model: values.model }),
        ...(judge ? { judge: values["judge-model"] } : {}),
      },
    });
    for (const r of results)
      info(`${r.task.name}: ${r.score.toFixed(4)} (${r.outcomes.length} items, ${r.resumed} resumed, ${r.seconds.toFixed(1)} s)`);
    const report = buildReport(store.runs(), allTasks());
    const files = writeReport(output, report);
    process.stdout.write(reportMarkdown(report));
    info(`wrote ${files.markdown}, ${files.json} and ${files.svg}`);
  } finally {
    store.close();
  }
}

/** The backend under test, its tokenizer (the engine's own, or --tokenizer for endpoints) and how many replicas serve it. */
async function openBackend(
  values: {
    model?: string;
    backend?: string;
    "max-model-len"?: string;
    endpoint?: string;
    "api-key"?: string;
    "served-model"?: string;
    tokenizer?: string;
  },
  concurrency: number,
  timeoutS: number,
): Promise<{ backend: EvalBackend; tokenizer: PairTokenizer; replicas: number }> {
  if (values.endpoint === undefined) {
    const model = await loadFromFlags(values);
    const backend = new EngineBackend(model, { id: path.basename(path.resolve(values.model ?? "model")) });
    return { backend, tokenizer: model.tokenizer, replicas: 1 };
  }
  if (values.tokenizer === undefined) {
    throw new SwallowError(
      "--endpoint needs --tokenizer DIR|ORG/NAME (the served model's tokenizer) so prompts are tokenised as the original harnesses did",
    );
  }
  const files = await modelDirectory(values.tokenizer);
  const tokenizer = await loadTokenizer(files);
  const config = (await files.exists("tokenizer_config.json"))
    ? parseTokenizerConfig(await files.readText("tokenizer_config.json"), `${files.location}/tokenizer_config.json`)
    : null;
  const endpoints = values.endpoint
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url.length > 0);
  if (endpoints.length === 0) throw new SwallowError("--endpoint needs a URL (several, comma-separated, for replicas of one model)");
  const backends = endpoints.map(
    (baseUrl) =>
      new OpenAIBackend({
        cleanUpTokenizationSpaces: config?.cleanUpTokenizationSpaces ?? false,
        baseUrl,
        apiKey: values["api-key"],
        model: values["served-model"],
        tokenizer,
        // Log-likelihood prompts are cut to the served model's length, as lm-eval cuts them to max_length.
        maxModelLen: "server",
        concurrency,
        timeoutMs: timeoutS * 1000,
      }),
  );
  for (const backend of backends) await backend.resolveModel();
  if (backends.length === 1) return { backend: backends[0], tokenizer, replicas: 1 };
  const lengths = new Set(backends.map((b) => b.servedModelLength));
  if (lengths.size > 1) {
    throw new SwallowError(
      `the endpoints serve different model lengths (${endpoints.map((url, i) => `${url}: ${backends[i].servedModelLength}`).join(", ")}); start them with the same --max-model-len`,
    );
  }
  return { backend: new FanOutBackend(backends), tokenizer, replicas: backends.length };
}

/** Tasks that score over the evaluated model's tokens (XL-Sum's ROUGE-2) get its tokenizer, as the JP harness does. */
function giveTokenizer(task: EvalTask, tokenizer: PairTokenizer): void {
  const aware = task as EvalTask & {
    setTokenizer?: (t: { encode(text: string): readonly number[]; decode(ids: readonly number[]): string }) => void;
  };
  aware.setTokenizer?.({
    encode: (text) => tokenizer.encode(text, { addBos: false }),
    decode: (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }),
  });
}

/** The judge only chats; a token-level request to it is a bug. */
const noTokenizer: PairTokenizer = {
  encode: () => {
    throw new SwallowError("the judge endpoint takes chat requests only");
  },
  decode: () => "",
};

const DATA_HELP = `usage: swallow eval data download [NAMES|all] [--data-dir DIR]

Downloads datasets from their original locations into DIR/NAME (default $SWALLOW_DATA_DIR or ~/.cache/swallow/eval-data),
printing each licence. The first download records every file's sha256 in DIR/SHA256SUMS; later runs verify against it.`;

async function runDataCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs("eval data", argv, { "data-dir": { type: "string" } }, true);
  if (values.help || positionals[0] !== "download") {
    process.stdout.write(`${DATA_HELP}\n`);
    if (!values.help)
      throw new SwallowError(`unknown \`swallow eval data\` subcommand "${positionals[0] ?? ""}"; use \`swallow eval data download\``);
    return;
  }
  const specs = selectDatasets(positionals.slice(1));
  const dataDir = path.resolve(values["data-dir"] ?? defaultDataDir());
  const summary = await downloadDatasets(specs, { dataDir, log: info, tty: process.stderr.isTTY === true });
  info(`${summary.downloaded} files downloaded, ${summary.verified} verified, in ${dataDir}`);
}

async function runReportCommand(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("eval report", argv, { output: { type: "string" } });
  if (values.help)
    return void process.stdout.write(
      "usage: swallow eval report [--output DIR]\n\nRewrites report.md, report.json and chart.svg from DIR/results.sqlite.\n",
    );
  const output = path.resolve(values.output ?? "eval-results");
  const store = new ResultStore(path.join(output, "results.sqlite"));
  try {
    const report = buildReport(store.runs(), allTasks());
    writeReport(output, report);
    process.stdout.write(reportMarkdown(report));
  } finally {
    store.close();
  }
}
