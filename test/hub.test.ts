import test, { after, before } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pullRepo, type PullOptions } from "../src/hub/pull.js";
import type { HubSettings } from "../src/hub/settings.js";
import { TerminalReporter } from "../src/hub/progress.js";
import { runCli } from "./support/cli.js";
import { startFakeHub, type FakeHub, type HubFileSpec, type HubRepo } from "./support/hub-server.js";
import { fixturesDir } from "./support/paths.js";

/** Deterministic bytes that do not compress or repeat. */
function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const CONFIG = JSON.stringify({ architectures: ["LlamaForCausalLM"], hidden_size: 64 });
const TINY_FILES: HubFileSpec[] = [
  { path: "config.json", content: CONFIG },
  { path: "copy-of-config.json", content: CONFIG },
  { path: "tokenizer_config.json", content: JSON.stringify({ bos_token: "<|begin_of_text|>" }) },
  { path: "nested/dir/notes.txt", content: "日本語のメモ 🍣\n" },
  { path: "empty.txt", content: "" },
  { path: "model.safetensors", content: pseudoRandomBytes(300_000, 7), lfs: true },
  { path: "original/consolidated.pth", content: pseudoRandomBytes(70_000, 11), lfs: true },
];
const TINY = "swallow-test/tiny";
const FAST_RETRY = { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 };

let hub: FakeHub;
let tiny: HubRepo;
let scratch: string;

before(async () => {
  hub = await startFakeHub([
    { id: TINY, files: TINY_FILES },
    {
      id: "meta-test/gated",
      files: [
        { path: "config.json", content: CONFIG },
        { path: "weights.bin", content: pseudoRandomBytes(5000, 3), lfs: true },
      ],
      gatedTokens: ["hf_good"],
    },
    { id: "new-org/renamed", files: [{ path: "config.json", content: CONFIG }], renamedFrom: "old-org/renamed" },
  ]);
  tiny = hub.repos.get(TINY)!;
  scratch = await mkdtemp(join(tmpdir(), "swallow-hub-"));
});

after(async () => {
  await hub.close();
  await rm(scratch, { recursive: true, force: true });
});

let counter = 0;
/** A fresh HF_HOME for one test. */
async function freshHome(): Promise<string> {
  const home = join(scratch, `home-${++counter}`);
  await mkdir(home, { recursive: true });
  return home;
}

function settings(home: string, extra: Partial<HubSettings> = {}): HubSettings {
  return { endpoint: hub.endpoint, cacheDir: join(home, "hub"), offline: false, ...extra };
}

function pull(home: string, options: Partial<PullOptions> = {}, extra: Partial<HubSettings> = {}) {
  return pullRepo({ repoId: TINY, settings: settings(home, extra), retry: FAST_RETRY, ...options });
}

/** Env for the CLI: HF_HOME set, every other variable that could change the outcome cleared. */
function cliEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const cleared = [
    "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN",
    "HF_TOKEN_PATH",
    "HF_HUB_CACHE",
    "HUGGINGFACE_HUB_CACHE",
    "HF_HUB_OFFLINE",
    "TRANSFORMERS_OFFLINE",
  ];
  return { ...Object.fromEntries(cleared.map((name) => [name, ""])), HF_HOME: home, HF_ENDPOINT: hub.endpoint, ...extra };
}

/** Every entry under `dir`: "file PATH", "link PATH -> TARGET" or "dir PATH", sorted. */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(current: string): Promise<void> {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      const rel = relative(dir, full);
      if (entry.isSymbolicLink()) out.push(`link ${rel} -> ${await readlink(full)}`);
      else if (entry.isDirectory()) {
        out.push(`dir ${rel}`);
        await walk(full);
      } else out.push(`file ${rel}`);
    }
  }
  await walk(dir);
  return out.sort();
}

function file(repo: HubRepo, path: string) {
  const found = repo.files.find((f) => f.path === path);
  assert.ok(found, path);
  return found;
}

function requestsSince(start: number) {
  return hub.requests.slice(start);
}

