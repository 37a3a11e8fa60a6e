"""Time LocalForge on N-step chain recipes (history on and off) and start-up.

The chain is ../shared/bench's recipe: N `file_ops.write` steps, each naming
the previous step's output. Each configuration runs `repeat` times in a
scratch HOME; the median wall time and the peak RSS (from wait4) are printed
as a Markdown table for docs/benchmarks.md.

    python benches/chain.py [--sizes 10,100,1000,5000,10000] [--repeat 3] [--progress] [--script]
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


def timed(cmd, env):
    """(wall seconds, peak RSS in MB) of one run of `cmd`."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{cmd} exited {code}")
    return wall, usage.ru_maxrss / 1024


def startup(env, runs=20):
    rows = []
    for label, cmd in [
        ("bare interpreter (`python -c pass`)", [sys.executable, "-c", "pass"]),
        ("`python -m localforge --help`", [sys.executable, "-m", "localforge", "--help"]),
    ]:
        for _ in range(3):
            timed(cmd, env)
        walls = sorted(timed(cmd, env)[0] * 1000 for _ in range(runs))
        rows.append((label, statistics.median(walls), walls[0], walls[-1]))
    return rows


def script_chain(n: int) -> str:
    """N `script` steps in a chain, each printing a line on stdout and one on stderr."""
    lines = ['name: "script-chain"', "steps:"]
    for i in range(n):
        lines += [f'  - id: "s{i}"', "    tool: script", "    action: run", f"    inputs: {{command: 'echo out {i}; echo err {i} >&2'}}"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,100,1000,5000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where HOME (run folders, history) goes; default a temporary folder")
    ap.add_argument("--progress", action="store_true", help="without -q: the progress lines are rendered (to /dev/null)")
    ap.add_argument("--script", action="store_true", help="`script` steps that print a line each (a process and its logs per step)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        tmp = Path(tmp)
        # As on a user's machine: bytecode caches written (this workplace sets
        # PYTHONDONTWRITEBYTECODE, which would recompile every module each run).
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["HOME"] = str(tmp / "home")
        print("| what | median | min–max |\n|---|---|---|")
        for label, med, lo, hi in startup(env):
            print(f"| {label} | {med:.1f} ms | {lo:.1f}–{hi:.1f} |")
        print("\n| N | history on: wall | history off: wall | peak RSS (on) | per step (on) |\n|---|---|---|---|---|")
        for n in (int(s) for s in args.sizes.split(",")):
            recipe = tmp / f"chain-{n}.yaml"
            recipe.write_text(script_chain(n) if args.script else chain(n))
            cmd = [sys.executable, "-m", "localforge", "run", str(recipe), *([] if args.progress else ["-q"])]
            on = [timed(cmd, env) for _ in range(args.repeat)]
            off_env = dict(env, LOCALFORGE_PERSISTENCE="false")
            off = [timed(cmd, off_env) for _ in range(args.repeat)]
            wall_on = statistics.median(w for w, _ in on)
            wall_off = statistics.median(w for w, _ in off)
            rss = max(r for _, r in on)
            print(f"| {n} | {wall_on:.3f} s | {wall_off:.3f} s | {rss:.1f} MB | {wall_on / n * 1e6:.0f} µs |")


if __name__ == "__main__":
    main()
