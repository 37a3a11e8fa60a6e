"""Python tool plugins in the 0.x style, found in the package's tools folder,
a user folder and an installed entry point, run through real recipes."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import FIXTURES

PLUGINS = FIXTURES / "plugins"


@pytest.fixture
def user_tools(lf):
    """~/.localforge/tools with the fixture plugins copied in."""
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    return folder


def _use(folder, *names):
    for n in names:
        shutil.copy(PLUGINS / f"{n}_tool.py", folder / f"{n}_tool.py")


NOTES_RECIPE = """\
name: notes-demo
inputs:
  - {name: who, default: Ada}
config: {tone: warm}
steps:
  - id: first
    tool: file_ops
    action: list
    inputs: {path: "{{ temp_dir }}"}
  - id: note
    tool: notes
    action: write
    inputs: {name: hello.txt, text: "hello {{ inputs.who }}"}
  - id: about
    tool: notes
    action: describe
    inputs: {items: "{{ steps.note.outputs.words }}"}
outputs:
  about: "{{ steps.about.outputs }}"
"""


def test_user_folder_plugin_with_relative_imports_and_ctx(lf, user_tools):
    _use(user_tools, "notes")
    (lf.work / "localforge.yaml").write_text("services:\n  ollama:\n    host: http://127.0.0.1:9\n")
    rec = lf.write("notes.yaml", NOTES_RECIPE)
    proc = lf("run", rec, "--json", check=0)
    doc = json.loads(proc.stdout)
    note = doc["steps"]["note"]["outputs"]
    assert note["chars"] == len("hello Ada") and note["words"] == ["hello", "Ada"], "ctx.resolve rendered the text"
    about = doc["outputs"]["about"]
    assert about["run_id"] == doc["run_id"]
    assert about["run_dir_is_path"].endswith("Path")
    assert about["recipe"] == "notes-demo" and about["recipe_config"] == {"tone": "warm"}
    assert about["inputs"] == {"who": "Ada"}
    assert about["step"] == "about" and about["previous"] == ["first", "note"]
    assert about["ollama_host"] == "http://127.0.0.1:9", "get_config reads the same file as the engine"
    # As 0.x rendered it: a templated input is text, a list its Python repr.
    assert about["list_in"] == "['hello', 'Ada']" and about["list_type"] == "str", "a templated list arrives as 0.x's text"
    assert "note: wrote hello.txt" in proc.stderr, "ctx.log reaches the run log"
    con = sqlite3.connect(lf.db)
    events = [r[0] for r in con.execute("SELECT message FROM events WHERE run_id = ? AND step_id = 'note'", (doc["run_id"],))]
    assert "wrote hello.txt" in events, "ctx.log reaches the history"


def test_plugin_in_the_package_tools_folder(lf, tmp_path):
    # A copy of the installed package (editable or from a wheel) first on PYTHONPATH: the
    # test drops its plugin there, never into the source tree or site-packages.
    import localforge.tools  # binds `localforge` too

    package = Path(localforge.__file__).resolve().parent
    copy = tmp_path / "pkg"
    shutil.copytree(package, copy / "localforge", ignore=shutil.ignore_patterns("__pycache__"))
    # The folder `localforge.tools` imports from (compat/tools/, under its 0.x name).
    target = copy / "localforge" / Path(localforge.tools.__file__).resolve().parent.relative_to(package) / "zz_dropped_notes_tool.py"
    shutil.copy(PLUGINS / "notes_tool.py", target)
    lf.env["PYTHONPATH"] = str(copy)
    rec = lf.write("n.yaml", "name: n\nsteps:\n  - {id: w, tool: notes, action: write, inputs: {text: dropped}}\n")
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert doc["steps"]["w"]["outputs"]["chars"] == 7
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert tools["notes"]["kind"] == "python" and tools["notes"]["source"] == str(target)


def test_plugin_from_an_installed_entry_point(lf):
    lf.env["PYTHONPATH"] = str(PLUGINS / "entry")
    rec = lf.write("s.yaml", "name: s\nsteps:\n  - {id: s, tool: shout, action: upper, inputs: {text: hi}}\n")
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert doc["steps"]["s"]["outputs"] == {"text": "HI!"}
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert "entry point `shout`" in tools["shout"]["source"]


def test_tool_dirs_from_config(lf):
    folder = lf.work / "my-tools"
    folder.mkdir()
    _use(folder, "notes")
    (lf.work / "localforge.yaml").write_text(f"tool_dirs: [{folder}]\n")
    rec = lf.write("n.yaml", "name: n\nsteps:\n  - {id: w, tool: notes, action: write, inputs: {text: from config dir}}\n")
    assert json.loads(lf("run", rec, "--json", "-q", check=0).stdout)["steps"]["w"]["outputs"]["chars"] == 15


def test_validator_gate_failure_drives_a_refinement_loop(lf, user_tools):
    _use(user_tools, "notes")
    rec = lf.write(
        "refine.yaml",
        """\
