// Resource limits for one sandboxed program. The wall clock is the original harness's (bigcode-evaluation-harness
// `execute.py`: a 3 s SIGALRM timer around `exec`, and the parent kills the process 1 s later); the others have no
// counterpart there (it set none) and only exist so a runaway program cannot hurt the machine.

/** Limits applied to every program the sandbox runs. */
export interface SandboxLimits {
  /** The program's own time limit (`signal.setitimer` around `exec`, as the original): "timed out" after it. */
  timeoutSeconds: number;
  /** Extra time before the whole process tree is killed from outside (the original's `p.join(timeout + 1)`). */
  killGraceSeconds: number;
  /** RLIMIT_CPU per process, seconds (the kernel sends SIGKILL at the hard limit). */
  cpuSeconds: number;
  /** RLIMIT_AS per process (address space), bytes. */
  addressSpaceBytes: number;
  /** RLIMIT_NPROC: processes/threads the sandbox uid may own (on top of what it already owns, when not root). */
  maxProcesses: number;
  /** RLIMIT_FSIZE: largest file a program may write, bytes. */
  maxFileBytes: number;
  /** RLIMIT_NOFILE: open file descriptors per process. */
  maxOpenFiles: number;
  /** Size of the private tmpfs that is the program's cwd and HOME, bytes. */
  tmpfsBytes: number;
  /** Bytes of the sandbox's stdout/stderr kept (the rest is drained and dropped, so a flood cannot fill memory). */
  maxOutputBytes: number;
}

const MiB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  timeoutSeconds: 3,
  killGraceSeconds: 1,
  cpuSeconds: 10,
  addressSpaceBytes: 1024 * MiB,
  maxProcesses: 32,
  maxFileBytes: 16 * MiB,
  maxOpenFiles: 256,
  tmpfsBytes: 64 * MiB,
  maxOutputBytes: 64 * 1024,
});
