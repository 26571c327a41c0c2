"""Reference results of bigcode-evaluation-harness's own `check_correctness` for edge-case programs.

Runs the original `execute.py` (swallow-evaluation @3762f0d, bigcode-evaluation-harness/bigcode_eval/tasks/
custom_metrics/execute.py; it only needs the standard library) on the trusted programs below and writes
execution-vectors.json, which src/eval/code/runner.test.ts compares with the sandbox's results.

    git -C swallow-evaluation show 3762f0d:bigcode-evaluation-harness/bigcode_eval/tasks/custom_metrics/execute.py > /tmp/execute.py
    /usr/bin/python3 scripts/eval/make_execution_vectors.py /tmp/execute.py
"""

import hashlib
import importlib.util
import json
import os
import platform
import sys

CASES = {
    "passes": "def f():\n    return 1\n\nassert f() == 1\n",
    "assert_without_message": "assert 1 == 2\n",
    "assert_with_message": "assert 1 == 2, 'one is not two'\n",
    "syntax_error": "def f(:\n    pass\n",
    "name_error": "undefined_name + 1\n",
    "exit_builtin": "exit(0)\n",
    "sys_exit": "import sys\nsys.exit(3)\n",
    "os_exit_leaves_no_result": "import posix\nposix._exit(0)\n",
    "input_reads_write_only_stdin": "input()\n",
    "print_is_swallowed": "for i in range(1000):\n    print('x' * 100)\n",
    "os_getcwd_disabled": "import os\nos.getcwd()\n",
    "subprocess_disabled": "import subprocess\nsubprocess.Popen(['true'])\n",
    "help_disabled": "help()\n",
    "resource_blocked": "import resource\n",
    "omp_threads_set": "import os\nassert os.environ['OMP_NUM_THREADS'] == '1'\n",
    "name_is_not_main": "raise ValueError(__name__)\n",
    "recursion_error": "def r(n):\n    return r(n + 1)\n\nr(0)\n",
    "keyboard_interrupt": "raise KeyboardInterrupt\n",
    "unicode_message": "raise ValueError('日本語のメッセージ')\n",
    "infinite_loop": "while True:\n    pass\n",
    "timeout_caught_by_program": "try:\n    while True:\n        pass\nexcept Exception:\n    pass\n",
    "non_daemon_thread_after_pass": "import threading, time\nthreading.Thread(target=time.sleep, args=(60,)).start()\n",
}


def main():
    path = sys.argv[1]
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    spec = importlib.util.spec_from_file_location("bigcode_execute", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cases = []
    for i, (name, program) in enumerate(CASES.items()):
        result = module.check_correctness(program, 3.0, i, 0)
        cases.append({"name": name, "program": program, "result": result["result"], "passed": result["passed"]})
        print(name, "->", repr(result["result"]), file=sys.stderr)
    out = {
        "source": "swallow-evaluation@3762f0d bigcode-evaluation-harness/bigcode_eval/tasks/custom_metrics/execute.py check_correctness(program, 3.0, …)",
        "execute_py_sha256": digest,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "cases": cases,
    }
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "eval", "code", "execution-vectors.json")
    with open(target, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
