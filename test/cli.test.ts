import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, type CliResult } from "./support/cli.js";
import { fixturesDir, repoRoot, sharedDir } from "./support/paths.js";
import { NEAR_TIE, TINY_VARIANTS, type TinyReference } from "./support/tiny-fixtures.js";

/**
 * The `swallow` CLI's machine-readable contracts, run through the built binary (dist/src/cli/main.js):
 * stdout carries only the output (JSON lines for tokenize/score/generate --json), informational lines go
 * to stderr, and bad input exits 2 with one line on stderr that names the problem (no stack trace unless
 * --verbose).
 */

const variants = TINY_VARIANTS;
const tiny = join(fixturesDir, "tiny", "gqa-llama3");
const llama3Tokenizer = join(sharedDir, "data", "llama3-tokenizer");

interface TokenizerVectors {
  strings: { text: string; ids: number[]; decoded: string }[];
  chat: { messages: unknown[]; add_generation_prompt: boolean; text: string; ids: number[] }[];
}

interface TinyTokenizerVectors {
  vectors: { text: string; ids: number[]; ids_with_bos: number[] }[];
}

interface GenerateOutput {
  text: string;
  tokens: number[];
  finish_reason: string;
  logprobs?: {
    token_id: number;
    token: string;
    logprob: number;
    top_logprobs: { token_id: number; token: string; logprob: number }[];
  }[];
}

interface ScoreOutput {
  tokens: number[];
  logprobs: (number | null)[];
  argmax: number[];
}

async function readJson<T>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

function describeResult(result: CliResult): string {
  return `exit ${result.code}\n--- stdout ---\n${result.stdout.slice(0, 2000)}\n--- stderr ---\n${result.stderr.slice(0, 2000)}`;
}

/** Asserts exit 0 and that stdout is exactly newline-terminated JSON lines; returns the parsed values. */
function jsonLines<T>(result: CliResult): T[] {
  assert.equal(result.code, 0, describeResult(result));
  assert.ok(result.stdout.endsWith("\n"), `stdout must end with a newline: ${JSON.stringify(result.stdout.slice(-200))}`);
  const lines = result.stdout.slice(0, -1).split("\n");
  return lines.map((line, i) => {
    try {
      return JSON.parse(line) as T;
    } catch {
      assert.fail(`stdout line ${i + 1} is not JSON: ${JSON.stringify(line.slice(0, 200))}`);
    }
  });
}

function generateJson(result: CliResult): GenerateOutput {
  const [output, ...rest] = jsonLines<GenerateOutput>(result);
  assert.equal(rest.length, 0, "generate --json prints exactly one line");
  assert.equal(typeof output.text, "string");
  assert.ok(Array.isArray(output.tokens));
  return output;
}

/** The informational lines every model-loading command may print on stderr. */
function isInfoLine(line: string): boolean {
  return line.startsWith("backend: ") || line.startsWith("loaded ") || line.startsWith("memory: ");
}

/** Exit 2, exactly one non-informational non-empty stderr line matching every pattern, no stack trace. */
function assertUsageError(result: CliResult, ...patterns: RegExp[]): string {
  assert.equal(result.code, 2, describeResult(result));
  assert.ok(!result.stderr.includes("    at "), `stack trace without --verbose:\n${result.stderr}`);
  const lines = result.stderr.split("\n").filter((line) => line.trim() !== "" && !isInfoLine(line));
  assert.equal(lines.length, 1, `expected one error line on stderr, got:\n${result.stderr}`);
  for (const pattern of patterns) assert.match(lines[0], pattern);
  return lines[0];
}

/** Splits a shell command line into words (plain words, "double" and 'single' quotes). */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    words.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : (m[2] ?? m[3]));
  }
  return words;
}

let tmp: string;
let reference: TinyReference;

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), "swallow-cli-test-"));
  reference = await readJson<TinyReference>(join(tiny, "reference.json"));
});

