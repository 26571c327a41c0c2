// Runs untrusted (model-generated) Python programs, one interpreter per program, only inside bubblewrap with no
// network, a read-only system, a private tmpfs, a new pid namespace, an unprivileged uid and rlimits (command.ts,
// identity.ts). Results use the original harness's strings ("passed", "timed out", "failed: …", see runner-source.ts).
// Before the first program the sandbox is probed once; if it does not work, nothing is run at all.

import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { availableParallelism } from "node:os";
import { performance } from "node:perf_hooks";

import { SwallowError } from "../../errors.js";
import { BWRAP, PRLIMIT, PYTHON, SETPRIV, sandboxCommand } from "./command.js";
import { leaseSandboxUids, sandboxIdentity } from "./identity.js";
import { DEFAULT_LIMITS, type SandboxLimits } from "./limits.js";
import { SlotPool } from "./pool.js";

/** What one program run produced. */
export interface ExecutionResult {
  /** `result === "passed"`. */
  passed: boolean;
  /** The original harness's result string: "passed", "timed out" or "failed: <str(exception)>". */
  result: string;
  /** Wall-clock time from start to the end of the process tree, milliseconds. */
  wallMs: number;
  /** Whether the process tree was killed from outside after timeout + grace. */
  killed: boolean;
  /** Why there was no result from the runner (exit status, sandbox stderr), when there was none. */
  diagnostic?: string;
}

export interface SandboxOptions {
  limits?: Partial<SandboxLimits>;
  /** Programs run at once (default: the number of CPUs, at most 4). */
  concurrency?: number;
  /** The bubblewrap executable (default /usr/bin/bwrap); tests point it elsewhere to see the refusal. */
  bwrap?: string;
}

const INSTALL_HINT =
  "install bubblewrap (`apt-get install bubblewrap`, util-linux and Debian's python3) and allow unprivileged user namespaces; model-generated code is never run outside the sandbox";

/** A pool of sandboxed Python interpreters. */
export class PythonSandbox {
  readonly limits: Readonly<SandboxLimits>;
  private readonly pool: SlotPool;
  private readonly bwrap: string;
  private probe?: Promise<void>;
  /** As root: the uid each pool slot runs as (leased on first use); empty otherwise. */
  private uids: number[] = [];

  constructor(options: SandboxOptions = {}) {
    this.limits = Object.freeze({ ...DEFAULT_LIMITS, ...options.limits });
    this.bwrap = options.bwrap ?? BWRAP;
    this.pool = new SlotPool(options.concurrency ?? Math.max(1, Math.min(4, availableParallelism())));
  }

  /**
   * Checks (once per sandbox) that the tools exist and that a trivial program runs sandboxed as a non-root uid.
   * Throws a one-line SwallowError saying to install bubblewrap otherwise.
   */
  ready(): Promise<void> {
    this.probe ??= this.checkWorks();
    return this.probe;
  }

  /** The host uids this sandbox's programs run as (after ready(); the caller's own uid when not root). */
  get hostUids(): readonly number[] {
    return this.uids.length > 0 ? this.uids : [process.getuid!()];
  }

  /** Runs `program` (the full text: completion, tests and the `check(...)` call) and reports the original's result. */
  async run(program: string): Promise<ExecutionResult> {
    await this.ready();
    return this.pool.run((slot) => this.runInSlot(program, slot));
  }

  private async checkWorks(): Promise<void> {
    const tools = [this.bwrap, PRLIMIT, PYTHON, ...(process.getuid!() === 0 ? [SETPRIV] : [])];
    for (const tool of tools) {
      try {
        accessSync(tool, constants.X_OK);
      } catch {
        throw new SwallowError(`cannot run generated code: ${tool} is missing; ${INSTALL_HINT}`);
      }
    }
    if (process.getuid!() === 0) this.uids = leaseSandboxUids(this.pool.size);
    // os.getuid is not among the functions the runner disables; uid 0 inside would mean the drop failed.
    const probe = await this.runInSlot("import os\nassert os.getuid() != 0, 'sandbox runs as root'\n", 0);
    if (!probe.passed) {
      const why = probe.diagnostic ?? probe.result;
      throw new SwallowError(`cannot run generated code: the bubblewrap sandbox does not work (${oneLine(why)}); ${INSTALL_HINT}`);
    }
  }

  private runInSlot(program: string, slot: number): Promise<ExecutionResult> {
    const identity = sandboxIdentity(this.uids[slot], this.limits.maxProcesses);
    const [command, ...args] = sandboxCommand(this.limits, identity, this.bwrap);
    const nonce = randomBytes(16).toString("hex");
    const started = performance.now();
    const child = spawn(command, args, { cwd: "/", env: {}, detached: true, stdio: ["pipe", "pipe", "pipe"] });
    const stdout = new CappedBuffer(this.limits.maxOutputBytes);
    const stderr = new CappedBuffer(4096);
    child.stdout.on("data", (chunk: Buffer) => stdout.add(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.add(chunk));
    child.stdin.on("error", () => {}); // EPIPE when the sandbox fails to start: reported through the exit status
    child.stdin.end(`${nonce}\n${program}`, "utf8");

    let killed = false;
    const killAfterMs = (this.limits.timeoutSeconds + this.limits.killGraceSeconds) * 1000;
    const timer = setTimeout(() => {
      killed = true;
      killTree(child.pid);
    }, killAfterMs);

    return new Promise((resolve, reject) => {
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new SwallowError(`cannot start the sandbox (${error.message}); ${INSTALL_HINT}`));
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        const wallMs = performance.now() - started;
        const result = parseResult(stdout.text(), nonce);
        if (result !== undefined) resolve({ passed: result === "passed", result, wallMs, killed });
        else {
          const status = signal ? `signal ${signal}` : `exit status ${code}`;
          const diagnostic = `no result from the runner (${status}${killed ? ", killed after the time limit" : ""})${stderr.text() ? `: ${stderr.text()}` : ""}`;
          // The original appends "timed out" whenever its child left no result (killed, crashed or os._exit).
          resolve({ passed: false, result: "timed out", wallMs, killed, diagnostic: oneLine(diagnostic) });
        }
      });
    });
  }
}

/** SIGKILL to the process group of prlimit→setpriv→bwrap (all one pid after exec); --die-with-parent does the rest. */
function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

/** The runner's result line: `<nonce> {"result": "..."}`; anything else on stdout is ignored. */
function parseResult(stdout: string, nonce: string): string | undefined {
  for (const line of stdout.split("\n").reverse()) {
    if (!line.startsWith(`${nonce} `)) continue;
    try {
      const parsed = JSON.parse(line.slice(nonce.length + 1)) as { result?: unknown };
      if (typeof parsed.result === "string") return parsed.result;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim();

/** Keeps the first `capacity` bytes of a stream and drops the rest (the stream is still drained). */
class CappedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly capacity: number) {}

  add(chunk: Buffer): void {
    if (this.size >= this.capacity) return;
    const kept = chunk.subarray(0, this.capacity - this.size);
    this.chunks.push(kept);
    this.size += kept.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

let shared: PythonSandbox | undefined;

/** The process-wide sandbox with the default limits (one pool for every code task of a run). */
export function defaultSandbox(): PythonSandbox {
  shared ??= new PythonSandbox();
  return shared;
}
