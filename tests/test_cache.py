"""The step cache (issue 19) through the CLI: unchanged steps come from the cache (counter
files prove the tools did not run), content changes invalidate exactly what depends on
them, a model's digest is part of an LLM step's key, non-deterministic calls are never
cached, --no-cache / --refresh, eviction under `cache.max_gb`, and a kill -9 in the middle
of a cache write. LLM steps run against a stand-in Ollama on 127.0.0.1 that answers the
documented `/api/tags` (with each model's digest) and `/api/chat` shapes."""

import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import serve

COUNTING_TOOL = """\
name: counted
type: cli
description: Append a line to a counter file and copy the input (test tool)
deterministic: true
actions:
  copy:
    shell: true
    command: "echo ran >> \\"$LF_COUNTER\\" && cp {{ input }} {{ output }}"
    inputs:
      input: {type: path, required: true}
      output: {type: path, output: true, required: true}
    outputs:
      output: {path: "{{ output }}"}
"""

RECIPE = """\
name: branches
inputs:
  - {{name: first, type: path, required: true}}
  - {{name: second, type: path, required: true}}
steps:
  - {{id: a, tool: counted, action: copy, inputs: {{input: "{{{{ inputs.first }}}}", output: "{{{{ workflow.run_dir }}}}/a.txt"}}}}
  - {{id: b, tool: counted, action: copy, depends_on: [a], inputs: {{input: "{{{{ steps.a.outputs.output }}}}", output: "{{{{ workflow.run_dir }}}}/b.txt"}}}}
  - {{id: c, tool: counted, action: copy, depends_on: [], inputs: {{input: "{{{{ inputs.second }}}}", output: "{{{{ workflow.run_dir }}}}/c.txt"}}}}
  - {{id: note, tool: script, action: run, depends_on: [b, c], inputs: {{command: "echo note >> {counter}; cat {{{{ steps.b.outputs.output }}}}"}}}}
"""


@pytest.fixture
def branches(lf):
    counter = lf.work / "counter.txt"
    # Named through the environment: a file the definition names in its own text counts by
    # its content in the key, and this one changes at every call.
    lf.env["LF_COUNTER"] = str(counter)
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "counted.yaml").write_text(COUNTING_TOOL)
    first, second = lf.write("first.txt", "one\n"), lf.write("second.txt", "two\n")
    recipe = lf.write("branches.yaml", RECIPE.format(counter=counter))

    def run(*extra, check=0):
        if counter.exists():
            counter.unlink()
        doc = json.loads(lf("run", recipe, "-i", f"first={first}", "-i", f"second={second}", "--json", "-q", *extra, check=check).stdout)
        ran = counter.read_text().split() if counter.exists() else []
        history = json.loads(lf("history", "show", doc["run_id"], "--json", check=0).stdout)
        return doc, ran, {s["step_id"]: s for s in history["steps"]}

    return run, first, second


def test_an_unchanged_rerun_comes_from_the_cache(branches, lf):
    run, *_ = branches
    doc1, ran, _ = run()
    assert ran == ["ran", "ran", "ran", "note"]
    doc2, ran, steps = run()
    assert ran == ["note"], "the three counted steps did not run; the script step is not cached"
    assert {k: steps[k]["status"] for k in "abc"} == {"a": "cached", "b": "cached", "c": "cached"}
    assert steps["a"]["cached_from"] == doc1["run_id"] and steps["note"]["status"] == "completed"
    run_dir = lf.runs / doc2["run_id"]
    assert (run_dir / "b.txt").read_text() == "one\n" and (run_dir / "c.txt").read_text() == "two\n", "files restored"
    assert doc2["steps"]["b"]["outputs"]["output"] == str(run_dir / "b.txt"), "outputs point into the new run folder"
    assert doc2["steps"]["note"]["outputs"]["stdout"].strip() == "one"