test("pull writes huggingface_hub's cache layout exactly and prints the snapshot directory", async () => {
  const home = await freshHome();
  const result = await runCli(["pull", TINY], "", cliEnv(home));
  assert.equal(result.code, 0, result.stderr);
  const repoDir = join(home, "hub", "models--swallow-test--tiny");
  const snapshot = join(repoDir, "snapshots", tiny.commit);
  assert.equal(result.stdout, `${snapshot}\n`);

  const config = file(tiny, "config.json");
  const tokenizerConfig = file(tiny, "tokenizer_config.json");
  const notes = file(tiny, "nested/dir/notes.txt");
  const model = file(tiny, "model.safetensors");
  const consolidated = file(tiny, "original/consolidated.pth");
  const empty = file(tiny, "empty.txt");
  assert.equal(empty.etag, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"); // git's empty blob
  // Regular files are named by git blob sha1, LFS files by sha256.
  assert.equal(
    config.etag,
    createHash("sha1")
      .update(`blob ${Buffer.byteLength(CONFIG)}\0${CONFIG}`)
      .digest("hex"),
  );
  assert.equal(model.etag, createHash("sha256").update(model.content).digest("hex"));
  const s = `snapshots/${tiny.commit}`;
  assert.deepEqual(
    await tree(repoDir),
    [
      "dir blobs",
      `file blobs/${config.etag}`,
      `file blobs/${tokenizerConfig.etag}`,
      `file blobs/${notes.etag}`,
      `file blobs/${empty.etag}`,
      `file blobs/${model.etag}`,
      `file blobs/${consolidated.etag}`,
      "dir refs",
      "file refs/main",
      "dir snapshots",
      `dir ${s}`,
      `link ${s}/config.json -> ../../blobs/${config.etag}`,
      `link ${s}/copy-of-config.json -> ../../blobs/${config.etag}`,
      `link ${s}/tokenizer_config.json -> ../../blobs/${tokenizerConfig.etag}`,
      `link ${s}/empty.txt -> ../../blobs/${empty.etag}`,
      `dir ${s}/nested`,
      `dir ${s}/nested/dir`,
      `link ${s}/nested/dir/notes.txt -> ../../../../blobs/${notes.etag}`,
      `link ${s}/model.safetensors -> ../../blobs/${model.etag}`,
      `dir ${s}/original`,
      `link ${s}/original/consolidated.pth -> ../../../blobs/${consolidated.etag}`,
    ].sort(),
  );
  assert.equal(await readFile(join(repoDir, "refs", "main"), "utf8"), tiny.commit);
  for (const f of tiny.files) assert.deepEqual(await readFile(join(snapshot, f.path)), f.content, f.path);
  // stderr is not a terminal here: a start line and an end line, no redraws.
  const lines = result.stderr.trim().split("\n");
  assert.ok(lines.length <= 3, result.stderr);
  assert.match(lines[0], /^pulling swallow-test\/tiny \(main → [0-9a-f]{12}\): 7 files/);
  assert.match(lines.at(-1)!, /^pulled swallow-test\/tiny: 7 files, downloaded/);
  assert.doesNotMatch(result.stderr, /\x1b\[/);
});

test("a second pull downloads nothing (one model-info request)", async () => {
  const home = await freshHome();
  const first = await pull(home);
  assert.equal(first.downloadedBlobs, 6);
  const mark = hub.requests.length;
  const second = await pull(home);
  assert.equal(second.downloadedBlobs, 0);
  assert.equal(second.snapshotDir, first.snapshotDir);
  assert.deepEqual(
    requestsSince(mark).map((r) => `${r.server} ${r.method} ${r.url}`),
    [`hub GET /api/models/${TINY}/revision/main?blobs=true`],
  );
});

test("a connection dropped mid-file resumes with a Range request", async () => {
  const home = await freshHome();
  hub.faults.dropAfterBytes.set("model.safetensors", 100_000);
  hub.faults.dropAfterBytes.set("config.json", 10);
  const mark = hub.requests.length;
  const log: string[] = [];
  const result = await pull(home, { reporter: new TerminalReporter({ write: (line: string) => log.push(line) }) });
  const model = file(tiny, "model.safetensors");
  assert.ok(
    log.some((line) => /^model\.safetensors: connection lost at byte 100000 \(.+\); resuming in \d+ ms\n$/.test(line)),
    log.join(""),
  );
  assert.deepEqual(await readFile(join(result.snapshotDir, "model.safetensors")), model.content);
  assert.deepEqual(await readFile(join(result.snapshotDir, "config.json"), "utf8"), CONFIG);
  const cdnGets = requestsSince(mark).filter((r) => r.server === "cdn" && r.url.startsWith(`/cdn/${model.sha256}`));
  assert.deepEqual(
    cdnGets.map((r) => r.headers.range),
    [undefined, "bytes=100000-"],
  );
  const configGets = requestsSince(mark).filter((r) => r.url === `/${TINY}/resolve/${tiny.commit}/config.json`);
  assert.deepEqual(
    configGets.map((r) => r.headers.range),
    [undefined, "bytes=10-"],
  );
  assert.equal(hub.faults.dropAfterBytes.size, 0);
});

test("a partial blob left by an earlier run is resumed from its size; a server that ignores Range restarts it", async () => {
  const model = file(tiny, "model.safetensors");
  for (const ignoreRange of [false, true]) {
    const home = await freshHome();
    const blobs = join(home, "hub", "models--swallow-test--tiny", "blobs");
    await mkdir(blobs, { recursive: true });
    await writeFile(join(blobs, `${model.sha256}.incomplete`), model.content.subarray(0, 123_456));
    hub.faults.ignoreRange = ignoreRange;
    const mark = hub.requests.length;
    try {
      const result = await pull(home, { include: ["model.safetensors"] });
      assert.deepEqual(await readFile(join(result.snapshotDir, "model.safetensors")), model.content);
    } finally {
      hub.faults.ignoreRange = false;
    }
    const cdnGets = requestsSince(mark).filter((r) => r.server === "cdn");
    assert.deepEqual(
      cdnGets.map((r) => r.headers.range),
      ["bytes=123456-"],
    );
    assert.deepEqual(await readdir(blobs), [model.sha256]);
  }
});

test("a wrong checksum fails with a clear message and leaves no blob (partial deleted, ref not written)", async () => {
  const home = await freshHome();
  const model = file(tiny, "model.safetensors");
  hub.faults.corrupt.add("model.safetensors");
  try {
    await assert.rejects(
      pull(home, { include: ["*.safetensors"] }),
      new RegExp(
        `^SwallowError: checksum mismatch for model\\.safetensors in swallow-test/tiny: expected sha256 ${model.sha256}, got [0-9a-f]{64}; the partial download was deleted`,
      ),
    );
  } finally {
    hub.faults.corrupt.clear();
  }
  const repoDir = join(home, "hub", "models--swallow-test--tiny");
  assert.deepEqual(await readdir(join(repoDir, "blobs")), []);
  assert.deepEqual(await readdir(repoDir), ["blobs"]);
  // The next run downloads it afresh.
  const result = await pull(home, { include: ["*.safetensors"] });
  assert.deepEqual(await readFile(join(result.snapshotDir, "model.safetensors")), model.content);
});

test("gated repo: 401 without a token says to set HF_TOKEN/--token and accept the licence; the token goes to the Hub, never to the CDN", async () => {
  const home = await freshHome();
  const denied = await runCli(["pull", "meta-test/gated"], "", cliEnv(home));
  assert.equal(denied.code, 2);
  assert.equal(denied.stdout, "");
  const message = denied.stderr.trim().split("\n").at(-1)!;
  assert.match(message, /^swallow pull: meta-test\/gated is gated \(401 GatedRepo\): set HF_TOKEN \(or pass --token\)/);
  assert.match(message, new RegExp(`accept the licence on ${hub.endpoint}/meta-test/gated`));

  await assert.rejects(
    pullRepo({ repoId: "meta-test/gated", settings: settings(home, { token: "hf_other" }), retry: FAST_RETRY }),
    /meta-test\/gated is gated and this token has no access \(403 GatedRepo\); accept the licence on/,
  );

  const mark = hub.requests.length;
  const ok = await runCli(["pull", "meta-test/gated", "--token", "hf_good"], "", cliEnv(home));
  assert.equal(ok.code, 0, ok.stderr);
  // HEADs of the refused pull that the client aborted after the first 403 can still reach this in-process server
  // after `mark` (seen once in a loaded full run): they are that pull's, not this one's.
  const seen = requestsSince(mark).filter((r) => r.headers.authorization !== "Bearer hf_other");
  const hubRequests = seen.filter((r) => r.server === "hub");
  const cdnRequests = seen.filter((r) => r.server === "cdn");
  assert.ok(hubRequests.length >= 3 && cdnRequests.length === 1, JSON.stringify(seen.map((r) => r.url)));
  for (const r of hubRequests) assert.equal(r.headers.authorization, "Bearer hf_good", r.url);
  for (const r of cdnRequests) assert.equal(r.headers.authorization, undefined, r.url);

  // The token file huggingface-cli login writes ($HF_HOME/token) is used too.
  const other = await freshHome();
  await writeFile(join(other, "token"), "hf_good\n");
  const fromFile = await runCli(["pull", "meta-test/gated"], "", cliEnv(other));
  assert.equal(fromFile.code, 0, fromFile.stderr);
});

test("404s say which: repository, revision, file", async () => {
  const home = await freshHome();
  await assert.rejects(
    pullRepo({ repoId: "nobody/nothing", settings: settings(home), retry: FAST_RETRY }),
    new RegExp(`repository nobody/nothing not found on ${hub.endpoint.replace(/\./g, "\\.")} \\(404 RepoNotFound\\)`),
  );
  await assert.rejects(
    pull(home, { revision: "v9" }),
    /revision "v9" not found in swallow-test\/tiny \(404 RevisionNotFound\); pass --revision/,
  );
  hub.faults.missing.add("nested/dir/notes.txt");
  try {
    await assert.rejects(pull(home), /file nested\/dir\/notes\.txt not found in swallow-test\/tiny at revision main \(404 EntryNotFound\)/);
  } finally {
    hub.faults.missing.clear();
  }
  const cli = await runCli(["pull", "nobody/nothing"], "", cliEnv(home));
  assert.equal(cli.code, 2);
  assert.match(cli.stderr, /^swallow pull: repository nobody\/nothing not found .*\n$/);
  const bad = await runCli(["pull", "../etc"], "", cliEnv(home));
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /"\.\.\/etc" is not a repository id/);
});

test("--include / --exclude pick files with huggingface_hub's fnmatch patterns", async () => {
  const home = await freshHome();
  const jsonOnly = await pull(home, { include: ["*.json"], exclude: ["copy-*"] });
  assert.deepEqual(jsonOnly.files, ["config.json", "tokenizer_config.json"]);
  assert.deepEqual((await readdir(jsonOnly.snapshotDir)).sort(), ["config.json", "tokenizer_config.json"]);

  const cli = await runCli(["pull", TINY, "--exclude", "original/", "--exclude", "*.safetensors", "--include", "*"], "", cliEnv(home));
  assert.equal(cli.code, 0, cli.stderr);
  const snapshot = cli.stdout.trim();
  assert.deepEqual(
    (await tree(snapshot)).filter((e) => !e.startsWith("dir")).map((e) => e.split(" ")[1]),
    ["config.json", "copy-of-config.json", "empty.txt", "nested/dir/notes.txt", "tokenizer_config.json"],
  );
  await assert.rejects(
    pull(home, { include: ["*.gguf"] }),
    /no file of swallow-test\/tiny matches the --include\/--exclude patterns; it has 7 files: config\.json/,
  );
});

test("--model ORG/NAME finds a snapshot written the way huggingface_hub writes it", async () => {
  const home = await freshHome();
  const tinyDir = join(fixturesDir, "tiny", "gqa-llama3");
  const repoDir = join(home, "hub", "models--tiny-org--gqa-llama3");
  const commit = "0123456789abcdef0123456789abcdef01234567";
  await mkdir(join(repoDir, "blobs"), { recursive: true });
  await mkdir(join(repoDir, "snapshots", commit), { recursive: true });
  await mkdir(join(repoDir, "refs", "refs", "pr"), { recursive: true });
  for (const name of ["tokenizer.json", "tokenizer_config.json", "config.json"]) {
    const content = await readFile(join(tinyDir, name));
    const etag =
      name === "tokenizer.json"
        ? createHash("sha256").update(content).digest("hex")
        : createHash("sha1").update(`blob ${content.byteLength}\0`).update(content).digest("hex");
    await writeFile(join(repoDir, "blobs", etag), content);
    await symlink(`../../blobs/${etag}`, join(repoDir, "snapshots", commit, name));
  }
  await writeFile(join(repoDir, "refs", "main"), commit);
  await writeFile(join(repoDir, "refs", "refs", "pr", "1"), commit);

  const text = "Hello, 世界! 🍣";
  const direct = await runCli(["tokenize", "--model", tinyDir], text, cliEnv(home));
  assert.equal(direct.code, 0, direct.stderr);
  for (const model of ["tiny-org/gqa-llama3", `tiny-org/gqa-llama3@${commit}`, "tiny-org/gqa-llama3@refs/pr/1"]) {
    const viaCache = await runCli(["tokenize", "--model", model], text, cliEnv(home));
    assert.equal(viaCache.code, 0, `${model}: ${viaCache.stderr}`);
    assert.equal(viaCache.stdout, direct.stdout, model);
  }
  // HF_HUB_CACHE wins over HF_HOME.
  const viaHubCache = await runCli(
    ["tokenize", "--model", "tiny-org/gqa-llama3"],
    text,
    cliEnv(join(home, "elsewhere"), { HF_HUB_CACHE: join(home, "hub") }),
  );
  assert.equal(viaHubCache.stdout, direct.stdout);

  for (const missing of ["tiny-org/absent", "tiny-org/gqa-llama3@v2"]) {
    const result = await runCli(["tokenize", "--model", missing], text, cliEnv(home));
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      `swallow tokenize: model ${missing} is not a local directory nor in the Hugging Face cache (${join(home, "hub")}); check the path, or run: swallow pull ${missing}\n`,
    );
  }
  const notDir = await runCli(["tokenize", "--model", "./no/such/dir"], text, cliEnv(home));
  assert.match(notDir.stderr, /^swallow tokenize: model directory \.\/no\/such\/dir not found/);
});