after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe("swallow tokenize", () => {
  let vectors: TokenizerVectors;
  before(async () => {
    vectors = await readJson<TokenizerVectors>(join(llama3Tokenizer, "vectors.json"));
  });

  test('the Llama-3.1 tokenizer directory (no weights): stdin text → {"ids"} equal to HF tokenizers', async () => {
    // Strings with newlines, Japanese, trailing spaces: stdin is taken verbatim.
    const picks = [
      vectors.strings[0],
      vectors.strings[2],
      vectors.strings[3],
      vectors.strings.find((s) => s.text.endsWith("\n")) ?? vectors.strings[5],
    ];
    const results = await Promise.all(picks.map((s) => runCli(["tokenize", "--model", llama3Tokenizer], s.text)));
    results.forEach((result, i) => {
      const lines = jsonLines<{ ids: number[] }>(result);
      assert.equal(lines.length, 1);
      assert.deepEqual(Object.keys(lines[0]), ["ids"]);
      assert.deepEqual(lines[0].ids, picks[i].ids, `ids of ${JSON.stringify(picks[i].text.slice(0, 60))}`);
      assert.equal(result.stdout, `${JSON.stringify({ ids: picks[i].ids })}\n`);
    });
  });

  test("--bos prepends 128000 and special-token strings map to their ids", async () => {
    const text = vectors.strings[4].text;
    const [withBos, special] = await Promise.all([
      runCli(["tokenize", "--model", llama3Tokenizer, "--bos"], text),
      runCli(["tokenize", "--model", llama3Tokenizer], "こんにちは<|eot_id|>"),
    ]);
    assert.deepEqual(jsonLines<{ ids: number[] }>(withBos), [{ ids: [128000, ...vectors.strings[4].ids] }]);
    const [{ ids }] = jsonLines<{ ids: number[] }>(special);
    assert.equal(ids.at(-1), 128009, `<|eot_id|> must be one token 128009, got ${JSON.stringify(ids)}`);
    assert.ok(!ids.slice(0, -1).includes(128009));
  });

  test('--jsonl: JSON strings and {"text"} objects → one {"ids"} line each, in order; chat texts with special tokens', async () => {
    const strings = vectors.strings.slice(0, 40);
    const chats = vectors.chat.slice(0, 5);
    const inputs = [
      ...strings.map((s, i) => (i % 2 === 0 ? JSON.stringify(s.text) : JSON.stringify({ text: s.text }))),
      ...chats.map((c) => JSON.stringify({ text: c.text })),
    ];
    const expected = [...strings.map((s) => s.ids), ...chats.map((c) => c.ids)];
    const result = await runCli(["tokenize", "--model", llama3Tokenizer, "--jsonl"], `${inputs.join("\n")}\n`);
    const lines = jsonLines<{ ids: number[] }>(result);
    assert.equal(lines.length, expected.length, "one output line per input line");
    lines.forEach((line, i) => {
      assert.deepEqual(Object.keys(line), ["ids"]);
      assert.deepEqual(line.ids, expected[i], `line ${i + 1}: ${inputs[i].slice(0, 80)}`);
    });
    // The chat texts start with <|begin_of_text|> spelled out: it must be the special id, not text.
    assert.ok(chats.every((c) => c.ids[0] === 128000));
  });

  test("--jsonl --bos prepends 128000 to every line", async () => {
    const result = await runCli(["tokenize", "--model", llama3Tokenizer, "--jsonl", "--bos"], `"a"\n{"text":"b<|eot_id|>"}\n`);
    const lines = jsonLines<{ ids: number[] }>(result);
    assert.equal(lines.length, 2);
    for (const line of lines) assert.equal(line.ids[0], 128000);
    assert.equal(lines[1].ids.at(-1), 128009);
  });

  test("a bad --jsonl line → exit 2 and one stderr line naming the line number", async () => {
    const [wrongShape, notJson] = await Promise.all([
      runCli(["tokenize", "--model", llama3Tokenizer, "--jsonl"], `"fine"\n{"text": 5}\n"never reached"\n`),
      // Blank lines count: the bad line is the fourth.
      runCli(["tokenize", "--model", llama3Tokenizer, "--jsonl"], `"fine"\n\n"also fine"\nnot json\n`),
    ]);
    assertUsageError(wrongShape, /line 2\b/);
    assertUsageError(notJson, /line 4\b/, /JSON/);
  });
});

