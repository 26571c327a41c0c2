// The Python side of the sandbox: what bigcode-evaluation-harness's `check_correctness`/`unsafe_execute` do in their
// child process, re-done for one program per interpreter. Kept faithful where it changes results:
//   - the program runs with `exec(program, {})` (fresh globals, so `__name__` is not "__main__"), in a fresh temp dir;
//   - the same functions are disabled first (`reliability_guard`: os.kill, os.fork, subprocess.Popen, exit, …), so a
//     program that calls them fails as it did there;
//   - print/input go to a write-only buffer (`swallow_io`: reading stdin raises OSError);
//   - a SIGALRM timer (`signal.setitimer`) of `timeout` seconds raises inside the program: "timed out";
//   - any other exception (SystemExit included) is "failed: <str(e)>", and no result at all also counts as "timed out".
// The guard is not the security boundary (bubblewrap and the rlimits are); it only reproduces the original's behaviour.
// The result goes to a private duplicate of the original stdout, prefixed with a per-run nonce, while fds 0–2 point
// at /dev/null so that nothing the program writes at the OS level can flood the pipe or fake a result by accident.

/** argv after `-c`: [timeoutSeconds]; stdin: nonce line, then the program (UTF-8). */
export const RUNNER_SOURCE = String.raw`
import builtins, contextlib, faulthandler, io, json, os, shutil, signal, subprocess, sys, tempfile

data = sys.stdin.buffer.read().decode("utf-8")
nonce, _, program = data.partition("\n")
timeout = float(sys.argv[1])
report_fd = os.dup(1)
null_fd = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null_fd, fd)


def report(outcome):
    os.write(report_fd, (nonce + " " + json.dumps({"result": outcome}) + "\n").encode("utf-8"))


class TimeoutException(Exception):
    pass


class WriteOnlyStringIO(io.StringIO):
    def read(self, *args, **kwargs):
        raise OSError

    def readline(self, *args, **kwargs):
        raise OSError

    def readlines(self, *args, **kwargs):
        raise OSError

    def readable(self, *args, **kwargs):
        return False


def on_alarm(signum, frame):
    raise TimeoutException("Timed out!")


os.chdir(tempfile.mkdtemp())

faulthandler.disable()
builtins.exit = None
builtins.quit = None
builtins.help = None
os.environ["OMP_NUM_THREADS"] = "1"
for name in ("kill", "system", "putenv", "remove", "removedirs", "rmdir", "fchdir", "setuid", "fork", "forkpty",
             "killpg", "rename", "renames", "truncate", "replace", "unlink", "fchmod", "fchown", "chmod", "chown",
             "chroot", "lchflags", "lchmod", "lchown", "getcwd", "chdir"):
    setattr(os, name, None)
for name in ("rmtree", "move", "chown"):
    setattr(shutil, name, None)
subprocess.Popen = None
for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
    sys.modules[name] = None

try:
    stream = WriteOnlyStringIO()
    with contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        saved_stdin, sys.stdin = sys.stdin, stream
        try:
            signal.setitimer(signal.ITIMER_REAL, timeout)
            signal.signal(signal.SIGALRM, on_alarm)
            try:
                exec(program, {})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        finally:
            sys.stdin = saved_stdin
    outcome = "passed"
except TimeoutException:
    outcome = "timed out"
except BaseException as e:
    outcome = "failed: " + str(e)
report(outcome)
os._exit(0)
`;
