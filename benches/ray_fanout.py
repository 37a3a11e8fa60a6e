"""The Ray executor against local runs: a fan-out of 200 independent `sleep 0.5` steps.

    .venv/bin/python benches/ray_fanout.py [--steps 200] [--slots 4]

Runs the recipe three ways with the same number of slots per machine (`--slots`:
`max_parallel` locally, `--num-cpus` per Ray node): on this machine, on a one-node Ray
cluster and on a two-node one (both started here by `localforge ray-node`). The ideal
time is steps × 0.5 s / slots; what a run takes above it, spread over the steps each slot
ran, is the per-step overhead. Results go to docs/benchmarks.md by hand.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from raycluster import Cluster  # noqa: E402

SLEEP = 0.5


def recipe(steps: int) -> str:
    out = ["name: fan-out", "steps:"]
    for i in range(steps):
        out += [f"  - id: s{i}", "    tool: script", "    action: run", "    depends_on: []", f"    inputs: {{command: 'sleep {SLEEP}'}}"]
    return "\n".join(out) + "\n"


def timed(path: Path, env: dict, *extra: str) -> float:
    cmd = [sys.executable, "-m", "localforge", "run", str(path), "--json", "-q", "--no-cache", *extra]
    t = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=path.parent)
    took = time.perf_counter() - t
    report = json.loads(out.stdout)
    assert report["status"] == "completed", out.stderr[-2000:]
    return took


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--slots", type=int, default=4)
    ns = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="lf-raybench-"))
    path = root / "fanout.yaml"
    path.write_text(recipe(ns.steps))
    rows = []
    for nodes in (0, 1, 2):
        cluster = Cluster(root / f"c{nodes}", plugins=REPO / "tests" / "fixtures" / "ray", cpus=ns.slots)
        env = dict(cluster.env, LOCALFORGE_MAX_PARALLEL=str(ns.slots))
        try:
            if nodes:
                cluster.start(nodes)
                timed(path, env, "--executor", f"ray:{cluster.address}")  # each node starts its workers
                took = timed(path, env, "--executor", f"ray:{cluster.address}")
            else:
                took = timed(path, env)
        finally:
            cluster.stop()
        slots = ns.slots * max(nodes, 1)
        ideal = ns.steps * SLEEP / slots
        per_step = (took - ideal) / (ns.steps / slots)
        rows.append((f"Ray, {nodes} node{'s' if nodes > 1 else ''}" if nodes else "local", slots, ideal, took, per_step))
    print(f"{ns.steps} independent `sleep {SLEEP}` steps, {ns.slots} slots per machine, {os.cpu_count()} cores\n")
    print("| executor | slots | ideal (s) | measured (s) | overhead per step (ms) |")
    print("|---|---|---|---|---|")
    for name, slots, ideal, took, per_step in rows:
        print(f"| {name} | {slots} | {ideal:.1f} | {took:.1f} | {per_step * 1000:.0f} |")
    print(f"\nspeed-up of 2 nodes over 1: {rows[1][3] / rows[2][3]:.2f}x (bound: 2x, the slot count)")


if __name__ == "__main__":
    main()
