"""Ctrl-C and SIGTERM during a run: child and grandchild processes stopped,
`cleanup.on_failure` run, the run recorded `cancelled`, exit 130."""

import json
import signal
import sqlite3
import time

import pytest

from conftest import process_alive, wait_for_pid

RECIPE = """\
name: interruptible
steps:
  - id: sleeper
    tool: script
    action: run
    inputs:
      command: "sleep 300 & echo $! > {pidfile}; echo $$ > {shpidfile}; wait"
  - id: after
    tool: file_ops
    action: mkdir
    inputs: {{path: "{marker}"}}
cleanup:
  on_failure:
    - action: move
      source: "{{{{ temp_dir }}}}"
      destination: "{moved}"
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_stops_every_process_and_records_cancelled(lf, sig):
    w = lf.work
    rec = lf.write(
        "r.yaml",
        RECIPE.format(pidfile=w / "grandchild.pid", shpidfile=w / "child.pid", marker=w / "after", moved=w / "kept-temp"),
    )
    proc = lf.popen("run", rec, "--json")
    grandchild = wait_for_pid(w / "grandchild.pid")
    child = wait_for_pid(w / "child.pid")
    assert process_alive(grandchild)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["status"] == "cancelled"
    assert doc["steps"]["sleeper"]["status"] == "cancelled"
    assert doc["steps"]["after"]["status"] == "not_run"
    assert not (w / "after").exists()
    assert (w / "kept-temp").is_dir(), "cleanup.on_failure ran"
    time.sleep(0.2)
    assert not process_alive(child), "the script's shell survived"
    assert not process_alive(grandchild), "the script's background child survived"
    con = sqlite3.connect(lf.db)
    assert con.execute("SELECT status FROM runs WHERE run_id = ?", (doc["run_id"],)).fetchone()[0] == "cancelled"
    steps = con.execute("SELECT status FROM steps WHERE run_id = ?", (doc["run_id"],)).fetchall()
    assert steps == [("cancelled",)]


def test_a_run_whose_process_died_shows_as_interrupted(lf):
    w = lf.work
    rec = lf.write(
        "k.yaml",
        f"name: killed\nsteps:\n  - {{id: s, tool: script, action: run, inputs: {{command: 'echo $$ > {w}/sh.pid; sleep 300'}}}}\n",
    )
    proc = lf.popen("run", rec)
    wait_for_pid(w / "sh.pid")
    # History rows are committed in batches a few milliseconds apart: wait for the step's row.
    deadline = time.time() + 10
    while time.time() < deadline:
        con = sqlite3.connect(lf.db)
        running = con.execute("SELECT count(*) FROM steps WHERE status = 'running'").fetchone()[0]
        con.close()
        if running:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    runs = json.loads(lf("history", "--json", check=0).stdout)
    assert runs[0]["recipe"] == "killed" and runs[0]["status"] == "interrupted"
    shown = json.loads(lf("history", "show", runs[0]["run_id"], "--json", check=0).stdout)
    assert shown["steps"][0]["status"] == "interrupted"
    # The script's process group outlives a SIGKILL of LocalForge; stop it here.
    import os

    os.killpg(os.getpgid(int((w / "sh.pid").read_text())), signal.SIGKILL)
