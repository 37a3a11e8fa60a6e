"""Parallel runs, cancellation and resume through the CLI: no process outlives
LocalForge (not even after `kill -9`), and `resume` continues where a run
stopped, in the same folder and history row."""

import json
import os
import signal
import sqlite3
import time

from conftest import process_alive, wait_for_pid

DAG = """\
name: fan-out
steps:
  - id: first
    tool: script
    action: run
    inputs: {{command: "echo x >> {work}/first.count; echo ready"}}
  - id: left
    tool: script
    action: run
    depends_on: [first]
    inputs: {{command: "echo $$ > {work}/left.pid; [ -e {work}/go ] || exec sleep 60"}}
  - id: right
    tool: script
    action: run
    depends_on: [first]
    inputs: {{command: "sleep 60 & echo $! > {work}/right.pid; [ -e {work}/go ] && exit 0; wait"}}
  - id: join
    tool: file_ops
    action: write
    inputs: {{path: "{work}/joined.txt", content: "{{{{ steps.first.outputs.stdout | trim }}}}"}}
    depends_on: [left, right]
"""


def _gone(pid, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not process_alive(pid):
            return True
        time.sleep(0.05)
    return False


def _run_id(lf):
    return sqlite3.connect(lf.db).execute("SELECT run_id FROM runs ORDER BY started_at DESC").fetchone()[0]


def test_kill_9_leaves_no_process_behind_and_the_run_resumes(lf):
    rec = lf.write("dag.yaml", DAG.format(work=lf.work))
    proc = lf.popen("run", rec)
    left, right = wait_for_pid(lf.work / "left.pid"), wait_for_pid(lf.work / "right.pid")
    assert process_alive(left) and process_alive(right), "both branches run at once"
    time.sleep(0.3)  # let the history commit `first`
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    assert _gone(left) and _gone(right), "the watchdog stops the step processes of a killed run"

    run_id = _run_id(lf)
    shown = json.loads(lf("history", "show", run_id, "--json", check=0).stdout)
    assert shown["status"] == "interrupted"
    (lf.work / "go").write_text("")
    doc = json.loads(lf("resume", run_id, "--json", "-q", check=0).stdout)
    assert doc["run_id"] == run_id and doc["status"] == "completed"
    assert (lf.work / "first.count").read_text().count("x") == 1, "`first` is not run again"
    assert (lf.work / "joined.txt").read_text() == "ready", "its outputs come from the history"
    assert doc["run_dir"] == shown["run_dir"]
    con = sqlite3.connect(lf.db)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (1,)
    assert con.execute("SELECT status FROM runs").fetchone() == ("completed",)


def test_ctrl_c_cancels_every_running_branch(lf):
    rec = lf.write("dag.yaml", DAG.format(work=lf.work))
    proc = lf.popen("run", rec, "--json")
    left, right = wait_for_pid(lf.work / "left.pid"), wait_for_pid(lf.work / "right.pid")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    doc = json.loads(out)
    assert doc["status"] == "cancelled"
    assert doc["steps"]["left"]["status"] == "cancelled" and doc["steps"]["right"]["status"] == "cancelled"
    assert doc["steps"]["join"]["status"] == "not_run"
    assert _gone(left, 1) and _gone(right, 1)
    assert "Traceback" not in err


def test_resume_refuses_a_changed_recipe_unless_forced(lf):
    rec = lf.write("r.yaml", "name: r\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'exit 1'}}\n")
    lf("run", rec, "-q", check=1)
    run_id = _run_id(lf)
    rec.write_text("name: r\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'exit 0'}}\n")
    err = lf("resume", run_id, check=2).stderr
    assert f"the recipe `{rec}` changed since run `{run_id}` started" in err and "--force" in err
    doc = json.loads(lf("resume", run_id, "--force", "--json", "-q", check=0).stdout)
    assert doc["status"] == "completed"
    steps = sqlite3.connect(lf.db).execute("SELECT attempt, status FROM steps WHERE step_id = 'a' ORDER BY attempt").fetchall()
    assert steps == [(1, "failed"), (2, "completed")]
    err = lf("resume", run_id, check=2).stderr
    assert "completed; there is nothing to resume" in err
    err = lf("resume", "no-such-run", check=2).stderr
    assert "no run `no-such-run` in the history" in err and "localforge history" in err


def test_dry_run_shows_levels_critical_path_and_capacity(lf):
    rec = lf.write("dag.yaml", DAG.format(work=lf.work))
    lf.write("localforge.yaml", "max_parallel: 3\nresources: {vram_gb: 12}\n")
    plan = json.loads(lf("run", rec, "--dry-run", "--json", check=0).stdout)
    assert plan["levels"] == [["first"], ["left", "right"], ["join"]]
    assert plan["critical_path"] == ["first", "left", "join"]
    assert plan["capacity"] == {"cpu": 3, "ram_gb": 0.0, "vram_gb": 12.0}
    out = lf("run", rec, "--dry-run", check=0).stdout
    assert "estimated): first → left → join" in out and "up to 3 steps at once, 12.0 GB VRAM" in out
    big = lf.write(
        "big.yaml", "name: b\nsteps:\n  - {id: g, tool: script, action: run, resources: {vram_gb: 40}, inputs: {command: 'true'}}\n"
    )
    err = lf("run", big, "--dry-run", check=2).stderr
    assert "step `g`: `script.run` needs ~40.0 GB of VRAM (declared in `resources`); this GPU has 12.0 GB free" in err
    assert "hint: lower the step's `resources.vram_gb`" in err
    out = lf("run", big, "--dry-run", "--force", check=0).stdout
    assert "can never fit: needs 40.0 GB of VRAM, the GPU has 12.0 GB" in out


def test_resume_refuses_a_live_run_and_a_missing_recipe(lf):
    rec = lf.write("dag.yaml", DAG.format(work=lf.work))
    proc = lf.popen("run", rec)
    wait_for_pid(lf.work / "left.pid")
    run_id = _run_id(lf)
    err = lf("resume", run_id, check=2).stderr
    assert f"run `{run_id}` is still running" in err
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    rec.unlink()
    err = lf("resume", run_id, check=2).stderr
    assert f"the recipe of run `{run_id}` is gone: `{rec}`" in err and "put the recipe back" in err