describe("swallow score", () => {
  for (const variant of variants) {
    test(`${variant}: {"tokens"} lines match transformers (logprobs within 1e-3, argmax off near-ties)`, async () => {
      const dir = join(fixturesDir, "tiny", variant);
      const ref = await readJson<TinyReference>(join(dir, "reference.json"));
      const stdin = ref.prompts.map((p) => JSON.stringify({ tokens: p.tokens })).join("\n") + "\n";
      const result = await runCli(["score", "--model", dir], stdin);
      const lines = jsonLines<ScoreOutput>(result);
      assert.equal(lines.length, ref.prompts.length);
      lines.forEach((line, n) => {
        const prompt = ref.prompts[n];
        assert.deepEqual(line.tokens, prompt.tokens);
        assert.equal(line.logprobs.length, prompt.tokens.length);
        assert.equal(line.argmax.length, prompt.tokens.length);
        assert.equal(line.logprobs[0], null);
        prompt.logprobs.forEach((expected, i) => {
          if (expected === null) return;
          const actual = line.logprobs[i];
          assert.equal(typeof actual, "number", `prompt ${n} position ${i}`);
          assert.ok(Math.abs((actual as number) - expected) < 1e-3, `prompt ${n} position ${i}: ${actual} vs ${expected}`);
        });
        prompt.argmax.forEach((expected, i) => {
          if (prompt.margins[i] > NEAR_TIE) assert.equal(line.argmax[i], expected, `prompt ${n} argmax at ${i}`);
        });
      });
      // Informational messages go to stderr only.
      assert.match(result.stderr, /loaded /);
    });
  }

  test('{"text"} lines are tokenized with BOS first (ids equal HF tokenizers\' ids_with_bos), mixed with {"tokens"} lines', async () => {
    const { vectors } = await readJson<TinyTokenizerVectors>(join(fixturesDir, "tiny-tokenizer", "reference-ids.json"));
    const stdin = [
      ...vectors.map((v) => JSON.stringify({ text: v.text })),
      "", // blank lines are skipped
      JSON.stringify({ tokens: reference.prompts[1].tokens }),
    ].join("\n");
    const lines = jsonLines<ScoreOutput>(await runCli(["score", "--model", tiny], stdin));
    assert.equal(lines.length, vectors.length + 1);
    vectors.forEach((v, i) => {
      assert.deepEqual(lines[i].tokens, v.ids_with_bos, `text ${JSON.stringify(v.text.slice(0, 40))}`);
      assert.equal(lines[i].logprobs.length, v.ids_with_bos.length);
    });
    assert.deepEqual(lines.at(-1)?.tokens, reference.prompts[1].tokens);
  });

  test("a bad line → exit 2 with the line number; lines before it were already answered", async () => {
    const result = await runCli(["score", "--model", tiny], `{"tokens":[1024,5]}\n{"tokens":[1024,5000]}\n`);
    assertUsageError(result, /line 2\b/, /5000/);
    assert.equal(result.stdout.trim().split("\n").length, 1);
  });
});

