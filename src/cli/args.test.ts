import test from "node:test";
import assert from "node:assert/strict";
import { SwallowError } from "../errors.js";
import { byteSizeFlag, parseCommandArgs, VLLM_FLAG_HINTS } from "./args.js";

test("byteSizeFlag: whole bytes, decimal units (K/M/G/T, KB/…) and binary ones (KiB/…), any case", () => {
  assert.equal(byteSizeFlag("x", undefined), undefined);
  assert.equal(byteSizeFlag("x", "40000000000"), 40_000_000_000);
  assert.equal(byteSizeFlag("x", "4e10"), 40_000_000_000);
  assert.equal(byteSizeFlag("x", "40G"), 40_000_000_000);
  assert.equal(byteSizeFlag("x", "40gb"), 40_000_000_000);
  assert.equal(byteSizeFlag("x", "512MB"), 512_000_000);
  assert.equal(byteSizeFlag("x", "37.25GiB"), 37.25 * 2 ** 30);
  assert.equal(byteSizeFlag("x", "1 TiB"), 2 ** 40);
  assert.equal(byteSizeFlag("x", "3kib"), 3072);
});

test("byteSizeFlag: anything else is a one-line error naming the flag", () => {
  for (const bad of ["", "GB", "-5G", "12 parsecs", "1e", "0", "0.1"]) {
    assert.throws(
      () => byteSizeFlag("kv-cache-memory-bytes", bad),
      /--kv-cache-memory-bytes must be a size in bytes such as 40000000000, 40GB or 37\.25GiB/,
      bad,
    );
  }
});

test("vLLM flags that swallow does not take get a one-line error that says what to do instead", () => {
  assert.throws(
    () => parseCommandArgs("serve", ["--gpu-memory-utilization", "0.9"], {}),
    (error: Error) =>
      error instanceof SwallowError && /^--gpu-memory-utilization \(a vLLM flag\): .*--kv-cache-memory-bytes/.test(error.message),
  );
  for (const flag of Object.keys(VLLM_FLAG_HINTS)) {
    assert.throws(() => parseCommandArgs("serve", [`--${flag}`], {}), { message: new RegExp(`^--${flag} \\(a vLLM flag\\): `) });
  }
  assert.throws(() => parseCommandArgs("serve", ["--no-such-flag"], {}), {
    message: "Unknown option '--no-such-flag'; see `swallow serve --help`",
  });
});
