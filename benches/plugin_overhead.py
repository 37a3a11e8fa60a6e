"""Cost of calling a Python tool plugin, against a native tool.

Recipes run through the real CLI where every step calls a trivial Python
plugin (`noop.echo`, returns its inputs) or the native `file_ops.mkdir` on the
(existing) temp folder, at two sizes. The slope between the sizes is the cost
per step with start-up and plugin discovery taken out; the difference of the
slopes is the per-call overhead of the Python path (thread hand-off, GIL,
conversions, the `ctx` object), minus one mkdir. The fixed cost of discovering
plugins (imports, entry points) is reported on its own.

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
        small = max(args.steps // 5, 1)
        times = {}
        for kind, tool, action, inputs in (
            ("python", "noop", "echo", "{value: '{{ temp_dir }}'}"),
            ("native", "file_ops", "mkdir", "{path: '{{ temp_dir }}'}"),
        ):
            for n in (small, args.steps):
                path = tmp / f"{kind}-{n}.yaml"
                path.write_text(recipe(n, tool, action, inputs))
                run(path, env)  # warm-up: bytecode caches, database
                times[kind, n] = statistics.median(run(path, env) for _ in range(args.repeat))
        slope = {k: (times[k, args.steps] - times[k, small]) / (args.steps - small) * 1e6 for k in ("python", "native")}
        fixed = (times["python", small] - slope["python"] * small / 1e6) - (times["native", small] - slope["native"] * small / 1e6)
        print("| steps | Python plugin | native tool | per step: Python | per step: native | overhead per call | plugin discovery (once) |")
        print("|---|---|---|---|---|---|---|")
        print(
            f"| {args.steps} | {times['python', args.steps]:.3f} s | {times['native', args.steps]:.3f} s | {slope['python']:.1f} µs "
            f"| {slope['native']:.1f} µs | {slope['python'] - slope['native']:.1f} µs | {fixed * 1e3:.0f} ms |"
        )


if __name__ == "__main__":
    main()
