"""Runs seen and controlled from another process: a run the CLI started is cancelled
through `localforge.cancel` here (exit 130, no process left), its step's output is read
live while it prints, per attempt, and found among many runs by the history's filters."""

import json
import os

import pytest

import localforge
from conftest import process_alive, running_run, wait_until

TICKS = """name: ticks
steps:
  - id: tick
    tool: script
    action: run
    inputs: {command: 'echo $$ > pid; for i in $(seq 1 60); do echo "tick $i"; echo "err $i" >&2; sleep 0.2; done'}
"""


def test_a_cli_run_is_read_live_and_cancelled_from_another_process(lf, monkeypatch):
    lf.write("ticks.yaml", TICKS)
    proc = lf.popen("run", "ticks.yaml", "--json")
    monkeypatch.setenv("HOME", str(lf.home))  # this process reads the CLI's history
    run_id = wait_until("the run's history row", lambda: running_run(lf.db))
    assert localforge.run_status(run_id) == "running" and localforge.run_status("nope") is None

    # Live: the step's output grows as it prints, in order, read on from where it ended.
    first = wait_until("the first ticks", lambda: (p := localforge.step_log(run_id, "tick", offset=0)) and "tick 3" in p["text"] and p)
    assert first["status"] == "running" and first["attempt"] == 1 and first["text"].startswith("tick 1\ntick 2\n")
    more = wait_until("later ticks", lambda: (p := localforge.step_log(run_id, "tick", offset=first["end"])) and "\n" in p["text"] and p)
    seen = (first["text"] + more["text"]).splitlines()
    assert seen == [f"tick {i}" for i in range(1, len(seen) + 1)], seen
    err = localforge.step_log(run_id, "tick", channel="stderr", offset=0)
    assert err["text"].startswith("err 1\n")
    assert localforge.search_step_log(run_id, "tick", "TICK 2")[0] == {"line": 2, "offset": 7, "text": "tick 2"}

    # Cancel from here: the CLI's run stops as on Ctrl-C.
    pid = int(wait_until("the step's pid", lambda: next(iter(lf.runs.glob(f"{run_id}/**/pid")), None)).read_text())
    localforge.cancel(run_id)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert json.loads(out)["status"] == "cancelled"
    assert not process_alive(pid), "the step's process was stopped"
    assert localforge.run_status(run_id) == "cancelled"
    with pytest.raises(localforge.errors.RecipeError, match="has already ended"):
        localforge.cancel(run_id)

    # After the run: the cancelled attempt's output is kept, and the history says where.
    detail = localforge.history_show(run_id)
    logs = {log["channel"]: log for log in detail["steps"][0]["logs"]}
    assert logs["stdout"]["path"].endswith(f"{run_id}/logs/tick.1.stdout.log") and logs["stdout"]["bytes"] > 0
    tail = localforge.step_log(run_id, "tick", offset=-12)
    assert tail["status"] == "cancelled" and tail["end"] == tail["size"] and tail["text"].startswith("tick ")


def test_each_attempt_keeps_its_own_output(home):
    (home / "retry.yaml").write_text(
        "name: retry\nsteps:\n  - id: s\n    tool: script\n    action: run\n    on_failure: retry\n    retry_count: 1\n"
        "    inputs: {command: 'test -f once && echo second || { touch once; echo first; exit 1; }'}\n"
    )
    report = localforge.run(str(home / "retry.yaml"))
    assert report["status"] == "completed"
    rid = report["run_id"]
    assert localforge.step_log(rid, "s", attempt=1, offset=0)["text"] == "first\n"
    assert localforge.step_log(rid, "s", offset=0)["text"] == "second\n", "the newest attempt by default"
    assert localforge.step_log(rid, "s", attempt=3) is None and localforge.step_log("nope", "s") is None
    with pytest.raises(localforge.errors.UsageError, match="stdout` or `stderr"):
        localforge.step_log(rid, "s", channel="both")


def test_the_runs_filters_find_an_old_run_among_many(home):
    (home / "a.yaml").write_text("name: old-one\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'true'}}\n")
    (home / "b.yaml").write_text("name: newer\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'true'}}\n")
    old = localforge.run(str(home / "a.yaml"))["run_id"]
    for _ in range(3):
        localforge.run(str(home / "b.yaml"))
    page = localforge.runs(limit=2)
    assert (page["total"], len(page["runs"]), page["recipes"]) == (4, 2, ["newer", "old-one"])
    found = localforge.runs(recipe="old-one")
    assert [r["run_id"] for r in found["runs"]] == [old] and found["runs"][0]["steps_done"] == found["runs"][0]["steps_total"] == 1
    assert localforge.runs(text=old[-6:].upper())["total"] == 1
    with pytest.raises(localforge.errors.UsageError):
        localforge.runs(limit=0)
    assert os.environ["HOME"].endswith("home")
