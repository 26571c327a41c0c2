import { stat } from "node:fs/promises";
import { join } from "node:path";
import { SwallowError } from "../errors.js";
import { RepoCache, makeDirectory, snapshotFiles } from "./cache.js";
import { downloadBlob, type BlobDownload } from "./download.js";
import { fileFilter } from "./glob.js";
import { DEFAULT_RETRY, HubClient, unquoteEtag, type RetryPolicy } from "./http.js";
import { silentReporter, type PullReporter } from "./progress.js";
import { checkRevision, isCommitHash, isRepoId, isSafeRepoPath } from "./repo-id.js";
import type { HubSettings } from "./settings.js";

export interface PullOptions {
  /** `ORG/NAME` */
  repoId: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** Keep only files matching one of these patterns (see glob.ts); all files when empty. */
  include?: readonly string[];
  exclude?: readonly string[];
  settings: HubSettings;
  /** Files downloaded at once (default 8, as huggingface_hub's snapshot_download). */
  concurrency?: number;
  retry?: RetryPolicy;
  reporter?: PullReporter;
  signal?: AbortSignal;
}

export interface PullResult {
  /** snapshots/{commit} in the cache: a checkpoint directory. */
  snapshotDir: string;
  commit: string;
  /** Files in the snapshot that the filters kept. */
  files: string[];
  /** Blobs fetched by this run (0 when everything was cached). */
  downloadedBlobs: number;
}

/** One file of the listing, with what the cache needs to know about it. */
interface RepoFile {
  path: string;
  etag: string;
  sizeBytes?: number;
  check: BlobDownload["check"];
}

interface Sibling {
  rfilename?: unknown;
  size?: unknown;
  blobId?: unknown;
  lfs?: { sha256?: unknown; size?: unknown } | null;
}

const DEFAULT_CONCURRENCY = 8;
const SHA256 = /^[0-9a-f]{64}$/;
const GIT_SHA1 = /^[0-9a-f]{40}$/;
/** What an etag must look like to become a file name under blobs/. */
const SAFE_ETAG = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Downloads a model repository into the shared Hugging Face cache (the layout huggingface_hub uses)
 * and returns its snapshot directory. Blobs already in the cache are not fetched again; partial
 * downloads resume; every LFS file is checked against its sha256 before it becomes a blob.
 * With `settings.offline` the network is never touched: the cached snapshot is returned if complete.
 *
 * @example
 * const { snapshotDir } = await pullRepo({ repoId: "tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.5", settings: hubSettings(process.env) });
 */
export async function pullRepo(options: PullOptions): Promise<PullResult> {
  const { repoId, settings } = options;
  if (!isRepoId(repoId)) {
    throw new SwallowError(
      `"${repoId}" is not a repository id; expected ORG/NAME as on the model page, e.g. tokyotech-llm/Llama-3.1-Swallow-8B-Instruct-v0.5`,
    );
  }
  const revision = checkRevision(options.revision ?? "main");
  const keep = fileFilter(options.include ?? [], options.exclude ?? []);
  const cache = new RepoCache(settings.cacheDir, repoId);
  if (settings.offline) return offlineSnapshot(cache, revision, keep);

  const reporter = options.reporter ?? silentReporter;
  const client = new HubClient(settings.endpoint, settings.token, options.retry ?? DEFAULT_RETRY, (message) => reporter.warn(message));
  const controller = new AbortController();
  const abort = () => controller.abort();
  options.signal?.addEventListener("abort", abort, { once: true });
  try {
    const context = { repoId, revision };
    const info = await client.getJson(client.modelInfoUrl(repoId, revision), context, controller.signal);
    const { commit, siblings } = parseModelInfo(info, client.endpoint, repoId);
    const listed = siblings.filter((s) => keep(s.path));
    if (listed.length === 0) {
      const names = siblings.map((s) => s.path);
      throw new SwallowError(
        `no file of ${repoId} matches the --include/--exclude patterns; it has ${names.length} files: ${names.slice(0, 8).join(", ")}${names.length > 8 ? ", …" : ""}`,
      );
    }
    const files = await withEtags(client, repoId, revision, commit, listed, options.concurrency ?? DEFAULT_CONCURRENCY, controller);

    // One download per distinct blob: identical files share it.
    const blobs = new Map<string, RepoFile>();
    for (const file of files) if (!blobs.has(file.etag)) blobs.set(file.etag, file);
    const downloads: RepoFile[] = [];
    for (const blob of blobs.values()) if (!(await blobIsComplete(cache, blob))) downloads.push(blob);

    reporter.begin({
      repoId,
      revision,
      commit,
      fileCount: files.length,
      totalBytes: [...blobs.values()].reduce((sum, b) => sum + (b.sizeBytes ?? 0), 0),
      downloads: downloads.map((d) => ({ label: d.path, sizeBytes: d.sizeBytes })),
    });
    if (downloads.length > 0) await makeDirectory(join(cache.folder, "blobs"));
    await runPool(downloads, options.concurrency ?? DEFAULT_CONCURRENCY, controller, async (blob) => {
      const progress = reporter.file(blob.path, blob.sizeBytes);
      await downloadBlob(client, cache, { repoId, commit, revision, ...blob }, progress, controller.signal);
      progress.done();
    });

    for (const file of files) await cache.linkSnapshotFile(commit, file.path, file.etag);
    // The ref moves only once the snapshot is complete, so `--model ORG/NAME` never sees half a download.
    if (revision !== commit) await cache.writeRef(revision, commit);
    reporter.end();
    return { snapshotDir: cache.snapshotDir(commit), commit, files: files.map((f) => f.path).sort(), downloadedBlobs: downloads.length };
  } finally {
    options.signal?.removeEventListener("abort", abort);
  }
}

