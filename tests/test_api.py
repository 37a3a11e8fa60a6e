"""The public Python API (`import localforge`), in this process: runs blocking
and under asyncio, events, approvals, cancellation, and the errors module.
Each test has its own HOME and working folder, so history and run folders are
its own."""

import asyncio
import gc
import json
import os
import pickle
import sys
import time
from pathlib import Path

import pytest

import localforge
from conftest import process_alive
from localforge import errors


def write(folder, name, text):
    path = folder / name
    path.write_text(text)
    return path


DAG = """name: dag
steps:
  - {id: a, tool: script, action: run, inputs: {command: 'echo a'}}
  - {id: b, tool: script, action: run, depends_on: [a], inputs: {command: 'sleep 0.2; echo b'}}
  - {id: c, tool: script, action: run, depends_on: [a], inputs: {command: 'echo c'}}
  - {id: d, tool: file_ops, action: write, depends_on: [b, c], inputs: {path: d.txt, content: "{{ steps.b.outputs.stdout }}"}}
outputs:
  b: "{{ steps.b.outputs.stdout | trim }}"
"""


def test_run_returns_the_report_and_on_event_sees_every_event_in_order(home):
    rec = write(home, "dag.yaml", DAG)
    seen = []
    report = localforge.run(rec, on_event=seen.append)
    assert report["status"] == "completed" and report["outputs"] == {"b": "b"}
    types = [e["type"] for e in seen]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert seen[0]["run_id"] == report["run_id"] and seen[0]["plan"] == [["a"], ["b", "c"], ["d"]]
    at = {(e["type"], e.get("step")): i for i, e in enumerate(seen) if e["type"] in ("step_started", "step_finished")}
    for step, deps in {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}.items():
        assert at[("step_started", step)] < at[("step_finished", step)]
        for dep in deps:
            assert at[("step_finished", dep)] < at[("step_started", step)], f"{step} started before {dep} finished"
    finished_b = seen[at[("step_finished", "b")]]
    assert finished_b["status"] == "completed" and finished_b["outputs"]["stdout"] == "b\n" and finished_b["attempt"] == 1
    assert [r["run_id"] for r in localforge.history()] == [report["run_id"]]


def test_a_run_handle_streams_events_and_takes_a_no_at_its_approval_gate(home):
    rec = write(
        home,
        "gate.yaml",
        """name: gate
steps:
  - {id: ok, type: approval_gate, message: 'Ship it?', options: [ship, reject], on_failure: skip}
  - {id: shipped, tool: file_ops, action: mkdir, when: "{{ steps.ok.status == 'completed' }}", inputs: {path: shipped}}
  - {id: held, tool: file_ops, action: mkdir, when: "{{ steps.ok.status != 'completed' }}", inputs: {path: held}}
""",
    )
    run = localforge.start(rec)
    assert run.id and repr(run).startswith("<localforge.Run ")
    asked = None
    for event in run.events():
        if event["type"] == "approval_requested":
            asked = event
            assert run.waiting_approvals() == ["ok"]
            assert run.approve("ok", False) == "reject"
    assert asked == {"type": "approval_requested", "step": "ok", "message": "Ship it?", "options": ["ship", "reject"], "default": "ship"}
    report = run.wait()
    assert report["run_id"] == run.id and report["status"] == "completed"
    assert report["steps"]["held"]["status"] == "completed" and report["steps"]["shipped"]["status"] == "skipped"
    assert (home / "held").is_dir() and not (home / "shipped").exists()
    with pytest.raises(LookupError, match="step `ok` is not waiting for approval"):
        run.approve("ok", True)


def test_approve_callable_answers_gates_by_option(home):
    rec = write(
        home,
        "pick.yaml",
        "name: pick\nsteps:\n  - {id: mode, type: approval_gate, message: 'Which?', options: [quick, thorough]}\n"
        "outputs:\n  mode: '{{ steps.mode.outputs.selection }}'\n",
    )
    report = localforge.run(rec, approve=lambda event: "thorough")
    assert report["outputs"]["mode"] == "thorough" and report["steps"]["mode"]["outputs"]["auto"] is False


def test_check_raises_tool_error_with_the_report(home):
    rec = write(home, "fail.yaml", "name: fail\nsteps:\n  - {id: boom, tool: script, action: run, inputs: {command: 'exit 3'}}\n")
    assert localforge.run(rec)["status"] == "failed"
    with pytest.raises(errors.ToolError) as caught:
        localforge.run(rec, check=True)
    assert caught.value.step == "boom" and caught.value.result["status"] == "failed"
    assert "exited with code 3" in str(caught.value)


