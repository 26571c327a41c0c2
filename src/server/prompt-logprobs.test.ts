import { test } from "node:test";
import assert from "node:assert/strict";
import type { Tokenizer } from "../tokenizer/tokenizer.js";
import { HttpError } from "./http-error.js";
import { formatPromptLogprobs, promptLogprobsCount } from "./prompt-logprobs.js";

/** Decodes token id n as "<n>": enough for decoded_token. */
const tokenizer = { decode: (ids: number[]) => ids.map((id) => `<${id}>`).join("") } as unknown as Tokenizer;

const rejects = (run: () => unknown, pattern: RegExp) =>
  assert.throws(
    run,
    (e: unknown) => e instanceof HttpError && e.status === 400 && e.param === "prompt_logprobs" && pattern.test(e.message),
  );

test("promptLogprobsCount: vLLM's limits and wording", () => {
  assert.equal(promptLogprobsCount(undefined, false, 1000), null);
  assert.equal(promptLogprobsCount(null, true, 1000), null);
  assert.equal(promptLogprobsCount(0, false, 1000), 0);
  assert.equal(promptLogprobsCount(0, true, 1000), 0, "0 is allowed with stream (vLLM only refuses > 0 and -1)");
  assert.equal(promptLogprobsCount(20, false, 1000), 20);
  assert.equal(promptLogprobsCount(-1, false, 16), 16, "-1 is the whole vocabulary, fine while it is within the limit");
  rejects(() => promptLogprobsCount(1, true, 1000), /^`prompt_logprobs` are not available when `stream=True`\.$/);
  rejects(() => promptLogprobsCount(-1, true, 1000), /not available when `stream=True`/);
  rejects(() => promptLogprobsCount(-2, false, 1000), /^`prompt_logprobs` must be a positive value or -1\.$/);
  rejects(() => promptLogprobsCount(21, false, 1000), /^Requested prompt logprobs of 21, which is greater than max allowed: 20$/);
  rejects(() => promptLogprobsCount(-1, false, 128256), /^Requested prompt logprobs of 128256, which is greater than max allowed: 20$/);
});

test("formatPromptLogprobs: null first, then the prompt token plus the top k with ranks, keyed by token id", () => {
  const positions = [
    { tokenId: 7, logprob: null, topLogprobs: [] },
    // The prompt token is not among the top 2: its own rank comes from the engine.
    {
      tokenId: 9,
      logprob: -3.5,
      rank: 6,
      topLogprobs: [
        { tokenId: 4, logprob: -0.25 },
        { tokenId: 2, logprob: -1.5 },
        { tokenId: 5, logprob: -2 },
      ],
    },
    // The prompt token is the most likely one: one entry, rank 1; -Infinity clamped as vLLM.
    { tokenId: 4, logprob: -0.125, rank: 1, topLogprobs: [{ tokenId: 4, logprob: -0.125 }] },
    { tokenId: 3, logprob: -Infinity, rank: 1000, topLogprobs: [] },
  ];
  const formatted = formatPromptLogprobs(tokenizer, positions, 2);
  assert.deepEqual(JSON.parse(JSON.stringify(formatted)), [
    null,
    {
      "9": { logprob: -3.5, rank: 6, decoded_token: "<9>" },
      "4": { logprob: -0.25, rank: 1, decoded_token: "<4>" },
      "2": { logprob: -1.5, rank: 2, decoded_token: "<2>" },
    },
    { "4": { logprob: -0.125, rank: 1, decoded_token: "<4>" } },
    { "3": { logprob: -9999, rank: 1000, decoded_token: "<3>" } },
  ]);
  // k = 0: only the prompt tokens.
  assert.deepEqual(Object.keys(formatPromptLogprobs(tokenizer, positions, 0)[1]!), ["9"]);
});