describe("swallow generate", () => {
  for (const variant of variants) {
    test(`${variant}: --temperature 0 --min-tokens N --max-tokens N reproduces transformers' greedy tokens`, async () => {
      const dir = join(fixturesDir, "tiny", variant);
      const ref = await readJson<TinyReference>(join(dir, "reference.json"));
      const results = await Promise.all(
        ref.prompts.map((p) => {
          const n = String(p.greedy.max_new_tokens);
          const args = ["generate", "--model", dir, "--prompt-tokens", p.tokens.join(","), "--temperature", "0"];
          return runCli([...args, "--min-tokens", n, "--max-tokens", n, "--json"]);
        }),
      );
      results.forEach((result, n) => {
        const { greedy } = ref.prompts[n];
        const output = generateJson(result);
        assert.equal(output.finish_reason, "length");
        assert.equal(output.tokens.length, greedy.max_new_tokens);
        const tie = greedy.margins.findIndex((m) => m <= NEAR_TIE);
        const exact = tie === -1 ? greedy.new_tokens.length : tie;
        assert.deepEqual(output.tokens.slice(0, exact), greedy.new_tokens.slice(0, exact), `prompt ${n}`);
      });
    });
  }

  const prompt = ["--prompt-tokens", "1024,162,251"];
  const gen = (...args: string[]) => runCli(["generate", "--model", tiny, ...prompt, "--max-tokens", "12", "--json", ...args]);

  test("--seed: same seed → same output, different seeds → different outputs", async () => {
    const [a, b, c] = await Promise.all([gen("--seed", "1"), gen("--seed", "1"), gen("--seed", "2")]);
    const [oa, ob, oc] = [generateJson(a), generateJson(b), generateJson(c)];
    assert.equal(a.stdout, b.stdout);
    assert.equal(oa.tokens.length, 12);
    assert.notDeepEqual(oa.tokens, oc.tokens);
  });

  test("unset sampling flags take generation_config.json's temperature 0.6 and top_p 0.9", async () => {
    const config = await readJson<{ temperature: number; top_p: number }>(join(tiny, "generation_config.json"));
    assert.equal(config.temperature, 0.6);
    assert.equal(config.top_p, 0.9);
    const [defaults, explicit, plain] = await Promise.all([
      gen("--seed", "7"),
      gen("--seed", "7", "--temperature", "0.6", "--top-p", "0.9"),
      gen("--seed", "7", "--temperature", "1", "--top-p", "1"),
    ]);
    const [od, oe, op] = [generateJson(defaults), generateJson(explicit), generateJson(plain)];
    assert.deepEqual(od, oe);
    assert.notDeepEqual(od.tokens, op.tokens, "seed 7 with temperature 1 / top-p 1 samples differently on this prompt");
  });

  test('--stop cuts the text before the stop string, finish_reason "stop"; --stop repeats', async () => {
    const greedyArgs = ["generate", "--model", tiny, "--prompt-tokens", reference.prompts[0].tokens.join(","), "--temperature", "0"];
    const full = generateJson(await runCli([...greedyArgs, "--max-tokens", "16", "--json"]));
    // A two-character stop string from the second half of the text, whole characters only.
    let stop = "";
    for (let k = Math.floor(full.text.length / 2); k + 2 <= full.text.length && stop === ""; k++) {
      const candidate = full.text.slice(k, k + 2);
      if (!/[\uFFFD\uD800-\uDFFF\s\p{Cc}]/u.test(candidate) && full.text.indexOf(candidate) > 0) stop = candidate;
    }
    assert.notEqual(stop, "", `no usable stop string in ${JSON.stringify(full.text)}`);
    const expectedText = full.text.slice(0, full.text.indexOf(stop));
    const [one, two] = await Promise.all([
      runCli([...greedyArgs, "--max-tokens", "16", "--stop", stop, "--json"]),
      runCli([...greedyArgs, "--max-tokens", "16", "--stop", "zzzzzz", "--stop", stop, "--json"]),
    ]);
    for (const result of [one, two]) {
      const output = generateJson(result);
      assert.equal(output.text, expectedText, `stop ${JSON.stringify(stop)} in ${JSON.stringify(full.text)}`);
      assert.equal(output.finish_reason, "stop");
      assert.deepEqual(output.tokens, full.tokens.slice(0, output.tokens.length));
      assert.ok(output.tokens.length < full.tokens.length);
    }
  });

  test("--messages FILE.json renders the chat template (= --prompt-tokens of the rendered text), unlike --prompt", async () => {
    const messagesFile = join(tmp, "messages.json");
    await writeFile(messagesFile, JSON.stringify([{ role: "user", content: "こんにちは" }]));
    // The tiny checkpoints' template is Llama 3's without the date header.
    const rendered =
      "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nこんにちは<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n";
    const greedy = ["--temperature", "0", "--min-tokens", "8", "--max-tokens", "8", "--json"];
    const [tokenized, viaMessages, viaPrompt] = await Promise.all([
      runCli(["tokenize", "--model", tiny], rendered),
      runCli(["generate", "--model", tiny, "--messages", messagesFile, ...greedy]),
      runCli(["generate", "--model", tiny, "--prompt", "こんにちは", ...greedy]),
    ]);
    const [{ ids }] = jsonLines<{ ids: number[] }>(tokenized);
    assert.equal(ids[0], 1024);
    const viaTokens = generateJson(await runCli(["generate", "--model", tiny, "--prompt-tokens", ids.join(","), ...greedy]));
    const messagesOutput = generateJson(viaMessages);
    assert.deepEqual(messagesOutput, viaTokens);
    assert.notDeepEqual(messagesOutput.tokens, generateJson(viaPrompt).tokens);
  });

  test("streaming mode prints the same text as --json (plus a final newline) and nothing else on stdout", async () => {
    const args = ["generate", "--model", tiny, "--prompt", "東京タワーは", "--max-tokens", "12", "--seed", "3"];
    const [streamed, json] = await Promise.all([runCli(args), runCli([...args, "--json"])]);
    assert.equal(streamed.code, 0, describeResult(streamed));
    const output = generateJson(json);
    assert.ok(output.text.length > 0);
    assert.equal(streamed.stdout, `${output.text}\n`);
  });

  test("--logprobs 2: one entry per token with 2 top_logprobs; greedy tokens are the top-1; logprobs agree with score", async () => {
    const promptTokens = reference.prompts[1].tokens;
    const output = generateJson(
      await runCli([
        "generate",
        "--model",
        tiny,
        "--prompt-tokens",
        promptTokens.join(","),
        "--temperature",
        "0",
        "--min-tokens",
        "6",
        "--max-tokens",
        "6",
        "--logprobs",
        "2",
        "--json",
      ]),
    );
    assert.ok(Array.isArray(output.logprobs), "--logprobs adds a logprobs list");
    const entries = output.logprobs!;
    assert.equal(entries.length, output.tokens.length);
    entries.forEach((entry, i) => {
      assert.equal(entry.token_id, output.tokens[i]);
      assert.equal(typeof entry.token, "string");
      assert.equal(entry.top_logprobs.length, 2, `entry ${i}`);
      assert.equal(entry.top_logprobs[0].token_id, entry.token_id, `greedy token ${i} is the top-1`);
      assert.ok(Math.abs(entry.top_logprobs[0].logprob - entry.logprob) < 1e-9);
      assert.ok(entry.top_logprobs[0].logprob >= entry.top_logprobs[1].logprob);
      assert.notEqual(entry.top_logprobs[1].token_id, entry.token_id);
      assert.ok(entry.logprob <= 0);
    });
    // The same log-probs as `score` of prompt + completion.
    const [scored] = jsonLines<ScoreOutput>(
      await runCli(["score", "--model", tiny], JSON.stringify({ tokens: [...promptTokens, ...output.tokens] })),
    );
    entries.forEach((entry, i) => {
      const expected = scored.logprobs[promptTokens.length + i] as number;
      assert.ok(Math.abs(entry.logprob - expected) < 1e-3, `token ${i}: ${entry.logprob} vs score ${expected}`);
    });
    // Without --logprobs there is no logprobs key.
    const plain = generateJson(await runCli(["generate", "--model", tiny, "--prompt-tokens", "1024,5", "--max-tokens", "2", "--json"]));
    assert.ok(!("logprobs" in plain));
  });
});

