"""What people read: human output of the CLI (lists and mappings written for
people, not as Python reprs), recipes listed once with where they come from,
`health`'s exit code, `system` wrapped to the terminal, the README's example."""

import json
from http.server import BaseHTTPRequestHandler

import pytest

from conftest import serve

LISTY = """\
name: listy
inputs:
  - {name: folder, type: path, required: true}
  - {name: tags, type: list, default: [red, green]}
  - {name: greeting, default: hello}
steps:
  - id: find
    tool: file_ops
    action: list
    inputs: {path: "{{ inputs.folder }}", pattern: "*.md"}
outputs:
  files: "{{ steps.find.outputs.files }}"
  tags: "{{ inputs.tags }}"
  count: "{{ steps.find.outputs.files | length }}"
"""


def notes(lf, names):
    folder = lf.work / "notes"
    folder.mkdir()
    for name in names:
        (folder / name).write_text("one two\n")
    return folder


def no_reprs(text):
    for mark in ("['", "{'", "']", "'}", "[]", "{}"):
        assert mark not in text, f"a Python repr ({mark}) in:\n{text}"


def test_run_summary_prints_lists_for_people(lf):
    folder = notes(lf, ["a.md", "b.md"])
    rec = lf.write("listy.yaml", LISTY)
    out = lf("run", rec, "-i", f"folder={folder}", "-q", check=0).stdout
    no_reprs(out)
    assert "  tags: red, green\n" in out
    assert "  count: 2\n" in out
    # Two long paths do not fit on one line: one a line, indented under the key.
    assert f"  files:\n    {folder}/a.md\n    {folder}/b.md\n" in out
    doc = json.loads(lf("run", rec, "-i", f"folder={folder}", "-q", "--json", check=0).stdout)
    assert doc["outputs"]["tags"] == ["red", "green"], "JSON keeps the values as they are"


def test_dry_run_prints_inputs_as_key_value_lines(lf):
    folder = notes(lf, ["a.md"])
    rec = lf.write("listy.yaml", LISTY)
    out = lf("run", rec, "-i", f"folder={folder}", "--dry-run", check=0).stdout
    no_reprs(out)
    assert out.startswith(f"plan for listy (sequential)\ninputs:\n  folder: {folder}\n  tags: red, green\n  greeting: hello\n")
    plan = json.loads(lf("run", rec, "-i", f"folder={folder}", "--dry-run", "--json", check=0).stdout)
    assert plan["inputs"] == {"folder": str(folder), "tags": ["red", "green"], "greeting": "hello"}


def test_list_inputs_shows_defaults_without_quotes_or_brackets(lf):
    rec = lf.write("listy.yaml", LISTY)
    out = lf("run", rec, "--list-inputs", check=0).stdout
    no_reprs(out)
    assert "tags (list, default: red, green)\n" in out
    assert "greeting (string, default: hello)\n" in out


def test_list_shows_each_recipe_once_with_its_source(lf):
    from conftest import REPO

    builtin = REPO / "python" / "localforge" / "recipes"
    copy = lf.work / "recipes" / "examples" / "batch-resize.yaml"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((builtin / "examples" / "batch-resize.yaml").read_bytes())  # what `pip install .` leaves
    lf.write(
        "recipes/mine/fresh.yaml",
        "name: fresh\ndescription: made here\nsteps:\n  - {id: a, tool: file_ops, action: mkdir, inputs: {path: x}}\n",
    )
    entries = json.loads(lf("list", "--json", check=0).stdout)
    by_name = {}
    for e in entries:
        by_name.setdefault(e["name"], []).append(e)
    assert [e["source"] for e in by_name["batch-resize"]] == ["built-in"], by_name["batch-resize"]
    assert by_name["fresh"] == [
        {
            "name": "fresh",
            "description": "made here",
            "group": "mine",
            "path": str(lf.work / "recipes/mine/fresh.yaml"),
            "source": "./recipes",
        }
    ]
    assert all(len(v) == 1 for v in by_name.values()), [k for k, v in by_name.items() if len(v) > 1]
    out = lf("list", check=0).stdout
    assert out.count("batch-resize") == 1
    assert "\nexamples/  (built-in)\n" in out and "\nmine/  (./recipes)\n  fresh" in out
    # A name finds the same file the listing shows.
    assert lf("validate", "examples/batch-resize", check=0).stdout == f"✓ {builtin / 'examples' / 'batch-resize.yaml'}\n"
    assert lf("validate", "fresh", check=0).stdout == f"✓ {lf.work / 'recipes/mine/fresh.yaml'}\n"
    # A changed copy is a recipe of its own, shown as ./recipes.
    copy.write_text(copy.read_text() + "# mine now\n")
    sources = [e["source"] for e in json.loads(lf("list", "--json", check=0).stdout) if e["name"] == "batch-resize"]
    assert sources == ["built-in", "./recipes"]


