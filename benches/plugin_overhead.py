"""Cost of calling a Python tool plugin, against a native tool.

Two 1000-step recipes run through the real CLI: every step calls a trivial
Python plugin (`noop.echo`, returns its inputs), or the native
`file_ops.mkdir` on the (existing) temp folder. The difference of the medians,
divided by the step count, is the per-call overhead of the Python path
(thread hand-off, GIL, conversions, the `ctx` object), minus one mkdir.

    python benches/plugin_overhead.py [--steps 1000] [--repeat 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PLUGIN = '''\
"""A plugin that does nothing: for measuring call overhead."""
TOOL_NAME = "noop"
TOOL_ACTIONS = ["echo"]


def handle(action, inputs, ctx):
    return {"echo": inputs.get("value")}
'''


def recipe(n, tool, action, inputs):
    lines = [f"name: overhead-{tool}", "steps:"]
    for i in range(n):
        lines.append(f"  - {{id: s{i}, tool: {tool}, action: {action}, inputs: {inputs}}}")
    return "\n".join(lines) + "\n"


def run(path, env):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "localforge", "run", str(path), "-q"], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tools = tmp / "home" / ".localforge" / "tools"
        tools.mkdir(parents=True)
        (tools / "noop_tool.py").write_text(PLUGIN)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["HOME"] = str(tmp / "home")
        py = tmp / "python.yaml"
        py.write_text(recipe(args.steps, "noop", "echo", "{value: '{{ temp_dir }}'}"))
        native = tmp / "native.yaml"
        native.write_text(recipe(args.steps, "file_ops", "mkdir", "{path: '{{ temp_dir }}'}"))
        run(py, env), run(native, env)  # warm-up: bytecode caches, database
        t_py = statistics.median(run(py, env) for _ in range(args.repeat))
        t_native = statistics.median(run(native, env) for _ in range(args.repeat))
        per_call = (t_py - t_native) / args.steps * 1e6
        print("| steps | Python plugin | native tool | difference per call |\n|---|---|---|---|")
        print(f"| {args.steps} | {t_py:.3f} s | {t_native:.3f} s | {per_call:.1f} µs |")


if __name__ == "__main__":
    main()
