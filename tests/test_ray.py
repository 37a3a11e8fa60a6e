"""The Ray executor (`run --executor ray`) on a real Ray cluster of two nodes on this
machine, started by `localforge ray-node` (`ray start`) and bound to 127.0.0.1: node A
advertises `vram_gb: 8`, node B `vram_gb: 24`, two CPUs each. Runs are driven by the CLI
in a process of its own, as an agent drives them.

Skipped without Ray (`pip install 'ray>=2.52'`, the `ray` extra), except in CI
(LOCALFORGE_REQUIRE_TOOLS=1), where a missing Ray is a failure."""

import ipaddress
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, process_alive, serve
from programs import real as real_program
from raycluster import Cluster, in_session, session_of

try:
    import ray  # noqa: F401

    HAVE_RAY = True
except ImportError:
    HAVE_RAY = False
    if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        raise RuntimeError("Ray is required (LOCALFORGE_REQUIRE_TOOLS=1): pip install 'ray>=2.52'") from None

pytestmark = [pytest.mark.skipif(not HAVE_RAY, reason="Ray is not installed"), pytest.mark.timeout(300)]
PLUGINS = FIXTURES / "ray"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("ray"), plugins=PLUGINS)
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def lfr(lf, cluster):
    """The `lf` runner, its config naming the test plugin (the nodes read the same one)."""
    (lf.work / "localforge.yaml").write_text(cluster.config.read_text())
    for f in cluster.marks.iterdir():
        f.unlink()
    lf.env["LF_TEST_MARKS"] = str(cluster.marks)
    lf.env.update(RAY_AUTH_TOKEN_PATH=str(cluster.token))  # the cluster's token, as a user copies it
    return lf


def run_json(lf, cluster, recipe, *extra, check=0):
    proc = lf("run", recipe, "--json", "-q", "--executor", f"ray:{cluster.address}", *extra, check=check, timeout=240)
    return json.loads(proc.stdout)


def test_a_step_reserving_16_gb_runs_on_the_node_that_has_them(lfr, cluster):
    r = lfr.write(
        "big.yaml",
        """
name: big
steps:
  - id: small
    tool: where
    action: here
  - id: big
    tool: where
    action: here
    resources: {vram_gb: 16}
""",
    )
    report = run_json(lfr, cluster, r)
    assert report["status"] == "completed", report
    assert report["steps"]["big"]["outputs"]["node"] == cluster.nodes["B"]
    assert report["steps"]["small"]["outputs"]["node"] in cluster.nodes.values()


def test_steps_that_do_not_fit_together_run_one_after_the_other(lfr, cluster):
    r = lfr.write(
        "two.yaml",
        """
name: two big
steps:
  - id: one
    tool: where
    action: here
    depends_on: []
    resources: {vram_gb: 16}
    inputs: {seconds: 1.5}
  - id: two
    tool: where
    action: here
    depends_on: []
    resources: {vram_gb: 16}
    inputs: {seconds: 1.5}
""",
    )
    report = run_json(lfr, cluster, r)
    one, two = (report["steps"][s]["outputs"] for s in ("one", "two"))
    assert one["node"] == two["node"] == cluster.nodes["B"]
    first, second = sorted([one, two], key=lambda o: o["started"])
    assert second["started"] >= first["ended"] - 0.01, (one, two)


def test_a_200_item_batch_spreads_over_both_nodes(lfr, cluster):
    r = lfr.write(
        "fan.yaml",
        """
name: fan out
inputs:
  - {name: n, type: integer, default: 200}
steps:
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: "{{ range(inputs.n) | list }}"
      parallel: 8
      workflow_steps:
        - id: at
          tool: where
          action: here
          inputs: {seconds: 0.05}
""",
    )
    report = run_json(lfr, cluster, r)
    assert report["status"] == "completed", report.get("error")
    results = report["steps"]["each"]["outputs"]["results"]
    assert len(results) == 200
    used = {res["outputs"]["at"]["node"] for res in results}
    assert used == set(cluster.nodes.values())