def test_bad_recipes_and_unmet_needs_are_typed_errors(home):
    bad = write(home, "bad.yaml", "name: bad\nsteps:\n  - {id: a, tool: nope, action: x}\n")
    with pytest.raises(errors.RecipeError) as caught:
        localforge.run(bad)
    assert caught.value.errors[0]["line"] == 3 and "unknown tool `nope`" in caught.value.errors[0]["message"]
    with pytest.raises(errors.InputError):
        localforge.run("hello-localforge", {"nope": 1})
    write(home, "localforge.yaml", "resources: {vram_gb: 12}\n")  # plan for a 12 GB GPU
    big = write(
        home,
        "big.yaml",
        "name: big\nsteps:\n  - {id: g, tool: script, action: run, resources: {vram_gb: 4000}, inputs: {command: 'true'}}\n",
    )
    with pytest.raises(errors.ResourceError) as refused:
        localforge.plan(big)
    assert isinstance(refused.value, errors.RecipeError), "a preflight refusal is a recipe-level refusal"
    assert "4000.0 GB" in refused.value.errors[0]["message"] and "--force" in refused.value.errors[-1]["hint"]
    assert localforge.plan(big, force=True)["preflight"]["forced"] is True
    with pytest.raises(errors.RecipeError, match="did you mean `hello-localforge`"):
        localforge.run("hello-localforg")


def test_every_exception_pickles_with_its_fields_and_lives_in_localforge_errors(home):
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert cls.__module__ == "localforge.errors", name
        assert issubclass(cls, errors.LocalForgeError)
        e = cls(f"{name} happened")
        e.errors = [{"file": "r.yaml", "line": 3, "column": 5, "message": "m", "hint": "h"}]
        back = pickle.loads(pickle.dumps(e))
        assert type(back) is cls and back.args == e.args and back.errors == e.errors, name
    with pytest.raises(errors.RecipeError) as caught:
        localforge.plan(write(home, "bad.yaml", "name: bad\nsteps: 3\n"))
    back = pickle.loads(pickle.dumps(caught.value))
    assert back.errors == caught.value.errors and str(back) == str(caught.value)


# What the package may raise that is not a LocalForgeError: the protocols that need them.
NOT_OURS = {
    "AttributeError": "a module's __getattr__ says a name does not exist",
    "SystemExit": "the CLI's exit",
    "MCPError": "the MCP SDK turns it into a JSON-RPC error",
    "NotImplementedError": "an abstract method",
    "KeyboardInterrupt": "Ctrl-C, passed on",
    "StopIteration": "the iterator protocol",
    "StopAsyncIteration": "the async iterator protocol",
}


def test_every_exception_the_package_raises_is_a_localforge_error():
    """Issue 29: each `raise Name(...)` in python/localforge names a class rooted in
    `localforge.errors` (or one of NOT_OURS). Read from the source, so a new `raise
    ValueError(...)` fails here."""
    import ast
    import builtins

    package = Path(localforge.__file__).parent
    found = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Raise) and node.exc is not None:
                f = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
                builtin = getattr(builtins, name or "", None)
                if isinstance(builtin, type) and issubclass(builtin, BaseException) and name not in NOT_OURS:
                    found.append(f"{path.relative_to(package)}:{node.lineno}: raise {name}(...)")
    assert not found, "raise a localforge.errors class instead:\n" + "\n".join(found)


def test_the_other_reads(home):
    write(home, "r.yaml", "name: r\nsteps:\n  - {id: a, tool: file_ops, action: write, inputs: {path: x, content: y}}\n")
    assert localforge.validate("r.yaml") == []
    assert {"name", "kind", "actions", "available"} <= set(localforge.list_tools()[0])
    names = {r["name"]: r for r in localforge.list_recipes()}
    assert names["hello-localforge"]["source"] == "built-in"
    report = localforge.run("r.yaml")
    detail = localforge.history_show(report["run_id"])
    assert detail["steps"][0]["step_id"] == "a" and localforge.history_show("nope") is None
    assert "cpu_cores" in localforge.system()["hardware"] and "services" in localforge.health()
    assert localforge.recipe_info("r.yaml")["steps"] == 1


def test_resume_through_the_api(home):
    flag = home / "go"
    rec = write(home, "r.yaml", f"name: r\nsteps:\n  - {{id: a, tool: script, action: run, inputs: {{command: 'test -f {flag}'}}}}\n")
    first = localforge.run(rec)
    assert first["status"] == "failed"
    flag.write_text("")
    again = localforge.resume(first["run_id"], check=True)
    assert again["run_id"] == first["run_id"] and again["status"] == "completed"


