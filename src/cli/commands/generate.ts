import { readFile } from "node:fs/promises";
import { SwallowError } from "../../errors.js";
import type { LanguageModel } from "../../engine/language-model.js";
import type { ChatMessage } from "../../tokenizer/chat-template.js";
import { parseCommandArgs } from "../args.js";
import { writeLine } from "../io.js";
import { loadFromFlags, modelFlags } from "../load.js";
import { samplingFlags, samplingFromFlags } from "../sampling-flags.js";

const HELP = `usage: swallow generate [--model DIR|ORG/NAME] (--prompt TEXT | --prompt-tokens 1,2,3 | --messages FILE.json)
                        [--max-tokens N] [--min-tokens N] [--temperature T] [--top-p P] [--top-k K] [--min-p P]
                        [--repetition-penalty R] [--presence-penalty P] [--frequency-penalty F] [--seed S]
                        [--stop STR]... [--logprobs N] [--backend cpu|webgpu|auto] [--max-model-len N] [--json]
                        [--batch-invariant]

Streams the completion to stdout. --prompt is tokenized with the BOS token first; --prompt-tokens is used
as given; --messages is a JSON list of {"role","content"} rendered with the model's chat template.
Unset sampling flags take generation_config.json's values (Swallow: temperature 0.6, top-p 0.9);
--temperature 0 is greedy. Without --max-tokens, generation runs until a stop token or the model length.
--json prints one object {"text","tokens","finish_reason"} (and "logprobs" with --logprobs N).
WebGPU runs prompts on the GPU's tensor cores where it has them (see \`swallow serve --help\`); --batch-invariant does not.`;

export async function runGenerate(argv: string[]): Promise<void> {
  const { values } = parseCommandArgs("generate", argv, {
    ...modelFlags,
    ...samplingFlags,
    prompt: { type: "string" },
    "prompt-tokens": { type: "string" },
    messages: { type: "string" },
    json: { type: "boolean" },
  });
  if (values.help) return void process.stdout.write(`${HELP}\n`);
  const sources = [values.prompt, values["prompt-tokens"], values.messages].filter((v) => v !== undefined);
  if (sources.length !== 1) throw new SwallowError("give exactly one of --prompt TEXT, --prompt-tokens 1,2,3 or --messages FILE.json");
  const messages = values.messages === undefined ? null : await readMessages(values.messages);
  const promptTokens = values["prompt-tokens"] === undefined ? null : parseTokenList(values["prompt-tokens"]);
  const sampling = samplingFromFlags(values);
  const model = await loadFromFlags(values);
  const params = model.resolveSampling(sampling);
  const promptIds = promptTokens ?? (messages ? model.encodeChat(messages) : model.tokenizer.encode(values.prompt ?? "", { addBos: true }));

  let text = "";
  const tokens: number[] = [];
  const logprobs: unknown[] = [];
  let finishReason = "length";
  for await (const event of model.generate(promptIds, params)) {
    if (event.tokenId !== null) {
      tokens.push(event.tokenId);
      if (params.logprobs > 0) logprobs.push(logprobEntry(model, event.tokenId, event.logprob, event.topLogprobs));
    }
    text += event.text;
    if (!values.json && event.text) process.stdout.write(event.text);
    if (event.finishReason) finishReason = event.finishReason;
  }
  if (values.json) {
    await writeLine(JSON.stringify({ text, tokens, finish_reason: finishReason, ...(params.logprobs > 0 ? { logprobs } : {}) }));
  } else {
    process.stdout.write("\n");
  }
}

function logprobEntry(model: LanguageModel, tokenId: number, logprob: number | null, top: { tokenId: number; logprob: number }[]) {
  const token = (id: number) => model.tokenizer.decode([id]);
  return {
    token_id: tokenId,
    token: token(tokenId),
    logprob,
    top_logprobs: top.map((t) => ({ token_id: t.tokenId, token: token(t.tokenId), logprob: t.logprob })),
  };
}

function parseTokenList(value: string): number[] {
  const ids = value.split(",").map((part) => part.trim());
  if (ids.some((id) => !/^\d+$/.test(id)))
    throw new SwallowError(`--prompt-tokens must be comma-separated token ids like 128000,9906, got "${value}"`);
  return ids.map(Number);
}

async function readMessages(path: string): Promise<ChatMessage[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new SwallowError(
      `${path}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)}); --messages takes a JSON file`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SwallowError(`${path}: not valid JSON (${(error as Error).message}); expected [{"role": "user", "content": "…"}]`);
  }
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((m) => m && typeof m === "object" && typeof m.role === "string" && typeof m.content === "string");
  if (!valid) throw new SwallowError(`${path}: expected a non-empty JSON list of {"role": "…", "content": "…"} messages`);
  return value as ChatMessage[];
}
