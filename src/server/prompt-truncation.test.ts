import { test } from "node:test";
import assert from "node:assert/strict";
import { HttpError } from "./http-error.js";
import { truncatePrompt, truncationTokens } from "./prompt-truncation.js";

const rejects = (value: number, pattern: RegExp) =>
  assert.throws(
    () => truncationTokens(value, 64),
    (e: unknown) => e instanceof HttpError && e.status === 400 && e.param === "truncate_prompt_tokens" && pattern.test(e.message),
    String(value),
  );

test("truncationTokens: k as given, -1 the model length, none when absent; 0, < -1 and > max_model_len are 400s", () => {
  assert.equal(truncationTokens(undefined, 64), null);
  assert.equal(truncationTokens(null, 64), null);
  assert.equal(truncationTokens(5, 64), 5);
  assert.equal(truncationTokens(64, 64), 64);
  assert.equal(truncationTokens(-1, 64), 64);
  rejects(0, /must be an integer >= 1, or -1/);
  rejects(-2, /must be an integer >= 1, or -1/);
  rejects(65, /^truncate_prompt_tokens value \(65\) is greater than max_model_len \(64\)\. Please, select a smaller truncation size\.$/);
});

test("truncatePrompt keeps the last k tokens (left truncation); shorter prompts and null are left whole", () => {
  const ids = [128000, 11, 12, 13, 14];
  assert.deepEqual(truncatePrompt(ids, 3), [12, 13, 14]);
  assert.deepEqual(truncatePrompt(ids, 1), [14]);
  assert.deepEqual(truncatePrompt(ids, 5), ids);
  assert.deepEqual(truncatePrompt(ids, 9), ids);
  assert.deepEqual(truncatePrompt(ids, null), ids);
  assert.deepEqual(ids, [128000, 11, 12, 13, 14], "the input is not modified");
});
