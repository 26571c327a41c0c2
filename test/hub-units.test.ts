import test from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { describeFsError } from "../src/hub/cache.js";
import { fileFilter, globToRegExp } from "../src/hub/glob.js";
import { TerminalReporter, formatBytes } from "../src/hub/progress.js";
import { isRepoId, parseRepoReference } from "../src/hub/repo-id.js";
import { hubSettings } from "../src/hub/settings.js";
import { SwallowError } from "../src/errors.js";

test("globs follow fnmatch: * crosses /, ?, sets, trailing / means a folder", () => {
  const matches = (pattern: string, path: string) => globToRegExp(pattern).test(path);
  assert.ok(matches("*.safetensors", "model-00001-of-00004.safetensors"));
  assert.ok(matches("*.json", "nested/dir/config.json"));
  assert.ok(!matches("*.json", "config.json.bak"));
  assert.ok(matches("model-0000?-of-00004.safetensors", "model-00003-of-00004.safetensors"));
  assert.ok(matches("original/", "original/params.json"));
  assert.ok(!matches("original/", "originals.txt"));
  assert.ok(matches("[!o]*", "config.json") && !matches("[!o]*", "original/x"));
  assert.ok(matches("[]x]", "]") && matches("a+b(c).txt", "a+b(c).txt") && !matches("a.txt", "abtxt"));
  assert.ok(!matches("*.JSON", "config.json"));
  const keep = fileFilter(["*.json", "*.safetensors"], ["original/*", "*.pth"]);
  assert.deepEqual(["config.json", "original/params.json", "model.safetensors", "consolidated.pth", "README.md"].filter(keep), [
    "config.json",
    "model.safetensors",
  ]);
  assert.ok(fileFilter([], [])("anything/at/all"));
});

test("repo ids and ORG/NAME@REV references", () => {
  assert.ok(isRepoId("tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.5"));
  assert.ok(isRepoId("gpt2"));
  for (const bad of ["a/b/c", "../x", "a/..", "a--b/c", "-a/b", "a/b.", "", "a b/c", "/abs"]) assert.ok(!isRepoId(bad), bad);
  assert.deepEqual(parseRepoReference("org/name@refs/pr/1"), { repoId: "org/name", revision: "refs/pr/1" });
  assert.deepEqual(parseRepoReference("org/name"), { repoId: "org/name" });
  assert.equal(parseRepoReference("org/name@"), undefined);
  assert.equal(parseRepoReference("org/name@../../x"), undefined);
  assert.equal(parseRepoReference("gpt2", { requireOrg: true }), undefined);
  assert.equal(parseRepoReference("./models/x"), undefined);
});

test("settings are read as huggingface_hub reads them", async () => {
  const home = await mkdtemp(join(tmpdir(), "swallow-hf-home-"));
  try {
    await writeFile(join(home, "token"), "  hf_from_file \n");
    assert.deepEqual(hubSettings({ HF_HOME: home }), {
      endpoint: "https://huggingface.co",
      token: "hf_from_file",
      cacheDir: join(home, "hub"),
      offline: false,
    });
    assert.equal(hubSettings({ HF_HOME: home, HF_TOKEN: "hf_env" }).token, "hf_env");
    assert.equal(hubSettings({ HF_HOME: home, HF_TOKEN: "hf_env" }, { token: "hf_flag" }).token, "hf_flag");
    assert.equal(hubSettings({ HF_HOME: home, HF_TOKEN_PATH: join(home, "nope") }).token, undefined);
    assert.equal(hubSettings({ HF_HOME: home, HF_HUB_CACHE: "/x/hub" }).cacheDir, "/x/hub");
    assert.equal(hubSettings({ XDG_CACHE_HOME: "/xdg" }).cacheDir, "/xdg/huggingface/hub");
    assert.equal(hubSettings({}).cacheDir, join(homedir(), ".cache", "huggingface", "hub"));
    assert.equal(hubSettings({ HF_HOME: "~/hf" }).cacheDir, join(homedir(), "hf", "hub"));
    assert.equal(hubSettings({ HF_ENDPOINT: "https://hf-mirror.example/" }).endpoint, "https://hf-mirror.example");
    for (const value of ["1", "true", "YES", "on"]) assert.ok(hubSettings({ HF_HUB_OFFLINE: value }).offline, value);
    for (const value of ["0", "", "false"]) assert.ok(!hubSettings({ HF_HUB_OFFLINE: value }).offline, value);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test("disk full and permission errors become one-line errors naming the path", () => {
  const enospc = Object.assign(new Error("write failed"), { code: "ENOSPC" });
  const described = describeFsError(enospc, "/cache/models--a--b/blobs/abc.incomplete");
  assert.ok(described instanceof SwallowError);
  assert.match(
    described.message,
    /^cannot write \/cache\/models--a--b\/blobs\/abc\.incomplete \(ENOSPC\): no space left on the device; .*HF_HUB_CACHE/,
  );
  const eacces = describeFsError(Object.assign(new Error("denied"), { code: "EACCES" }), "/cache/x") as Error;
  assert.match(eacces.message, /^cannot write \/cache\/x \(EACCES\): permission denied/);
  const other = Object.assign(new Error("weird"), { code: "EWEIRD" });
  assert.equal(describeFsError(other, "/x"), other);
});

test("progress: a terminal gets redrawn lines; a log gets a line per interval, never a flood", () => {
  let clock = 0;
  const plan = {
    repoId: "org/name",
    revision: "main",
    commit: "0123456789abcdef0123456789abcdef01234567",
    fileCount: 3,
    totalBytes: 3_000_000,
    downloads: [
      { label: "a.safetensors", sizeBytes: 2_000_000 },
      { label: "b.safetensors", sizeBytes: 1_000_000 },
    ],
  };
  const run = (isTTY: boolean) => {
    const writes: string[] = [];
    clock = 0;
    const reporter = new TerminalReporter({ write: (s: string) => writes.push(s), isTTY, columns: 100 }, { now: () => clock });
    reporter.begin(plan);
    const a = reporter.file("a.safetensors", 2_000_000);
    const b = reporter.file("b.safetensors", 1_000_000);
    a.start(0);
    b.start(0);
    // 60 s of downloading in 1000-byte chunks every 20 ms (3000 progress events).
    for (let i = 0; i < 3000; i++) {
      clock += 20;
      (i % 3 === 2 ? b : a).advance(1000);
    }
    a.done();
    b.done();
    reporter.end();
    return writes;
  };
  const plain = run(false);
  assert.ok(plain.length >= 5 && plain.length <= 9, `${plain.length} lines`);
  assert.equal(plain[0], "pulling org/name (main → 0123456789ab): 3 files, 3.0 MB; 2 to download (3.0 MB)\n");
  assert.equal(plain[1], "org/name: 16% 500.0 kB/3.0 MB, 50.0 kB/s ETA 50s, 0/2 files\n");
  assert.equal(plain.at(-1), "pulled org/name: 3 files, downloaded 3.0 MB in 1m00s (50.0 kB/s)\n");
  assert.ok(plain.every((line) => !line.includes("\x1b")));

  const tty = run(true);
  assert.ok(tty.length > 100 && tty.length < 700, `${tty.length} writes`);
  const redraw = tty[tty.length - 3];
  assert.ok(redraw.startsWith("\x1b[3F\x1b[J"), JSON.stringify(redraw));
  assert.match(redraw, /a\.safetensors +█+░* +\d+% /);
  assert.ok(redraw.split("\n").every((line) => line.replace(/\x1b\[\d*[FJ]/g, "").length <= 99));
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(16_060_000_000), "16.1 GB");
});