def test_a_changed_file_invalidates_its_step_and_what_follows_only(branches):
    run, first, _ = branches
    run()
    stat = first.stat()
    first.write_text("uno\n")  # same length...
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # ...and the same mtime: only the content says
    doc, ran, steps = run()
    assert sorted(ran) == ["note", "ran", "ran"]
    assert (steps["a"]["status"], steps["b"]["status"], steps["c"]["status"]) == ("completed", "completed", "cached")
    assert doc["steps"]["note"]["outputs"]["stdout"].strip() == "uno"
    first.write_text("one\n")
    os.utime(first, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    _, ran, steps = run()
    assert ran == ["note"] and steps["a"]["status"] == "cached", "the old content's entries are still there"


def test_no_cache_and_refresh(branches, lf):
    run, first, second = branches
    run()
    _, ran, steps = run("--no-cache")
    assert ran == ["ran", "ran", "ran", "note"] and steps["a"]["status"] == "completed"
    _, ran, steps = run("--refresh", "b")
    assert sorted(ran) == ["note", "ran"], "b and what depends on it ran; a and c came from the cache"
    assert (steps["a"]["status"], steps["b"]["status"], steps["c"]["status"]) == ("cached", "completed", "cached")
    _, ran, _ = run("--refresh", "a")
    assert sorted(ran) == ["note", "ran", "ran"]
    proc = lf("run", lf.work / "branches.yaml", "-i", f"first={first}", "-i", f"second={second}", "--refresh", "nope", "--json", check=2)
    assert "--refresh names step `nope`, which the recipe does not have" in proc.stdout


def test_a_step_or_recipe_can_turn_it_off(branches, lf):
    run, *_ = branches
    recipe = lf.work / "branches.yaml"
    text = recipe.read_text()
    recipe.write_text(text.replace("  - {id: c, tool: counted, action: copy,", "  - {id: c, tool: counted, action: copy, cache: false,"))
    run()
    _, ran, steps = run()
    assert steps["c"]["status"] == "completed" and steps["a"]["status"] == "cached" and ran == ["ran", "note"]
    recipe.write_text(text.replace("name: branches\n", "name: branches\ncache: false\n"))
    run()
    _, ran, _ = run()
    assert ran == ["ran", "ran", "ran", "note"]


def test_eviction_keeps_the_store_under_its_limit(branches, lf):
    run, first, _ = branches
    (lf.work / "localforge.yaml").write_text("cache:\n  max_gb: 0.00001\n")  # about 10.7 KB
    for i in range(6):
        first.write_text(f"{i}\n" + "x" * 3000)
        run()
        stats = json.loads(lf("cache", "stats", "--json", check=0).stdout)
        assert stats["bytes"] <= stats["max_bytes"], stats
    assert stats["entries"] >= 2
    assert json.loads(lf("cache", "clear", "--json", check=0).stdout)["removed"] == stats["entries"]
    assert json.loads(lf("cache", "stats", "--json", check=0).stdout)["entries"] == 0
    assert "not a duration" in lf("cache", "clear", "--older-than", "soon", check=2).stderr


class Ollama(BaseHTTPRequestHandler):
    """Ollama's documented API, as far as the cache needs: `/api/tags` lists models with
    their digest; `/api/chat` streams NDJSON. Calls are counted."""

    digest = "sha256:" + "a" * 64
    calls = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._send({"models": [{"name": "tiny:1b", "model": "tiny:1b", "size": 1000, "digest": type(self).digest, "details": {}}]})

    def do_POST(self):
        json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls += 1
        lines = [
            json.dumps({"model": "tiny:1b", "message": {"role": "assistant", "content": "hello"}, "done": False}),
            json.dumps({"model": "tiny:1b", "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 1}),
        ]
        data = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send(self, doc):
        data = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ollama(lf):
    with serve(Ollama) as url:
        lf.env["LOCALFORGE_OLLAMA_HOST"] = url
        Ollama.calls, Ollama.digest = 0, "sha256:" + "a" * 64
        yield Ollama


def _llm(lf, options):
    return lf.write(
        "llm.yaml",
        "name: llm\nsteps:\n"
        f"  - {{id: ask, tool: ollama, action: chat, inputs: {{model: 'tiny:1b', prompt: 'hi', options: {json.dumps(options)}}}}}\n",
    )


def test_a_deterministic_llm_call_is_cached_until_the_model_changes(lf, ollama):
    recipe = _llm(lf, {"temperature": 0})
    for _ in range(2):
        lf("run", recipe, "--json", "-q", check=0)
    assert ollama.calls == 1, "the second run came from the cache"
    ollama.digest = "sha256:" + "b" * 64  # `ollama pull` brought a new version of the model
    doc = json.loads(lf("run", recipe, "--json", "-q", check=0).stdout)
    assert ollama.calls == 2 and doc["steps"]["ask"]["outputs"]["response"].strip() == "hello"


def test_a_non_deterministic_llm_call_is_not_cached(lf, ollama):
    recipe = _llm(lf, {"temperature": 0.7})
    for _ in range(2):
        lf("run", recipe, "--json", "-q", check=0)
    assert ollama.calls == 2
    recipe = _llm(lf, {"temperature": 0.7, "seed": 42})  # a fixed seed makes it repeatable
    for _ in range(2):
        lf("run", recipe, "--json", "-q", check=0)
    assert ollama.calls == 3


def test_kill_9_during_a_cache_write_serves_no_broken_entry(lf):
    """A step makes a folder of 4000 files; the run is killed while the cache is storing
    them (objects written, the entry not yet). The next run must not take a half-written
    entry: it runs the step again and gets every file."""
    counter = lf.work / "counter.txt"
    lf.env["COUNTER"] = str(counter)  # a file the command names is one it reads: the key would change with it
    maker = lf.write(
        "make.py",
        "import sys, pathlib\nd = pathlib.Path(sys.argv[1]); d.mkdir()\n"
        "for i in range(4000):\n    (d / f'{i}.txt').write_text(f'file {i}\\n' * 100)\nprint(d)\n",
    )
    recipe = lf.write(
        "many.yaml",
        "name: many\nsteps:\n"
        "  - id: make\n    tool: script\n    action: run\n    cache: true\n"
        f"    inputs: {{command: 'echo ran >> \"$COUNTER\"; python3 {maker} {{{{ workflow.run_dir }}}}/many'}}\n"
        "outputs:\n  folder: '{{ steps.make.outputs.stdout | trim }}'\n",
    )
    cache = lf.home / ".localforge" / "cache"
    proc = subprocess.Popen(
        [sys.executable, "-m", "localforge", "run", str(recipe), "--json", "-q"],
        cwd=lf.work,
        env=lf.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and not any((cache / "objects").glob("*/*")):
        if proc.poll() is not None:
            pytest.fail("the run ended before its cache write was caught")
        time.sleep(0.002)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list((cache / "entries").rglob("*.json")) == [], "killed before the entry was written: there is none"
    stored = len(list((cache / "objects").glob("*/*")))
    assert 0 < stored < 4000, "killed in the middle of storing the files"
    doc = json.loads(lf("run", recipe, "--json", "-q", check=0, timeout=300).stdout)
    assert counter.read_text().split() == ["ran", "ran"], "the step ran again"
    assert len(list(Path(doc["outputs"]["folder"]).iterdir())) == 4000
    # Now it is cached, complete: a third run takes it, every file restored.
    doc = json.loads(lf("run", recipe, "--json", "-q", check=0, timeout=300).stdout)
    assert counter.read_text().split() == ["ran", "ran"]
    files = sorted(Path(doc["outputs"]["folder"]).iterdir(), key=lambda p: int(p.stem))
    assert len(files) == 4000 and files[3999].read_text() == "file 3999\n" * 100


def test_dry_run_says_which_steps_would_come_from_the_cache(branches, lf):
    run, first, second = branches

    def plan():
        proc = lf("run", lf.work / "branches.yaml", "-i", f"first={first}", "-i", f"second={second}", "--dry-run", "--json", check=0)
        return {s["id"]: s["cache"] for s in json.loads(proc.stdout)["steps"]}

    assert {k: v["cache"] for k, v in plan().items()} == {"a": "miss", "b": "unknown", "c": "miss", "note": "off"}
    doc, _, _ = run()
    verdicts = plan()
    assert {k: v["cache"] for k, v in verdicts.items()} == {"a": "hit", "b": "hit", "c": "hit", "note": "off"}
    assert verdicts["b"]["from"] == doc["run_id"], "b's key, from a's cached file, matches the real run's"
    proc = lf(
        "run", lf.work / "branches.yaml", "-i", f"first={first}", "-i", f"second={second}", "--dry-run", "--json", "--refresh", "a", check=0
    )
    refreshed = {s["id"]: s["cache"]["cache"] for s in json.loads(proc.stdout)["steps"]}
    assert refreshed == {"a": "miss", "b": "miss", "c": "hit", "note": "off"}, "--refresh a runs a and what depends on it"
    first.write_text("changed\n")
    assert {k: v["cache"] for k, v in plan().items()} == {"a": "miss", "b": "unknown", "c": "hit", "note": "off"}
    text = lf("run", lf.work / "branches.yaml", "-i", f"first={first}", "-i", f"second={second}", "--dry-run", check=0).stdout
    assert f"c  counted.copy  [from the cache: run {doc['run_id']}]" in text


def test_two_runs_filling_the_same_keys_at_once_both_succeed(branches, lf):
    run, first, second = branches
    recipe = lf.work / "branches.yaml"
    procs = [lf.popen("run", recipe, "-i", f"first={first}", "-i", f"second={second}", "--json", "-q") for _ in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0 and json.loads(out)["status"] == "completed", err
    stats = json.loads(lf("cache", "stats", "--json", check=0).stdout)
    assert stats["entries"] == 3 and stats["by_tool"] == {"counted": 3}, stats
    _, ran, steps = run()
    assert ran == ["note"] and all(steps[k]["status"] == "cached" for k in "abc"), "the store stayed consistent"
