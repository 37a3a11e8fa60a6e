"""`localforge agent-config generate` (issue 16, part 6): accurate against what the
engine reports, deterministic, under 32 KiB, merged without touching the user's text."""

import json
import re

HELLO = """\
name: r{i:02}
description: recipe number {i}
inputs:
  - {{name: who, default: world, description: who to greet}}
steps:
  - {{id: a, tool: file_ops, action: mkdir, inputs: {{path: "{{{{ workflow.run_dir }}}}/x"}}}}
"""


def test_it_lists_exactly_what_the_engine_reports(lf):
    text = lf("agent-config", "generate", "--format", "agents", check=0).stdout
    tools = json.loads(lf("list-tools", "--json", check=0).stdout)
    recipes = json.loads(lf("list", "--json", check=0).stdout)
    system = json.loads(lf("system", "--json", check=0).stdout)
    listed = set(re.findall(r"^- `([^`]+)`: ", text, re.M))
    available = {t["name"] for t in tools if t["available"]}
    assert available <= listed, "every available tool is listed"
    assert listed <= {t["name"] for t in tools} | {r["name"] for r in recipes}, "nothing that does not exist"
    names = [r["name"] for r in (recipes if isinstance(recipes, list) else recipes["recipes"])]
    assert all(f"- `{n}`: " in text for n in names), "every recipe is listed"
    assert f"({system['hardware']['cpu_cores']} threads); RAM: {system['hardware']['ram_gb']:.0f} GB" in text
    assert "--client codex --write" in text
    again = lf("agent-config", "generate", "--format", "agents", check=0).stdout
    assert again == text, "the same machine gives the same bytes"


def test_fifty_recipes_stay_under_32_kib(lf):
    for i in range(50):
        lf.write(f"recipes/r{i:02}.yaml", HELLO.format(i=i))
    doc = json.loads(lf("agent-config", "generate", "--json", check=0).stdout)
    assert doc["bytes"] < 32 * 1024 and "- `r49`: recipe number 49 — inputs: who: string = world" in doc["text"]


def test_merging_keeps_the_users_text_byte_for_byte(lf):
    target = lf.work / "CLAUDE.md"
    mine_before, mine_after = "# My project\n\nMy own rules.\n", "\n## After\nMore of mine.\n"
    target.write_text(mine_before)
    lf("agent-config", "generate", "--output", target, check=0)
    first = target.read_text()
    assert first.startswith(mine_before) and "<!-- localforge:begin" in first
    target.write_text(first + mine_after)
    lf("agent-config", "generate", "--output", target, check=0)
    second = target.read_text()
    assert second == first + mine_after, "the block is replaced in place; text before and after is kept"


def test_bad_usage_says_what_to_type(lf):
    assert lf("agent-config", check=2).stderr == (
        "error: `localforge agent-config` needs a command\n  hint: run `localforge agent-config --help` for its commands (generate)\n"
    )
    assert "invalid choice" in lf("agent-config", "generate", "--format", "clippy", check=2).stderr


DOWN = "services:\n  ollama: {host: 'http://127.0.0.1:9'}\n  sd: {host: 'http://127.0.0.1:9'}\n  comfyui: {host: 'http://127.0.0.1:9'}\n"
FAILS_ONCE = """\
name: fails-once
steps:
  - id: a
    tool: script
    action: run
    inputs: {{command: "test -e {flag}"}}
"""


def _launcher(text: str) -> str:
    return re.search(r"^Start LocalForge as `([^`]+)`", text, re.M).group(1)