def test_list_dir_marks_entries_with_the_folder_given(lf):
    lf.write("elsewhere/one.yaml", "name: one\nsteps:\n  - {id: a, tool: file_ops, action: mkdir, inputs: {path: x}}\n")
    entries = json.loads(lf("list", "elsewhere", "--json", check=0).stdout)
    assert [(e["name"], e["source"]) for e in entries] == [("one", "elsewhere")]
    assert "(elsewhere)\n  one" in lf("list", "elsewhere", check=0).stdout


def recommendations(out):
    return out[out.index("Recommended models") :].splitlines()


def test_system_recommendations_wrap_at_the_width(lf):
    lf.write("localforge.yaml", "services:\n  ollama: {host: 'http://127.0.0.1:9'}\nresources: {vram_gb: 12}\n")
    lf.env["COLUMNS"] = "60"
    lines = recommendations(lf("system", check=0).stdout)
    too_long = [line for line in lines if len(line) > 60]
    assert not too_long, "\n".join(too_long)
    text = " ".join(" ".join(lines).split())
    assert "best general model for 12.0 GB free VRAM" in text, "wrapping keeps every word"
    assert "OLLAMA_FLASH_ATTENTION=1" in text and "Ollama tuning" in text
    # Not a terminal and no COLUMNS: 100 columns.
    del lf.env["COLUMNS"]
    lines = recommendations(lf("system", check=0).stdout)
    assert max(map(len, lines)) <= 100 and max(map(len, lines)) > 60
    wrapped = next(i for i, line in enumerate(lines) if "✓ general" in line) + 1
    assert lines[wrapped].startswith(" " * 53) and lines[wrapped].strip(), "continuation lines sit under the text"


CLOSED = "http://127.0.0.1:9"


