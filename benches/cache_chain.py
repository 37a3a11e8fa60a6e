"""Time an N-step chain whose every step is cached: without the cache, filling it, and
served from it (issue 27: a chain served from the cache stays well under running it).

The chain is gen_chain.py's (N `file_ops.write` steps, each naming the previous one's
output) with `cache: true` on every step. Each figure is the median of `repeat` runs of
`python -m localforge run … -q`, each filling run in a fresh cache; printed as a Markdown row.

    python benches/cache_chain.py [--steps 1000] [--repeat 5] [--script]

`--script`: each step is instead a `script` step (`sh -c`) writing its file into the run
folder, which the cache cannot see into: the run folder is listed before and after it.
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
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--script", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "chain.yaml"
        recipe.write_text(
            script_chain(a.steps)
            if a.script
            else chain(a.steps).replace('    tool: "file_ops"\n', '    tool: "file_ops"\n    cache: true\n')
        )
        times = {"no cache": [], "filling": [], "served": []}
        for i in range(a.repeat):
            home = Path(tmp) / f"home{i}"
            home.mkdir()
            env = {**os.environ, "HOME": str(home)}
            run = [sys.executable, "-m", "localforge", "run", str(recipe), "-q"]
            times["no cache"].append(timed([*run, "--no-cache"], env))
            times["filling"].append(timed(run, env))
            times["served"].append(timed(run, env))
        row = " | ".join(f"{statistics.median(v):.2f} s ({min(v):.2f}–{max(v):.2f})" for v in times.values())
        what = "`script` steps" if a.script else "`file_ops.write` steps"
        print(f"| {a.steps}-step chain of {what}, `cache: true` on every step | {row} |")


def script_chain(n):
    lines = [f"name: script-chain-{n}", "steps:"]
    for i in range(n):
        prev = f"cat {{{{ workflow.run_dir }}}}/f{i - 1}.txt; " if i else ""
        lines += [f"  - id: s{i}", "    tool: script", "    action: run", "    cache: true"]
        lines += [f"    inputs: {{command: '{prev}echo {i} > {{{{ workflow.run_dir }}}}/f{i}.txt'}}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
