"""Whole-process start-up and the per-step floor (issue 34), against bare Python.

Each round runs every command once, in turn (interleaved), so slow spells of a shared
machine fall on all of them alike; each figure is the median over the rounds of the
wall time and of the CPU time (user + system, from wait4) of the whole process, and
its ratio to `python -c pass` from the same interpreter in the same rounds.

    python benches/startup.py [--rounds 10] [--steps 1000] [--build NAME=PYTHONPATH]...

`--build NAME=DIR` adds a build of LocalForge to compare (its `python/` folder, put
first on PYTHONPATH): every command runs for every build in each round, so a before
and an after are measured on the same machine at the same moments. Without it, the
build this interpreter imports is measured.

Commands: `--help`; `run` of a one-step `file_ops.write` recipe (`-q`; history on);
`validate` of it; an N-step `file_ops.write` chain with `cache: true` on every step,
run with `--no-cache` and served entirely from the step cache (filled once per build
before the rounds); the served chain's cost per step above the one-step run.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_chain import chain  # noqa: E402

ONE_STEP = """name: one
steps:
  - id: w
    tool: file_ops
    action: write
    inputs: {path: "{{ temp_dir }}/a.txt", content: hello}
"""


def timed(cmd, env):
    """(wall s, CPU s) of one run of `cmd`, which must exit 0."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--build", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--dir", default=None, help="where the scratch HOME goes (default: a temporary folder)")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build] or [["this", None]]
    py = sys.executable
    with tempfile.TemporaryDirectory(dir=a.dir) as tmp:
        tmp = Path(tmp)
        one = tmp / "one.yaml"
        one.write_text(ONE_STEP)
        cached = tmp / "cached.yaml"
        cached.write_text(chain(a.steps).replace('    tool: "file_ops"\n', '    tool: "file_ops"\n    cache: true\n'))
        base = {
            k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")
        }
        commands = [("bare", "`python -c pass`", None, [py, "-c", "pass"])]
        for name, path in builds:
            env = dict(base, HOME=str(tmp / f"home-{name}"))
            if path:
                env["PYTHONPATH"] = path
            lf = [py, "-m", "localforge"]
            timed([*lf, "run", str(cached), "-q"], env)  # fills this build's cache
            commands += [
                (name, "`--help`", env, [*lf, "--help"]),
                (name, "`run` one step", env, [*lf, "run", str(one), "-q"]),
                (name, "`validate` one step", env, [*lf, "validate", str(one)]),
                (name, f"{a.steps}-step chain, `--no-cache`", env, [*lf, "run", str(cached), "-q", "--no-cache"]),
                (name, f"{a.steps}-step chain, all from the cache", env, [*lf, "run", str(cached), "-q"]),
            ]
        for _, _, env, cmd in commands:  # warm the page cache and the bytecode
            timed(cmd, env or base)
        times = {i: [] for i in range(len(commands))}
        for _ in range(a.rounds):
            for i, (_, _, env, cmd) in enumerate(commands):
                times[i].append(timed(cmd, env or base))
    med = {i: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for i, t in times.items()}
    bare_wall, bare_cpu = med[0]
    print(f"{a.rounds} rounds, interleaved; medians of wall and CPU (user+sys); × = to bare Python's, wall and CPU\n")
    print("| build | command | wall | CPU | × bare (wall) | × bare (CPU) |\n|---|---|---|---|---|---|")
    for i, (name, label, _, _) in enumerate(commands):
        wall, cpu = med[i]
        print(f"| {name} | {label} | {wall * 1e3:.1f} ms | {cpu * 1e3:.1f} ms | {wall / bare_wall:.2f}× | {cpu / bare_cpu:.2f}× |")
    print()
    for name, _ in builds:
        rows = {label: med[i] for i, (n, label, _, _) in enumerate(commands) if n == name}
        served = rows[f"{a.steps}-step chain, all from the cache"][0]
        uncached = rows[f"{a.steps}-step chain, `--no-cache`"][0]
        floor = rows["`run` one step"][0]
        print(
            f"{name}: a cache hit {(served - floor) / a.steps * 1e6:.0f} µs per step, "
            f"a step run uncached {(uncached - floor) / a.steps * 1e6:.0f} µs (above the one-step run)"
        )


if __name__ == "__main__":
    main()
