"""The Python API's cost over the engine's own time, and the cost of watching events.

1. `localforge.run("hello-localforge")` in this process, against the run's own
   `duration_s` (the engine's time from run start to end): the difference is
   what the API adds (resolving the recipe, config, tools, preflight, thread
   hand-off, converting the report).
2. The 5000-step chain (`gen_chain.py`, the 0.x baseline's recipe) run with and
   without an `on_event` subscriber, interleaved: the engine sends every event
   through a channel and Python reads them in batches on this thread.

History and run folders go to a scratch HOME (`--dir`, default a temp folder).

    python benches/api_overhead.py [--steps 5000] [--repeat 7] [--dir /dev/shm/x]
"""

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from gen_chain import chain  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--dir", default=None)
    ns = ap.parse_args()
    scratch = Path(ns.dir or tempfile.mkdtemp(prefix="lf-api-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(scratch)
    os.chdir(scratch)
    import localforge

    localforge.run("hello-localforge")  # warm: imports, first config and tool loading
    walls, engine = [], []
    for _ in range(ns.repeat * 3):
        t = time.perf_counter()
        report = localforge.run("hello-localforge")
        walls.append(time.perf_counter() - t)
        engine.append(report["duration_s"])
    over = [w - e for w, e in zip(walls, engine)]
    print(
        f"hello-localforge: localforge.run {statistics.median(walls) * 1000:.1f} ms, engine {statistics.median(engine) * 1000:.1f} ms, "
        f"API overhead {statistics.median(over) * 1000:.1f} ms (min {min(over) * 1000:.1f}, max {max(over) * 1000:.1f})"
    )

    recipe = scratch / f"chain-{ns.steps}.yaml"
    recipe.write_text(chain(ns.steps))
    counted = []

    def subscriber(event):
        counted.append(event["type"])

    # Pairs in alternating order (plain first, then watched first), so drift in the
    # machine's speed falls on both; the figure is the median of the pairs' ratios.
    ratios, plain, watched, cpu = [], [], [], {"plain": [], "watched": []}
    for i in range(ns.repeat):
        pair = {}
        for kind in ("plain", "watched") if i % 2 == 0 else ("watched", "plain"):
            counted.clear()
            before = resource.getrusage(resource.RUSAGE_SELF)
            t = time.perf_counter()
            report = localforge.run(recipe, on_event=subscriber if kind == "watched" else None)
            pair[kind] = time.perf_counter() - t
            after = resource.getrusage(resource.RUSAGE_SELF)
            cpu[kind].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            assert report["status"] == "completed", report["error"]
            if kind == "watched":
                events = len(counted)
        plain.append(pair["plain"])
        watched.append(pair["watched"])
        ratios.append(pair["watched"] / pair["plain"])
    a, b = statistics.median(plain), statistics.median(watched)
    print(
        f"chain-{ns.steps}: without subscriber {a:.3f} s (min {min(plain):.3f}), with on_event {b:.3f} s (min {min(watched):.3f}) "
        f"for {events} events; median of pair ratios {100 * (statistics.median(ratios) - 1):+.1f}%; "
        f"CPU {statistics.median(cpu['plain']):.3f} s vs {statistics.median(cpu['watched']):.3f} s"
    )


if __name__ == "__main__":
    main()
