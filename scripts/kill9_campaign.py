"""kill -9 campaign: start a recipe, SIGKILL LocalForge at a random moment, then
`resume` the run. Three recipe shapes (a chain of `script` steps, a parallel
`batch.foreach`, a DAG with parallel branches), `--runs` runs in all.

Every step's command first appends its record id to exec.log and its shell's pid
to pids.log. After each kill, the history says which steps and items had
completed; after the resume:
- re-run: a record id whose completion was recorded before the kill that ran
  again (must be 0: completed steps and items are kept),
- orphans: a process of a step still alive after the kill and the resume (must
  be 0: the watchdog stops step process groups when LocalForge dies),
- resumable: `resume RUN_ID` exits 0 and the run ends `completed`.

`--runs` counts runs that were killed (one that ended before its kill time is
tried again).

    python scripts/kill9_campaign.py [--runs 50] [--seed 1] [--dir /tmp/x] [--json out.json]
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEP = "echo {rec} >> {w}/exec.log; echo $$ >> {w}/pids.log; sleep {t}"


def chain(w: Path, rnd: random.Random) -> str:
    steps = "".join(
        f"  - {{id: s{i}, tool: script, action: run, inputs: {{command: '{STEP.format(rec=f's{i}', w=w, t=round(rnd.uniform(0.05, 0.25), 2))}'}}}}\n"
        for i in range(8)
    )
    return f"name: chain\nsteps:\n{steps}"


def batch(w: Path, rnd: random.Random) -> str:
    t = round(rnd.uniform(0.1, 0.25), 2)
    work = STEP.format(rec="each[{{ item_index }}].work", w=w, t=t)
    after = STEP.format(rec="each[{{ item_index }}].after", w=w, t=0.02)
    return (
        "name: batch\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n"
        f"      items: [{', '.join(str(i) for i in range(12))}]\n      parallel: 2\n      workflow_steps:\n"
        f"        - {{id: work, tool: script, action: run, inputs: {{command: '{work}'}}}}\n"
        f"        - {{id: after, tool: script, action: run, inputs: {{command: '{after}'}}}}\n"
        f"  - {{id: last, tool: script, action: run, inputs: {{command: '{STEP.format(rec='last', w=w, t=0.05)}'}}}}\n"
    )


def dag(w: Path, rnd: random.Random) -> str:
    deps = {"root": [], "a1": ["root"], "a2": ["a1"], "b1": ["root"], "b2": ["b1"], "c1": ["root"], "join": ["a2", "b2", "c1"]}
    steps = ""
    for sid, d in deps.items():
        cmd = STEP.format(rec=sid, w=w, t=round(rnd.uniform(0.05, 0.3), 2))
        steps += f"  - {{id: {sid}, tool: script, action: run, depends_on: [{', '.join(d)}], inputs: {{command: '{cmd}'}}}}\n"
    return f"name: dag\nsteps:\n{steps}"


# shape -> (recipe, latest kill time in seconds: before the shortest such run ends)
SHAPES = {"chain": (chain, 0.9), "batch": (batch, 0.9), "dag": (dag, 0.7)}


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(") ", 1)[1].startswith("Z")


def one(root: Path, shape: str, rnd: random.Random, env: dict) -> dict:
    w = root / f"{shape}-{rnd.randrange(10**9)}"
    w.mkdir()
    make, span = SHAPES[shape]
    recipe = w / "r.yaml"
    recipe.write_text(make(w, rnd))
    proc = subprocess.Popen([sys.executable, "-m", "localforge", "run", str(recipe), "--json"], env=env, cwd=w,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    time.sleep(rnd.uniform(0.25, span))
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    con = sqlite3.connect(env["HOME"] + "/.localforge/runs.db")
    row = con.execute("SELECT run_id, status FROM runs WHERE recipe_path = ? ORDER BY started_at DESC LIMIT 1", (str(recipe),)).fetchone()
    if row is not None and row[1] == "completed":
        killed = False  # the kill came as the finished run's process was exiting: tried again
    out = {"shape": shape, "killed": killed, "rerun": [], "orphans": [], "resumable": True, "completed_before": 0, "folder": str(w)}
    if row is None or not killed:  # killed before the run's row existed, or it ended first: nothing to resume
        out["no_row"] = True
        return out
    run_id = row[0]
    done = {r for (r,) in con.execute("SELECT step_id FROM steps WHERE run_id = ? AND status = 'completed'", (run_id,))}
    con.close()
    out["completed_before"] = len(done)
    log = w / "exec.log"
    before = len(log.read_text().splitlines()) if log.exists() else 0
    time.sleep(0.3)  # the watchdog's grace
    res = subprocess.run([sys.executable, "-m", "localforge", "resume", run_id, "--json"], env=env, cwd=w, capture_output=True, text=True)
    try:
        status = json.loads(res.stdout)["status"]
    except (ValueError, KeyError):
        status = None
    out["resumable"] = res.returncode == 0 and status == "completed"
    if not out["resumable"]:
        out["resume_error"] = (res.stderr or res.stdout)[-500:]
    after = log.read_text().splitlines()[before:] if log.exists() else []
    out["rerun"] = sorted(set(after) & done)
    time.sleep(0.2)
    pids = [int(p) for p in (w / "pids.log").read_text().split()] if (w / "pids.log").exists() else []
    out["orphans"] = [p for p in pids if alive(p)]
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    ns = ap.parse_args()
    rnd = random.Random(ns.seed)
    root = Path(ns.dir or tempfile.mkdtemp(prefix="lf-kill9-"))
    root.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_")}
    env.update(HOME=str(root), NO_COLOR="1")
    results = []
    shapes = list(SHAPES)
    i = 0
    while sum(r["killed"] for r in results) < ns.runs and len(results) < 2 * ns.runs:
        r = one(root, shapes[i % len(shapes)], rnd, env)
        results.append(r)
        i += r["killed"]  # a run that ended before its kill time is tried again with the same shape
        flag = "" if (r["resumable"] and not r["rerun"] and not r["orphans"]) else "  <-- PROBLEM"
        print(f"{len(results):3} {r['shape']:6} killed={r['killed']!s:5} completed-before={r['completed_before']:2} "
              f"rerun={len(r['rerun'])} orphans={len(r['orphans'])} resumable={r['resumable']}{flag}", flush=True)  # fmt: skip
        if "resume_error" in r:  # what `resume` said, and the run's folder kept for a look
            print(f"    resume of {r['folder']} said: {r['resume_error']}", flush=True)
    summary = {
        "runs": len(results),
        "killed": sum(r["killed"] for r in results),
        "resumed": sum(not r.get("no_row") for r in results),
        "completed_before_kill": sum(r["completed_before"] for r in results),
        "rerun_after_completing": sum(len(r["rerun"]) for r in results),
        "orphans": sum(len(r["orphans"]) for r in results),
        "not_resumable": sum(not r["resumable"] for r in results),
    }
    print(json.dumps(summary))
    if ns.json:
        Path(ns.json).write_text(json.dumps({"summary": summary, "runs": results}, indent=1))
    return 0 if summary["rerun_after_completing"] == summary["orphans"] == summary["not_resumable"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
