/**
 * `swallow eval data download`: fetches each dataset's files from their original locations, prints each licence,
 * records every file's sha256 in `<data-dir>/SHA256SUMS` on first download and verifies it on every later one
 * (a changed upstream file is an error, not a silent change of the benchmark). Writes are atomic: a file appears
 * under its name only once it is complete and verified.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, createWriteStream } from "node:fs";
import path from "node:path";
import { once } from "node:events";
import { SwallowError } from "../../errors.js";
import type { DatasetFile, DatasetSpec } from "../types.js";
import { readTarGz } from "./tar.js";

export const LOCK_FILE = "SHA256SUMS";

export interface DownloadOptions {
  dataDir: string;
  /** Progress and licence lines (default: stderr). */
  log?: (line: string) => void;
  /** Whether to redraw a byte counter in place (stderr is a TTY). */
  tty?: boolean;
  /** Extra request headers per URL (e.g. an HF token for huggingface.co). Default: HF_TOKEN for huggingface.co. */
  headers?: (url: string) => Record<string, string>;
}

export interface DownloadSummary {
  downloaded: number;
  verified: number;
  bytes: number;
}

/** sha256 per `dataset/path`, as `sha256sum` writes them ("HASH  NAME"). */
export function readLock(dataDir: string): Map<string, string> {
  const file = path.join(dataDir, LOCK_FILE);
  const lock = new Map<string, string>();
  if (!existsSync(file)) return lock;
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((line, i) => {
      if (line.trim() === "") return;
      const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (!m) throw new SwallowError(`${file}:${i + 1}: not a "SHA256  NAME" line; fix or delete that line`);
      lock.set(m[2], m[1]);
    });
  return lock;
}

function writeLock(dataDir: string, lock: Map<string, string>): void {
  const lines = [...lock.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, hash]) => `${hash}  ${name}`);
  atomicWrite(path.join(dataDir, LOCK_FILE), `${lines.join("\n")}\n`);
}

export async function downloadDatasets(specs: readonly DatasetSpec[], options: DownloadOptions): Promise<DownloadSummary> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const summary: DownloadSummary = { downloaded: 0, verified: 0, bytes: 0 };
  mkdirSync(options.dataDir, { recursive: true });
  for (const spec of specs) {
    log(`${spec.name}: licence ${spec.license} — ${spec.homepage}`);
    for (const file of spec.files) {
      const key = `${spec.name}/${file.path}`;
      const target = safeJoin(path.join(options.dataDir, spec.name), file.path, key);
      const lock = readLock(options.dataDir);
      const recorded = lock.get(key);
      let fresh = false;
      if (existsSync(target)) {
        const actual = await sha256File(target);
        if (recorded !== undefined && actual !== recorded) {
          throw new SwallowError(
            `${target} has sha256 ${actual} but ${LOCK_FILE} records ${recorded}; delete the file to download it again`,
          );
        }
        summary.verified++;
        if (recorded === undefined) record(options.dataDir, key, actual);
        log(`  ${file.path}: present, sha256 ${recorded === undefined ? "recorded" : "verified"}`);
      } else {
        const { sha256, bytes } = await fetchTo(file.url, target, recorded, key, options, log);
        summary.downloaded++;
        summary.bytes += bytes;
        if (recorded === undefined) record(options.dataDir, key, sha256);
        log(`  ${file.path}: ${formatBytes(bytes)}, sha256 ${recorded === undefined ? "recorded" : "verified"}`);
        fresh = true;
      }
      if (file.unpack) unpack(file, target, path.join(options.dataDir, spec.name), fresh, log);
    }
  }
  return summary;
}

function record(dataDir: string, key: string, sha256: string): void {
  const lock = readLock(dataDir);
  lock.set(key, sha256);
  writeLock(dataDir, lock);
}

