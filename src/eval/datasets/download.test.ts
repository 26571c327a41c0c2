import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { DatasetSpec } from "../types.js";
import { downloadDatasets, LOCK_FILE, readLock } from "./download.js";
import { readTarGz } from "./tar.js";
import { LocalDatasets, selectDatasets } from "./registry.js";

const LONG = `${"deep/".repeat(22)}file-with-a-name-longer-than-one-hundred-bytes.txt`;

/** Makes a .tgz with GNU tar (the real tool), in pax format so long names use pax `path` records. */
function makeArchive(dir: string, format: "pax" | "gnu"): Buffer {
  const src = path.join(dir, `src-${format}`);
  mkdirSync(path.join(src, "sgm"), { recursive: true });
  writeFileSync(path.join(src, "sgm", "newstest2020-enja-src.en.sgm"), "<srcset>Hello</srcset>\n");
  mkdirSync(path.join(src, path.dirname(LONG)), { recursive: true });
  writeFileSync(path.join(src, LONG), "日本語テキスト\n".repeat(100));
  const out = path.join(dir, `test-${format}.tgz`);
  execFileSync("tar", [`--format=${format}`, "-czf", out, "-C", src, "sgm", "deep"]);
  return readFileSync(out);
}

async function withFiles(files: Map<string, Buffer | string>, run: (base: string, hits: string[]) => Promise<void>): Promise<void> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? "");
    const body = files.get(req.url ?? "");
    if (body === undefined) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-length": Buffer.byteLength(body) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const sha = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

test("tar reader reads GNU tar's pax and gnu archives, long names included", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-tar-"));
  try {
    for (const format of ["pax", "gnu"] as const) {
      const files = readTarGz(makeArchive(dir, format), "test.tgz").filter((e) => e.type === "file");
      assert.deepEqual(files.map((f) => f.path).sort(), [LONG, "sgm/newstest2020-enja-src.en.sgm"].sort(), format);
      assert.equal(new TextDecoder().decode(files.find((f) => f.path === LONG)!.data), "日本語テキスト\n".repeat(100));
    }
    assert.throws(() => readTarGz(Buffer.from("not gzip"), "x.tgz"), /x\.tgz is not a gzip file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("download: licences printed, sha256 recorded, archives unpacked; a rerun only verifies; changes are errors", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "swallow-dl-"));
  try {
    const archive = makeArchive(dir, "pax");
    const served = new Map<string, Buffer | string>([
      ["/a/train.json", '{"q": 1}\n'],
      ["/a/sub/test.json", '{"q": 2}\n'],
      ["/b/test.tgz", archive],
    ]);
    await withFiles(served, async (base, hits) => {
      const specs: DatasetSpec[] = [
        {
          name: "ds-a",
          license: "CC BY-SA 4.0",
          homepage: "https://example.org/a",
          files: [
            { url: `${base}/a/train.json`, path: "train.json" },
            { url: `${base}/a/sub/test.json`, path: "sub/test.json" },
          ],
        },
        {
          name: "ds-b",
          license: "MIT",
          homepage: "https://example.org/b",
          files: [{ url: `${base}/b/test.tgz`, path: "test.tgz", unpack: "tar.gz" }],
        },
      ];
      const dataDir = path.join(dir, "data");
      const lines: string[] = [];
      const first = await downloadDatasets(specs, { dataDir, log: (l) => lines.push(l) });
      assert.deepEqual(first, { downloaded: 3, verified: 0, bytes: 18 + archive.length });
      assert.ok(lines.includes("ds-a: licence CC BY-SA 4.0 — https://example.org/a"));
      assert.ok(lines.includes("ds-b: licence MIT — https://example.org/b"));
      assert.deepEqual(
        [...readLock(dataDir).entries()],
        [
          ["ds-a/sub/test.json", sha('{"q": 2}\n')],
          ["ds-a/train.json", sha('{"q": 1}\n')],
          ["ds-b/test.tgz", sha(archive)],
        ],
      );
      assert.equal(readFileSync(path.join(dataDir, "ds-a", "sub", "test.json"), "utf8"), '{"q": 2}\n');
      assert.equal(readFileSync(path.join(dataDir, "ds-b", LONG), "utf8"), "日本語テキスト\n".repeat(100));
      assert.equal(new LocalDatasets(dataDir).dir("ds-b"), path.join(dataDir, "ds-b"));

      // Rerun: nothing fetched, everything verified.
      hits.length = 0;
      const second = await downloadDatasets(specs, { dataDir, log: () => {} });
      assert.deepEqual(second, { downloaded: 0, verified: 3, bytes: 0 });
      assert.equal(hits.length, 0);

      // A local file was altered: a clear error.
      writeFileSync(path.join(dataDir, "ds-a", "train.json"), "tampered");
      await assert.rejects(
        downloadDatasets(specs, { dataDir, log: () => {} }),
        /train\.json has sha256 [0-9a-f]{64} but SHA256SUMS records/,
      );

      // The upstream file changed since the first download: error, and nothing half-written is left behind.
      rmSync(path.join(dataDir, "ds-a", "train.json"));
      served.set("/a/train.json", '{"q": "changed"}\n');
      await assert.rejects(downloadDatasets(specs, { dataDir, log: () => {} }), /now has sha256 .* the published file changed/);
      assert.deepEqual(readdirSync(path.join(dataDir, "ds-a")).sort(), ["sub"]);

      // A missing file upstream.
      const missing: DatasetSpec = { name: "ds-c", license: "MIT", homepage: "h", files: [{ url: `${base}/nope`, path: "x.json" }] };
      await assert.rejects(downloadDatasets([missing], { dataDir, log: () => {} }), /cannot download .*\/nope: HTTP 404/);
      assert.equal(existsSync(path.join(dataDir, "ds-c", "x.json")), false);
      assert.match(readFileSync(path.join(dataDir, LOCK_FILE), "utf8"), /^[0-9a-f]{64} {2}ds-a\/sub\/test\.json\n/);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("dataset selection and access errors say what to run", () => {
  const registry: DatasetSpec[] = [{ name: "x", license: "MIT", homepage: "h", files: [] }];
  assert.deepEqual(selectDatasets(["all"], registry), registry);
  assert.throws(() => selectDatasets(["y"], registry), /unknown dataset "y"; choose from: all, x/);
  assert.throws(
    () => new LocalDatasets("/nonexistent-dir").dir("jsquad-v1.1"),
    /run `swallow eval data download jsquad-v1\.1 --data-dir \/nonexistent-dir`/,
  );
});
