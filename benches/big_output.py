"""Memory of a step that prints a lot: a `script` step writing `--mb` MB to stdout,
run through the CLI. Reports the CLI process's peak RSS (`VmHWM` from /proc,
so the printing program, a child, is not counted), the size of what the step's
outputs keep, and that its history row was written.

    python benches/big_output.py [--mb 1024] [--dir /dev/shm/x]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1024)
    ap.add_argument("--dir", default=None)
    ns = ap.parse_args()
    scratch = Path(ns.dir or tempfile.mkdtemp(prefix="lf-big-output-"))
    scratch.mkdir(parents=True, exist_ok=True)
    recipe = scratch / "big.yaml"
    recipe.write_text(
        "name: big-output\nsteps:\n  - id: loud\n    tool: script\n    action: run\n    inputs:\n"
        f"      command: \"yes 'a line of output, again and again' | head -c {ns.mb * 1024 * 1024}\"\n"
    )
    env = {**os.environ, "HOME": str(scratch)}
    t = time.perf_counter()
    report = scratch / "report.json"
    with open(report, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "localforge", "run", str(recipe), "--json"], env=env, cwd=scratch,
                                stdout=out, stderr=subprocess.DEVNULL)  # fmt: skip
        peak = 0
        while proc.poll() is None:
            peak = max(peak, rss_kb(proc.pid))
            time.sleep(0.02)
    wall = time.perf_counter() - t
    doc = json.loads(report.read_text())
    step = doc["steps"]["loud"]
    log = Path(step["outputs"]["stdout_file"])
    print(f"{ns.mb} MB printed: status {doc['status']}, step {step['status']}, {wall:.1f} s, peak RSS {peak / 1024:.1f} MB "
          f"(VmHWM of the CLI process), stdout kept {len(step['outputs']['stdout'])} chars, log {log.stat().st_size / 2**20:.0f} MB")  # fmt: skip
    shown = subprocess.run([sys.executable, "-m", "localforge", "history", "show", doc["run_id"], "--json"], env=env,
                           capture_output=True, text=True, check=True)  # fmt: skip
    print("history row:", json.loads(shown.stdout)["steps"][0]["status"])


if __name__ == "__main__":
    main()