SLOW = """name: slow
inputs:
  - {{name: n, type: integer, required: true}}
steps:
  - id: work
    tool: script
    action: run
    inputs:
      command: "sleep {seconds} & echo $! > {dir}/{{{{ inputs.n }}}}.pid; wait"
"""


def test_asyncio_runs_side_by_side_and_cancelling_tasks_cancels_their_runs(home):
    rec = write(home, "slow.yaml", SLOW.format(seconds=2, dir=home))

    async def main():
        gaps = []

        async def ticker():
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        tasks = [asyncio.create_task(localforge.arun(rec, {"n": n})) for n in range(10)]
        # Cancel three once their steps' processes are running.
        # (A file that exists may not hold its pid yet: the shell creates it, then writes.)
        while not all((home / f"{n}.pid").exists() and (home / f"{n}.pid").read_text().strip() for n in range(3)):
            await asyncio.sleep(0.01)
        for t in tasks[:3]:
            t.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        tick.cancel()
        return results, gaps

    # What is measured is the engine holding the event loop, not the collector: a full
    # collection of the test process's heap (with the MCP SDK imported by other test
    # modules) takes ~70 ms on its own. Freezing what exists keeps those passes short.
    gc.collect()
    gc.freeze()
    try:
        started = time.monotonic()
        results, gaps = asyncio.run(main())
        took = time.monotonic() - started
    finally:
        gc.unfreeze()
    assert all(isinstance(r, asyncio.CancelledError) for r in results[:3]), results[:3]
    assert [r["status"] for r in results[3:]] == ["completed"] * 7
    assert took < 15, f"the runs did not run side by side ({took:.1f}s)"
    assert max(gaps) < 0.05, f"the event loop stalled for {max(gaps) * 1000:.0f} ms"
    # Every run has its own history row: three cancelled, seven completed.
    rows = localforge.history(50)
    assert sorted(r["status"] for r in rows) == ["cancelled"] * 3 + ["completed"] * 7
    assert len({r["run_id"] for r in rows}) == 10
    # The cancelled runs' processes are gone.
    for n in range(3):
        pid = int((home / f"{n}.pid").read_text())
        assert not process_alive(pid), f"run {n}'s `sleep` ({pid}) was left behind"