class Ollama(BaseHTTPRequestHandler):
    """Answers the probes `health` makes, as a running Ollama would."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        docs = {"/api/version": {"version": "0.12.3"}, "/api/tags": {"models": []}, "/api/ps": {"models": []}}
        data = json.dumps(docs.get(self.path, {})).encode()
        self.send_response(200 if self.path in docs else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def ollama():
    with serve(Ollama) as url:
        yield url


def test_health_exits_1_when_a_configured_service_is_down(lf):
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{CLOSED}'}}\n")
    proc = lf("health", "--json", check=1)
    doc = json.loads(proc.stdout)
    assert doc["services"]["ollama"]["running"] is False
    assert "`ollama` is configured but not running" in proc.stderr
    human = lf("health", check=1)
    assert f"✗ ollama       {CLOSED}" in human.stdout and "`ollama` is configured but not running" in human.stderr


def test_health_exits_0_when_what_you_configured_runs(lf, ollama):
    # The SD WebUI and ComfyUI are left at the built-in defaults: shown, not counted.
    lf.write("localforge.yaml", f"services:\n  ollama: {{host: '{ollama}'}}\n")
    proc = lf("health", "--json", check=0)
    doc = json.loads(proc.stdout)
    assert doc["services"]["ollama"]["running"] is True and set(doc["services"]) >= {"sd", "comfyui"}
    assert proc.stderr == ""
    # A service set by a variable is configured too.
    lf.env["LOCALFORGE_SD_HOST"] = CLOSED
    assert "`sd` is configured but not running" in lf("health", check=1).stderr


def test_health_help_documents_the_exit_codes(lf):
    out = lf("health", "--help", check=0).stdout
    assert "exit codes:\n  0  every service you configured is running\n  1  a service you configured" in out
    import localforge.frontends.cli.health as health

    assert "Exit codes:" in health.__doc__ and "1  a service you configured is not running" in health.__doc__


def test_the_readme_recipe_example_does_what_its_name_says(lf):
    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("\n## Recipes\n") :]
    example = section[section.index("```yaml\n") + 8 : section.index("\n```", section.index("```yaml\n"))]
    rec = lf.write("example.yaml", example + "\n")
    assert example.startswith("name: count-markdown-words\n")
    folder = notes(lf, ["a.md", "b.md"])
    (folder / "skip.txt").write_text("not markdown\n")
    (folder / "b.md").write_text("three words here\n")
    doc = json.loads(lf("run", rec, "-i", f"folder={folder}", "-q", "--json", check=0).stdout)
    counts = {r["item"]: r["outputs"]["count"]["stdout"].split()[0] for r in doc["steps"]["each"]["outputs"]["results"]}
    assert counts == {str(folder / "a.md"): "2", str(folder / "b.md"): "3"}
    assert doc["outputs"] == {"counted": 2}


def test_history_shows_a_resumed_runs_own_running_time(lf):
    import time
    from datetime import datetime

    marker = lf.work / "marker"
    rec = lf.write(
        "flaky.yaml", f"name: flaky\nsteps:\n  - {{id: a, tool: script, action: run, inputs: {{command: 'test -f {marker}'}}}}\n"
    )
    run_id = json.loads(lf("run", rec, "--json", "-q", check=1).stdout)["run_id"]
    time.sleep(2)
    marker.write_text("")
    assert json.loads(lf("resume", run_id, "--json", "-q", check=0).stdout)["status"] == "completed"
    (row,) = json.loads(lf("history", "-n", "1", "--json", check=0).stdout)
    span = (
        datetime.fromisoformat(row["ended_at"].replace("Z", "+00:00")) - datetime.fromisoformat(row["started_at"].replace("Z", "+00:00"))
    ).total_seconds()
    assert span >= 2 and row["duration_s"] < 1.5, row
    took = f"{row['duration_s']:.2f}s"
    assert f"{run_id}  completed" in lf("history", check=0).stdout and took in lf("history", check=0).stdout
    assert f", ran {took}\n" in lf("history", "show", run_id, check=0).stdout


def test_init_makes_a_workspace_a_config_and_a_recipes_folder(lf):
    """Issue 15 item 12: 0.x's `init`, without overwriting a config that exists."""
    ws = lf.home / "ws"
    proc = lf("init", "--workspace", ws, check=0)
    assert all((ws / d).is_dir() for d in ("output", "runs", "logs"))
    config = lf.work / "localforge.yaml"
    assert f'workspace: "{ws}"' in config.read_text() and "default_model:" in config.read_text()
    assert (lf.work / "recipes" / "TEMPLATE.yaml").is_file()
    assert "wrote" in proc.stdout
    shown = json.loads(lf("system", "--json", check=0).stdout)  # the written file is a valid configuration
    assert "ollama" in shown["services"]
    again = lf("init", "--workspace", ws, check=2)
    assert "exists already" in again.stderr and "--force" in again.stderr
    config.write_text("# mine\n")
    lf("init", "--workspace", ws, "--force", check=0)
    assert [p.read_text() for p in lf.work.glob("localforge.yaml.*.bak")] == ["# mine\n"]
