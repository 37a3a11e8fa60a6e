"""`localforge run` end to end through the real CLI: outputs, JSON shape,
inputs, history rows, exit codes."""

import json
import os
import sqlite3
from pathlib import Path

from conftest import REPO, process_alive

HELLO = REPO / "recipes" / "getting-started" / "hello-localforge.yaml"


def test_hello_localforge_writes_its_report(lf):
    proc = lf("run", HELLO, "-i", "name=Ada", "-i", "languages=en,es", "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "completed"
    assert set(doc) >= {"run_id", "status", "outputs", "steps", "run_dir", "error"}
    report = Path(doc["outputs"]["report"])
    text = report.read_text()
    assert "# Hello, Ada!" in text
    assert "- greeting-en.txt" in text and "- greeting-es.txt" in text
    assert (report.parent / "greeting-es.txt").read_text() == "Hola, Ada!\n"
    assert doc["outputs"]["greetings"] == 2
    assert Path(doc["run_dir"]).name == doc["run_id"]
    assert not (Path(doc["run_dir"]) / "temp").exists(), "cleanup.on_success deletes temp_dir"
    step = doc["steps"]["greet"]
    assert step["status"] == "completed" and step["attempts"] == 1 and step["error"] is None
    assert step["started_at"] <= step["ended_at"]
    assert "▶ greet" in proc.stderr, "progress goes to stderr"


def test_history_has_a_row_per_run_and_step(lf):
    doc = json.loads(lf("run", HELLO, "--json", "-q", check=0).stdout)
    con = sqlite3.connect(lf.db)
    (status, recipe) = con.execute("SELECT status, recipe FROM runs WHERE run_id = ?", (doc["run_id"],)).fetchone()
    assert (status, recipe) == ("completed", "hello-localforge")
    steps = [r[0] for r in con.execute("SELECT step_id FROM steps WHERE run_id = ? ORDER BY rowid", (doc["run_id"],))]
    assert steps[0] == "workspace" and "greet[2].write" in steps and steps[-1] == "check"
    listing = json.loads(lf("history", "--json", check=0).stdout)
    assert listing[0]["run_id"] == doc["run_id"] and listing[0]["duration_s"] >= 0
    shown = lf("history", "show", doc["run_id"], check=0).stdout
    assert "hello-localforge — completed" in shown and "greet[1].write" in shown
    lf("run", HELLO, "-q", check=0)
    assert len(json.loads(lf("history", "--limit", "1", "--json", check=0).stdout)) == 1, "0.x's --limit"


def test_run_by_name_and_list_inputs(lf):
    proc = lf("run", "hello-localforge", "--list-inputs", check=0)
    assert "name (string, default: world)" in proc.stdout
    assert "languages (list" in proc.stdout


def test_bad_input_values_exit_2_before_anything_runs(lf):
    rec = lf.write(
        "typed.yaml",
        "name: typed\ninputs:\n  - {name: n, type: integer, required: true}\n  - {name: mode, choices: [a, b], default: a}\n"
        "steps:\n  - {id: s, tool: file_ops, action: mkdir, inputs: {path: '{{ temp_dir }}/{{ inputs.n }}'}}\n",
    )
    proc = lf("run", rec, "-i", "n=abc", "-i", "mode=c", "-i", "nn=1", check=2)
    assert "input `n`: expected a whole number, got `abc`" in proc.stderr
    assert "`c` is not one of the choices `a`, `b`" in proc.stderr
    assert "unknown input `nn`" in proc.stderr and "did you mean `n`?" in proc.stderr
    missing = lf("run", rec, check=2)
    assert "missing required input `n`" in missing.stderr
    assert not lf.db.exists()
    ok = json.loads(lf("run", rec, "-i", "n=7", "--json", check=0).stdout)
    assert ok["steps"]["s"]["outputs"]["created"].endswith("/temp/7")


def test_failed_step_exits_1_with_the_error(lf):
    rec = lf.write("fail.yaml", "name: fail\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'echo boom >&2; exit 3'}}\n")
    proc = lf("run", rec, "--json", check=1)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "failed"
    assert doc["steps"]["s"]["error"] == "script exited with code 3: boom"
    assert "step `s` failed" in doc["error"]


def test_dry_run_prints_the_plan_without_running(lf):
    rec = lf.write(
        "dag.yaml",
        "name: dag\nsteps:\n"
        "  - {id: a, depends_on: [], tool: file_ops, action: mkdir, inputs: {path: /tmp/lf-a}}\n"
        "  - {id: b, depends_on: [], tool: file_ops, action: mkdir, inputs: {path: /tmp/lf-b}, resources: {gpu: true, vram_gb: 4}}\n"
        "  - {id: c, depends_on: [a, b], tool: file_ops, action: mkdir, inputs: {path: /tmp/lf-c}}\n",
    )
    # Step `b` declares a GPU: on a machine without one that is refused before anything runs.
    if not json.loads(lf("system", "--json").stdout)["hardware"]["gpus"]:
        refused = json.loads(lf("run", rec, "--dry-run", "--json", check=2).stdout)
        assert "step `b` declares a GPU in its `resources`, and this machine has none" in refused["errors"][0]["message"]
    lf.write("localforge.yaml", "resources: {vram_gb: 8}\n")  # a GPU to plan with
    doc = json.loads(lf("run", rec, "--dry-run", "--json", check=0).stdout)
    assert doc["levels"] == [["a", "b"], ["c"]]
    assert doc["steps"][1]["resources"]["vram_gb"] == 4
    assert not lf.db.exists()
    text = lf("run", rec, "--dry-run", check=0).stdout
    assert "level 2:" in text and "c  file_ops.mkdir  after a, b" in text


def test_usage_errors_exit_2(lf):
    assert "unknown command `rn`" in lf("rn", check=2).stderr
    assert "did you mean `run`?" in lf("rn", check=2).stderr
    assert "is not KEY=VALUE" in lf("run", HELLO, "-i", "novalue", check=2).stderr
    assert "recipe `nope` not found" in lf("run", "nope", check=2).stderr
    assert lf(check=2).stdout.startswith("usage: localforge")
    assert lf("--help", check=0).stdout.startswith("usage: localforge")


def test_malformed_config_names_file_line_and_key(lf):
    (lf.work / "localforge.yaml").write_text("persistence:\n  enabled: maybe\n")
    proc = lf("run", HELLO, check=2)
    assert "localforge.yaml:2:12: configuration key `persistence.enabled` must be true or false" in proc.stderr


def test_config_and_environment_choose_where_runs_go(lf):
    (lf.work / "localforge.yaml").write_text(f"run_dir: {lf.work / 'my-runs'}\npersistence:\n  db_path: {lf.work / 'h.db'}\n")
    doc = json.loads(lf("run", HELLO, "--json", "-q", check=0).stdout)
    assert Path(doc["run_dir"]).parent == lf.work / "my-runs"
    assert (lf.work / "h.db").exists()
    lf.env["LOCALFORGE_PERSISTENCE"] = "false"
    lf.env["LOCALFORGE_RUN_DIR"] = str(lf.work / "env-runs")
    doc = json.loads(lf("run", HELLO, "--json", "-q", check=0).stdout)
    assert Path(doc["run_dir"]).parent == lf.work / "env-runs"
    con = sqlite3.connect(lf.work / "h.db")
    assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1, "persistence off writes no history"


def test_list_and_list_tools(lf):
    out = lf("list", check=0).stdout
    assert "getting-started/" in out and "hello-localforge" in out
    tools = json.loads(lf("list-tools", "--json", check=0).stdout)
    by_name = {t["name"]: t for t in tools}
    assert by_name["file_ops"]["kind"] == "native"
    assert "copy_multiple" in by_name["file_ops"]["actions"]
    assert by_name["batch"]["actions"] == ["foreach"]
    assert all(by_name[n]["available"] for n in ("file_ops", "script", "batch", "ollama", "sd_client"))
    assert by_name["ffmpeg"]["available"] == bool(__import__("shutil").which("ffmpeg"))


def test_list_into_a_closed_pipe_prints_no_traceback(lf):
    import subprocess
    import sys

    proc = subprocess.run(
        f"{sys.executable} -m localforge list-tools | head -c 5",
        shell=True,
        cwd=lf.work,
        env=lf.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr and "Error" not in proc.stderr


def test_a_failed_run_says_why_on_stderr_not_stdout(lf):
    rec = lf.write("fail.yaml", "name: fail\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'exit 3'}}\n")
    proc = lf("run", rec, check=1)
    assert "error: step `s` failed" in proc.stderr
    assert "error" not in proc.stdout and proc.stdout.startswith("failed: fail")


def test_what_a_step_leaves_running_is_stopped_unless_it_detaches(lf):
    pids = {}
    for detach in ("false", "true"):
        pidfile = lf.work / f"pid-{detach}"
        rec = lf.write(
            f"bg-{detach}.yaml",
            f"name: bg\nsteps:\n  - {{id: s, tool: script, action: run, inputs: {{command: 'sleep 300 >/dev/null 2>&1 & echo $! > {pidfile}', detach: {detach}}}}}\n",
        )
        lf("run", rec, "-q", check=0)
        pids[detach] = int(pidfile.read_text())
    try:
        assert not process_alive(pids["false"]), "a leftover background process was not stopped"
        assert process_alive(pids["true"]), "`detach: true` keeps it running"
    finally:
        for pid in pids.values():
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass


def test_yaml_merge_keys_share_step_settings(lf):
    rec = lf.write(
        "merge.yaml",
        "name: merge\nsteps:\n"
        "  - &base {id: a, tool: script, action: run, timeout: 30, inputs: {command: 'echo a'}}\n"
        "  - <<: *base\n"
        "    id: b\n"
        "    inputs: {command: 'echo b'}\n",
    )
    assert lf("validate", rec).returncode == 0
    doc = json.loads(lf("run", rec, "--json", "-q").stdout)
    assert doc["steps"]["a"]["outputs"]["stdout"] == "a\n" and doc["steps"]["b"]["outputs"]["stdout"] == "b\n"


def test_a_step_that_prints_a_lot_keeps_a_tail_and_the_whole_log_in_the_run_folder(lf):
    """Issue 14 item 5: 20 MB of output no longer lives in memory, outputs and the
    history; the step's outputs keep the last 64 KB and say where all of it is."""
    rec = lf.write(
        "loud.yaml",
        "name: loud\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'seq 1 3000000; echo done'}}\n"
        "  - {id: t, tool: file_ops, action: read, inputs: {path: '{{ steps.s.outputs.stdout_file }}'}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", check=0).stdout)
    out = doc["steps"]["s"]["outputs"]
    full = "".join(f"{i}\n" for i in range(1, 3000001)) + "done\n"
    assert out["stdout_bytes"] == len(full)
    assert len(out["stdout"]) <= 64 * 1024 and out["stdout"].endswith("2999999\n3000000\ndone\n")
    assert full.endswith(out["stdout"]) and out["stdout"][0] != "\n"
    log = Path(out["stdout_file"])
    assert log == Path(doc["run_dir"]) / "logs" / "s.1.stdout.log" and log.read_text() == full
    assert "stderr_file" not in out, "a small stream stays whole, with no file"
    shown = json.loads(lf("history", "show", doc["run_id"], "--json", check=0).stdout)
    assert [(s["step_id"], s["status"]) for s in shown["steps"]] == [("s", "completed"), ("t", "completed")]
    assert shown["steps"][0]["outputs"]["stdout_bytes"] == len(full)


def test_a_history_database_deleted_mid_run_is_made_again_and_said(lf):
    """Issue 14 item 6: the run no longer vanishes from the history."""
    rec = lf.write(
        "rm-db.yaml",
        "name: rm-db\nsteps:\n  - {id: a, tool: file_ops, action: mkdir, inputs: {path: '{{ workflow.run_dir }}/x'}}\n"
        f"  - {{id: b, tool: script, action: run, inputs: {{command: 'rm {lf.db}*; sleep 0.1'}}}}\n"
        "  - {id: c, tool: file_ops, action: mkdir, inputs: {path: '{{ workflow.run_dir }}/y'}}\n",
    )
    proc = lf("run", rec, "--json", check=0)
    doc = json.loads(proc.stdout)
    assert "deleted or replaced during the run" in proc.stderr
    assert any("made again with this run's rows" in w for w in doc["warnings"])
    shown = json.loads(lf("history", "show", doc["run_id"], "--json", check=0).stdout)
    assert shown["status"] == "completed" and [s["step_id"] for s in shown["steps"]] == ["a", "b", "c"]


def test_0x_input_and_output_names_of_native_tools(lf):
    """Issue 15 item 9 (part): names 0.x's file_ops and script took and gave."""
    rec = lf.write(
        "n.yaml",
        "name: n\nsteps:\n"
        "  - {id: w, tool: file_ops, action: write, inputs: {path: '{{ temp_dir }}/a.txt', content: hello world}}\n"
        "  - {id: r, tool: file_ops, action: read, inputs: {path: '{{ steps.w.outputs.path }}', max_chars: 5}}\n"
        "  - {id: s, tool: script, action: run, on_failure: skip, inputs: {command: 'sleep 30', timeout: 0.5}}\n"
        "  - {id: l1, tool: file_ops, action: write, inputs: {path: '{{ temp_dir }}/l.txt', content: 'café', encoding: latin-1}}\n"
        "  - {id: l2, tool: file_ops, action: read, inputs: {path: '{{ steps.l1.outputs.path }}', encoding: latin-1}}\n"
        "  - {id: l3, tool: file_ops, action: read, on_failure: skip, inputs: {path: '{{ steps.l1.outputs.path }}', encoding: cp1252}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", timeout=20, check=0).stdout)
    assert doc["steps"]["w"]["outputs"]["size"] == 11
    assert doc["steps"]["r"]["outputs"]["content"] == "hello"
    assert "timed out after 0.5 s" in doc["steps"]["s"]["error"]
    assert "encoding `cp1252` is not supported; use utf-8, latin-1 or ascii" in doc["steps"]["l3"]["error"]
    assert doc["steps"]["l1"]["outputs"]["size"] == 4 and doc["steps"]["l2"]["outputs"]["content"] == "café", "latin-1 both ways"