def test_every_command_it_gives_runs_from_a_shell_without_the_venv(lf):
    """Issue 31, item 1: the file names how to start LocalForge, and every command in it runs
    from a shell whose PATH has no virtual environment (it used to say `python -m localforge`:
    `No module named localforge` there). Generated with the venv's `bin` on PATH, as when it is
    active: that `localforge` is not the one to tell an agent about."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    venv_bin = str(Path(sys.executable).parent)
    lf.env["PATH"] = f"{venv_bin}:/usr/bin:/bin"
    text = lf("agent-config", "generate", check=0).stdout
    start = _launcher(text)
    assert start == f"{sys.executable} -m localforge", "this interpreter, as `mcp config` writes it"
    assert "there only while it is active" in text or "`localforge` is not on PATH" in text
    commands = [f"{start} --version"] + re.findall(r"`(" + re.escape(start) + r" [^`]+)`", text)
    assert len(commands) >= 10, commands

    flag = lf.work / "flag"
    lf.write("fails-once.yaml", FAILS_ONCE.format(flag=flag))
    failed = json.loads(lf("run", "fails-once.yaml", "--json", check=1).stdout)
    flag.write_text("now it passes\n")
    seed_id = re.search(r"^- `([a-z-]+)` \((?!done)", text, re.M).group(1)
    fill = [
        ("RECIPE -i KEY=VALUE", "hello-localforge -i name=Ada"),
        ("RECIPE", "hello-localforge"),
        ("NAME", "my-recipe"),
        ("FILE", "my-recipe.yaml"),
        ("TOOL", "file_ops"),
        ("RUN_ID", failed["run_id"]),
        ("ID", seed_id),
    ]
    shell = {**lf.env, "PATH": "/usr/bin:/bin"}
    shell.pop("VIRTUAL_ENV", None)
    ran = []
    for command in dict.fromkeys(commands):
        line = command
        for word, value in fill:
            line = re.sub(rf"\b{re.escape(word)}\b", value, line)
        assert not re.search(r"\b[A-Z_]{2,}\b", line.replace(start, "")), f"a placeholder left in {line}"
        proc = subprocess.run(["/bin/sh", "-c", line], cwd=lf.work, env=shell, capture_output=True, text=True, timeout=120)
        assert "No module named" not in proc.stderr and "not found" not in proc.stderr.split("\n")[0], (line, proc.stderr)
        assert "Traceback" not in proc.stderr, (line, proc.stderr)
        if " seed check " in line:  # exit 1 is "what is missing", as the file says
            assert proc.returncode in (0, 1) and json.loads(proc.stdout)["ok"] == (proc.returncode == 0), (line, proc.stdout)
        elif " seed verify " in line:  # exit 1: the result is not there yet (the seed is not done)
            assert proc.returncode in (0, 1) and ("✗" in proc.stdout) == (proc.returncode == 1), (line, proc.stdout)
        else:
            assert proc.returncode == 0, (line, proc.stdout, proc.stderr)
        ran.append(line)
    assert any(" resume " in r for r in ran) and any(" mcp config " in r for r in ran) and any(" validate " in r for r in ran)
    assert (lf.work / ".mcp.json").exists(), "`mcp config --write` wrote the project's file"
    entry = json.loads((lf.work / ".mcp.json").read_text())["mcpServers"]["localforge"]
    assert entry["command"] == sys.executable and os.path.isabs(entry["command"])


def test_the_localforge_command_on_path_is_named_when_it_is_this_installation(lf, tmp_path):
    """Issue 31, item 1: an entry point on PATH outside a virtual environment (pipx's
    ~/.local/bin, a system install) whose interpreter is this one is what the file names."""
    import sys

    bin_dir = tmp_path / "local-bin"
    bin_dir.mkdir()
    script = bin_dir / "localforge"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom localforge.frontends.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    lf.env["PATH"] = f"{bin_dir}:/usr/bin:/bin"
    text = lf("agent-config", "generate", check=0).stdout
    assert f"Start LocalForge as `localforge` (the `localforge` command on PATH: {script})." in text
    assert "- CLI: `localforge run RECIPE -i KEY=VALUE --auto-approve --json`" in text
    other = bin_dir / "python-elsewhere"
    script.write_text("#!/usr/bin/python3-not-this-one\n")
    assert other.exists() is False
    text = lf("agent-config", "generate", check=0).stdout
    assert _launcher(text) == f"{sys.executable} -m localforge", "another installation's `localforge` is not named"


def _sections(text: str) -> tuple:
    ready = re.search(r"^Ready to run here.*?\n((?:- .*\n)*)", text, re.M)
    blocked = re.search(r"^Cannot run here yet.*?\n((?:- .*\n)*)", text, re.M)
    ready = set(re.findall(r"^- `([^`]+)`", ready.group(1), re.M)) if ready else set()
    missing = dict(re.findall(r"^- `([^`]+)`: .*?\. Missing: (.*)$", blocked.group(1), re.M)) if blocked else {}
    return ready, missing


def test_runnable_marks_agree_with_dry_run_for_every_shipped_recipe(lf):
    """Issue 31, item 2: on a machine whose services are all down (every host a closed port),
    each shipped recipe is marked ready exactly when `run NAME --dry-run` accepts it, and a
    recipe that cannot run names the first problem the dry run reports."""
    from localforge import api
    from localforge._paths import data_dir

    lf.write("localforge.yaml", DOWN)
    text = lf("agent-config", "generate", check=0).stdout
    ready, missing = _sections(text)
    shipped = api.list_recipes(data_dir("recipes"))
    assert {r["name"] for r in shipped} == ready | set(missing), "every shipped recipe, marked once"
    folder = lf.work / "placeholder"
    folder.mkdir()
    for r in shipped:
        info = api.recipe_info(r["path"])
        args = []
        for i in info["inputs"]:
            if i.get("required") and i.get("default") is None:
                args += ["-i", f"{i['name']}={folder if i.get('type') == 'path' else 'x'}"]
        proc = lf("run", r["name"], "--dry-run", "--json", *args)
        if proc.returncode == 0:
            assert r["name"] in ready, (r["name"], missing.get(r["name"]))
        else:
            assert proc.returncode == 2, proc.stderr
            first = json.loads(proc.stdout)["errors"][0]
            assert r["name"] in missing and missing[r["name"]].startswith(first["message"]), (r["name"], first, missing.get(r["name"]))
    assert {"hello-sd", "tileset", "game-sprite", "hello-ollama"} <= set(missing), "they need services that are down"
    assert "hello-localforge" in ready
    assert "Models that do not fit" not in text or "## Models that do not fit: " in text
    assert "does not fit" not in text, "grouped by the reason, not flagged one by one"
    assert len(text.encode()) < 32 * 1024 and lf("agent-config", "generate", check=0).stdout == text, "deterministic"


def test_models_are_grouped_by_the_real_reason():
    """Issue 31, item 2: without a GPU, the models that do not fit are under "they need a GPU",
    each with the engine's reason; with a GPU too small, under "too big for this GPU"."""
    from localforge.services import agentconfig

    recs = [
        {"task": "chat", "model": "llama3.2:3b", "vram_gb": 3.26, "fits": True, "runs_on": "cpu", "why": "best chat model for the CPU"},
        {
            "task": "image_generation",
            "model": "sd15",
            "vram_gb": 3.89,
            "fits": False,
            "runs_on": "cpu",
            "why": "no GPU: SD 1.5 takes minutes",
        },
    ]
    assert agentconfig._models(recs, []) == [
        "",
        "## Models that fit",
        "- chat: `llama3.2:3b` (~3.3 GB, on the CPU)",
        "",
        "## Models that do not fit: they need a GPU, and this machine has none",
        "- image_generation: `sd15` (~3.9 GB): no GPU: SD 1.5 takes minutes",
    ]
    assert agentconfig._models(recs[1:], [{"name": "GT 710"}])[1] == "## Models that do not fit: too big for this GPU"


