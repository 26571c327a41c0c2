import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import path from "node:path";

import { SwallowError } from "../../errors.js";
import { processesOf } from "./identity.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { PythonSandbox } from "./sandbox.js";

// One sandbox (two slots) for the whole file, as a real run shares one; tests that take seconds run concurrently.
const sandbox = new PythonSandbox({ concurrency: 2 });
const isRoot = process.getuid!() === 0;
const py = (s: string) => JSON.stringify(s); // a Python string literal for a path (JSON strings are valid Python)

test("a correct solution passes and a wrong one fails with the assertion's message", async () => {
  const solution = "def add(a, b):\n    return a + b\n";
  const wrong = "def add(a, b):\n    return a - b\n";
  const tests = "\n\ndef check(candidate):\n    assert candidate(2, 3) == 5, 'add(2, 3) should be 5'\n\ncheck(add)";
  const [good, bad] = await Promise.all([sandbox.run(solution + tests), sandbox.run(wrong + tests)]);
  assert.deepEqual([good.passed, good.result], [true, "passed"]);
  assert.deepEqual([bad.passed, bad.result], [false, "failed: add(2, 3) should be 5"]);
});

test("many programs in a row all start: nothing a run leaves behind counts against the process limit", async () => {
  // 40 per slot, more than maxProcesses: leftover zombies (bwrap's own init re-parented to a non-reaping pid 1) would
  // make the later starts fail with EAGAIN.
  const results = await Promise.all(Array.from({ length: 80 }, (_, i) => sandbox.run(`assert ${i} + 1 == ${i + 1}`)));
  assert.deepEqual(
    results.filter((r) => !r.passed).map((r) => r.diagnostic),
    [],
  );
});

test("the interpreter is Debian's /usr/bin/python3, isolated from PYTHON* variables, the user's site and PATH", async () => {
  const program = [
    "import os, sys",
    "assert sys.executable == '/usr/bin/python3', sys.executable",
    "assert sys.prefix == '/usr', sys.prefix",
    "assert sys.flags.isolated == 1",
    "assert not any('pyenv' in p or p.startswith('/root') or p.startswith('/home') for p in sys.path), sys.path",
    "assert set(os.environ) <= {'HOME', 'PATH', 'LANG', 'PWD', 'LC_CTYPE', 'OMP_NUM_THREADS'}, sorted(os.environ)",
    "assert os.getuid() != 0 and os.geteuid() != 0",
  ].join("\n");
  const result = await sandbox.run(program);
  assert.equal(result.result, "passed");
});

test("an infinite loop times out after ~3 s, and one that ignores SIGALRM is killed from outside", async () => {
  const loop = "while True:\n    pass\n";
  const stubborn = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n";
  const [timed, killed] = await Promise.all([sandbox.run(loop), sandbox.run(stubborn)]);
  assert.equal(timed.result, "timed out");
  assert.equal(timed.killed, false);
  assert.ok(timed.wallMs >= 2900 && timed.wallMs < 5000, `wall ${timed.wallMs} ms`);
  // The original also reports "timed out" when its child left no result; here after timeout + 1 s grace.
  assert.equal(killed.result, "timed out");
  assert.equal(killed.killed, true);
  assert.ok(killed.wallMs >= 3900 && killed.wallMs < 5500, `wall ${killed.wallMs} ms`);
});

test("the CPU-time limit stops a busy program that ignores its own timer", async () => {
  const strict = new PythonSandbox({ concurrency: 1, limits: { cpuSeconds: 1, timeoutSeconds: 5 } });
  const result = await strict.run("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n");
  assert.equal(result.result, "timed out"); // no result, as the original reports a child that died
  assert.equal(result.killed, false);
  // 1 s of CPU ends it well before its own 5 s timer (and the outside kill after it); the margin allows for a loaded
  // 2-core CI machine where the loop gets only part of a core.
  assert.ok(result.wallMs < 4500, `wall ${result.wallMs} ms`);
  assert.match(result.diagnostic ?? "", /no result from the runner/);
});