def test_validate_warns_about_0x_script_steps(lf):
    """Issue 15 item 16: a 0.x recipe's script steps would now fail the run on a non-zero
    exit; issue 31: said once, and only for a recipe that looks written for 0.x."""
    script = "  - {id: s, tool: script, action: run, inputs: {command: 'exit 1'}}\n"
    rec = lf.write("old.yaml", 'name: old\nversion: "1.0"\nsteps:\n' + script + script.replace("id: s", "id: t"))
    proc = lf("validate", rec, check=0)
    assert proc.stderr.count("warning:") == 1, proc.stderr
    assert (
        f"warning: {rec}:4:5: this recipe looks written for LocalForge 0.x: its `script` steps `s`, `t` now fail when the program "
        "exits non-zero, where 0.x went on"
    ) in proc.stderr and "add `allow_failure: true` to its inputs to go on as 0.x did" in proc.stderr
    doc = json.loads(lf("validate", rec, "--json", check=0).stdout)
    assert doc["valid"] is True and [w["line"] for w in doc["warnings"]] == [4]
    brand_new = lf.write("brand-new.yaml", "name: brand-new\nsteps:\n" + script)
    assert json.loads(lf("validate", brand_new, "--json", check=0).stdout)["warnings"] == [], "no `version:`: not a 0.x recipe"
    new = lf.write(
        "new.yaml", "name: new\nsteps:\n  - {id: s, tool: script, action: run, inputs: {command: 'exit 1', allow_failure: false}}\n"
    )
    assert json.loads(lf("validate", new, "--json", check=0).stdout)["warnings"] == []