describe("swallow chat", () => {
  const chatArgs = ["chat", "--model", tiny, "--temperature", "0", "--max-tokens", "5"];

  test("answers on stdout, /exit quits with 0; the answer is generate --messages with the default system prompt", async () => {
    const messagesFile = join(tmp, "chat-messages.json");
    await writeFile(
      messagesFile,
      JSON.stringify([
        { role: "system", content: "あなたは誠実で優秀な日本人のアシスタントです。" },
        { role: "user", content: "こんにちは" },
      ]),
    );
    const [chat, generated] = await Promise.all([
      runCli(chatArgs, "こんにちは\n/exit\n"),
      runCli(["generate", "--model", tiny, "--messages", messagesFile, "--temperature", "0", "--max-tokens", "5", "--json"]),
    ]);
    assert.equal(chat.code, 0, describeResult(chat));
    assert.ok(chat.stdout.trim().length > 0, "the answer is printed");
    assert.equal(chat.stdout, `${generateJson(generated).text}\n`);
  });

  test("/reset starts the conversation over; without it the conversation is kept", async () => {
    const [once, reset, kept] = await Promise.all([
      runCli(chatArgs, "こんにちは\n/exit\n"),
      runCli(chatArgs, "こんにちは\n/reset\nこんにちは\n/exit\n"),
      runCli(chatArgs, "こんにちは\nこんにちは\n/exit\n"),
    ]);
    for (const result of [once, reset, kept]) assert.equal(result.code, 0, describeResult(result));
    assert.equal(reset.stdout, once.stdout + once.stdout);
    assert.notEqual(kept.stdout, once.stdout + once.stdout);
    // End of input without /exit also ends the chat cleanly.
    const eof = await runCli(chatArgs, "こんにちは\n");
    assert.equal(eof.code, 0, describeResult(eof));
    assert.equal(eof.stdout, once.stdout);
  });
});