def test_list_tools_schema_filters_by_tool_and_action(lf):
    """Issue 31, item 8: the whole `list-tools --json --schema` is well over 100 KB; an agent
    asks for the tool, or the action, it writes a step for."""
    whole = lf("list-tools", "--json", "--schema", check=0).stdout
    one = json.loads(lf("list-tools", "--json", "--schema", "file_ops.write", check=0).stdout)
    assert [(t["name"], t["actions"], sorted(t["inputs"])) for t in one] == [("file_ops", ["write"], ["write"])]
    assert one[0]["inputs"]["write"]["required"] == ["path"]
    assert len(json.dumps(one)) * 20 < len(whole), (len(json.dumps(one)), len(whole))
    both = json.loads(lf("list-tools", "--json", "--schema", "file_ops", "script.run", check=0).stdout)
    assert [t["name"] for t in both] == ["file_ops", "script"] and len(both[0]["actions"]) > 1
    assert lf("list-tools", "fileops", check=2).stderr == "error: no tool `fileops`\n  hint: did you mean `file_ops`?\n"
    actions = ", ".join(next(t for t in json.loads(lf("list-tools", "--json", check=0).stdout) if t["name"] == "file_ops")["actions"])
    assert lf("list-tools", "file_ops.wrte", check=2).stderr == (
        f"error: tool `file_ops` has no action `wrte`\n  hint: its actions: {actions}\n"
    )