test("a directory wins over a repo id of the same spelling", async () => {
  const { modelDirectory, DEMO_MODEL_DIR } = await import("../src/cli/model-dir.js");
  const home = await freshHome();
  await mkdir(join(home, "tiny-org", "local"), { recursive: true });
  const savedCwd = process.cwd();
  const savedCache = process.env.HF_HUB_CACHE;
  process.chdir(home);
  process.env.HF_HUB_CACHE = join(home, "hub");
  try {
    assert.equal((await modelDirectory("tiny-org/local")).location, "tiny-org/local");
    await assert.rejects(modelDirectory("tiny-org/other"), /model tiny-org\/other is not a local directory nor in the Hugging Face cache/);
    assert.equal((await modelDirectory(undefined)).location, DEMO_MODEL_DIR); // no --model: the bundled demo
  } finally {
    process.chdir(savedCwd);
    if (savedCache === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = savedCache;
  }
});

test("HF_HUB_OFFLINE never touches the network: a complete cached snapshot succeeds, anything else fails", async () => {
  const home = await freshHome();
  const offline = { offline: true, endpoint: "http://127.0.0.1:9" };
  await assert.rejects(
    pull(home, {}, offline),
    /^SwallowError: HF_HUB_OFFLINE is set and swallow-test\/tiny is not in the Hugging Face cache \(.*\); unset HF_HUB_OFFLINE to download it$/,
  );
  const online = await pull(home);

  const mark = hub.requests.length;
  const cli = await runCli(["pull", TINY], "", cliEnv(home, { HF_HUB_OFFLINE: "1" }));
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(cli.stdout, `${online.snapshotDir}\n`);
  assert.equal(hub.requests.length, mark);
  const cached = await pull(home, { include: ["*.json"] }, offline);
  assert.deepEqual(cached.files, ["config.json", "copy-of-config.json", "tokenizer_config.json"]);

  await unlink(join(home, "hub", "models--swallow-test--tiny", "blobs", file(tiny, "model.safetensors").sha256));
  await assert.rejects(
    pull(home, {}, offline),
    /HF_HUB_OFFLINE is set and swallow-test\/tiny is incomplete in the cache \(model\.safetensors missing\)/,
  );
  // Files the filters leave out may be missing.
  assert.equal((await pull(home, { exclude: ["*.safetensors"] }, offline)).snapshotDir, online.snapshotDir);
  await assert.rejects(pull(home, { revision: "v1" }, offline), /swallow-test\/tiny \(revision v1\) is not in the Hugging Face cache/);
  assert.equal(hub.requests.length, mark);
});

test("network failures are retried, then reported with the endpoint and HF_ENDPOINT", async () => {
  const home = await freshHome();
  hub.faults.unavailable = 2;
  const log: string[] = [];
  const result = await pull(home, {
    include: ["config.json"],
    reporter: new TerminalReporter({ write: (line: string) => log.push(line) }),
  });
  assert.match(log[0], /^127\.0\.0\.1:\d+ answered 503; retrying in 5 ms \(attempt 2 of 3\)\n$/);
  assert.deepEqual(result.files, ["config.json"]);
  assert.equal(hub.faults.unavailable, 0);

  const closed = await startFakeHub([]);
  const deadEndpoint = closed.endpoint;
  await closed.close();
  const started = Date.now();
  await assert.rejects(
    pull(home, {}, { endpoint: deadEndpoint }),
    new RegExp(
      `^SwallowError: cannot reach the Hub at ${deadEndpoint.replace(/\./g, "\\.")} \\(ECONNREFUSED\\) after 3 attempts; check the network, or set HF_ENDPOINT`,
    ),
  );
  assert.ok(Date.now() - started < 2000);
});

test("a renamed repository's relative redirect is followed; listings without blob metadata fall back to HEAD", async () => {
  const home = await freshHome();
  const renamed = await pullRepo({ repoId: "old-org/renamed", settings: settings(home), retry: FAST_RETRY });
  assert.deepEqual(await readFile(join(renamed.snapshotDir, "config.json"), "utf8"), CONFIG);
  assert.ok(renamed.snapshotDir.includes("models--old-org--renamed"));

  const other = await freshHome();
  hub.faults.noBlobsMetadata = true;
  const mark = hub.requests.length;
  try {
    const result = await pull(other);
    const heads = requestsSince(mark).filter((r) => r.method === "HEAD");
    assert.equal(heads.length, 7);
    assert.ok(requestsSince(mark).every((r) => r.server === "hub" || r.method === "GET"));
    const model = file(tiny, "model.safetensors");
    assert.equal(await readlink(join(result.snapshotDir, "model.safetensors")), `../../blobs/${model.sha256}`);
    assert.equal(await readlink(join(result.snapshotDir, "config.json")), `../../blobs/${file(tiny, "config.json").gitSha1}`);
  } finally {
    hub.faults.noBlobsMetadata = false;
  }
});

test("a cache path that cannot be written is named in a one-line error", async () => {
  const home = await freshHome();
  await writeFile(join(home, "hub"), "a file where the cache directory should be");
  await assert.rejects(pull(home), (error: Error) => {
    assert.match(
      error.message,
      new RegExp(`^cannot write ${join(home, "hub").replace(/[.]/g, "\\.")}/models--swallow-test--tiny.* \\((ENOTDIR|EEXIST)\\)`),
    );
    return true;
  });
  assert.ok((await lstat(join(home, "hub"))).isFile());
});