describe("bad input: exit 2, one line on stderr naming the problem, no stack trace", () => {
  let checkpoints: { truncated: string; mistral: string; shape: string };

  before(async () => {
    const copy = async (name: string) => {
      const dir = join(tmp, name);
      await cp(tiny, dir, { recursive: true });
      return dir;
    };
    checkpoints = { truncated: await copy("truncated"), mistral: await copy("mistral"), shape: await copy("shape") };
    const weights = join(checkpoints.truncated, "model.safetensors");
    await truncate(weights, Math.floor((await stat(weights)).size / 2));
    const editConfig = async (dir: string, edit: (config: Record<string, unknown>) => void) => {
      const config = await readJson<Record<string, unknown>>(join(dir, "config.json"));
      edit(config);
      await writeFile(join(dir, "config.json"), JSON.stringify(config, null, 2));
    };
    await editConfig(checkpoints.mistral, (c) => (c.architectures = ["MistralForCausalLM"]));
    await editConfig(checkpoints.shape, (c) => (c.hidden_size = 128));
  });

  test("without --model, commands fall back to the bundled demo model and say so in one line naming the real model", async () => {
    const results = await Promise.all([
      runCli(["generate", "--prompt", "東京", "--max-tokens", "3", "--temperature", "0"]),
      runCli(["score"], `{"text":"東京"}\n`),
      runCli(["tokenize"], "東京"),
    ]);
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      const notices = result.stderr.split("\n").filter((line) => line.includes("demo model"));
      assert.equal(notices.length, 1, result.stderr);
      assert.match(notices[0], /swallow pull tokyotech-llm\/Llama-3\.1-Swallow-8B-Instruct-v0\.3/);
      assert.ok(result.stdout.length > 0);
    }
  });

  test("--model pointing to a directory that does not exist", async () => {
    const missing = join(tmp, "no-such-model");
    const [gen, tok] = await Promise.all([
      runCli(["generate", "--model", missing, "--prompt", "hi"]),
      runCli(["tokenize", "--model", missing], "hi"),
    ]);
    for (const result of [gen, tok]) {
      const line = assertUsageError(result, /not found/);
      assert.ok(line.includes(missing), line);
    }
  });

  test("unknown flag and unknown command", async () => {
    const [flag, command] = await Promise.all([
      runCli(["generate", "--model", tiny, "--prompt", "hi", "--bogus"]),
      runCli(["frobnicate", "--model", tiny]),
    ]);
    assertUsageError(flag, /--bogus/);
    assertUsageError(command, /frobnicate/, /unknown command/);
    assert.equal(command.stdout, "");
  });

  test("bad sampling values: --temperature abc, --top-p 0, --max-tokens 0", async () => {
    const base = ["generate", "--model", tiny, "--prompt", "hi"];
    const [temperature, topP, maxTokens] = await Promise.all([
      runCli([...base, "--temperature", "abc"]),
      runCli([...base, "--top-p", "0"]),
      runCli([...base, "--max-tokens", "0"]),
    ]);
    assertUsageError(temperature, /temperature/, /abc/);
    assertUsageError(topP, /top.p/);
    assertUsageError(maxTokens, /max.tokens/);
    for (const result of [temperature, topP, maxTokens]) assert.equal(result.stdout, "");
  });

  test("swallow bench: --max-num-batched-tokens 0 is a one-line error before any weight is made", async () => {
    const result = await runCli(["bench", "--shape", "llama-3.1-8b", "--backend", "cpu", "--max-num-batched-tokens", "0"]);
    assertUsageError(result, /--max-num-batched-tokens must be at least 1, got 0/);
    const kv = await runCli(["bench", "--shape", "llama-3.1-8b", "--backend", "cpu", "--kv-cache-memory-bytes", "lots"]);
    assertUsageError(kv, /--kv-cache-memory-bytes must be a size in bytes/);
    const profile = await runCli(["bench", "--shape", "llama-3.1-8b", "--backend", "cpu", "--profile"]);
    assertUsageError(profile, /--profile needs --backend webgpu/);
    assert.equal(result.stdout, "");
  });

  test("swallow bench --temperature/--top-p: sampled serving requests, reported as such; a bad value fails before any weight; the title names the kernel flags and pass size", async () => {
    const args = ["bench", "--shape", "tiny", "--backend", "cpu", "--prefill", "16", "--prompt", "8", "--new", "4", "--concurrency", "2"];
    const result = await runCli([...args, "--temperature", "0.6", "--top-p", "0.9", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout.trim().split("\n").at(-1)!);
    assert.deepEqual(report.sampling, { temperature: 0.6, topP: 0.9 });
    // 8 requests of the ShareGPT-like mix, each run to its full length (min_tokens = max_tokens) even when sampled.
    assert.equal(report.serving[0].requests, 8);
    assert.equal(report.serving[0].outputTokens, 180 + 320 + 96 + 420 + 40 + 250 + 640 + 200);
    const table = await runCli([...args, "--temperature", "0.6", "--top-p", "0.9", "--prefill", ""]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /Serving, ShareGPT-like lengths, temperature 0\.6, top-p 0\.9:/);
    assertUsageError(await runCli([...args, "--top-p", "0"]), /top.p/);
    // The flags that pick kernels are in the report's title (the cpu backend has no robustness to drop: no effect).
    const flagged = await runCli([...args, "--prefill", "", "--concurrency", "", "--no-robustness", "--json"]);
    assert.equal(flagged.code, 0, flagged.stderr);
    // With the forward-pass size, whose default depends on the backend (the cpu one keeps the engine's 512).
    assert.match(JSON.parse(flagged.stdout.trim().split("\n").at(-1)!).title, /on cpu \(--no-robustness --max-num-batched-tokens 512\)$/);
    const sized = await runCli([...args, "--prefill", "", "--concurrency", "", "--max-num-batched-tokens", "64", "--json"]);
    assert.match(JSON.parse(sized.stdout.trim().split("\n").at(-1)!).title, /on cpu \(--max-num-batched-tokens 64\)$/);
    // --requests sets the requests per level (vLLM's --num-prompts): the first 3 of the mix here.
    const counted = await runCli([...args, "--prefill", "", "--requests", "3", "--json"]);
    assert.equal(counted.code, 0, counted.stderr);
    const served = JSON.parse(counted.stdout.trim().split("\n").at(-1)!).serving[0];
    assert.equal(served.requests, 3);
    assert.equal(served.outputTokens, 180 + 320 + 96);
    assertUsageError(await runCli([...args, "--requests", "0"]), /--requests must be at least 1, got 0/);
  });

  test("a negative flag value is read as the value: --temperature -1 is a one-line range error, --seed -1 a valid seed", async () => {
    const base = ["generate", "--model", tiny, "--prompt", "hi", "--max-tokens", "4", "--json"];
    const [temperature, seedA, seedB] = await Promise.all([
      runCli([...base, "--temperature", "-1"]),
      runCli([...base, "--seed", "-1"]),
      runCli([...base, "--seed=-1"]),
    ]);
    assertUsageError(temperature, /temperature/);
    assert.equal(seedA.code, 0, seedA.stderr);
    assert.equal(seedA.stdout, seedB.stdout);
  });

  test("flag values are checked before the (slow) model load", async () => {
    const base = ["generate", "--model", tiny, "--prompt", "hi"];
    const results = await Promise.all([
      runCli([...base, "--temperature", "abc"]),
      runCli([...base, "--max-tokens", "0"]),
      runCli([...base, "--logprobs", "100"]),
    ]);
    for (const result of results) {
      assert.equal(result.code, 2);
      assert.ok(!/^loaded /m.test(result.stderr), `the model was loaded before rejecting the flag:\n${result.stderr}`);
    }
    // chat too: a bad flag must not wait for the first message (nor pass when there is none).
    const chat = await runCli(["chat", "--model", tiny, "--temperature", "abc"], "/exit\n");
    assertUsageError(chat, /temperature/, /abc/);
  });

  test("a truncated model.safetensors: the message names the file", async () => {
    const [gen, score] = await Promise.all([
      runCli(["generate", "--model", checkpoints.truncated, "--prompt", "hi"]),
      runCli(["score", "--model", checkpoints.truncated], `{"tokens":[1024]}\n`),
    ]);
    for (const result of [gen, score]) {
      const line = assertUsageError(result, /model\.safetensors/, /truncated|corrupt/);
      assert.ok(line.includes(join(checkpoints.truncated, "model.safetensors")), line);
      assert.equal(result.stdout, "");
    }
  });

  test("config.json with architectures [MistralForCausalLM]: unsupported architecture", async () => {
    const result = await runCli(["generate", "--model", checkpoints.mistral, "--prompt", "hi"]);
    assertUsageError(result, /unsupported architecture/i, /MistralForCausalLM/);
  });

  test("config.json hidden_size that does not match the weights: the message names the tensor", async () => {
    const result = await runCli(["score", "--model", checkpoints.shape], `{"tokens":[1024]}\n`);
    assertUsageError(result, /model\.embed_tokens\.weight/, /shape/);
  });

  test("--prompt-tokens with an id >= vocab size", async () => {
    const [edge, far] = await Promise.all([
      runCli(["generate", "--model", tiny, "--prompt-tokens", "1024,1280", "--max-tokens", "2"]),
      runCli(["generate", "--model", tiny, "--prompt-tokens", "1024,128000", "--max-tokens", "2", "--json"]),
    ]);
    assertUsageError(edge, /1280\b/, /vocab/);
    assertUsageError(far, /128000\b/, /vocab/);
    assert.equal(far.stdout, "");
  });

  test("--verbose prints the stack trace", async () => {
    const [verbose, plain] = await Promise.all([
      runCli(["generate", "--model", checkpoints.shape, "--prompt", "hi", "--verbose"]),
      runCli(["generate", "--model", tiny, "--prompt-tokens", "1024,1280", "--verbose"]),
    ]);
    for (const result of [verbose, plain]) {
      assert.equal(result.code, 2, describeResult(result));
      assert.ok(result.stderr.includes("    at "), `no stack trace with --verbose:\n${result.stderr}`);
    }
  });
});

test("README quick start runs as written", async () => {
  const readme = await readFile(join(repoRoot, "README.md"), "utf8");
  const line = readme.split("\n").find((l) => l.startsWith("npx swallow generate"));
  assert.ok(line, "README has a line starting `npx swallow generate`");
  const words = shellWords(line);
  assert.deepEqual(words.slice(0, 3), ["npx", "swallow", "generate"]);
  const result = await runCli(words.slice(2));
  assert.equal(result.code, 0, describeResult(result));
  assert.ok(result.stdout.trim().length > 0, "the quick start prints text");
  // The same command again gives the same text (it passes --seed).
  if (words.includes("--seed")) assert.equal((await runCli(words.slice(2))).stdout, result.stdout);
});
