"""Wall time of `python -m localforge system --json` with every service down
(connections refused at once, as on a machine with nothing started), the case
0.x measured at ~160 ms (../shared/bench/BASELINE-0x.md). The first call runs
every tool's `--version` (Blender takes ~0.5 s) and caches the answers; the
figure that matters is the warm one, reported separately.

    python benches/system_report.py [--repeat 15]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=15)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        home = Path(d)
        down = "http://127.0.0.1:9"
        (home / "localforge.yaml").write_text(
            f"services:\n  ollama: {{host: '{down}'}}\n  sd: {{host: '{down}'}}\n  comfyui: {{host: '{down}'}}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_") and k != "PYTHONDONTWRITEBYTECODE"}
        env["HOME"] = str(home)

        def once() -> float:
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "localforge", "system", "--json"], cwd=home, env=env, check=True, capture_output=True)
            return time.perf_counter() - t

        cold = once()
        warm = sorted(once() for _ in range(ns.repeat))
        print(f"system --json, services refused: first call {cold * 1000:.0f} ms (tool versions read and cached)")
        print(
            f"warm: median {statistics.median(warm) * 1000:.0f} ms, min {warm[0] * 1000:.0f}, max {warm[-1] * 1000:.0f} ms "
            f"over {ns.repeat} runs (0.x: 159 ms)"
        )


if __name__ == "__main__":
    main()
