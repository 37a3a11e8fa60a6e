"""The dashboard's runs list with a long history: `localforge ui` in a scratch home whose
history holds N runs (one real run, the rest written straight into the SQLite file, as
`tests/test_ui_live.py` does), and for each kind of page the server's time (median of
the requests, measured from this process over loopback) and the bytes it sends.

    python benches/ui_runs_list.py [--runs 10000] [--repeat 30]
"""

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def get(url: str, token: str) -> tuple[float, int]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        body = r.read()
    return time.perf_counter() - t, len(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=30)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        home, work = Path(d) / "home", Path(d) / "work"
        home.mkdir()
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_")}
        env["HOME"] = str(home)
        (work / "one.yaml").write_text("name: one\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'true'}}\n")
        subprocess.run([sys.executable, "-m", "localforge", "run", "one.yaml", "-q"], cwd=work, env=env, check=True)
        db = home / ".localforge" / "runs.db"
        with sqlite3.connect(db) as c:
            c.executemany(
                "INSERT INTO runs (run_id, recipe, recipe_path, recipe_hash, status, inputs, run_dir, started_at, ended_at, pid, host, steps)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (f"r{i:06d}", f"recipe-{i % 40}", "/r.yaml", "h", "failed" if i % 97 == 0 else "completed", "{}", f"/runs/{i}",
                     f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:00:{i % 60:02d}.000Z", f"2026-11-{1 + i % 28:02d}T{i % 24:02d}:01:00.000Z", 1, "h", 3)
                    for i in range(ns.runs - 1)
                ],
            )  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "localforge", "ui", "--port", "0"],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", proc.stdout.readline())
            base, token = m.group(1), m.group(2)
            pages = {
                "first page (50 rows)": "/api/runs",
                "status=failed": "/api/runs?status=failed",
                "recipe=one (the oldest run, alone)": "/api/runs?recipe=one",
                "text search (run id part)": "/api/runs?text=r00042",
                "date range (one day)": "/api/runs?since=2026-11-03&until=2026-11-03",
                "page 100 (offset 4950)": "/api/runs?offset=4950",
            }
            print(f"runs list with {ns.runs} runs in the history; median and max over {ns.repeat} requests")
            for label, path in pages.items():
                get(base + path, token)
                times, size = [], 0
                for _ in range(ns.repeat):
                    took, size = get(base + path, token)
                    times.append(took)
                times.sort()
                print(f"  {label:38} {statistics.median(times) * 1000:6.1f} ms (max {times[-1] * 1000:6.1f}), {size:6d} bytes")
            weight = sum(get(base + p, token)[1] for p in ("/", "/static/app.js", "/static/app.css"))
            first = get(base + "/api/runs", token)[1]
            print(f"  page weight: {weight} bytes of page, script and style (uncompressed) + {first} bytes for the first page of runs")
            doc = json.loads(
                urllib.request.urlopen(
                    urllib.request.Request(base + "/api/runs?limit=1", headers={"Authorization": f"Bearer {token}"})
                ).read()
            )
            assert doc["total"] == ns.runs, doc["total"]
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