name: refine
config: {max_iterations: 4}
steps:
  - id: check
    tool: notes
    action: check
    gate: true
    on_failure: refine
    inputs: {name: draft.txt, min_lines: 3}
    refinement:
      steps:
        - id: improve
          tool: notes
          action: append_line
          inputs: {name: draft.txt, line: "line after {{ steps.check.outputs.lines }}"}
""",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert doc["steps"]["check"]["status"] == "completed"
    assert doc["steps"]["check"]["attempts"] == 4
    assert doc["steps"]["check"]["outputs"]["lines"] == 3
    con = sqlite3.connect(lf.db)
    rows = con.execute("SELECT step_id, attempt, status, error FROM steps WHERE run_id = ? ORDER BY rowid", (doc["run_id"],)).fetchall()
    assert rows[0] == ("check", 1, "failed", "gate failed: 0 of 3 lines")
    assert [r[0] for r in rows] == ["check", "improve#1", "check", "improve#2", "check", "improve#3", "check"]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("raise", "`misbehaving.raise` raised ValueError: the input was not to my liking"),
        ("not_a_dict", "tool `misbehaving` action `not_a_dict` returned list, not a dict"),
        ("unstorable", "returned a value that cannot be stored"),
    ],
)
def test_misbehaving_plugins_fail_the_step_clearly(lf, user_tools, action, message):
    _use(user_tools, "misbehaving")
    rec = lf.write("m.yaml", f"name: m\nsteps:\n  - {{id: m, tool: misbehaving, action: {action}}}\n")
    proc = lf("run", rec, "--json", check=1)
    doc = json.loads(proc.stdout)
    assert message in doc["steps"]["m"]["error"]
    con = sqlite3.connect(lf.db)
    status, error, detail = con.execute("SELECT status, error, error_detail FROM steps WHERE run_id = ?", (doc["run_id"],)).fetchone()
    assert status == "failed" and message in error
    assert con.execute("SELECT status FROM runs WHERE run_id = ?", (doc["run_id"],)).fetchone()[0] == "failed"
    if action == "raise":
        assert "Traceback (most recent call last)" in detail and "misbehaving_tool.py" in detail, "traceback kept in history"


def test_a_hanging_plugin_is_stopped_by_the_step_timeout(lf, user_tools):
    _use(user_tools, "misbehaving")
    rec = lf.write(
        "h.yaml",
        "name: h\nsteps:\n  - {id: h, tool: misbehaving, action: hang, timeout: 1, inputs: {seconds: 30}}\n"
        "  - {id: after, tool: file_ops, action: mkdir, inputs: {path: '{{ temp_dir }}/x'}}\n",
    )
    proc = lf("run", rec, "--json", check=1, timeout=25)
    doc = json.loads(proc.stdout)
    assert "timed out after 1s" in doc["steps"]["h"]["error"]
    assert doc["steps"]["after"]["status"] == "not_run"
    con = sqlite3.connect(lf.db)
    assert con.execute("SELECT status FROM runs WHERE run_id = ?", (doc["run_id"],)).fetchone()[0] == "failed"
    assert con.execute("SELECT status FROM steps WHERE run_id = ?", (doc["run_id"],)).fetchall() == [("failed",)]


def test_a_plugin_that_fails_to_import(lf, user_tools):
    _use(user_tools, "broken", "notes")
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert tools["broken"]["available"] is False
    assert "No module named 'a_module_that_does_not_exist'" in tools["broken"]["missing"][0]
    assert tools["notes"]["available"] is True, "one broken plugin does not hide the others"
    rec = lf.write("b.yaml", "name: b\nsteps:\n  - {id: b, tool: broken, action: run}\n")
    proc = lf("run", rec, check=2)
    assert "uses tool `broken`, which cannot be used here" in proc.stderr
    assert "a_module_that_does_not_exist" in proc.stderr and str(user_tools / "broken_tool.py") in proc.stderr


def test_a_plugin_cannot_silently_shadow_a_builtin(lf, user_tools):
    _use(user_tools, "clash")
    rec = lf.write("c.yaml", "name: c\nsteps:\n  - {id: c, tool: file_ops, action: copy, inputs: {source: a, destination: b}}\n")
    proc = lf("validate", rec, check=2)
    assert "two tools are named `file_ops`: built-in and " + str(user_tools / "clash_tool.py") in proc.stderr


def test_get_config_surface(lf, tmp_path):
    (lf.work / "localforge.yaml").write_text("services:\n  sd:\n    host: http://sd:1\n    timeout: 9\npersistence:\n  enabled: false\n")
    lf.env["LOCALFORGE_OLLAMA_MODEL"] = "tiny:1b"
    code = (
        "from localforge.engine.config import get_config\n"
        "c = get_config()\n"
        "print(c.sd_host, c.sd_timeout, c.ollama_model, c.ollama_host, c.persistence_enabled, c.ffmpeg_path,"
        " c.service('sd')['host'], c.get('services.sd.timeout'), c.run_dir.endswith('localforge-workspace/runs'))\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], cwd=lf.work, env=lf.env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["http://sd:1", "9", "tiny:1b", "http://localhost:11434", "False", "ffmpeg", "http://sd:1", "9", "True"]


def test_a_plugin_that_imports_threading_late_does_not_hang_exit(lf, user_tools):
    _use(user_tools, "lateimport")
    rec = lf.write("t.yaml", "name: t\nsteps:\n  - {id: t, tool: lateimport, action: run}\n")
    doc = json.loads(lf("run", rec, "--json", "-q", check=0, timeout=30).stdout)
    assert doc["steps"]["t"]["status"] == "completed"


def test_a_helper_beside_a_plugin_imports_as_in_0x(lf, user_tools):
    """Issue 15 item 4: 0.x helpers lived beside tools in `localforge.tools`."""
    (user_tools / "_image_utils.py").write_text("def double(x):\n    return 2 * x\n")
    (user_tools / "pair_tool.py").write_text(
        "from ._image_utils import double\nfrom localforge.tools._image_utils import double as twice\n"
        "TOOL_NAME = 'pair'\nTOOL_ACTIONS = ['go']\n\n"
        "def handle(action, inputs, ctx):\n    return {'a': double(3), 'b': twice(4)}\n"
    )
    rec = lf.write("p.yaml", "name: p\nsteps:\n  - {id: p, tool: pair, action: go}\n")
    doc = json.loads(lf("run", rec, "--json", check=0).stdout)
    assert doc["steps"]["p"]["outputs"] == {"a": 6, "b": 8}


def test_a_plugin_missing_a_0x_dependency_names_the_install_command(lf, user_tools, tmp_path):
    """Issue 15 item 6: 0.x depended on requests and PyYAML; the `compat` extra brings them."""
    hide = tmp_path / "hide"
    hide.mkdir()
    for module in ("requests", "yaml"):  # as if not installed, whatever this machine has
        (hide / f"{module}.py").write_text(f"raise ModuleNotFoundError(\"No module named '{module}'\", name='{module}')\n")
    lf.env["PYTHONPATH"] = str(hide)
    (user_tools / "web_tool.py").write_text(
        "import requests\nTOOL_NAME = 'web'\nTOOL_ACTIONS = ['get']\n\ndef handle(a, i, c):\n    return {}\n"
    )
    (user_tools / "odd_tool.py").write_text(
        "import numpyish_xyz\nTOOL_NAME = 'odd'\nTOOL_ACTIONS = ['go']\n\ndef handle(a, i, c):\n    return {}\n"
    )
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert "pip install 'requests>=2' 'pyyaml>=6'" in tools["web"]["missing"][0], "the extra's packages by name"
    assert "pip install numpyish_xyz" in tools["odd"]["missing"][0]


CTX_0X_TOOL = """\
\"\"\"A plugin written for 0.x: every ctx attribute and method its WorkflowContext had.\"\"\"
import datetime
from pathlib import Path

