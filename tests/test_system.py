"""`system`, `health` and the preflight check of `run` through the CLI.

Ollama cannot run here (no model weights): a stand-in started on 127.0.0.1
answers `/api/version`, `/api/tags`, `/api/ps` and `/api/generate` with the
shapes Ollama documents. A GPU is simulated with `resources.vram_gb` in the
config, which is how a machine whose GPU LocalForge cannot see is planned for.
"""

import json
import os
import sqlite3
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from conftest import serve

DOWN = "http://127.0.0.1:9"


class FakeOllama(BaseHTTPRequestHandler):
    calls = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        FakeOllama.calls.append(self.path)
        docs = {
            "/api/version": {"version": "0.12.3"},
            "/api/tags": {"models": [{"name": "llama3.1:70b", "size": 42520413916}, {"name": "llama3.1:8b", "size": 4920753328}]},
            "/api/ps": {"models": []},
        }
        self._send(200 if self.path in docs else 404, json.dumps(docs.get(self.path, {"error": "not found"})))

    def do_POST(self):
        FakeOllama.calls.append(self.path)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        done = {"model": body["model"], "response": "ok", "done": True, "eval_count": 1, "prompt_eval_count": 1}
        self._send(200, json.dumps(done) + "\n")

    def _send(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ollama():
    FakeOllama.calls = []
    with serve(FakeOllama) as url:
        yield url


def all_down(lf):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{DOWN}'}}\n  sd: {{host: '{DOWN}'}}\n  comfyui: {{host: '{DOWN}'}}\n")


def test_system_json_has_the_documented_shape_and_agrees_with_the_os(lf):
    all_down(lf)
    doc = json.loads(lf("system", "--json", check=0).stdout)
    hw = doc["hardware"]
    assert hw["cpu_cores"] == os.cpu_count()
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    assert abs(hw["ram_gb"] - int(meminfo["MemTotal"].split()[0]) / 2**20) < 0.05
    if not Path("/proc/driver/nvidia").exists():
        assert hw["gpus"] == [] and hw["vram_gb"] == 0
    for name in ("ollama", "sd", "comfyui"):
        s = doc["services"][name]
        assert s["running"] is False and s["url"] == DOWN and s["version"] is None and s["models"] == []
    assert set(doc["tools"]["ffmpeg"]) >= {"found", "path", "version"}
    assert doc["tools"]["ffmpeg"]["found"] is True and doc["tools"]["ffmpeg"]["version"]
    tasks = {r["task"] for r in doc["recommendations"]}
    assert tasks >= {"general", "chat", "code", "vision", "summarization", "image_generation", "speech"}
    assert all(set(r) >= {"task", "model", "vram_gb", "fits", "why"} for r in doc["recommendations"])


def test_system_report_reads_like_a_report(lf):
    all_down(lf)
    out = lf("system", check=0).stdout
    for heading in ("Hardware", "Services", "Tools", "Recommended models"):
        assert f"\n{heading}\n" in out
    assert "✗ ollama" in out and "ollama serve" in out


def test_health_lists_services_and_tools(lf, ollama):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{ollama}'}}\n  sd: {{host: '{DOWN}'}}\n")
    doc = json.loads(lf("health", "--json", check=1).stdout)
    assert set(doc) == {"services", "tools"}
    assert doc["services"]["ollama"]["running"] and doc["services"]["ollama"]["version"] == "0.12.3"
    assert doc["services"]["ollama"]["models"] == ["llama3.1:70b", "llama3.1:8b"]
    assert not doc["services"]["sd"]["running"] and "--api" in doc["services"]["sd"]["hint"]
    # YAML tools' programs are listed too.
    assert "pandoc" in doc["tools"] and "espeak-ng" in doc["tools"]


BIG = "name: big\nsteps:\n  - id: think\n    tool: ollama\n    action: generate\n    inputs: {prompt: hi, model: 'llama3.1:70b'}\n"


def test_a_model_that_cannot_fit_fails_preflight_before_any_step(lf, ollama):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{ollama}'}}\nresources: {{vram_gb: 24}}\n")
    rec = lf.write("big.yaml", BIG)
    proc = lf("run", rec, check=2)
    assert "step `think`: `llama3.1:70b` needs ~43.5 GB of VRAM" in proc.stderr
    assert "this GPU has 24.0 GB free" in proc.stderr
    assert "hint: `qwen2.5:32b` fits (~20.6 GB): set the step's `model: qwen2.5:32b`" in proc.stderr
    assert "--force" in proc.stderr
    assert "/api/generate" not in FakeOllama.calls, "no step may run"
    assert not lf.db.exists() or sqlite3.connect(lf.db).execute("SELECT count(*) FROM runs").fetchone() == (0,)
    doc = json.loads(lf("run", rec, "--json", check=2).stdout)
    assert doc["status"] == "invalid" and doc["errors"][0]["line"] == 3
    # --force runs it anyway.
    doc = json.loads(lf("run", rec, "--json", "--force", "-q", check=0).stdout)
    assert doc["steps"]["think"]["outputs"]["response"] == "ok"


def test_dry_run_shows_what_each_step_reserves_and_what_cannot_fit(lf, ollama):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{ollama}'}}\nresources: {{vram_gb: 24}}\n")
    rec = lf.write("big.yaml", BIG.replace("llama3.1:70b", "llama3.1:8b"))
    plan = json.loads(lf("run", rec, "--dry-run", "--json", check=0).stdout)
    need = plan["steps"][0]["needs"]
    assert need["service"] == "ollama" and need["model"] == "llama3.1:8b" and 5.5 < need["vram_gb"] < 6.5
    assert plan["preflight"] == {"ok": True, "forced": False, "problems": [], "notes": []}
    out = lf("run", rec, "--dry-run", check=0).stdout
    assert (
        "reserves: service ollama, model llama3.1:8b, ~6.1 GB VRAM (4.6 weights (Q4_K_M) + 0.5 KV cache (4096 ctx, f16) + 1.0 overhead)"
        in out
    )
    rec = lf.write("big2.yaml", BIG)
    err = lf("run", rec, "--dry-run", check=2).stderr
    assert "needs ~43.5 GB of VRAM" in err
    plan = json.loads(lf("run", rec, "--dry-run", "--json", "--force", check=0).stdout)
    assert plan["preflight"]["forced"] and "43.5 GB" in plan["preflight"]["problems"][0]["message"]


def test_a_service_that_is_not_running_is_named_with_how_to_start_it(lf):
    all_down(lf)
    rec = lf.write(
        "sd.yaml",
        "name: sd\nsteps:\n  - {id: a, tool: sd_client, action: txt2img, inputs: {prompt: fox}}\n"
        "  - {id: b, tool: sd_client, action: txt2img, inputs: {prompt: owl}}\n",
    )
    err = lf("run", rec, check=2).stderr
    assert f"steps `a`, `b` need `sd` at {DOWN}, which is not running" in err
    assert "start the SD WebUI with --api" in err


def test_recipes_without_services_skip_the_probes(lf):
    all_down(lf)
    out = lf("run", "hello-localforge", "-q", check=0)
    assert "preflight" not in out.stderr


def test_a_service_the_config_does_not_define_is_named_with_the_ones_it_does(lf):
    all_down(lf)
    rec = lf.write(
        "x.yaml", "name: x\nsteps:\n  - {id: ask, tool: ollama, action: chat, inputs: {prompt: hi, service: gpubox, model: m}}\n"
    )
    err = lf("run", rec, check=2).stderr
    assert "step `ask` uses service `gpubox`, which the configuration does not define" in err
    assert "add `services.gpubox` with a `host`" in err and "configured: ollama, sd, comfyui" in err


def test_a_broken_user_model_profile_file_is_named(lf):
    all_down(lf)
    (lf.home / ".localforge").mkdir(exist_ok=True)
    bad = lf.home / ".localforge" / "model_profiles.yaml"
    bad.write_text("llm:\n  - {name: mine, params_b: 7}\n")
    err = lf("system", check=2).stderr
    assert str(bad) in err and "missing field" in err
    rec = lf.write("x.yaml", "name: x\nsteps:\n  - {id: ask, tool: ollama, action: chat, inputs: {prompt: hi}}\n")
    err = lf("run", rec, check=2).stderr
    assert "model profiles:" in err and str(bad) in err


def test_a_configured_vram_budget_shows_as_a_gpu_and_sizes_the_advice(lf):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{DOWN}'}}\nresources: {{vram_gb: 12}}\n")
    out = lf("system", check=0).stdout
    if Path("/proc/driver/nvidia").exists():
        pytest.skip("a real NVIDIA GPU is reported instead of the configured budget")
    assert "GPU   configured (resources.vram_gb): 12.0 GB VRAM, 12.0 GB free" in out
    assert "OLLAMA_FLASH_ATTENTION=1" in out
    doc = json.loads(lf("system", "--json", check=0).stdout)
    general = next(r for r in doc["recommendations"] if r["task"] == "general")
    assert general["runs_on"] == "gpu" and general["fits"] and general["vram_gb"] <= 12


def test_health_reads_like_a_report(lf, ollama):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{ollama}'}}\n  sd: {{host: '{DOWN}'}}\n")
    out = lf("health", check=1).stdout
    assert f"✓ ollama       {ollama}" in out and "0.12.3  2 models" in out
    assert f"✗ sd           {DOWN}" in out and "→ start the SD WebUI with --api" in out
    assert "✓ ffmpeg" in out


def test_an_impostor_convert_is_not_taken_for_imagemagick(lf):
    """Some machines ship a stand-in `convert` that is not ImageMagick: `system`,
    `list-tools` and validation know a program by what it says it is."""
    bin_dir = lf.work / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "convert"
    fake.write_text("#!/bin/sh\necho 'usage: convert FILE.png ppm:-'\n")
    fake.chmod(0o755)
    lf.env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin:/bin"
    tools = json.loads(lf("system", "--json").stdout)["tools"]
    assert tools["imagemagick"]["found"] is False
    assert tools["imagemagick"]["path"] == str(fake)
    assert "is not imagemagick" in tools["imagemagick"]["note"]
    human = lf("system").stdout
    assert f"`{fake}` is on PATH but is not imagemagick" in human
    listed = {t["name"]: t for t in json.loads(lf("list-tools", "--json").stdout)}
    assert listed["imagemagick6"]["available"] is False
    assert f"`{fake}` is not the real program" in " ".join(listed["imagemagick6"]["missing"])
    rec = lf.write("r.yaml", "name: r\nsteps:\n  - {id: a, tool: imagemagick6, action: resize, input: x.png, size: 2x2, output: y.png}\n")
    proc = lf("validate", rec, check=2)
    assert "is not the real program" in proc.stderr


# A stand-in `convert` that names ImageMagick in its answer: what it prints, how it exits.
STAND_INS = [
    ("convert: ImageMagick is not installed here, and this stand-in only prints a PNG", 1),
    ("convert: ImageMagick not found; apt install imagemagick", 0),
    ("Version: ImageMagick 6.9.11-60 Q16 x86_64", 1),
    ("sh: ImageMagick: command not found", 127),
    ("ImageMagick is not available on this machine", 0),
    ("No such program: ImageMagick (install imagemagick)", 0),
]


@pytest.mark.parametrize(("said", "code"), STAND_INS, ids=[f"stand-in-{i + 1}" for i in range(len(STAND_INS))])
def test_a_stand_in_that_names_the_program_is_not_the_program(lf, said, code):
    """A `convert` whose answer names ImageMagick but that exits non-zero on its version
    query, or says it is not installed, is not ImageMagick: not for `system`, not for
    `list-tools`, not for the agent config."""
    bin_dir = lf.work / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "convert"
    fake.write_text(f"#!/bin/sh\necho '{said}' >&2\nexit {code}\n")
    fake.chmod(0o755)
    lf.env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin:/bin"
    tools = json.loads(lf("system", "--json").stdout)["tools"]
    assert tools["imagemagick"] == {
        "found": False,
        "path": str(fake),
        "version": None,
        "note": f"`{fake}` is on PATH but is not imagemagick (its version flag does not say so)",
    }
    human = lf("system").stdout
    assert "✓ imagemagick" not in human and f"✗ imagemagick          `{fake}` is on PATH but is not imagemagick" in human
    listed = {t["name"]: t for t in json.loads(lf("list-tools", "--json").stdout)}
    assert listed["imagemagick6"]["available"] is False
    assert listed["imagemagick6"]["missing"] == [f"`convert` (`{fake}` is not the real program; apt install imagemagick)"]
    text = lf("agent-config", "generate", "--format", "agents", check=0).stdout
    usable, _, not_yet = text.partition("Not usable here yet")
    assert "`imagemagick6`" not in usable.split("## Tools here")[1]
    assert f"- `imagemagick6`: `convert` (`{fake}` is not the real program; apt install imagemagick)" in not_yet


def test_a_declared_need_alone_is_checked(lf):
    """`resources: {ram_gb: N}` alone, and `resources: {gpu: true}` alone on a machine
    without a GPU, are refused before anything runs (exit 2, with the fix); `--force`
    runs them anyway."""
    rec = lf.write(
        "ram.yaml",
        "name: ram\nsteps:\n  - {id: big, tool: file_ops, action: write, resources: {ram_gb: 5000}, inputs: {path: ran.txt, content: x}}\n",
    )
    proc = lf("run", rec, check=2)
    assert f"error: {rec}:3:5: step `big` declares 5000.0 GB of RAM (`resources.ram_gb`); this machine has " in proc.stderr
    hint = "  hint: lower the step's `resources.ram_gb`, or run it on a machine with more memory; or run with --force to try anyway"
    assert hint in proc.stderr
    assert not (lf.work / "ran.txt").exists() and not lf.db.exists(), "nothing ran"
    refused = json.loads(lf("run", rec, "--dry-run", "--json", check=2).stdout)
    assert refused["errors"][0]["message"].startswith("step `big` declares 5000.0 GB of RAM")
    lf("run", rec, "--force", "-q", check=0)
    assert (lf.work / "ran.txt").read_text() == "x"
    gpu = lf.write(
        "gpu.yaml",
        "name: gpu\nsteps:\n  - {id: g, tool: file_ops, action: write, resources: {gpu: true}, inputs: {path: gpu.txt, content: y}}\n",
    )
    if json.loads(lf("system", "--json").stdout)["hardware"]["gpus"]:
        lf("run", gpu, "-q", check=0)  # a GPU here: nothing to refuse
    else:
        proc = lf("run", gpu, check=2)
        assert f"error: {gpu}:3:5: step `g` declares a GPU in its `resources`, and this machine has none\n" in proc.stderr
        assert "or run with --force to try anyway" in proc.stderr
        assert not (lf.work / "gpu.txt").exists()
        lf("run", gpu, "--force", "-q", check=0)
    assert (lf.work / "gpu.txt").read_text() == "y"


CHAINS = """name: chains
steps:
  - {id: a, tool: file_ops, action: write, inputs: {path: a.txt, content: a}}
  - {id: b1, tool: file_ops, action: write, inputs: {path: b1.txt, content: b}, depends_on: [a]}
  - {id: b2, tool: file_ops, action: write, inputs: {path: b2.txt, content: b}, depends_on: [b1]}
  - {id: b3, tool: file_ops, action: write, inputs: {path: b3.txt, content: b}, depends_on: [b2]}
  - {id: c, tool: script, action: run, inputs: {command: "true"}, depends_on: [a]}
"""


def test_the_critical_path_is_the_longest_by_estimated_time_not_by_count(lf):
    rec = lf.write("chains.yaml", CHAINS)
    plan = json.loads(lf("run", rec, "--dry-run", "--json").stdout)
    # No history yet: a command (~2 s) outweighs three file writes (~0.1 s each).
    assert plan["critical_path"] == ["a", "c"]
    assert plan["critical_path_s"] == pytest.approx(2.1)
    assert "critical path (~2s estimated): a → c" in lf("run", rec, "--dry-run").stdout
    # Once the recipe has run, its own history says how long each step takes.
    lf("run", rec, "-q")
    plan = json.loads(lf("run", rec, "--dry-run", "--json").stdout)
    by_id = {s["id"]: s["estimated_s"] for s in plan["steps"]}
    assert by_id["c"] < 2.0, by_id
    assert sum(by_id[s] for s in plan["critical_path"]) == pytest.approx(plan["critical_path_s"])
    assert plan["critical_path_s"] == pytest.approx(max(by_id["a"] + by_id["c"], by_id["a"] + by_id["b1"] + by_id["b2"] + by_id["b3"]))


def test_dry_run_without_a_gpu_speaks_of_ram_not_vram(lf, ollama):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{ollama}'}}\n")
    rec = lf.write("small.yaml", BIG.replace("llama3.1:70b", "llama3.1:8b"))
    out = lf("run", rec, "--dry-run", "--force", check=0).stdout
    if "no GPU to plan with" not in out:
        pytest.skip("this machine has a GPU")
    assert "VRAM" not in out
    assert "GB of RAM (no GPU)" in out


def test_ctrl_c_interrupts_the_system_probes_at_once(lf):
    """A program that hangs on `--version` (here a fake pandoc) holds `system` up to
    the probe deadline; Ctrl-C stops it at once and leaves no process behind."""
    import signal
    import time

    from conftest import process_alive

    bin_dir = lf.work / "bin"
    bin_dir.mkdir()
    pidfile = lf.work / "pandoc.pid"
    fake = bin_dir / "pandoc"
    fake.write_text(f"#!/bin/sh\necho $$ > {pidfile}\nexec sleep 30\n")
    fake.chmod(0o755)
    lf.env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    proc = lf.popen("system")
    deadline = time.monotonic() + 20
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pidfile.exists(), "the probe never started"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 2, "Ctrl-C waited for the probe's deadline"
    assert "Traceback" not in err
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while process_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not process_alive(pid), "the hanging probe was left running"


def test_system_json_keeps_0x_keys(lf):
    """Issue 15 item 13: agents written for 0.x read these keys."""
    import platform

    doc = json.loads(lf("system", "--json", check=0).stdout)
    hw = doc["hardware"]
    assert hw["platform"] == platform.system() and hw["arch"] == platform.machine()
    assert ("gpu" in hw) and (hw["gpu"] is None) == (not hw["gpus"])
    assert str(hw["vram_gb"]) != "-0.0"
    assert doc["services"]["sd_webui"]["label"] == "SD WebUI" and doc["services"]["ollama"]["label"] == "Ollama"
    assert doc["services"]["sd_webui"] == doc["services"]["sd"]


FAKE_TWO = (
    '[{"vendor": "nvidia", "name": "RTX 4090", "vram_gb": 24, "free_gb": 20, "uuid": "GPU-11111111"},'
    ' {"vendor": "amd", "name": "Radeon RX 7900 XTX", "vram_gb": 24, "free_gb": 23.5}]'
)


def test_a_fake_machine_of_two_cards_is_what_system_reports(lf):
    """`LOCALFORGE_FAKE_GPUS` (for tests: a described machine) is read by the engine's
    discovery, so every front end sees the same cards; an NVIDIA and an AMD card here."""
    lf.env["LOCALFORGE_FAKE_GPUS"] = FAKE_TWO
    hw = json.loads(lf("system", "--json", check=0).stdout)["hardware"]
    cards = [(g["index"], g["vendor"], g["name"], g["vram_free_gb"], g["uuid"]) for g in hw["gpus"]]
    assert cards == [(0, "nvidia", "RTX 4090", 20.0, "GPU-11111111"), (1, "amd", "Radeon RX 7900 XTX", 23.5, None)]
    assert hw["vram_gb"] == 48.0 and hw["gpu"] == "RTX 4090"
    text = lf("system", check=0).stdout
    assert "  GPU 0 RTX 4090: 24.0 GB VRAM, 20.0 GB free" in text and "  GPU 1 Radeon RX 7900 XTX: 24.0 GB VRAM, 23.5 GB free" in text
    lf.env["LOCALFORGE_FAKE_GPUS"] = '[{"vendor": "intel", "name": "x", "vram_gb": 8}]'
    hw = json.loads(lf("system", "--json", check=0).stdout)["hardware"]
    assert hw["gpus"] == [] and hw["gpu_note"] == "LOCALFORGE_FAKE_GPUS: vendor `intel` is not `nvidia` or `amd`"


def test_health_says_to_install_ollama_where_it_is_not_installed(lf):
    """Issue 31 item 6: `start Ollama` is no help where there is no Ollama to start."""
    import shutil

    lf.write("localforge.yaml", "services:\n  ollama: {host: 'http://127.0.0.1:9'}\n")
    lf.env["PATH"] = os.pathsep.join(p for p in lf.env["PATH"].split(os.pathsep) if not shutil.which("ollama", path=p))
    out = lf("health").stdout
    assert "Ollama is not installed here: install it (https://ollama.com/download" in out and "then `ollama serve`" in out