def test_plain_run_arguments_are_read_as_argparse_reads_them():
    """`run_args.plain` reads a `run` command line without argparse: on every list of
    words it reads it must give what argparse gives, and leave the rest to argparse
    (which gives its result or its usage error). Random lists over the words that matter,
    the options written in full, abbreviated, joined and missing their values."""
    import random

    from localforge.frontends.cli import run as run_cli
    from localforge.frontends.cli.output import UsageError
    from localforge.frontends.cli.run_args import plain

    words = ["one.yaml", "two.yaml", "-q", "--quiet", "-y", "--auto-approve", "--json", "--list-inputs", "--dry-run",
             "--force", "--no-cache", "-i", "a=1", "--input", "b=2", "--input=c=3", "--input=", "--refresh", "s1",
             "--refresh=s2", "--executor", "local", "--executor=ray:h:1", "x y"]  # fmt: skip
    odd = ["-i=d=4", "-ie=5", "-", "--", "-x", "--jso", "-qy", "", "-1", "--help", "-h", "--input=-z", "--no-cach"]

    def argparse_reads(args):
        try:
            return vars(run_cli.parser().parse_args(args))
        except (UsageError, SystemExit):
            return None

    rng = random.Random(34)
    read = 0
    for _ in range(4000):
        args = [rng.choice(odd if rng.random() < 0.08 else words) for _ in range(rng.randint(0, 7))]
        got = plain(args)
        if got is None:
            continue
        read += 1
        assert vars(got) == argparse_reads(args), args
    assert read > 300, "the random lists should give `plain` plenty to read"
    # What agents write is read without argparse.
    for args in (["one.yaml"], ["one.yaml", "-q", "--json"], ["r.yaml", "-i", "a=1", "--input=b=2", "-y", "--no-cache"],
                 ["--json", "r.yaml", "--refresh", "s", "--executor", "ray"]):  # fmt: skip
        assert plain(args) is not None and vars(plain(args)) == argparse_reads(args), args
