// Who the sandboxed program runs as, so that RLIMIT_NPROC really holds. The kernel exempts the root user from
// RLIMIT_NPROC (and a uid mapped inside a user namespace is still root outside), so as root we first switch to an
// otherwise unused uid with `setpriv`, one uid per concurrent slot: the limit counts every process of a uid, and a
// fork bomb in one slot must not starve the program running beside it. Several processes may run sandboxes at once
// (test files run in parallel), so uids are leased through lock files that name the owning pid.
// As an ordinary user the uid cannot change, so the limit is what the user already runs plus the allowance (counted
// from /proc just before each start).

import { mkdirSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { SwallowError } from "../../errors.js";
import { SETPRIV } from "./command.js";

/** Sandbox uids as root: 65000–65499 (Debian reserves 65000–65533 and assigns them to nothing). */
export const SANDBOX_UID_BASE = 65000;
export const SANDBOX_UID_COUNT = 500;

export interface SandboxIdentity {
  /** Command prefix that switches identity before bubblewrap starts (empty when not root). */
  prefix: string[];
  /** The RLIMIT_NPROC value to set for this start. */
  nprocLimit: number;
  /** The uid the sandbox's processes belong to on the host. */
  hostUid: number;
}

/** How to start one sandbox: as `leasedUid` when root (see leaseSandboxUids), else as ourselves. */
export function sandboxIdentity(leasedUid: number | undefined, maxProcesses: number): SandboxIdentity {
  if (leasedUid !== undefined) {
    return {
      prefix: [SETPRIV, `--reuid=${leasedUid}`, `--regid=${leasedUid}`, "--clear-groups", "--"],
      nprocLimit: maxProcesses,
      hostUid: leasedUid,
    };
  }
  const uid = process.getuid!();
  return { prefix: [], nprocLimit: countTasksOf(uid) + maxProcesses, hostUid: uid };
}

const leaseDir = () => path.join(tmpdir(), "swallow-sandbox-uids");
const leased: string[] = [];

/** Leases `count` uids no other live process holds; they are released when this process exits. */
export function leaseSandboxUids(count: number): number[] {
  const dir = leaseDir();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const uids: number[] = [];
  for (let uid = SANDBOX_UID_BASE; uid < SANDBOX_UID_BASE + SANDBOX_UID_COUNT && uids.length < count; uid++) {
    if (tryLease(path.join(dir, String(uid)))) uids.push(uid);
  }
  if (uids.length < count) {
    throw new SwallowError(
      `cannot lease ${count} sandbox uids: all of ${SANDBOX_UID_BASE}–${SANDBOX_UID_BASE + SANDBOX_UID_COUNT - 1} are in use (see ${dir})`,
    );
  }
  if (leased.length === 0) process.once("exit", releaseAll);
  leased.push(...uids.map((uid) => path.join(dir, String(uid))));
  return uids;
}

function tryLease(file: string): boolean {
  if (create(file)) return true;
  let owner = NaN;
  try {
    owner = Number(readFileSync(file, "utf8"));
  } catch {
    // Vanished meanwhile: try once more below.
  }
  if (Number.isInteger(owner) && (owner === process.pid || isAlive(owner))) return false;
  try {
    unlinkSync(file); // its owner died without releasing it
  } catch {
    // Someone else cleaned it up first.
  }
  return create(file);
}

function create(file: string): boolean {
  try {
    writeFileSync(file, String(process.pid), { flag: "wx", mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function releaseAll(): void {
  for (const file of leased) {
    try {
      unlinkSync(file);
    } catch {
      // Already gone.
    }
  }
}

/** Threads (what RLIMIT_NPROC counts) whose real uid is `uid`, from /proc. */
export function countTasksOf(uid: number): number {
  let count = 0;
  for (const status of statusesOf(uid)) count += Number(/^Threads:\s+(\d+)/m.exec(status.text)?.[1] ?? 1);
  return count;
}

/** Process ids currently owned (real uid) by `uid`; used to check that nothing outlives a sandbox. */
export function processesOf(uid: number): number[] {
  return statusesOf(uid).map((s) => s.pid);
}

function statusesOf(uid: number): { pid: number; text: string }[] {
  const found: { pid: number; text: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/status`, "latin1");
      if (Number(/^Uid:\s+(\d+)/m.exec(text)?.[1]) === uid) found.push({ pid: Number(entry), text });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}
