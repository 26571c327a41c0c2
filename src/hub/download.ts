import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, rename, rm, stat, truncate, writeFile, type FileHandle } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { SwallowError } from "../errors.js";
import { guardFs, type RepoCache } from "./cache.js";
import { backoffMs, formatDelay, isNetworkError, networkReason, type HubClient } from "./http.js";

/** One blob to fetch: the file at `path` in `commit`, stored as blobs/{etag}. */
export interface BlobDownload {
  repoId: string;
  commit: string;
  /** The revision the user asked for, for error messages. */
  revision: string;
  path: string;
  etag: string;
  /** Size in bytes when the listing or a HEAD said so. */
  sizeBytes?: number;
  /** sha256 for LFS files (etag = sha256), git-sha1 for regular files (etag = git blob id), none if unknown. */
  check: "sha256" | "git-sha1" | "none";
}

export interface DownloadProgress {
  /** `bytes` of the file are already on disk (a resumed partial). */
  start(bytes: number): void;
  advance(bytes: number): void;
  /** The server ignored the Range request: the count goes back to zero. */
  restart(): void;
}

/** Running digest of the bytes written to the .incomplete file so far. */
class Digest {
  private hash: Hash;
  constructor(
    private readonly check: BlobDownload["check"],
    private readonly sizeBytes: number | undefined,
    public bytes = 0,
  ) {
    this.hash = this.fresh();
  }

  private fresh(): Hash {
    const hash = createHash(this.check === "git-sha1" ? "sha1" : "sha256");
    // git hashes "blob {size}\0" followed by the content.
    if (this.check === "git-sha1") hash.update(`blob ${this.sizeBytes}\0`);
    return hash;
  }

  reset(): void {
    this.hash = this.fresh();
    this.bytes = 0;
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
  }

  /** Feeds the first `bytes` of a partial file left by an earlier run. */
  async feedFile(path: string, bytes: number): Promise<void> {
    this.reset();
    if (bytes === 0) return;
    for await (const chunk of createReadStream(path, { start: 0, end: bytes - 1 })) this.update(chunk as Buffer);
  }

  hex(): string {
    return this.hash.digest("hex");
  }
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => null))?.size ?? 0;
}

/** `bytes START-END/TOTAL` → start and total (total undefined for `*`). */
function parseContentRange(value: string | null): { start: number; total?: number } | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(value?.trim() ?? "");
  if (!match) return undefined;
  return { start: Number(match[1]), ...(match[2] === "*" ? {} : { total: Number(match[2]) }) };
}

/**
 * Downloads one blob into blobs/{etag}.incomplete, resuming from its size with `Range: bytes=N-`
 * (also after a connection drops mid-file), hashes it while writing, and renames it to blobs/{etag}
 * only when the checksum matches. A mismatch deletes the partial file and throws.
 */
export async function downloadBlob(
  client: HubClient,
  cache: RepoCache,
  blob: BlobDownload,
  progress: DownloadProgress,
  signal: AbortSignal,
): Promise<void> {
  const partialPath = cache.incompletePath(blob.etag);
  const url = client.resolveUrl(blob.repoId, blob.commit, blob.path);
  const context = { repoId: blob.repoId, revision: blob.revision, path: blob.path };
  let expectedSize = blob.sizeBytes;
  let offset = await sizeOf(partialPath);
  if (expectedSize !== undefined && offset > expectedSize) {
    await guardFs(partialPath, () => truncate(partialPath, 0));
    offset = 0;
  }
  progress.start(offset);
  let digest: Digest | undefined;
  let failuresWithoutProgress = 0;

  while (expectedSize === undefined || offset < expectedSize) {
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const {
      response,
      hubHeaders,
      url: responseUrl,
    } = await client.request(url, { method: "GET", context, headers, signal, allowStatuses: [416] });
    if (response.status === 416) {
      // The partial file is at least as long as the file: start over.
      await response.body?.cancel();
      if (offset === 0) throw new SwallowError(`${url}: the server refused to send the file (416); run again`);
      await guardFs(partialPath, () => truncate(partialPath, 0));
      offset = 0;
      progress.restart();
      continue;
    }
    const range = response.status === 206 ? parseContentRange(response.headers.get("content-range")) : undefined;
    if (response.status === 206 && range?.start !== offset) {
      await response.body?.cancel();
      throw new SwallowError(
        `${url}: the server answered a Range request for bytes ${offset}- with ${response.headers.get("content-range")}; run again`,
      );
    }
    if (response.status !== 206 && offset > 0) {
      // The server sent the whole file: drop what we had.
      offset = 0;
      progress.restart();
    }
    const length = Number(response.headers.get("content-length") ?? NaN);
    const linkedSize = Number(hubHeaders.get("x-linked-size") ?? NaN);
    expectedSize ??= range?.total ?? (Number.isFinite(linkedSize) ? linkedSize : Number.isFinite(length) ? offset + length : undefined);

    if (!digest || digest.bytes !== offset) {
      digest = new Digest(blob.check, expectedSize);
      await digest.feedFile(partialPath, offset);
    }
    const handle: FileHandle = await guardFs(partialPath, () => open(partialPath, offset === 0 ? "w" : "a"));
    let received = 0;
    const reader = response.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await guardFs(partialPath, () => handle.write(value));
        digest.update(value);
        offset += value.byteLength;
        received += value.byteLength;
        progress.advance(value.byteLength);
      }
    } catch (error) {
      await reader.cancel().catch(() => {});
      if (error instanceof SwallowError || signal.aborted || !isNetworkError(error)) throw error;
      failuresWithoutProgress = received > 0 ? 1 : failuresWithoutProgress + 1;
      if (failuresWithoutProgress >= client.retry.attempts) throw client.networkError(responseUrl, error, failuresWithoutProgress);
      const delayMs = backoffMs(client.retry, failuresWithoutProgress);
      client.onRetry(`${blob.path}: connection lost at byte ${offset} (${networkReason(error)}); resuming in ${formatDelay(delayMs)}`);
      await sleep(delayMs, undefined, { signal });
      continue;
    } finally {
      await handle.close();
    }
    if (expectedSize === undefined) expectedSize = offset;
    if (offset !== expectedSize) {
      failuresWithoutProgress++;
      if (failuresWithoutProgress >= client.retry.attempts) {
        throw new SwallowError(`${blob.path}: the download kept ending early (${offset} of ${expectedSize} bytes); run again to resume`);
      }
    }
  }

  // An empty file never reaches the download loop's write.
  if (offset === 0) await guardFs(partialPath, () => writeFile(partialPath, new Uint8Array(0)));
  if (!digest || digest.bytes !== offset) {
    digest = new Digest(blob.check, expectedSize);
    await digest.feedFile(partialPath, offset);
  }
  const actual = digest.hex();
  if (blob.check !== "none" && actual !== blob.etag) {
    await rm(partialPath, { force: true });
    const algorithm = blob.check === "sha256" ? "sha256" : "git blob sha1";
    throw new SwallowError(
      `checksum mismatch for ${blob.path} in ${blob.repoId}: expected ${algorithm} ${blob.etag}, got ${actual}; the partial download was deleted, run the command again`,
    );
  }
  await guardFs(cache.blobPath(blob.etag), () => rename(partialPath, cache.blobPath(blob.etag)));
}