def test_steps_holding_vram_run_beside_a_batch_of_plain_steps(lfr, cluster):
    # The plain items keep the run's actors (each holding a CPU) busy or idle while the
    # VRAM steps wait for a CPU as tasks: an idle actor gives its CPU back to them.
    r = lfr.write(
        "mixed.yaml",
        """
name: mixed
steps:
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: "{{ range(40) | list }}"
      parallel: 4
      workflow_steps:
        - {id: at, tool: where, action: here, inputs: {seconds: 0.05}}
  - {id: big, tool: where, action: here, depends_on: [], resources: {vram_gb: 16}, inputs: {seconds: 0.5}}
  - {id: big2, tool: where, action: here, depends_on: [big], resources: {vram_gb: 16}, inputs: {seconds: 0.5}}
  - {id: after, tool: where, action: here, depends_on: [each, big2], resources: {vram_gb: 6}}
""",
    )
    report = run_json(lfr, cluster, r)
    assert report["status"] == "completed", report.get("error")
    assert len(report["steps"]["each"]["outputs"]["results"]) == 40
    assert report["steps"]["big"]["outputs"]["node"] == report["steps"]["big2"]["outputs"]["node"] == cluster.nodes["B"]


FILES_RECIPE = """
name: files
inputs:
  - {name: text, type: string, default: "one two three"}
steps:
  - id: write
    tool: file_ops
    action: write
    inputs: {path: "{{workflow.run_dir}}/notes/a.txt", content: "{{inputs.text}}"}
  - id: shout
    tool: script
    action: run
    inputs:
      command: "tr a-z A-Z < {{workflow.run_dir}}/notes/a.txt > {{workflow.run_dir}}/notes/b.txt && wc -w < {{workflow.run_dir}}/notes/b.txt"
  - id: copy
    tool: file_ops
    action: copy
    inputs: {source: "{{steps.write.outputs.path}}", destination: "{{workflow.run_dir}}/out/c.txt"}
  - id: read
    tool: file_ops
    action: read
    inputs: {path: "{{workflow.run_dir}}/notes/b.txt"}
  - id: list
    tool: file_ops
    action: list
    inputs: {path: "{{workflow.run_dir}}", pattern: "**/*.txt"}
  - id: local_file
    tool: file_ops
    action: read
    inputs: {path: "data/in.txt"}
  - id: yaml_tool
    tool: upper
    action: file
    inputs: {input: "{{steps.write.outputs.path}}", output: "{{workflow.run_dir}}/out/upper.txt"}
"""


def _normalised(detail, run_dir):
    """A run's history without what differs between any two runs: ids, times, its folder."""
    text = json.dumps([{k: s[k] for k in ("step_id", "attempt", "status", "outputs", "error")} for s in detail["steps"]])
    return json.loads(text.replace(str(run_dir), "RUN"))


def _tree(run_dir):
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(Path(run_dir).rglob("*")) if p.is_file()}


def test_outputs_files_and_history_equal_a_local_run(lfr, cluster):
    r = lfr.write("files.yaml", FILES_RECIPE)
    lfr.write("data/in.txt", "from the driver's folder\n")
    # Without the step cache: the second run would take its copy step from the first's.
    local = json.loads(lfr("run", r, "--json", "-q", "--no-cache", "--executor", "local", check=0).stdout)
    remote = run_json(lfr, cluster, r, "--no-cache")
    assert local["status"] == remote["status"] == "completed", (local, remote)
    shown = [json.loads(lfr("history", "show", rep["run_id"], "--json", check=0).stdout) for rep in (local, remote)]
    assert _normalised(shown[0], local["run_dir"]) == _normalised(shown[1], remote["run_dir"])
    assert _tree(local["run_dir"]) == _tree(remote["run_dir"])
    assert remote["steps"]["local_file"]["outputs"]["content"] == "from the driver's folder\n"
    assert remote["steps"]["shout"]["outputs"]["stdout"].strip() == "3"
    assert (Path(remote["run_dir"]) / "out" / "upper.txt").read_text() == "ONE TWO THREE"


