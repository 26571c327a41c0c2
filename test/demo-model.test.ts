import test from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { NodeFileTree } from "../src/node/file-tree.js";
import { runCli } from "./support/cli.js";
import { repoRoot } from "./support/paths.js";

/**
 * End-to-end test of the engine on the demo model (models/demo/, trained by scripts/demo/train.py on
 * Debian's Japanese and English man pages): the held-out Japanese man pages, extracted from the installed
 * `manpages-ja` package by scripts/demo/extract_text.py, are scored by `swallow score` (cpu backend) in
 * the windows reference.json describes; the perplexity must equal PyTorch's (float32, eager attention)
 * within 0.1% and be far below the unigram baseline. Greedy generation through `swallow generate` must
 * match PyTorch's tokens and write mostly Japanese.
 */
const modelDir = join(repoRoot, "models", "demo");
const PACKAGE = "manpages-ja";
const PACKAGE_VERSION = "0.5.0.0.20221215+dfsg-1"; // Debian bookworm's, what reference.json was made from
const installed = existsSync(`/var/lib/dpkg/info/${PACKAGE}.list`) || existsSync(`/var/lib/dpkg/info/${PACKAGE}:all.list`);
const NEAR_TIE = 1e-3;

interface Reference {
  heldout: { sha256: string; tokens: number; first_ids: number[]; pages: string[] };
  windowing: { window: number };
  test_windows: number;
  test_perplexity: number;
  test_unigram_perplexity: number;
  windows: { start: number; tokens: number; nll: number; unigram_nll: number }[];
  greedy: {
    prompt: string | null;
    messages: { role: string; content: string }[] | null;
    prompt_tokens: number[];
    new_tokens: number[];
    margins: number[];
    text: string;
  }[];
}

async function reference(): Promise<Reference> {
  return JSON.parse(await readFile(join(modelDir, "reference.json"), "utf8")) as Reference;
}

function run(command: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: repoRoot, encoding: "buffer", maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(" ")} failed: ${error.message}\n${stderr.toString()}`));
      else resolve(stdout);
    });
  });
}

/** Share of hiragana, katakana and CJK ideographs among the non-space characters. */
function japaneseShare(text: string): number {
  const chars = [...text].filter((c) => !/\s/u.test(c));
  const japanese = chars.filter((c) => /[\u3040-\u30ff\u4e00-\u9fff]/u.test(c));
  return chars.length === 0 ? 0 : japanese.length / chars.length;
}

test("demo model: a Hugging Face Llama checkpoint of at most 8 MB", async () => {
  let total = 0;
  for (const name of await readdir(modelDir)) total += (await stat(join(modelDir, name))).size;
  assert.ok(total <= 8_000_000, `models/demo holds ${total} bytes`);
  const config = JSON.parse(await readFile(join(modelDir, "config.json"), "utf8")) as Record<string, unknown>;
  assert.equal(config.model_type, "llama");
  const tokenizer = await loadTokenizer(new NodeFileTree(modelDir));
  assert.equal(tokenizer.vocabSize, config.vocab_size);
});

test(
  "demo model: held-out perplexity from `swallow score` equals PyTorch's within 0.1%, far below unigram",
  { skip: installed ? false : `${PACKAGE} is not installed (apt-get install ${PACKAGE}); the held-out text is extracted from it` },
  async () => {
    const ref = await reference();
    const text = await run("python3", ["scripts/demo/extract_text.py", "--heldout", "--package", PACKAGE]);
    const sha = createHash("sha256").update(text).digest("hex");
    assert.equal(
      sha,
      ref.heldout.sha256,
      `the held-out text of the installed ${PACKAGE} differs from reference.json's (made from ${PACKAGE} ${PACKAGE_VERSION})`,
    );

    const tokenizer = await loadTokenizer(new NodeFileTree(modelDir));
    const ids = tokenizer.encode(text.toString("utf8"));
    assert.equal(ids.length, ref.heldout.tokens);
    assert.deepEqual(ids.slice(0, ref.heldout.first_ids.length), ref.heldout.first_ids);
    const bos = tokenizer.bosTokenId;
    assert.ok(bos !== null);

    // The first test_windows windows: BOS + consecutive chunks of window-1 tokens, each scored alone.
    const windows = ref.windows.slice(0, ref.test_windows);
    const input = windows.map((w) => JSON.stringify({ tokens: [bos, ...ids.slice(w.start, w.start + w.tokens)] })).join("\n");
    const result = await runCli(["score", "--model", modelDir, "--backend", "cpu"], input + "\n");
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split("\n");
    assert.equal(lines.length, windows.length);

    let nll = 0;
    let count = 0;
    lines.forEach((line, k) => {
      const scores = JSON.parse(line) as { logprobs: (number | null)[] };
      const windowNll = -scores.logprobs.slice(1).reduce((sum: number, l) => sum + (l as number), 0);
      assert.equal(scores.logprobs.length - 1, windows[k].tokens);
      assert.ok(
        Math.abs(windowNll - windows[k].nll) <= 1e-3 * windows[k].nll,
        `window ${k}: NLL ${windowNll} vs PyTorch ${windows[k].nll}`,
      );
      nll += windowNll;
      count += windows[k].tokens;
    });
    const perplexity = Math.exp(nll / count);
    const unigram = ref.test_unigram_perplexity;
    assert.ok(
      Math.abs(perplexity - ref.test_perplexity) <= 1e-3 * ref.test_perplexity,
      `perplexity ${perplexity} vs PyTorch ${ref.test_perplexity} over ${count} tokens`,
    );
    assert.ok(perplexity < 0.5 * unigram, `perplexity ${perplexity} is not far below the unigram baseline ${unigram}`);
  },
);

test("demo model: greedy generation matches PyTorch and writes Japanese", async () => {
  const ref = await reference();
  const dir = await mkdtemp(join(tmpdir(), "swallow-demo-"));
  try {
    for (const sample of ref.greedy) {
      const args = ["generate", "--model", modelDir, "--backend", "cpu", "--temperature", "0", "--max-tokens", "48", "--json"];
      if (sample.messages) {
        const file = join(dir, "messages.json");
        await writeFile(file, JSON.stringify(sample.messages));
        args.push("--messages", file);
      } else {
        args.push("--prompt", sample.prompt as string);
      }
      const result = await runCli(args);
      assert.equal(result.code, 0, result.stderr);
      const out = JSON.parse(result.stdout) as { text: string; tokens: number[] };
      const label = JSON.stringify(sample.prompt ?? sample.messages);
      // Token for token up to the first near-tie of PyTorch's top-2 logits (either choice is right there).
      const firstNearTie = sample.margins.findIndex((m) => m <= NEAR_TIE);
      const comparable = firstNearTie === -1 ? sample.new_tokens.length : firstNearTie;
      assert.deepEqual(out.tokens.slice(0, comparable), sample.new_tokens.slice(0, comparable), `greedy tokens after ${label}`);
      const share = japaneseShare(out.text);
      assert.ok(share > 0.5, `greedy text after ${label} is ${Math.round(share * 100)}% Japanese: ${JSON.stringify(out.text)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