/** Streams `url` into a temp file beside `target`, hashing as it goes; renames only when complete and matching. */
async function fetchTo(
  url: string,
  target: string,
  expected: string | undefined,
  key: string,
  options: DownloadOptions,
  log: (line: string) => void,
): Promise<{ sha256: string; bytes: number }> {
  mkdirSync(path.dirname(target), { recursive: true });
  const temp = `${target}.${process.pid}.partial`;
  let response: Response;
  try {
    response = await fetch(url, { headers: (options.headers ?? defaultHeaders)(url), redirect: "follow" });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new SwallowError(
      `cannot download ${url}: ${cause?.code ?? cause?.message ?? (error as Error).message}; check the network and retry`,
      {
        exitCode: 1,
      },
    );
  }
  if (!response.ok || !response.body) {
    throw new SwallowError(
      `cannot download ${url}: HTTP ${response.status}${response.status === 401 || response.status === 403 ? " (set HF_TOKEN for gated Hugging Face datasets)" : ""}`,
      {
        exitCode: 1,
      },
    );
  }
  const total = Number(response.headers.get("content-length") ?? NaN);
  const hash = createHash("sha256");
  const out = createWriteStream(temp);
  let bytes = 0;
  let lastDraw = 0;
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
      if (!out.write(chunk)) await once(out, "drain");
      if (options.tty && Date.now() - lastDraw > 200) {
        lastDraw = Date.now();
        const pct = Number.isFinite(total) && total > 0 ? ` ${Math.floor((100 * bytes) / total)}%` : "";
        process.stderr.write(`\r\x1b[2K  ${key}: ${formatBytes(bytes)}${pct}`);
      }
    }
    out.end();
    await once(out, "close");
    if (options.tty) process.stderr.write("\r\x1b[2K");
  } catch (error) {
    out.destroy();
    rmSync(temp, { force: true });
    throw new SwallowError(`download of ${url} broke off after ${formatBytes(bytes)}: ${(error as Error).message}; run the command again`, {
      exitCode: 1,
    });
  }
  const sha256 = hash.digest("hex");
  if (expected !== undefined && sha256 !== expected) {
    rmSync(temp, { force: true });
    throw new SwallowError(
      `${url} now has sha256 ${sha256}, but ${LOCK_FILE} recorded ${expected} for ${key} on first download; the published file changed — if that is expected, remove its line from ${path.join(options.dataDir, LOCK_FILE)}`,
    );
  }
  renameSync(temp, target);
  log(`  ${key} ← ${url}`);
  return { sha256, bytes };
}

/** Unpacks an archive into the dataset directory (again after a fresh download, or when its marker is missing). */
function unpack(file: DatasetFile, archive: string, root: string, fresh: boolean, log: (line: string) => void): void {
  const marker = path.join(root, `.unpacked-${file.path.replace(/[\\/]/g, "_")}`);
  if (!fresh && existsSync(marker)) return;
  if (file.unpack === "zip") {
    throw new SwallowError(`${file.path}: zip archives are not supported yet (no dataset needed one); unpack it by hand into ${root}`);
  }
  const entries = readTarGz(readFileSync(archive), archive);
  let files = 0;
  for (const entry of entries) {
    if (entry.type !== "file") continue;
    const target = safeJoin(root, entry.path, `${file.path}: ${entry.path}`);
    mkdirSync(path.dirname(target), { recursive: true });
    atomicWrite(target, entry.data);
    files++;
  }
  writeFileSync(marker, `${files}\n`);
  log(`  ${file.path}: unpacked ${files} files`);
}

/** Joins a relative archive/dataset path under `root`, refusing absolute paths and `..` escapes. */
function safeJoin(root: string, relative: string, what: string): string {
  const target = path.resolve(root, relative);
  if (path.isAbsolute(relative) || !target.startsWith(path.resolve(root) + path.sep)) {
    throw new SwallowError(`${what}: the path leaves the dataset directory; refusing to write it`);
  }
  return target;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function atomicWrite(file: string, data: string | Uint8Array): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, data);
  renameSync(temp, file);
}

function defaultHeaders(url: string): Record<string, string> {
  const token = process.env.HF_TOKEN;
  return token && new URL(url).hostname === "huggingface.co" ? { authorization: `Bearer ${token}` } : {};
}

function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}