TOOL_NAME = "probe"
TOOL_ACTIONS = ["look", "fix", "check"]


def handle(action, inputs, ctx):
    if action == "fix":
        return {"fixed": True}
    if action == "check":
        n = ctx.iteration_count.get("checked", 0)
        return {"passed": n >= 2, "n": n, "active": ctx.refinement_active, "failures": [] if n >= 2 else ["not yet"]}
    ctx.cache = {"seen": 1}  # plugins cached things on ctx
    ctx.set_step_output("injected", {"value": 41})
    print("printed by a 0.x plugin")
    return {
        "n_plus_px": inputs["n"] + "px",
        "literal_n": inputs["literal"],
        "items": inputs["items"],
        "current_step": ctx.current_step,
        "recipe_steps": [s["id"] for s in ctx.recipe["steps"]],
        "recipe_inputs": [i["name"] for i in ctx.recipe["inputs"]],
        "templates": ctx.templates,
        "errors": ctx.errors,
        "iteration_count": ctx.iteration_count,
        "refinement_active": ctx.refinement_active,
        "start_time_is_datetime": isinstance(ctx.start_time, datetime.datetime),
        "temp_is_path": isinstance(ctx.temp_dir, Path),
        "first_outputs": ctx.steps_output["first"]["outputs"]["count"] == 0,
        "evaluate": ctx._evaluate("inputs.count") + 1,
        "injected": ctx.resolve("{{ steps.injected.outputs.value }}"),
        "resolve_text": ctx.resolve("{{inputs.count}}"),
        "resolve_unknown": ctx.resolve("{{item}}-{{ inputs.count }}"),
        "resolve_nested": ctx.resolve({"a": ["{{inputs.count}}", 2]}),
        "cached": ctx.cache,
    }