test("a fork bomb hits the process limit, leaves nothing behind, and does not stop the program beside it", async () => {
  // posix.fork: the runner sets os.fork = None as the original did, so use the raw module to really fork.
  const bomb = [
    "import posix, time",
    "n = 0",
    "try:",
    "    while True:",
    "        if posix.fork() == 0:",
    "            time.sleep(30)",
    "            posix._exit(0)",
    "        n += 1",
    "except OSError as e:",
    "    raise AssertionError(f'forks={n} errno={e.errno}')",
  ].join("\n");
  const [result, beside] = await Promise.all([sandbox.run(bomb), sandbox.run("import time\ntime.sleep(0.5)\nassert sum(range(10)) == 45")]);
  const match = /^failed: forks=(\d+) errno=11$/.exec(result.result); // EAGAIN from RLIMIT_NPROC
  assert.ok(match, result.result);
  assert.ok(Number(match[1]) < DEFAULT_LIMITS.maxProcesses, `forked ${match[1]} processes`);
  if (isRoot) {
    // Each slot has its own uid, so the bomb in one slot cannot starve the other.
    assert.equal(beside.result, "passed");
    const slots = sandbox.hostUids;
    assert.equal(new Set(slots).size, 2);
    assert.ok(
      slots.every((uid) => uid !== 0),
      `sandbox uids ${slots}`,
    ); // RLIMIT_NPROC does not bind uid 0
    // The kernel tears the pid namespace down asynchronously after its init exits: allow it a moment.
    const deadline = Date.now() + 2000;
    while (slots.some((uid) => processesOf(uid).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const uid of slots) assert.deepEqual(processesOf(uid), [], `processes of uid ${uid} left behind`);
  }
});

test("a memory bomb fails with MemoryError under the address-space limit", async () => {
  const [once, growing] = await Promise.all([
    sandbox.run("b = bytearray(8 * 1024 ** 3)"),
    sandbox.run("chunks = []\nwhile True:\n    chunks.append(bytes(16 * 1024 ** 2))"), // calloc'd: no page is touched
  ]);
  assert.equal(once.result, "failed: ");
  assert.equal(growing.result, "failed: ");
  // str(MemoryError()) is empty, as in the original's "failed: " strings; check the type in the sandbox too.
  const typed = await sandbox.run("try:\n    b = bytearray(8 * 1024 ** 3)\nexcept MemoryError:\n    raise AssertionError('MemoryError')");
  assert.equal(typed.result, "failed: MemoryError");
});

test("network calls fail: connect to a port the test listens on, DNS, and an outside address", async () => {
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    socket.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  try {
    const connect = `import socket\ns = socket.create_connection(("127.0.0.1", ${port}), timeout=1)\nassert s.recv(5) == b"hello"`;
    const dns = `import socket\nsocket.getaddrinfo("example.com", 80)`;
    const outside = `import socket\nsocket.create_connection(("1.1.1.1", 53), timeout=1)`;
    const results = await Promise.all([connect, dns, outside].map((p) => sandbox.run(p)));
    for (const r of results) assert.match(r.result, /^failed: /);
    assert.match(results[0].result, /Connection refused/);
    assert.match(results[2].result, /unreachable/i);
    assert.equal(connections, 0);
  } finally {
    server.close();
  }
});

test("writes outside the sandbox leave the host untouched", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "sandbox-write-"));
  const marker = path.join(dir, "marker.txt");
  writeFileSync(marker, "original");
  try {
    const [direct, recreated, system] = await Promise.all([
      sandbox.run(`open(${py(marker)}, "w").write("pwned")`),
      // Recreating the path inside the sandbox's own tmpfs succeeds, but only there.
      sandbox.run(`import os\nos.makedirs(${py(dir)}, exist_ok=True)\nopen(${py(marker)}, "w").write("pwned")`),
      sandbox.run(`open("/usr/sandbox-probe", "w").write("x")`),
    ]);
    assert.match(direct.result, /^failed: .*No such file or directory/);
    assert.equal(recreated.result, "passed");
    assert.match(system.result, /^failed: .*Read-only file system/);
    assert.equal(readFileSync(marker, "utf8"), "original");
    assert.deepEqual(readdirSync(dir), ["marker.txt"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the user's home, /root and the checkout are not readable", async () => {
  const home = mkdtempSync(path.join(tmpdir(), "sandbox-home-"));
  const secret = path.join(home, ".secret");
  writeFileSync(secret, "token");
  try {
    const paths = [secret, home, "/root", homedir(), process.cwd()];
    const results = await Promise.all(
      paths.map((p) => sandbox.run(`import os\np = ${py(p)}\nprint(open(p).read() if os.path.isfile(p) else os.listdir(p))`)),
    );
    results.forEach((r, i) => assert.match(r.result, /^failed: .*No such file or directory/, `${paths[i]}: ${r.result}`));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test("without a working bubblewrap nothing runs, with a one-line error saying to install it", async () => {
  for (const bwrap of ["/nonexistent/bwrap", "/bin/false"]) {
    const broken = new PythonSandbox({ bwrap, concurrency: 1 });
    await assert.rejects(broken.run("print('never')"), (error: unknown) => {
      assert.ok(error instanceof SwallowError);
      assert.match(error.message, /install bubblewrap/);
      assert.ok(!error.message.includes("\n"));
      return true;
    });
  }
});
