import { randomBytes } from "node:crypto";
import { mkdir, readFile, readdir, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { SwallowError } from "../errors.js";
import { isCommitHash, isSafeRevision } from "./repo-id.js";

/**
 * The cache layout huggingface_hub uses, so downloads are shared with Python tools:
 *
 *   models--{org}--{name}/blobs/{etag}               content (sha256 for LFS files, git blob sha1 otherwise)
 *   models--{org}--{name}/blobs/{etag}.incomplete    a partial download, resumed from its size
 *   models--{org}--{name}/snapshots/{commit}/{path}  relative symlink → ../../blobs/{etag}
 *   models--{org}--{name}/refs/{revision}            the commit a branch or tag pointed at
 */
export class RepoCache {
  /** `models--ORG--NAME` under the cache directory. */
  readonly folder: string;

  constructor(
    readonly cacheDir: string,
    readonly repoId: string,
  ) {
    this.folder = join(cacheDir, `models--${repoId.split("/").join("--")}`);
  }

  blobPath(etag: string): string {
    return join(this.folder, "blobs", etag);
  }

  incompletePath(etag: string): string {
    return `${this.blobPath(etag)}.incomplete`;
  }

  snapshotDir(commit: string): string {
    return join(this.folder, "snapshots", commit);
  }

  refPath(revision: string): string {
    return join(this.folder, "refs", ...revision.split("/"));
  }

  /** The commit `refs/{revision}` holds, or undefined when the ref is not cached. */
  async readRef(revision: string): Promise<string | undefined> {
    if (!isSafeRevision(revision)) return undefined;
    const text = await readFile(this.refPath(revision), "utf8").catch(() => undefined);
    const commit = text?.trim();
    return commit && isCommitHash(commit) ? commit : undefined;
  }

  /**
   * The snapshot directory for `revision` if the cache has one: a commit hash names its snapshot directly,
   * a branch or tag goes through refs/{revision}. Says nothing about whether every file is present.
   */
  async findSnapshot(revision: string): Promise<string | undefined> {
    const commit = isCommitHash(revision) ? revision : await this.readRef(revision);
    if (!commit) return undefined;
    const dir = this.snapshotDir(commit);
    return (await isDirectory(dir)) ? dir : undefined;
  }

  /** Points refs/{revision} at `commit` (atomically: a temporary file renamed over it). */
  async writeRef(revision: string, commit: string): Promise<void> {
    const path = this.refPath(revision);
    await makeDirectory(dirname(path));
    const temporary = temporaryName(path);
    await guardFs(path, async () => {
      await writeFile(temporary, commit);
      await rename(temporary, path);
    });
  }

  /** Makes snapshots/{commit}/{path} a relative symlink to the blob, replacing whatever was there. */
  async linkSnapshotFile(commit: string, path: string, etag: string): Promise<void> {
    const linkPath = join(this.snapshotDir(commit), ...path.split("/"));
    await makeDirectory(dirname(linkPath));
    const target = relative(dirname(linkPath), this.blobPath(etag));
    const temporary = temporaryName(linkPath);
    await guardFs(linkPath, async () => {
      await symlink(target, temporary);
      await rename(temporary, linkPath).catch(async (error) => {
        await rm(temporary, { force: true });
        throw error;
      });
    });
  }
}

/** A snapshot's files (relative paths with `/`) whose link target is missing, and those present. */
export async function snapshotFiles(snapshotDir: string): Promise<{ present: string[]; missing: string[] }> {
  const present: string[] = [];
  const missing: string[] = [];
  async function walk(dir: string, prefix: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(full, path);
        continue;
      }
      const target = await stat(full).catch(() => null);
      (target?.isFile() ? present : missing).push(path);
    }
  }
  await walk(snapshotDir, "");
  return { present: present.sort(), missing: missing.sort() };
}

export async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

export async function makeDirectory(path: string): Promise<void> {
  await guardFs(path, () => mkdir(path, { recursive: true }));
}

export function temporaryName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
}

const FS_ADVICE: Record<string, string> = {
  ENOSPC: "no space left on the device; free some space (partial downloads are kept and resume) or set HF_HUB_CACHE to another disk",
  EDQUOT: "disk quota exceeded; free some space or set HF_HUB_CACHE to another disk",
  EACCES: "permission denied; fix the directory's permissions or set HF_HUB_CACHE to a writable directory",
  EPERM: "operation not permitted; fix the directory's permissions or set HF_HUB_CACHE to a writable directory",
  EROFS: "read-only file system; set HF_HUB_CACHE to a writable directory",
  ENOTDIR: "a file stands where a directory is needed; remove it or set HF_HUB_CACHE elsewhere",
  EISDIR: "a directory stands where a file is needed; remove it",
};

/**
 * Turns a file-system error the user can fix (disk full, permissions) into a one-line SwallowError that
 * names the path; returns other errors unchanged.
 */
export function describeFsError(error: unknown, path: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (error instanceof SwallowError || !code || !(code in FS_ADVICE)) return error;
  return new SwallowError(`cannot write ${path} (${code}): ${FS_ADVICE[code]}`, { cause: error });
}

/** Runs a file-system operation, rewording fixable errors with `describeFsError`. */
export async function guardFs<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw describeFsError(error, path);
  }
}
