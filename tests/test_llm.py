"""The `ollama` tool through the CLI against a stand-in Ollama server started
here on 127.0.0.1: Ollama itself cannot run in tests (no model weights), so the
stand-in answers `/api/chat` with the documented streamed NDJSON shape."""

import json
import sqlite3
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import serve


class StandIn(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["model"] != "tiny:1b":
            self._send(404, json.dumps({"error": f"model '{body['model']}' not found"}))
            return
        prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
        if "format" in body:
            words = ['{"keywords": ["rivers", "stones", "moss", "light", "time"]}']
        elif "Review" in prompt:
            words = ["1.", "`divide`", "does", "not", "check", "for", "zero."]
        else:
            words = f"A haiku about {prompt}".split()
        lines = [json.dumps({"model": "tiny:1b", "message": {"role": "assistant", "content": w + " "}, "done": False}) for w in words]
        lines.append(
            json.dumps({"model": "tiny:1b", "done": True, "done_reason": "stop", "prompt_eval_count": 11, "eval_count": len(words)})
        )
        self._send(200, "\n".join(lines) + "\n", "application/x-ndjson")

    def do_GET(self):
        self._send(200, json.dumps({"models": [{"name": "tiny:1b"}]}))

    def _send(self, code, text, ctype="application/json"):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ollama():
    with serve(StandIn) as url:
        yield url


def test_generate_through_a_recipe_is_recorded(lf, ollama):
    lf.env["LOCALFORGE_OLLAMA_HOST"] = ollama
    lf.env["LOCALFORGE_OLLAMA_MODEL"] = "tiny:1b"
    rec = lf.write(
        "llm.yaml",
        "name: llm\ninputs: [{name: topic, default: rivers}]\nsteps:\n"
        "  - {id: poem, tool: ollama, action: generate, inputs: {prompt: '{{ inputs.topic }}', system: 'Write haiku.'}}\n"
        "  - {id: save, tool: file_ops, action: write, inputs: {path: '{{ temp_dir }}/poem.txt', content: '{{ steps.poem.outputs.response }}'}}\n"
        "outputs: {poem: '{{ steps.poem.outputs.sd_prompt }}', tokens: '{{ steps.poem.outputs.tokens.completion }}'}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert doc["outputs"] == {"poem": "A haiku about rivers ", "tokens": 4}
    con = sqlite3.connect(lf.db)
    row = con.execute(
        "SELECT step_id, model, prompt, response, prompt_tokens, completion_tokens FROM llm_calls WHERE run_id = ?", (doc["run_id"],)
    ).fetchone()
    assert row == ("poem", "tiny:1b", "Write haiku.\n\nrivers", "A haiku about rivers ", 11, 4)
    calls = json.loads(lf("history", "show", doc["run_id"], "--json", check=0).stdout)["llm_calls"]
    assert [(c["step_id"], c["model"], c["response"], c["completion_tokens"]) for c in calls] == [
        ("poem", "tiny:1b", "A haiku about rivers ", 4)
    ]


def test_unknown_model_and_stopped_server_are_clear(lf, ollama):
    lf.env["LOCALFORGE_OLLAMA_HOST"] = ollama
    rec = lf.write("m.yaml", "name: m\nsteps:\n  - {id: g, tool: ollama, action: generate, inputs: {prompt: hi, model: 'big:70b'}}\n")
    # Preflight catches both before the run starts (exit 2)...
    err = lf("run", rec, "-q", check=2).stderr
    assert f"step `g` uses model `big:70b`, which `ollama` at {ollama} does not have" in err
    assert "hint: run `ollama pull big:70b`; installed: tiny:1b; run with --force to start anyway" in err
    # ...and with --force the step itself says the same when it fails.
    doc = json.loads(lf("run", rec, "--json", "-q", "--force", check=1).stdout)
    assert (
        doc["steps"]["g"]["error"]
        == f"model `big:70b` is not available on `ollama` at {ollama} (it has: tiny:1b); pull it with `ollama pull big:70b`"
    )
    lf.env["LOCALFORGE_OLLAMA_HOST"] = "http://127.0.0.1:9"
    err = lf("run", rec, "-q", check=2).stderr
    assert "step `g` needs `ollama` at http://127.0.0.1:9, which is not running (connection refused (not running))" in err
    doc = json.loads(lf("run", rec, "--json", "-q", "--force", check=1).stdout)
    assert "cannot connect to `ollama` at http://127.0.0.1:9" in doc["steps"]["g"]["error"]
    assert "start it with `ollama serve`" in doc["steps"]["g"]["error"]


def test_text_pipeline_and_code_review_recipes(lf, ollama, tmp_path):
    from conftest import REPO

    lf.env["LOCALFORGE_OLLAMA_HOST"] = ollama
    notes = tmp_path / "notes.txt"
    notes.write_text("Rivers carve stone over long time. Moss grows where light falls.")
    doc = json.loads(
        lf(
            "run", REPO / "recipes/examples/text-pipeline.yaml", "-i", f"file={notes}", "-i", "model=tiny:1b", "--json", "-q", check=0
        ).stdout
    )
    assert doc["outputs"]["keywords"] == ["rivers", "stones", "moss", "light", "time"]
    report = (lf.runs / doc["run_id"] / "summary.md").read_text()
    assert report.startswith("# Summary of notes.txt") and "Keywords: rivers, stones, moss, light, time" in report
    code = tmp_path / "calc.py"
    code.write_text("def divide(a, b):\n    return a / b\n")
    doc = json.loads(
        lf("run", REPO / "recipes/examples/code-review.yaml", "-i", f"file={code}", "-i", "model=tiny:1b", "--json", "-q", check=0).stdout
    )
    review = (lf.runs / doc["run_id"] / "review-calc.md").read_text()
    assert review.startswith(f"# Review of {code}") and "`divide` does not check for zero." in review


def test_preflight_checks_the_host_a_step_names(lf, ollama):
    """Issue 15 item 8: the configured Ollama is down, but the step names a live one
    (a local stand-in speaking Ollama's HTTP API, started by the test)."""
    lf.env["LOCALFORGE_OLLAMA_HOST"] = "http://127.0.0.1:9"
    lf.env["LOCALFORGE_OLLAMA_MODEL"] = "tiny:1b"
    rec = lf.write(
        "h.yaml",
        f"name: h\nsteps:\n  - {{id: p, tool: ollama, action: generate, inputs: {{prompt: rivers, host: '{ollama}'}}}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert doc["steps"]["p"]["outputs"]["response"] == "A haiku about rivers "
    # And a step naming a dead host is refused before it runs, naming that host.
    dead = lf.write(
        "d.yaml", "name: d\nsteps:\n  - {id: p, tool: ollama, action: generate, inputs: {prompt: x, host: 'http://127.0.0.1:9'}}\n"
    )
    proc = lf("run", dead, check=2)
    assert "ollama at http://127.0.0.1:9" in proc.stderr