"""

CTX_0X_RECIPE = """\
name: ctx-0x
inputs:
  - {name: count, type: integer, default: 3}
templates: {greet: "hi {{inputs.count}}"}
steps:
  - {id: first, tool: file_ops, action: list, inputs: {path: "{{ temp_dir }}"}}
  - id: look
    tool: probe
    action: look
    inputs: {n: "{{inputs.count}}", literal: 3, items: "{{ steps.first.outputs.files }}"}
  - {id: after, tool: file_ops, action: mkdir, inputs: {path: "{{ workflow.run_dir }}/v{{ steps.injected.outputs.value | default(0) }}"}}
  - {id: checked, tool: probe, action: check, gate: true, on_failure: refine, refinement: {steps: [{id: fixer, tool: probe, action: fix}]}}
"""


def test_a_0x_plugin_gets_the_whole_ctx_surface_and_0x_values(lf, user_tools):
    """Issue 15 items 1 and 2."""
    (user_tools / "probe_tool.py").write_text(CTX_0X_TOOL)
    rec = lf.write("ctx.yaml", CTX_0X_RECIPE)
    proc = lf("run", rec, "--json", check=0)
    doc = json.loads(proc.stdout)  # stdout holds only the report: the plugin's print went to the log
    out = doc["steps"]["look"]["outputs"]
    assert out["n_plus_px"] == "3px" and out["literal_n"] == 3 and out["items"] == "[]"
    assert out["current_step"] == "look"
    assert out["recipe_steps"] == ["first", "look", "after", "checked"] and out["recipe_inputs"] == ["count"]
    assert out["templates"] == {"greet": "hi {{inputs.count}}"} and out["errors"] == []
    assert out["iteration_count"] == {} and out["refinement_active"] is False
    assert out["start_time_is_datetime"] and out["temp_is_path"] and out["first_outputs"]
    assert out["evaluate"] == 4 and out["injected"] == "41"
    assert out["resolve_text"] == "3" and out["resolve_unknown"] == "{{item}}-3"
    assert out["resolve_nested"] == {"a": ["3", 2]} and out["cached"] == {"seen": 1}
    assert (Path(doc["run_dir"]) / "v41").is_dir(), "set_step_output feeds later templates"
    checked = doc["steps"]["checked"]
    assert checked["status"] == "completed" and checked["outputs"]["n"] == 2 and checked["outputs"]["active"] is True
    assert "printed by a 0.x plugin" in proc.stderr and "Could not resolve 'item'" in proc.stderr


def test_a_plugin_can_ask_for_native_values(lf, user_tools):
    (user_tools / "typed_tool.py").write_text(
        "TOOL_NAME = 'typed'\nTOOL_ACTIONS = ['go']\nTOOL_NATIVE_VALUES = True\n\n"
        "def handle(action, inputs, ctx):\n"
        "    return {'n': inputs['n'] + 1, 'kind': type(inputs['xs']).__name__, 'r': ctx.resolve('{{ inputs.count }}')}\n"
    )
    rec = lf.write(
        "t.yaml",
        "name: t\ninputs:\n  - {name: count, type: integer, default: 3}\n"
        "steps:\n  - {id: t, tool: typed, action: go, inputs: {n: '{{ inputs.count }}', xs: '{{ [1, 2] }}'}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", check=0).stdout)
    assert doc["steps"]["t"]["outputs"] == {"n": 4, "kind": "list", "r": 3}


def test_config_with_a_path_does_not_leak_into_the_process(lf, tmp_path):
    """Issue 15 item 7."""
    other = tmp_path / "other.yaml"
    other.write_text("services:\n  sd:\n    host: http://other:2\n")
    code = (
        "import os\n"
        "from localforge.engine.config import Config, get_config, reset_config\n"
        f"c = Config({str(other)!r})\n"
        "print(c.sd_host, 'LOCALFORGE_CONFIG' in os.environ)\n"
        f"os.remove({str(other)!r})\n"
        "reset_config()\n"
        "print(get_config().sd_host)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], cwd=lf.work, env=lf.env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["http://other:2", "False", "http://localhost:7860"]


BATCHY_TOOL = '''\
"""A 0.x plugin that runs its own batches: it fills `{{item}}` itself, as 0.x's batch tool did."""
import ast

