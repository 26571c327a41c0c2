import test from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { distDir, repoRoot } from "./support/paths.js";
import { tinyDir } from "./support/tiny-fixtures.js";
import { runCli } from "./support/cli.js";

test("swallow serve: loads the tiny checkpoint, answers, and exits 0 on SIGTERM", { timeout: 60_000 }, async () => {
  const child = spawn(
    process.execPath,
    [
      join(distDir, "src", "cli", "main.js"),
      "serve",
      "--model",
      tinyDir("gqa-llama3"),
      "--backend",
      "cpu",
      "--port",
      "0",
      "--served-model-name",
      "tiny",
      "--api-key",
      "k",
    ],
    { cwd: repoRoot },
  );
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
      const ready = /ready at (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
      if (ready) resolve(ready[1]);
    });
    child.on("close", () => reject(new Error(`serve exited early:\n${stderr}`)));
  });
  try {
    assert.equal((await fetch(`${url}/health`)).status, 200);
    assert.equal((await fetch(`${url}/v1/models`)).status, 401);
    const response = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { Authorization: "Bearer k", "Content-Type": "application/json" },
      body: JSON.stringify({ model: "tiny", prompt: "こんにちは", max_tokens: 4, temperature: 0 }),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { usage: { completion_tokens: number } }).usage.completion_tokens > 0, true);
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal(await exited, 0, stderr);
  assert.match(stderr, /shutting down/);
});

test("swallow serve: bad flags are one-line errors", async () => {
  const result = await runCli(["serve", "--port", "99999"]);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--port must be in 0\.\.65535/);
  const budget = await runCli(["serve", "--max-num-batched-tokens", "0"]);
  assert.equal(budget.code, 2);
  assert.match(budget.stderr, /--max-num-batched-tokens must be at least 1, got 0/);
  const kv = await runCli(["serve", "--kv-cache-memory-bytes", "12 parsecs"]);
  assert.equal(kv.code, 2);
  assert.match(kv.stderr, /--kv-cache-memory-bytes must be a size in bytes such as 40000000000, 40GB or 37\.25GiB, got "12 parsecs"/);
  const help = await runCli(["serve", "--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /usage: swallow serve/);
  assert.match(help.stdout, /--max-num-batched-tokens caps the tokens of one forward pass/);
  assert.match(help.stdout, /--kv-cache-memory-bytes sets the KV cache's size/);
});