def test_a_killed_worker_fails_the_attempt_and_the_retry_completes_on_the_other_node(lfr, cluster):
    r = lfr.write(
        "flaky.yaml",
        """
name: flaky
steps:
  - id: flaky
    tool: where
    action: here
    on_failure: retry
    retry_count: 1
    inputs: {key: flaky, hang_first: true}
""",
    )
    proc = lfr.popen("run", r, "--json", "-q", "--executor", f"ray:{cluster.address}")
    deadline = time.time() + 60
    while not (marks := list(cluster.marks.glob("flaky.*"))) and time.time() < deadline:
        time.sleep(0.1)
    assert marks, "the step never started"
    first_pid, first_node = int(marks[0].suffix[1:]), marks[0].read_text()
    os.kill(first_pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    report = json.loads(out)
    assert report["status"] == "completed", (report, err)
    step = report["steps"]["flaky"]
    assert step["attempts"] == 2
    assert step["outputs"]["node"] != first_node and step["outputs"]["node"] in cluster.nodes.values()
    detail = json.loads(lfr("history", "show", report["run_id"], "--json", check=0).stdout)
    first = next(s for s in detail["steps"] if s["attempt"] == 1)
    assert first["status"] == "failed" and "Ray worker running it" in first["error"], first


@pytest.mark.parametrize("held", [("{vram_gb: 16}", "{vram_gb: 6}", "{vram_gb: 6}"), ("{}", "{}", "{}")], ids=["tasks", "actors"])
def test_cancel_leaves_no_task_or_process_on_either_node(lfr, cluster, held):
    # Steps that hold VRAM run as tasks; plain ones (one CPU, nothing else) on the run's actors.
    r = lfr.write(
        "long.yaml",
        f"""
name: long
steps:
  - id: on_b
    tool: script
    action: run
    depends_on: []
    resources: {held[0]}
    inputs: {{command: "echo $$ > $LF_TEST_MARKS/b.pid; sleep 300 & wait"}}
  - id: on_a
    tool: script
    action: run
    depends_on: []
    resources: {held[1]}
    inputs: {{command: "echo $$ > $LF_TEST_MARKS/a.pid; sleep 300 & wait"}}
  - id: third
    tool: script
    action: run
    depends_on: []
    resources: {held[2]}
    inputs: {{command: "echo $$ > $LF_TEST_MARKS/c.pid; sleep 300 & wait"}}
""",
    )
    proc = lfr.popen("run", r, "-q", "--executor", f"ray:{cluster.address}")
    pids = []
    for name in ("a", "b", "c"):
        path = cluster.marks / f"{name}.pid"
        deadline = time.time() + 60
        while not (path.exists() and path.read_text().strip()) and time.time() < deadline:
            time.sleep(0.1)
        pids.append(int(path.read_text()))
    children = [int(c) for p in pids for c in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "SIGTERM received" not in err
    deadline = time.time() + 15
    while any(process_alive(p) for p in pids + children) and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids + children if process_alive(p)]
    deadline = time.time() + 30
    while not cluster.idle() and time.time() < deadline:
        time.sleep(0.5)
    assert cluster.idle()


def test_resume_after_the_driver_is_killed(lfr, cluster):
    counter = lfr.work / "counter"
    r = lfr.write(
        "resume.yaml",
        f"""
name: resume
steps:
  - id: first
    tool: script
    action: run
    inputs: {{command: "echo x >> {counter}"}}
  - id: slow
    tool: script
    action: run
    inputs: {{command: "test -f {lfr.work}/go || {{ echo $$ > $LF_TEST_MARKS/slow.pid; sleep 300; }}"}}
""",
    )
    proc = lfr.popen("run", r, "-q", "--executor", f"ray:{cluster.address}")
    path = cluster.marks / "slow.pid"
    deadline = time.time() + 60
    while not (path.exists() and path.read_text().strip()) and time.time() < deadline:
        time.sleep(0.1)
    assert path.exists(), proc.stderr.read() if proc.poll() is not None else "the slow step never started"
    proc.kill()  # the driver dies; the history row stays `running` with its dead pid
    proc.communicate()
    (lfr.work / "go").touch()
    run_id = json.loads(lfr("history", "--json", check=0).stdout)[0]["run_id"]
    report = json.loads(lfr("resume", run_id, "--json", "-q", "--executor", f"ray:{cluster.address}", check=0, timeout=240).stdout)
    assert report["status"] == "completed", report
    assert counter.read_text() == "x\n"  # the first step is not run again


def test_an_unreachable_cluster_is_a_clear_error_exit_2(lf):
    r = lf.write("one.yaml", "name: one\nsteps:\n  - {id: a, tool: file_ops, action: list}\n")
    proc = lf("run", r, "--executor", "ray:127.0.0.1:1", check=2, timeout=120)
    assert "cannot reach a Ray cluster at `127.0.0.1:1`" in proc.stderr
    assert "localforge ray-node --head" in proc.stderr
    report = json.loads(lf("run", r, "--json", "--executor", "ray:127.0.0.1:1", check=2, timeout=120).stdout)
    assert report["status"] == "invalid" and "cannot reach a Ray cluster" in report["error"]
    assert lf("history", "--json", check=0).stdout.strip() == "[]"  # nothing was started


def test_a_step_no_node_can_hold_fails_saying_so(lfr, cluster):
    r = lfr.write(
        "huge.yaml",
        """
name: huge
steps:
  - id: huge
    tool: where
    action: here
    resources: {vram_gb: 40}
""",
    )
    report = run_json(lfr, cluster, r, check=1)
    assert "needs 40 GB of VRAM and the largest node of the Ray cluster offers 24" in report["steps"]["huge"]["error"]


def test_a_detached_process_is_refused_on_a_node(lfr, cluster):
    r = lfr.write("bg.yaml", "name: bg\nsteps:\n  - {id: bg, tool: script, action: run, inputs: {command: 'sleep 30', detach: true}}\n")
    report = run_json(lfr, cluster, r, check=1)
    assert "`detach: true` starts a process that outlives its step, which a Ray node cannot keep" in report["steps"]["bg"]["error"]


def drive(lf, cluster, recipe, code):
    """What Python `code` prints as JSON, run as a driver of its own with the recipe and the
    cluster's address as `sys.argv[1:]`, in the `lf` runner's folder and environment."""
    args = [sys.executable, "-c", code, str(recipe), cluster.address]
    out = subprocess.run(args, cwd=lf.work, env=lf.env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_python_api_runs_on_the_cluster_sync_and_asyncio(lfr, cluster):
    r = lfr.write("api.yaml", "name: api\nsteps:\n  - {id: big, tool: where, action: here, resources: {vram_gb: 16}}\n")
    code = (
        "import asyncio, json, sys, localforge\n"
        "a = localforge.run(sys.argv[1], executor='ray:' + sys.argv[2])\n"
        "b = asyncio.run(localforge.arun(sys.argv[1], executor='ray:' + sys.argv[2]))\n"
        "print(json.dumps([a['steps']['big']['outputs']['node'], b['steps']['big']['outputs']['node']]))\n"
    )
    assert drive(lfr, cluster, r, code) == [cluster.nodes["B"], cluster.nodes["B"]]


def test_a_steps_log_reaches_the_driver_while_it_runs(lfr, cluster):
    r = lfr.write("talk.yaml", "name: talk\nsteps:\n  - {id: talk, tool: where, action: here, inputs: {say: halfway, seconds: 2}}\n")
    code = (
        "import json, sys, time, localforge\n"
        "seen = []\n"
        "report = localforge.run(sys.argv[1], executor='ray:' + sys.argv[2], on_event=lambda e: seen.append((time.time(), e)))\n"
        "said = next(t for t, e in seen if e['type'] == 'step_log' and e['message'].startswith('halfway'))\n"
        "done = next(t for t, e in seen if e['type'] == 'step_finished')\n"
        "print(json.dumps({'ahead': done - said, 'run_id': report['run_id'], 'status': report['status']}))\n"
    )
    got = drive(lfr, cluster, r, code)
    assert got["status"] == "completed" and got["ahead"] > 1.5, got
    events = json.loads(lfr("history", "show", got["run_id"], "--json", check=0).stdout)["events"]
    assert any(e["message"].startswith("halfway from ") for e in events)


@pytest.fixture
def ollama():
    """The stand-in Ollama server of test_llm.py on 127.0.0.1 (Ollama itself needs model weights)."""
    from test_llm import StandIn

    with serve(StandIn) as url:
        yield url


def test_llm_calls_a_step_makes_on_a_node_are_in_the_history(lfr, cluster, ollama):
    plain = cluster.config.read_text()
    with_llm = plain + f"services:\n  ollama: {{host: '{ollama}', default_model: 'tiny:1b'}}\n"
    try:
        cluster.config.write_text(with_llm)  # the nodes read it at each call
        (lfr.work / "localforge.yaml").write_text(with_llm)
        r = lfr.write("poem.yaml", "name: poem\nsteps:\n  - {id: poem, tool: ollama, action: generate, inputs: {prompt: rivers}}\n")
        report = run_json(lfr, cluster, r)
        assert report["steps"]["poem"]["outputs"]["response"] == "A haiku about rivers "
        calls = json.loads(lfr("history", "show", report["run_id"], "--json", check=0).stdout)["llm_calls"]
        assert [(c["step_id"], c["model"], c["completion_tokens"]) for c in calls] == [("poem", "tiny:1b", 4)]
    finally:
        cluster.config.write_text(plain)


def without_ray_auth(env: dict) -> dict:
    return {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}


def test_a_client_without_the_token_is_refused(lf, cluster):
    # Ray retries a refused connection for 20 s by default; the answer is the same after 5.
    env = dict(without_ray_auth(cluster.env), HOME=str(lf.home), RAY_py_gcs_connect_timeout_s="5")
    code = "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); print(ray.nodes())"
    out = subprocess.run([sys.executable, "-c", code, cluster.address], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Authentication token is missing or incorrect" in out.stderr, out.stderr[-2000:]
    # LocalForge's driver says what is wrong and how to fix it, without a token and with another one.
    for name in [k for k in lf.env if k.startswith("RAY_AUTH")]:
        del lf.env[name]
    lf.env["RAY_py_gcs_connect_timeout_s"] = "5"
    r = lf.write("one.yaml", "name: one\nsteps:\n  - {id: a, tool: file_ops, action: list}\n")
    for _ in ("none", "another cluster's"):
        proc = lf("run", r, "--executor", f"ray:{cluster.address}", check=2, timeout=120)
        assert f"the Ray cluster at `{cluster.address}` refused this machine's token" in proc.stderr, proc.stderr
        assert "~/.localforge/ray/auth_token" in proc.stderr
        wrong = lf.home / "another-token"
        wrong.write_text("x" * 40)
        wrong.chmod(0o600)
        lf.env["RAY_AUTH_TOKEN_PATH"] = str(wrong)
    assert lf("history", "--json", check=0).stdout.strip() == "[]"


def test_ray_node_stop_stops_the_nodes_it_started_and_no_other_ray(tmp_path):
    # Another Ray on this machine (another user's, say): plain `ray start`, its own session.
    other = Cluster(tmp_path / "other", plugins=PLUGINS, cpus=1)
    ray_start = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--port", str(other.port), "--temp-dir", str(other.temp),
                 "--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--include-dashboard", "false", "--disable-usage-stats"]  # fmt: skip
    env = dict(other.env, RAY_AUTH_MODE="disabled")
    starter = subprocess.Popen(ray_start, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ours = Cluster(tmp_path / "ours", plugins=PLUGINS, cpus=1)
    try:
        assert starter.wait(timeout=120) == 0
        ours.start(count=1)
        records = [json.loads(p.read_text()) for p in (ours.home / ".localforge" / "ray" / "nodes").glob("*.json")]
        assert len(records) == 1
        session = records[0]["session"]
        assert in_session(session)
        stop = [sys.executable, "-m", "localforge", "ray-node", "--stop", "--json"]
        out = subprocess.run(stop, env=ours.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert [r["session"] for r in json.loads(out.stdout)["stopped"]] == [session]
        assert in_session(session) == []  # the GCS, raylet, agents and workers of our node
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", ours.port), timeout=2).close()
        # The other cluster is untouched: its processes run and it answers.
        assert in_session(starter.pid)
        code = "import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); print(len(ray.nodes()))"
        asked = subprocess.run([sys.executable, "-c", code, other.address], env=env, capture_output=True, text=True, timeout=120)
        assert asked.stdout.strip() == "1", asked.stderr[-2000:]
        # A second --stop finds nothing of ours left.
        again = subprocess.run(stop, env=ours.env, capture_output=True, text=True, timeout=60)
        assert json.loads(again.stdout) == {"stopped": []}
    finally:
        for pid in in_session(starter.pid):
            os.kill(pid, signal.SIGKILL)
        ours.stop()
        other.stop()


def _listening() -> list:
    """`ss -ltnp`: (pid, process name, local address) of each listening TCP socket."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        fields = line.split()
        local = fields[3]
        for name, pid in re.findall(r'\("([^"]+)",pid=(\d+)', line):
            found.append((int(pid), name, local.rsplit(":", 1)[0].strip("[]")))
    return found


def _where(address: str) -> str:
    if address in ("*", "0.0.0.0", "::"):
        return "all interfaces"
    return "loopback" if ipaddress.ip_address(address.split("%")[0]).is_loopback else "the node's IP"


def _documented() -> set:
    """(process, where) pairs of docs/ray.md's table of listening ports."""
    text = (Path(__file__).resolve().parent.parent / "docs" / "ray.md").read_text()
    table = text.split("<!-- listening: begin -->")[1].split("<!-- listening: end -->")[0]
    pairs = set()
    for row in table.splitlines()[3:]:
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) > 1:
            pairs.add((re.findall(r"`([^`]+)`", cells[0])[0], cells[1]))
    return pairs


def _process(name: str) -> str:
    """A process as docs/ray.md names it (the kernel shows 15 characters of a name)."""
    if name.startswith("ray::RuntimeEnv"):
        return "ray::RuntimeEnvAgent"
    if name.startswith("ray::Dashboard"):
        return "ray::DashboardAgent"
    return "ray::<task>" if name.startswith("ray::") else name


def test_the_ports_the_nodes_listen_on_are_those_the_docs_list(lfr, cluster):
    if not real_program("ss"):
        if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
            raise RuntimeError("`ss` is required (LOCALFORGE_REQUIRE_TOOLS=1): install iproute2")
        pytest.skip("needs `ss` (iproute2)")
    go = cluster.marks / "go"  # named through a variable: a path in the inputs would travel to a scratch folder
    r = lfr.write(
        "wait.yaml",
        "name: wait\nsteps:\n  - {id: w, tool: script, action: run, inputs: {command: 'while ! test -f $LF_TEST_MARKS/go; do sleep 0.1; done'}}\n",
    )
    proc = lfr.popen("run", r, "-q", "--executor", f"ray:{cluster.address}")
    try:
        sessions = {json.loads(p.read_text())["session"] for p in (cluster.home / ".localforge" / "ray" / "nodes").glob("*.json")}
        assert len(sessions) == 2  # head and second node
        seen: set = set()
        deadline = time.time() + 60
        while time.time() < deadline and not {"ray::<task>", "localforge run"} <= {p for p, _ in seen}:  # the driver is connected
            seen = set()
            for pid, name, address in _listening():
                try:
                    session = session_of(pid)
                except OSError:
                    continue
                if pid == proc.pid:
                    seen.add(("localforge run", _where(address)))
                elif session in sessions:
                    seen.add((_process(name), _where(address)))
            time.sleep(0.2)
    finally:
        go.touch()
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    documented = _documented()
    assert seen <= documented, f"listening but not in docs/ray.md: {sorted(seen - documented)}"
    assert {p for p, _ in documented} <= {p for p, _ in seen}, f"in the docs, not seen: {sorted(documented - seen)}"