TOOL_NAME = "batchy"
TOOL_ACTIONS = ["each"]


def handle(action, inputs, ctx):
    items = inputs["items"]
    if isinstance(items, str):
        items = ast.literal_eval(items)  # 0.x rendered a list as its repr
    out = []
    for i, item in enumerate(items):
        for sub in inputs["workflow_steps"]:
            text = sub["inputs"]["text"].replace("{{item}}", str(item)).replace("{{item_index}}", str(i))
            out.append(ctx.resolve(text))
    return {"results": out, "raw": ctx.resolve("{{item}}")}
'''


def test_a_0x_batch_style_plugin_fills_item_itself(lf, user_tools):
    """Issue 15 item 5: `{{item}}` reaches a 0.x plugin as written; the rest is rendered."""
    (user_tools / "batchy_tool.py").write_text(BATCHY_TOOL)
    rec = lf.write(
        "b.yaml",
        "name: b\ninputs:\n  - {name: names, type: list, default: [ada, bob]}\n  - {name: greeting, default: hi}\n"
        "steps:\n  - id: each\n    tool: batchy\n    action: each\n    inputs:\n      items: '{{inputs.names}}'\n"
        "      workflow_steps:\n        - {id: say, tool: x, action: y, inputs: {text: '{{inputs.greeting}} {{item}} #{{item_index}}'}}\n",
    )
    assert lf("validate", rec, check=0).returncode == 0
    doc = json.loads(lf("run", rec, "--json", check=0).stdout)
    assert doc["steps"]["each"]["outputs"] == {"results": ["hi ada #0", "hi bob #1"], "raw": "{{item}}"}


MODULES_0X_TOOL = '''\
"""A 0.x plugin importing every module 0.x offered plugins."""
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from localforge.clients.sd_client import SDClient, is_sd_running
    from localforge.engine.config import DEFAULTS, get_config, reset_config
    from localforge.engine.persistence import get_persistence
    from localforge.engine.runner import ToolRegistry, WorkflowRunner
    from localforge.engine.system_info import SystemInfo
    from localforge.tools import file_tool

TOOL_NAME = "oldmods"
TOOL_ACTIONS = ["go"]


def handle(action, inputs, ctx):
    reg = ToolRegistry()
    target = str(ctx.temp_dir / "via-file-tool.txt")
    file_tool.handle("write", {"path": target, "content": "x"}, ctx)
    listed = reg.execute("file_ops", "list", {"path": str(ctx.temp_dir)}, ctx)
    info = SystemInfo()
    reset_config()
    return {
        "defaults_sd": DEFAULTS["services"]["sd"]["host"],
        "config_sd": get_config().sd_host,
        "tools": [t for t in ("file_ops", "script", "oldmods") if t in reg.available_tools()],
        "listed": listed["files"],
        "hardware": sorted(info.hardware),
        "services": sorted(info.services),
        "summary": sorted(info.summary()),
        "sd_running": is_sd_running("http://127.0.0.1:9"),
        "sd_models": SDClient("http://127.0.0.1:9").get_models(),
        "history": [r["status"] for r in get_persistence().list_runs(limit=100)][:1],
        "runner": type(WorkflowRunner(auto_approve=True)).__name__,
    }
