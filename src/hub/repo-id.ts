import { SwallowError } from "../errors.js";

/** A model repository on the Hub and, optionally, a revision (branch, tag or commit). */
export interface RepoReference {
  /** `ORG/NAME` (or a bare `NAME` for the Hub's few un-namespaced models). */
  repoId: string;
  revision?: string;
}

const REPO_PART = /^[A-Za-z0-9_](?:[\w.-]*[A-Za-z0-9_])?$/;
const COMMIT_HASH = /^[0-9a-f]{40}$/;

/** True for names the Hub accepts as repository ids (huggingface_hub's validate_repo_id rules). */
export function isRepoId(value: string): boolean {
  const parts = value.split("/");
  if (parts.length > 2 || value.length > 96 || value.includes("--") || value.includes("..")) return false;
  return parts.every((part) => REPO_PART.test(part));
}

/**
 * Parses `ORG/NAME` or `ORG/NAME@REV`. Returns undefined when `value` does not have that shape,
 * so callers can treat it as something else (a directory path).
 */
export function parseRepoReference(value: string, options: { requireOrg?: boolean } = {}): RepoReference | undefined {
  const at = value.indexOf("@");
  const repoId = at < 0 ? value : value.slice(0, at);
  const revision = at < 0 ? undefined : value.slice(at + 1);
  if (!isRepoId(repoId) || (options.requireOrg && !repoId.includes("/"))) return undefined;
  if (revision !== undefined && !isSafeRevision(revision)) return undefined;
  return revision === undefined ? { repoId } : { repoId, revision };
}

/** A revision usable as a path below `refs/` (branch names such as `refs/pr/1` keep their slashes). */
export function isSafeRevision(revision: string): boolean {
  if (revision === "" || revision.startsWith("/") || revision.includes("\\")) return false;
  return revision.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

export function isCommitHash(revision: string): boolean {
  return COMMIT_HASH.test(revision);
}

/** Checks a revision given by the user, with a one-line error that says what is accepted. */
export function checkRevision(revision: string): string {
  if (!isSafeRevision(revision)) {
    throw new SwallowError(`revision "${revision}" is not a branch, tag or commit name; pass e.g. --revision main`);
  }
  return revision;
}

/**
 * A file path inside a repository, as the Hub lists it. Rejects absolute paths and `..` segments so a
 * hostile listing cannot write outside the snapshot directory.
 */
export function isSafeRepoPath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\\") || path.includes("\0")) return false;
  return path.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}