def test_a_plugin_that_prints_leaves_run_json_parseable(lf):
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "chatty_tool.py").write_text(
        "TOOL_NAME = 'chatty'\nTOOL_ACTIONS = ['talk']\n\n"
        "def handle(action, inputs, ctx):\n"
        "    print('hello from the plugin')\n"
        "    import os, sys\n"
        "    sys.stdout.writelines(['lines\\n', 'written\\n'])\n"
        "    print('no newline at the end', end='')\n"
        "    sys.stdout.buffer.write(b'raw bytes to stdout\\n')\n"
        "    os.system('echo from a child process')\n"
        "    return {'said': 2}\n"
    )
    rec = lf.write("r.yaml", "name: r\nsteps:\n  - {id: talk, tool: chatty, action: talk}\n")
    proc = lf("run", rec, "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["steps"]["talk"]["outputs"] == {"said": 2}
    assert "talk: hello from the plugin" in proc.stderr and "talk: no newline at the end" in proc.stderr
    events = json.loads(lf("history", "show", doc["run_id"], "--json").stdout)["events"]
    assert [e["message"] for e in events if e["step_id"] == "talk"] == [
        "hello from the plugin",
        "lines",
        "written",
        "no newline at the end",
    ]
    assert "raw bytes to stdout" in proc.stderr and "from a child process" in proc.stderr, "what bypasses print() goes to stderr"


def test_importing_localforge_stays_cheap():
    code = "import sys, localforge; assert 'localforge._core' not in sys.modules and 'localforge.api' not in sys.modules"
    assert os.system(f'{sys.executable} -c "{code}"') == 0


def test_arun_with_async_callbacks_and_a_handle_read_with_async_for(home):
    rec = write(
        home,
        "gate.yaml",
        "name: gate\nsteps:\n  - {id: a, tool: script, action: run, inputs: {command: 'echo hi'}}\n"
        "  - {id: ok, type: approval_gate, message: 'Go?', options: [go, stop], depends_on: [a]}\n",
    )

    async def main():
        seen = []

        async def on_event(event):
            seen.append(event["type"])

        async def approve(event):
            await asyncio.sleep(0.01)
            return True

        report = await localforge.arun(rec, on_event=on_event, approve=approve)
        run = localforge.start(rec)
        streamed = []
        async for event in run.events():
            streamed.append(event["type"])
            if event["type"] == "approval_requested":
                run.approve(event["step"], "stop")
        return report, seen, streamed, await run.wait_async()

    report, seen, streamed, stopped = asyncio.run(main())
    assert report["status"] == "completed" and report["steps"]["ok"]["outputs"]["selection"] == "go"
    assert seen[0] == "run_started" and "approval_requested" in seen and seen[-1] == "run_finished"
    assert streamed[0] == "run_started" and streamed[-1] == "run_finished"
    assert stopped["status"] == "failed" and "`stop` selected at approval gate `ok`" in stopped["error"]


def test_events_have_the_keys_their_typed_dicts_declare(home):
    import typing

    from localforge import types

    rec = write(
        home,
        "all.yaml",
        "name: all\nsteps:\n  - {id: a, tool: batch, action: foreach, inputs: {items: [1, 2], workflow_steps: "
        "[{id: w, tool: file_ops, action: write, inputs: {path: x, content: y}}]}}\n"
        "  - {id: g, type: approval_gate, message: ok?, options: [go, stop], depends_on: [a]}\n"
        "  - {id: s, tool: script, action: run, when: 'false', inputs: {command: 'true'}}\n",
    )
    seen = []
    localforge.run(rec, on_event=seen.append, approve=lambda e: True)
    by_type = {typing.get_type_hints(t)["type"].__args__[0]: t for t in typing.get_args(types.Event)}
    assert {e["type"] for e in seen} >= {
        "run_started",
        "step_started",
        "step_progress",
        "step_finished",
        "approval_requested",
        "run_finished",
    }
    for event in seen:
        assert set(event) == set(typing.get_type_hints(by_type[event["type"]])), event


def test_an_exception_in_on_event_cancels_the_run_under_asyncio(home):
    flag = home / "second.ran"
    rec = write(
        home,
        "two.yaml",
        f"name: two\nsteps:\n  - {{id: a, tool: script, action: run, inputs: {{command: 'sleep 0.3'}}}}\n"
        f"  - {{id: b, tool: script, action: run, depends_on: [a], inputs: {{command: 'touch {flag}'}}}}\n",
    )

    def explode(event):
        if event["type"] == "step_started":
            raise RuntimeError("subscriber failed")

    with pytest.raises(RuntimeError, match="subscriber failed"):
        asyncio.run(localforge.arun(rec, on_event=explode))
    assert localforge.history(1)[0]["status"] == "cancelled" and not flag.exists()


def test_an_answer_to_a_withdrawn_gate_is_not_an_error(home):
    rec = write(home, "gate.yaml", "name: gate\nsteps:\n  - {id: ok, type: approval_gate, message: 'Go?', options: [go, stop]}\n")
    run = localforge.start(rec)
    for event in run.events():
        if event["type"] == "approval_requested":
            run.cancel()
            run.wait()
            with pytest.raises(LookupError, match="not waiting"):
                run.approve("ok", True)
    with pytest.raises(ValueError, match="`maybe` is not an option"):
        started = localforge.start(rec)
        for event in started.events():
            if event["type"] == "approval_requested":
                try:
                    started.approve("ok", "maybe")
                finally:
                    started.cancel()


FORK_RECIPE = """\
name: forked
steps:
  - {id: a, tool: file_ops, action: write, inputs: {path: "{{ workflow.run_dir }}/a.txt", content: "a"}}
"""


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_a_pool_child_after_the_parent_ran_a_recipe_runs_or_says_why_not(home, method):
    """Issue 28, item 9: a `fork`ed child of a process whose engine has started has none of
    the engine's threads; it used to hang forever. It is now refused with a reason; a
    `spawn`ed child runs the recipe and records it."""
    import subprocess

    rec = write(home, "forked.yaml", FORK_RECIPE)
    script = os.path.join(os.path.dirname(__file__), "fork_worker.py")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, script, str(rec), method], capture_output=True, text=True, timeout=120, cwd=home)
    assert proc.returncode == 0, proc.stderr
    assert time.monotonic() - t0 < 100, "no hang"
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["parent"] == "completed"
    rows = localforge.history(10)
    if method == "fork":
        assert out["child"]["error"] == "RunError"
        assert "is a fork of process" in out["child"]["message"] and 'multiprocessing.get_context("spawn")' in out["child"]["message"]
        assert len(rows) == 1, "only the parent's run is recorded"
    else:
        assert out["child"]["status"] == "completed"
        assert {r["run_id"] for r in rows} >= {out["child"]["run_id"]} and len(rows) == 2