function parseModelInfo(info: unknown, endpoint: string, repoId: string): { commit: string; siblings: (Sibling & { path: string })[] } {
  const { sha, siblings } = (info ?? {}) as { sha?: unknown; siblings?: unknown };
  if (typeof sha !== "string" || !isCommitHash(sha) || !Array.isArray(siblings)) {
    throw new SwallowError(
      `${endpoint} sent model info for ${repoId} without a commit hash and file list; check HF_ENDPOINT points at a Hugging Face Hub`,
    );
  }
  return {
    commit: sha,
    siblings: (siblings as Sibling[]).map((s) => {
      const path = typeof s.rfilename === "string" ? s.rfilename : "";
      if (!isSafeRepoPath(path))
        throw new SwallowError(`${endpoint} listed an unsafe file name ${JSON.stringify(s.rfilename)} in ${repoId}; refusing to download`);
      return { ...s, path };
    }),
  };
}

/**
 * Each file's blob name and checksum. `?blobs=true` listings carry them (lfs.sha256, blobId); for a
 * Hub that leaves them out, a HEAD of the resolve URL gives them (X-Linked-Etag / ETag).
 */
async function withEtags(
  client: HubClient,
  repoId: string,
  revision: string,
  commit: string,
  siblings: (Sibling & { path: string })[],
  concurrency: number,
  controller: AbortController,
): Promise<RepoFile[]> {
  const files: RepoFile[] = new Array(siblings.length);
  const needHead: number[] = [];
  siblings.forEach((s, i) => {
    const lfsSha = typeof s.lfs?.sha256 === "string" ? s.lfs.sha256.toLowerCase() : undefined;
    const lfsSize = typeof s.lfs?.size === "number" ? s.lfs.size : undefined;
    const size = typeof s.size === "number" ? s.size : undefined;
    if (lfsSha && SHA256.test(lfsSha)) {
      files[i] = { path: s.path, etag: lfsSha, sizeBytes: lfsSize ?? size, check: "sha256" };
    } else if (!s.lfs && typeof s.blobId === "string" && GIT_SHA1.test(s.blobId) && size !== undefined) {
      files[i] = { path: s.path, etag: s.blobId, sizeBytes: size, check: "git-sha1" };
    } else {
      needHead.push(i);
    }
  });
  await runPool(needHead, concurrency, controller, async (i) => {
    const path = siblings[i].path;
    const { response, hubHeaders } = await client.request(client.resolveUrl(repoId, commit, path), {
      method: "HEAD",
      context: { repoId, revision, path },
      headers: { "accept-encoding": "identity" },
      signal: controller.signal,
      stopAtForeignRedirect: true,
    });
    const linked = unquoteEtag(hubHeaders.get("x-linked-etag"));
    const etag = linked ?? unquoteEtag(hubHeaders.get("etag"));
    const sizeHeader = hubHeaders.get("x-linked-size") ?? (response.status === 200 ? response.headers.get("content-length") : null);
    const sizeBytes = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
    if (!etag || !SAFE_ETAG.test(etag)) {
      throw new SwallowError(
        `${client.endpoint} gave no usable ETag for ${path} in ${repoId}; check HF_ENDPOINT points at a Hugging Face Hub`,
      );
    }
    const check =
      linked && SHA256.test(linked) ? "sha256" : !linked && GIT_SHA1.test(etag) && sizeBytes !== undefined ? "git-sha1" : "none";
    files[i] = { path, etag, sizeBytes, check };
  });
  return files;
}

async function blobIsComplete(cache: RepoCache, blob: RepoFile): Promise<boolean> {
  const info = await stat(cache.blobPath(blob.etag)).catch(() => null);
  return info !== null && info.isFile() && (blob.sizeBytes === undefined || info.size === blob.sizeBytes);
}

/** The cached snapshot, for HF_HUB_OFFLINE: complete (no link without its blob) or an error. */
async function offlineSnapshot(cache: RepoCache, revision: string, keep: (path: string) => boolean): Promise<PullResult> {
  const where = `${cache.repoId}${revision === "main" ? "" : ` (revision ${revision})`}`;
  const snapshotDir = await cache.findSnapshot(revision);
  if (!snapshotDir) {
    throw new SwallowError(
      `HF_HUB_OFFLINE is set and ${where} is not in the Hugging Face cache (${cache.cacheDir}); unset HF_HUB_OFFLINE to download it`,
    );
  }
  const { present, missing } = await snapshotFiles(snapshotDir);
  const missingWanted = missing.filter(keep);
  if (missingWanted.length > 0) {
    const more = missingWanted.length > 1 ? ` and ${missingWanted.length - 1} more` : "";
    throw new SwallowError(
      `HF_HUB_OFFLINE is set and ${where} is incomplete in the cache (${missingWanted[0]}${more} missing); unset HF_HUB_OFFLINE to finish the download`,
    );
  }
  const files = present.filter(keep);
  if (files.length === 0) {
    throw new SwallowError(
      `HF_HUB_OFFLINE is set and the cached ${where} has no file matching the --include/--exclude patterns; unset HF_HUB_OFFLINE to download them`,
    );
  }
  return { snapshotDir, commit: snapshotDir.split(/[\\/]/).pop()!, files, downloadedBlobs: 0 };
}

/**
 * Runs `work` over `items` with at most `concurrency` at once. The first failure aborts the others
 * (their partial files stay for the next run to resume) and is rethrown once all have stopped.
 */
async function runPool<T>(
  items: readonly T[],
  concurrency: number,
  controller: AbortController,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  let firstError: unknown;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await work(item);
      } catch (error) {
        if (!failed) {
          failed = true;
          firstError = error;
          controller.abort();
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, concurrency), items.length) }, worker));
  if (failed) throw firstError;
}