'''


def test_a_0x_plugin_imports_every_0x_module(lf, user_tools):
    """Issue 15 item 3: thin, deprecated shims over the engine."""
    (user_tools / "oldmods_tool.py").write_text(MODULES_0X_TOOL)
    rec = lf.write("m.yaml", "name: m\nsteps:\n  - {id: m, tool: oldmods, action: go}\n")
    doc = json.loads(lf("run", rec, "--json", timeout=60, check=0).stdout)
    out = doc["steps"]["m"]["outputs"]
    assert out["defaults_sd"] == "http://localhost:7860" and out["config_sd"] == "http://localhost:7860"
    assert out["tools"] == ["file_ops", "script", "oldmods"]
    assert [p.rsplit("/", 1)[1] for p in out["listed"]] == ["via-file-tool.txt"], "file_tool wrote, the registry listed"
    assert out["hardware"] == ["arch", "cpu_cores", "gpu", "platform", "ram_gb", "vram_gb"]
    assert out["services"] == ["comfyui", "ollama", "sd_webui"] and out["summary"] == ["hardware", "services", "tools"]
    assert out["sd_running"] is False and out["sd_models"] == []
    assert out["history"] == ["completed"] and out["runner"] == "WorkflowRunner"


def test_system_info_reads_the_engines_recommendations():
    with pytest.warns(DeprecationWarning, match="localforge.system"):
        from localforge.engine.system_info import SystemInfo
    info = SystemInfo()
    info._report = {
        "recommendations": [
            {"task": "general", "model": "llama3.2:3b", "vram_gb": 3.3, "fits": True, "runs_on": "gpu", "why": "fits"},
            {"task": "image_generation", "model": "sdxl", "vram_gb": 9.5, "fits": True, "runs_on": "gpu", "why": "fits"},
        ]
    }
    assert info.recommend_sd_config() == {"key": "sdxl", "label": "sdxl", "vram_gb": 9.5, "resolution": None}
    assert info.can_run_model("llama3.2:3b") and not info.can_run_model("llama3.1:70b")
    assert [r["model"] for r in info.recommend_models("general")] == ["llama3.2:3b"]


SYSTEM_INFO_TEXT = """\
import json, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
from localforge.engine.system_info import SystemInfo
info = SystemInfo()
info._report = json.loads(sys.argv[1])
sys.stdout.write(info.format_report())
print(sorted({m.split(".")[1] for m in sys.modules if m.startswith("localforge.")}))
"""


def test_system_info_formats_the_report_as_the_cli_does_without_loading_it(lf):
    """0.x's `SystemInfo.format_report()`: the `localforge system` text, from the services
    layer (the shim loads no front end)."""
    import subprocess
    import sys

    report = {
        "hardware": {"cpu": "Ryzen 5", "cpu_cores": 12, "physical_cores": 6, "ram_gb": 31.3, "ram_available_gb": 20.04,
                     "gpus": [{"name": "RTX 3060", "vram_total_gb": 12, "vram_free_gb": 11.5, "driver": "550.1"}]},
        "services": {"ollama": {"running": True, "version": "0.5.1", "models": ["a", "b"], "loaded": [], "url": "http://localhost:11434"},
                     "sd": {"running": False, "url": "http://localhost:7860", "error": "connection refused", "hint": "start it"}},
        "tools": {"ffmpeg": {"found": True, "version": "6.1", "path": "/usr/bin/ffmpeg"}, "blender": {"found": False}},
        "recommendations": [{"task": "general", "model": "llama3.2:3b", "vram_gb": 3.3, "fits": True, "why": "fits in 11.5 GB"}],
        "advice": [],
    }  # fmt: skip
    env = {**lf.env, "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", SYSTEM_INFO_TEXT, json.dumps(report)], env=env, capture_output=True, text=True, check=True)
    *lines, loaded = out.stdout.splitlines(keepends=True)
    assert "".join(lines) == (
        "LocalForge system report\n\n"
        "Hardware\n  CPU   Ryzen 5 (12 threads, 6 cores)\n  RAM   31.3 GB (20.0 GB available)\n"
        "  GPU   RTX 3060: 12.0 GB VRAM, 11.5 GB free, driver 550.1\n\n"
        "Services\n  ✓ ollama       http://localhost:11434       0.5.1  2 models\n"
        "  ✗ sd           http://localhost:7860        connection refused\n                 → start it\n\n"
        "Tools\n  ✓ ffmpeg               6.1              /usr/bin/ffmpeg\n  ✗ blender              not found\n\n"
        "Recommended models\n  ✓ general           llama3.2:3b            3.3 GB  fits in 11.5 GB\n"
    )
    assert "frontends" not in loaded and "services" in loaded, loaded
