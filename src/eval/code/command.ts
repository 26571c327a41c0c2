// The command line that runs one Python program in the sandbox:
//   prlimit (rlimits, inherited by everything below) → setpriv (as root only: an unprivileged uid, see identity.ts)
//   → bwrap (new user/pid/net/ipc/uts/cgroup namespaces, read-only system, private tmpfs) → Debian's python3 -I.
// Absolute paths only: a `python3` from PATH (pyenv, a venv, the user's home) must never be the interpreter.

import { lstatSync, readlinkSync } from "node:fs";

import type { SandboxLimits } from "./limits.js";
import type { SandboxIdentity } from "./identity.js";
import { RUNNER_SOURCE } from "./runner-source.js";

export const BWRAP = "/usr/bin/bwrap";
export const PRLIMIT = "/usr/bin/prlimit";
export const SETPRIV = "/usr/bin/setpriv";
/** Debian's interpreter (package python3); HumanEval programs need only the standard library. */
export const PYTHON = "/usr/bin/python3";

/** Top-level system paths that merged-/usr systems make symlinks into /usr, and older ones real directories. */
const SYSTEM_TOP_LEVEL = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/** bwrap arguments that recreate /bin, /lib… as the host has them: the same symlink, or a read-only bind. */
function systemMounts(): string[] {
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const top of SYSTEM_TOP_LEVEL) {
    let stat;
    try {
      stat = lstatSync(top);
    } catch {
      continue; // absent on this host
    }
    if (stat.isSymbolicLink()) args.push("--symlink", readlinkSync(top), top);
    else if (stat.isDirectory()) args.push("--ro-bind", top, top);
  }
  // The dynamic loader's cache is all of /etc the interpreter needs; no passwd, no resolv.conf, no hosts.
  args.push("--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache");
  return args;
}

/** bubblewrap's own arguments: everything namespaced, nothing of the host writable, no network, no home. */
export function bwrapArgs(limits: SandboxLimits): string[] {
  return [
    "--clearenv",
    "--unshare-all", // user (try), ipc, pid, net, uts, cgroup (try): a fresh, empty, loopback-only network
    "--unshare-user",
    "--disable-userns", // no nested user namespace (and so no capabilities) for the program
    "--die-with-parent", // killing bwrap (or its parent, us) kills the whole pid namespace
    // The program itself is pid 1 of its namespace, reaped by bwrap. With bwrap's own init instead, that init outlives
    // the outer bwrap, is re-parented to the host's pid 1 and stays a zombie where pid 1 does not reap (containers),
    // and zombies count against RLIMIT_NPROC: after ~10 programs no sandbox could start.
    "--as-pid-1",
    "--new-session", // no controlling terminal (TIOCSTI)
    "--hostname",
    "sandbox",
    ...systemMounts(),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--size",
    "1048576",
    "--tmpfs",
    "/dev/shm",
    "--size",
    String(limits.tmpfsBytes),
    "--tmpfs",
    "/tmp",
    "--remount-ro",
    "/dev",
    "--remount-ro",
    "/",
    "--chdir",
    "/tmp",
    "--setenv",
    "HOME",
    "/tmp",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--setenv",
    "LANG",
    "C.UTF-8",
  ];
}

/** prlimit's arguments: soft = hard, so the program cannot raise them again. */
export function rlimitArgs(limits: SandboxLimits, nprocLimit: number): string[] {
  return [
    `--cpu=${limits.cpuSeconds}`,
    `--as=${limits.addressSpaceBytes}`,
    `--nproc=${nprocLimit}`,
    `--fsize=${limits.maxFileBytes}`,
    `--nofile=${limits.maxOpenFiles}`,
    "--core=0",
  ];
}

/** The full argv (argv[0] is the executable) that runs the runner with `python -I` (no user site, no PYTHON* env). */
export function sandboxCommand(limits: SandboxLimits, identity: SandboxIdentity, bwrap: string = BWRAP): string[] {
  return [
    PRLIMIT,
    ...rlimitArgs(limits, identity.nprocLimit),
    "--",
    ...identity.prefix,
    bwrap,
    ...bwrapArgs(limits),
    PYTHON,
    "-I",
    "-c",
    RUNNER_SOURCE,
    String(limits.timeoutSeconds),
  ];
}
