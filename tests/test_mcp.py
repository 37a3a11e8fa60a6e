"""The MCP server (`localforge mcp`), driven by the official MCP SDK's own client:
over stdio as desktop clients launch it, and over Streamable HTTP with its token
and Origin checks. Each test runs the server in a scratch HOME and folder."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import process_alive, wait_for_pid
from golden import matches_golden, normalised

mcp = pytest.importorskip("mcp", reason="the MCP SDK (`localforge[mcp]`) needs Python 3.10+")
anyio = pytest.importorskip("anyio")
from mcp import Client, StdioServerParameters  # noqa: E402

FIVE_STEPS = """\
name: five-steps
description: five quick steps, one after another
inputs:
  - {name: word, type: string, default: hi, description: what to write}
  - {name: count, type: integer, default: 2}
  - {name: mood, type: string, choices: [calm, loud], default: calm}
  - {name: target, type: path, required: true, must_exist: false, description: where it goes}
steps:
  - {id: a, tool: file_ops, action: mkdir, inputs: {path: "{{ workflow.run_dir }}/out"}}
  - {id: b, tool: file_ops, action: write, inputs: {path: "{{ workflow.run_dir }}/out/one.txt", content: "{{ inputs.word }}"}}
  - {id: c, tool: file_ops, action: write, inputs: {path: "{{ workflow.run_dir }}/out/two.txt", content: "{{ inputs.count }}"}}
  - {id: d, tool: file_ops, action: list, inputs: {path: "{{ workflow.run_dir }}/out"}}
  - {id: e, tool: file_ops, action: read, inputs: {path: "{{ workflow.run_dir }}/out/one.txt"}}
outputs:
  text: "{{ steps.e.outputs.content }}"
  files: "{{ steps.d.outputs.count }}"
"""

SLEEPER = """\
name: sleeper
steps:
  - id: nap
    tool: script
    action: run
    inputs:
      command: "sleep 300 & echo $! > {pidfile}; echo $$ > {shpidfile}; wait"
"""


@pytest.fixture
def server(lf):
    """Stdio parameters that launch `python -m localforge mcp` in the scratch HOME, with
    ./recipes holding the test recipes."""
    lf.write("recipes/five-steps.yaml", FIVE_STEPS)
    lf.write("recipes/sleeper.yaml", SLEEPER.format(pidfile=lf.work / "grandchild.pid", shpidfile=lf.work / "child.pid"))
    lf.params = StdioServerParameters(command=sys.executable, args=["-m", "localforge", "mcp"], env=lf.env, cwd=str(lf.work))
    return lf


def run_rows(lf) -> list:
    if not lf.db.exists():
        return []
    return sqlite3.connect(lf.db).execute("SELECT run_id, status FROM runs").fetchall()


def go(fn):
    return anyio.run(fn)


@pytest.mark.parametrize("mode", ["auto", "legacy"], ids=["2026-07-28", "handshake"])
def test_stdio_lists_every_recipe_with_its_schema_and_runs_hello(server, mode):
    from localforge import api

    async def main():
        async with Client(server.params, mode=mode) as c:
            assert c.server_info.name == "localforge"
            tools = {t.name: t for t in (await c.list_tools()).tools}
            for fixed in ("list_tools", "list_recipes", "validate_recipe", "system_info", "get_run", "list_runs", "run_recipe",
                          "resume_run", "cancel_run"):  # fmt: skip
                assert fixed in tools
            assert tools["list_runs"].annotations.read_only_hint is True
            assert tools["run_recipe"].annotations.read_only_hint is False
            assert tools["run_recipe"].annotations.destructive_hint is True

            five = tools["recipe_five-steps"].input_schema
            assert five["properties"]["word"] == {"type": "string", "description": "what to write", "default": "hi"}
            assert five["properties"]["count"] == {"type": "integer", "default": 2}
            assert five["properties"]["mood"]["enum"] == ["calm", "loud"]
            assert five["required"] == ["target"]
            out = tools["recipe_five-steps"].output_schema["properties"]["outputs"]["properties"]
            assert set(out) == {"text", "files"}

            listed = (await c.call_tool("list_tools", {"schema": True})).structured_content["tools"]
            write = next(t for t in listed if t["name"] == "file_ops")["inputs"]["write"]
            assert write["required"] == ["path"] and "append" in write["properties"]

            result = await c.call_tool("run_recipe", {"recipe": "hello-localforge", "inputs": {"name": "Ada", "languages": ["en", "es"]}})
            assert not result.is_error, result.content
            s = result.structured_content
            assert s["status"] == "completed" and s["outputs"]["greetings"] == 2
            links = [b for b in result.content if b.type == "resource_link"]
            report = next(b for b in links if b.uri.endswith("output/report.md"))
            assert report.mime_type == "text/markdown"
            read = await c.read_resource(report.uri)
            assert "# Hello, Ada!" in read.contents[0].text
            greeting = await c.read_resource(next(b.uri for b in links if b.uri.endswith("greeting-es.txt")))
            assert greeting.contents[0].text == "Hola, Ada!\n"
            run_doc = json.loads((await c.read_resource(f"localforge://runs/{s['run_id']}")).contents[0].text)
            assert run_doc["status"] == "completed"
            return tools, s["run_id"]

    tools, run_id = go(main)
    os.chdir(server.work)
    os.environ["HOME"] = str(server.home)
    try:
        names = {r["name"] for r in api.list_recipes()}
    finally:
        os.environ["HOME"] = server.env["HOME"]
    assert {f"recipe_{n}" for n in names} <= set(tools), "every recipe is a tool"
    assert run_rows(server) == [(run_id, "completed")]


def test_a_wrong_typed_input_is_a_tool_error_naming_it_and_starts_no_run(server):
    async def main():
        async with Client(server.params) as c:
            bad = await c.call_tool("recipe_five-steps", {"target": "/tmp/x", "count": "many"})
            assert bad.is_error
            assert "`count`" in bad.content[0].text and "integer" in bad.content[0].text
            missing = await c.call_tool("recipe_five-steps", {"word": "hey"})
            assert missing.is_error and "target" in missing.content[0].text
            unknown = await c.call_tool("run_recipe", {"recipe": "five-steps", "inputs": {"target": "x", "colour": "red"}})
            assert unknown.is_error and "`colour`" in unknown.content[0].text
            not_choice = await c.call_tool("recipe_five-steps", {"target": "x", "mood": "angry"})
            assert not_choice.is_error and "`mood`" in not_choice.content[0].text

    go(main)
    assert run_rows(server) == []


def test_every_tool_error_reads_as_pinned(server):
    """The texts an agent reads when a call is refused, whole (tests/snapshots/cli/mcp-errors.txt)."""
    calls = [
        ("recipe_five-steps", {"target": "/tmp/x", "count": "many"}),
        ("recipe_five-steps", {"word": "hey"}),
        ("run_recipe", {"recipe": "five-steps", "inputs": {"target": "x", "colour": "red"}}),
        ("recipe_five-steps", {"target": "x", "mood": "angry"}),
        ("recipe_five-steps", {"count": "many", "mood": "angry"}),  # several: each once, under the heading
        ("run_recipe", {"recipe": "elsewhere"}),
        ("get_run", {"run_id": "20260101-000000-abcdef"}),
        ("cancel_run", {"run_id": "20260101-000000-abcdef"}),
        ("resume_run", {"run_id": "20260101-000000-abcdef"}),
    ]

    async def main():
        texts = []
        async with Client(server.params) as c:
            for tool, args in calls:
                r = await c.call_tool(tool, args)
                assert r.is_error, (tool, args, r.content)
                texts.append(f"{tool} {json.dumps(args, sort_keys=True)}\n{r.content[0].text}\n")
        return texts

    matches_golden("mcp-errors", normalised("\n".join(go(main)), server))
    assert run_rows(server) == []


DOWN = "services:\n  sd: {host: 'http://127.0.0.1:9'}\n"
DRAWS = """\
name: draws
steps:
  - {id: draw, tool: sd_client, action: txt2img, inputs: {prompt: a cat, output_dir: out}}
"""


def test_a_preflight_refusal_names_the_force_argument_not_the_flag(server):
    """Issue 31, item 4: over MCP the way past a preflight refusal is the argument `force:
    true`, not `--force` (SD WebUI on a closed port stands in for a service that is down)."""
    server.write("localforge.yaml", DOWN)
    server.write("recipes/draws.yaml", DRAWS)

    async def main():
        async with Client(server.params) as c:
            return await c.call_tool("run_recipe", {"recipe": "draws"})

    r = go(main)
    assert r.is_error
    assert r.content[0].text == (
        "this machine cannot run it:\n"
        f"- {server.work}/recipes/draws.yaml:3:5: step `draw` needs `sd` at http://127.0.0.1:9, which is not running "
        "(connection refused (not running)) (hint: start the SD WebUI with --api (`./webui.sh --api`) at http://127.0.0.1:9, "
        "or set `services.sd.host`; call again with `force: true` to start anyway)"
    )
    assert run_rows(server) == []


def test_cli_words_become_tool_arguments():
    """Issue 31, item 4: every CLI flag the engine's hints use, as the MCP tool argument."""
    from localforge.frontends.mcp_server.runs import as_arguments

    assert as_arguments("fix it; run with --force to start anyway") == "fix it; call again with `force: true` to start anyway"
    assert as_arguments("or run with --force to try anyway") == "or call again with `force: true` to try anyway"
    assert as_arguments("resume with --force to continue") == "call `resume_run` again with `force: true` to continue"
    assert as_arguments("pass it as `--input source=VALUE` (folder)") == 'pass it as `inputs: {"source": VALUE}` (folder)'
    assert as_arguments("add -y, or --no-cache, or --refresh draw") == "add `auto_approve: true`, or `cache: false`, or `refresh: [draw]`"
    assert as_arguments("install x-y-z") == "install x-y-z"


def test_run_recipe_takes_the_cache_options(server):
    server.write(
        "recipes/cached.yaml", "name: cached\nsteps:\n  - {id: a, tool: script, action: run, cache: true, inputs: {command: 'echo hi'}}\n"
    )

    async def main():
        async with Client(server.params) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert {"cache", "refresh"} <= set(tools["run_recipe"].input_schema["properties"])
            for args in ({}, {}, {"cache": False}, {"refresh": ["a"]}):
                result = await c.call_tool("run_recipe", {"recipe": "cached", **args})
                assert not result.is_error, result.content[0].text

    go(main)
    statuses = [
        r[0]
        for r in sqlite3.connect(server.db).execute(
            "SELECT s.status FROM steps s JOIN runs r USING (run_id) ORDER BY r.started_at, s.rowid"
        )
    ]
    assert statuses == ["completed", "cached", "completed", "completed"]


def test_progress_arrives_in_order_for_every_step(server):
    seen = []

    async def main():
        async def progress(value, total, message):
            seen.append((value, total, message))

        async with Client(server.params) as c:
            r = await c.call_tool("recipe_five-steps", {"target": "t", "word": "hello"}, progress_callback=progress)
            assert not r.is_error, r.content
            assert r.structured_content["outputs"] == {"text": "hello", "files": 2}

    go(main)
    assert len(seen) >= 5
    values = [v for v, _, _ in seen]
    assert values == sorted(values) and len(set(values)) == len(values), "strictly increasing"
    assert all(t == 5 for _, t, _ in seen)
    assert values[-1] >= 5
    for step in "abcde":
        assert any(m.startswith(f"{step} completed") for _, _, m in seen), step


def test_a_cancelled_call_cancels_the_run_and_the_server_keeps_serving(server):
    w = server.work

    async def main():
        async with Client(server.params) as c:
            async with anyio.create_task_group() as tg:
                tg.start_soon(c.call_tool, "run_recipe", {"recipe": "sleeper"})
                await anyio.to_thread.run_sync(wait_for_pid, w / "grandchild.pid")
                tg.cancel_scope.cancel()  # the SDK sends notifications/cancelled for the abandoned call
            # the next call is served
            hello = await c.call_tool("run_recipe", {"recipe": "hello-localforge"})
            assert hello.structured_content["status"] == "completed"
            runs = await c.call_tool("list_runs", {})
            return {r["recipe"]: r["status"] for r in runs.structured_content["runs"]}

    statuses = go(main)
    assert statuses == {"sleeper": "cancelled", "hello-localforge": "completed"}
    child, grandchild = wait_for_pid(w / "child.pid"), wait_for_pid(w / "grandchild.pid")
    time.sleep(0.2)
    assert not process_alive(child) and not process_alive(grandchild), "no process of the run is left"


def _link_out(server):
    """A recipe outside the recipe folders, and `recipes/link.yaml` pointing at it."""
    outside = server.home / "elsewhere.yaml"
    outside.write_text("name: elsewhere\nsteps:\n  - {id: a, tool: file_ops, action: mkdir, inputs: {path: /tmp/x}}\n")
    (server.work / "recipes" / "link.yaml").symlink_to(outside)
    return outside


def test_recipe_paths_outside_the_recipe_folders_are_refused(server):
    outside = _link_out(server)

    async def main():
        async with Client(server.params) as c:
            out = {}
            for ref in [str(outside), "../home/elsewhere.yaml", "recipes/../../home/elsewhere.yaml", "../hello-localforge",
                        "recipes/link.yaml", "no-such-recipe"]:  # fmt: skip
                r = await c.call_tool("run_recipe", {"recipe": ref})
                assert r.is_error, ref
                out[ref] = r.content[0].text
            ok = await c.call_tool("run_recipe", {"recipe": "recipes/five-steps.yaml", "inputs": {"target": "t"}})
            assert not ok.is_error, ok.content
            return out

    out = go(main)
    assert "outside the recipe folders" in out[str(outside)]
    assert "`..`" in out["../home/elsewhere.yaml"] and "`..`" in out["../hello-localforge"]
    assert "outside the recipe folders" in out["recipes/link.yaml"]
    assert "no recipe named" in out["no-such-recipe"]
    assert [s for _, s in run_rows(server)] == ["completed"]


def test_a_link_out_of_the_recipe_folders_is_no_tool_no_name_and_no_resource(server):
    outside = _link_out(server)

    async def main():
        async with Client(server.params) as c:
            tools = [t.name for t in (await c.list_tools()).tools]
            recipes = (await c.call_tool("list_recipes", {})).structured_content["recipes"]
            resources = [str(r.uri) for r in (await c.list_resources()).resources]
            with pytest.raises(mcp.shared.exceptions.MCPError) as e:
                await c.call_tool("recipe_elsewhere", {})
            by_tool = str(e.value)
            out = {ref: (await c.call_tool("run_recipe", {"recipe": ref})) for ref in ["link", "elsewhere"]}
            read = {}
            for name in ["link", "elsewhere"]:
                with pytest.raises(mcp.shared.exceptions.MCPError) as e:
                    await c.read_resource(f"localforge://recipes/{name}")
                read[name] = str(e.value)
            return tools, recipes, resources, by_tool, out, read

    tools, recipes, resources, by_tool, out, read = go(main)
    assert "recipe_elsewhere" not in tools and "recipe_five-steps" in tools
    assert "elsewhere" not in [r["name"] for r in recipes]
    assert not [u for u in resources if "elsewhere" in u or u.endswith("/link")]
    assert "unknown tool `recipe_elsewhere`" in by_tool
    assert out["link"].is_error and f"is a link ({server.work / 'recipes' / 'link.yaml'}) to {outside}" in out["link"].content[0].text
    assert "outside the recipe folders" in out["link"].content[0].text
    assert out["elsewhere"].is_error and "no recipe named `elsewhere`" in out["elsewhere"].content[0].text
    assert "outside the recipe folders" in read["link"] and "no recipe named `elsewhere`" in read["elsewhere"]
    assert run_rows(server) == []


def test_validate_recipe_gives_every_problem_with_its_place(server):
    async def main():
        async with Client(server.params) as c:
            r = await c.call_tool("validate_recipe", {"yaml": "name: x\nstpes: []\n"})
            good = await c.call_tool("validate_recipe", {"recipe": "five-steps"})
            return r.structured_content, good.structured_content

    bad, good = go(main)
    assert bad["valid"] is False
    p = next(p for p in bad["errors"] if "stpes" in p["message"])
    assert p["file"] == "<yaml>" and p["line"] == 2 and p["column"] == 1 and "steps" in p["hint"]
    assert bad["problems"] == bad["errors"], "the old name is kept for old clients"
    assert good == {"valid": True, "errors": [], "warnings": [], "problems": []}


def test_validate_recipe_speaks_as_validate_json(server):
    """Issue 31, item 4: one vocabulary — `validate_recipe` answers with the keys `validate
    --json` has (`valid`, `errors`, `warnings`), each problem with the same fields."""
    server.write("typo.yaml", "name: x\nstpes: []\n")
    cli = json.loads(server("validate", "typo.yaml", "--json", check=2).stdout)

    async def main():
        async with Client(server.params) as c:
            tool = next(t for t in (await c.list_tools()).tools if t.name == "validate_recipe")
            r = await c.call_tool("validate_recipe", {"yaml": "name: x\nstpes: []\n"})
            return tool, r

    tool, r = go(main)
    assert set(tool.output_schema["required"]) == {"valid", "errors", "warnings"}
    mine = r.structured_content
    assert [{**e, "file": None} for e in mine["errors"]] == [{**e, "file": None} for e in cli["errors"]]
    assert mine["warnings"] == cli["warnings"] == [] and mine["valid"] is cli["valid"] is False
    lines = [f"- <yaml>:{e['line']}:{e['column']}: {e['message']} (hint: {e['hint']})" for e in cli["errors"]]
    assert r.content[0].text == "\n".join([f"{len(lines)} errors:", *lines]), "each problem once, where it is and its fix"
    assert "the recipe is missing required key `steps`" in r.content[0].text


def test_approval_gates_ask_through_elicitation(server):
    server.write(
        "recipes/gated.yaml",
        "name: gated\nsteps:\n  - {id: ok, type: approval_gate, message: Go on?}\n"
        "  - {id: after, tool: file_ops, action: mkdir, inputs: {path: '{{ workflow.run_dir }}/went-on'}}\n",
    )
    asked = []

    async def elicit(ctx, params):
        asked.append(params.message)
        return mcp.types.ElicitResult(action="decline")

    async def main():
        async with Client(server.params, mode="legacy", elicitation_callback=elicit) as c:
            return (await c.call_tool("recipe_gated", {})).structured_content

    result = go(main)
    assert asked == ["Go on?"]
    assert result["steps"]["after"] != "completed"


def _without_the_sdk(lf, tmp_path):
    """The CLI's Python as if the MCP SDK were not installed: a sitecustomize hides it."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n_v = m.version\n"
        "def version(name):\n    if name == 'mcp': raise m.PackageNotFoundError(name)\n    return _v(name)\nm.version = version\n"
    )
    lf.env["PYTHONPATH"] = str(hide)


def test_without_the_sdk_mcp_says_how_to_install_it(lf, tmp_path):
    _without_the_sdk(lf, tmp_path)
    proc = lf("mcp", check=2)
    assert "pip install 'mcp>=2.3,<3'" in proc.stderr


# -- Streamable HTTP ------------------------------------------------------------------------


@pytest.fixture
def http_server(server):
    log = server.work / "server.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "localforge", "mcp", "--http", "--port", "0"],
            cwd=server.work, env=server.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    url, deadline = None, time.time() + 60
    while url is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if m := re.search(r"serving (http://\S+/mcp)", log.read_text()):
            url = m.group(1)
    assert url, log.read_text()
    token_file = server.home / ".localforge" / "mcp-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    server.url, server.token = url, token_file.read_text().strip()
    assert server.token in log.read_text(), "a new token is shown once"
    yield server
    proc.terminate()
    proc.wait(timeout=30)
    assert "Traceback" not in log.read_text(), log.read_text()


def http_client(http, url):
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)


def headers(token, **more):
    return {"Authorization": f"Bearer {token}", **more}


def test_http_twenty_concurrent_runs_each_get_their_own_row(http_server):
    results = []

    async def one(i):
        import httpx2

        async with httpx2.AsyncClient(headers=headers(http_server.token), timeout=120) as http:
            async with Client(http_client(http, http_server.url)) as c:
                r = await c.call_tool("run_recipe", {"recipe": "hello-localforge", "inputs": {"name": f"n{i}"}})
                results.append(r.structured_content)

    async def main():
        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(one, i)

    go(main)
    assert len(results) == 20 and all(r["status"] == "completed" for r in results)
    rows = run_rows(http_server)
    assert len(rows) == 20 and len({r for r, _ in rows}) == 20 and {s for _, s in rows} == {"completed"}
    names = sorted(Path(r["outputs"]["report"]).read_text().splitlines()[0] for r in results)
    assert names == sorted(f"# Hello, n{i}!" for i in range(20)), "each run had its own inputs"


def test_http_wants_the_token_and_a_local_origin(http_server):
    import httpx2

    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    base = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"}
    with httpx2.Client(timeout=30) as h:
        assert h.post(http_server.url, json=body, headers=base).status_code == 401
        wrong = h.post(http_server.url, json=body, headers={**base, "Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        foreign = {**base, "Authorization": f"Bearer {http_server.token}", "Origin": "http://evil.example.com"}
        assert h.post(http_server.url, json=body, headers=foreign).status_code == 403

    async def main():
        async with httpx2.AsyncClient(headers=headers(http_server.token), timeout=120) as http:
            async with Client(http_client(http, http_server.url), mode="legacy") as c:
                assert "run_recipe" in {t.name for t in (await c.list_tools()).tools}

    go(main)


def test_http_refuses_a_remote_address_without_allow_remote(lf):
    proc = lf("mcp", "--http", "--host", "0.0.0.0", check=2)
    assert "--allow-remote" in proc.stderr


CHATTY_TOOL = """\
TOOL_NAME = "chatty"
TOOL_ACTIONS = ["talk"]


def handle(action, inputs, ctx):
    print("thinking about", inputs["topic"])
    return {"said": inputs["topic"]}
"""


def test_the_step_log_arrives_as_mcp_log_messages(server):
    tools = server.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "chatty_tool.py").write_text(CHATTY_TOOL)
    server.write("recipes/chat.yaml", "name: chat\nsteps:\n  - {id: t, tool: chatty, action: talk, inputs: {topic: owls}}\n")
    logs = []

    async def on_log(params):
        logs.append((params.level, params.logger, params.data))

    async def main():
        async with Client(server.params, mode="legacy", logging_callback=on_log) as c:
            r = await c.call_tool("recipe_chat", {})
            assert r.structured_content["outputs"] == {} and r.structured_content["status"] == "completed"

    go(main)
    assert ("info", "localforge.t", "thinking about owls") in logs


@pytest.mark.parametrize("client", ["claude-desktop", "claude-code", "cursor", "codex", "vscode"])
def test_mcp_config_merges_into_the_clients_file_keeping_other_servers(lf, client):
    lf.env["XDG_CONFIG_HOME"] = str(lf.home / ".config")
    shown = lf("mcp", "config", "--client", client, check=0).stdout
    assert "-m" in shown and "localforge" in shown and sys.executable in shown
    path = {
        "claude-desktop": lf.home / ".config" / "Claude" / "claude_desktop_config.json",
        "claude-code": lf.work / ".mcp.json",
        "cursor": lf.home / ".cursor" / "mcp.json",
        "codex": lf.home / ".codex" / "config.toml",
        "vscode": lf.work / ".vscode" / "mcp.json",
    }[client]
    path.parent.mkdir(parents=True, exist_ok=True)
    if client == "codex":
        path.write_text('model = "o4"\n\n[mcp_servers.other]\ncommand = "other"\n\n[mcp_servers.localforge]\ncommand = "old"\n')
    else:
        key = "servers" if client == "vscode" else "mcpServers"
        path.write_text(json.dumps({"theme": "dark", key: {"other": {"command": "other"}, "localforge": {"command": "old"}}}))
    old = path.read_text()
    lf("mcp", "config", "--client", client, "--write", check=0)
    text = path.read_text()
    if client == "codex":
        import tomllib

        doc = tomllib.loads(text)
        servers = doc["mcp_servers"]
        assert doc["model"] == "o4"
    else:
        doc = json.loads(text)
        servers = doc["servers" if client == "vscode" else "mcpServers"]
        assert doc["theme"] == "dark"
    assert servers["other"] == {"command": "other"}
    assert servers["localforge"]["command"] == sys.executable and servers["localforge"]["args"] == ["-m", "localforge", "mcp"]
    backups = list(path.parent.glob(path.name + ".*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == old


def test_mcp_config_will_not_clobber_a_file_it_cannot_read(lf):
    """Issue 31, item 5: refused, and told how to go on (by hand, or plain JSON and again)."""
    path = lf.work / ".mcp.json"
    path.write_text('{"mcpServers": {// a comment\n}}')
    proc = lf("mcp", "config", "--client", "claude-code", "--write", check=2)
    entry = json.dumps({"mcpServers": {"localforge": {"command": sys.executable, "args": ["-m", "localforge", "mcp"]}}}, indent=2)
    assert proc.stderr == (
        f"error: cannot merge into {path}: it is not plain JSON (line 1, column 17: Expecting property name enclosed in double quotes), "
        "and merging into it would lose what it holds (comments, trailing commas). "
        f"Either add the `localforge` entry below to its `mcpServers` by hand:\n{entry}\n"
        "or make the file plain JSON (remove the comments) and run the same command again.\n"
        "  hint: the file is left as it was; `localforge mcp config --client claude-code` prints the entry again\n"
    )
    assert path.read_text() == '{"mcpServers": {// a comment\n}}'


def test_mcp_config_write_then_the_written_command_serves_the_tools(lf):
    """Issue 31, item 5: `--write` into a scratch home checks the command starts and answers
    `initialize`; a client starting the command the file holds lists LocalForge's tools."""
    lf.env["XDG_CONFIG_HOME"] = str(lf.home / ".config")
    proc = lf("mcp", "config", "--client", "claude-desktop", "--write", check=0)
    path = lf.home / ".config" / "Claude" / "claude_desktop_config.json"
    assert proc.stdout == (
        f"wrote `localforge` into {path}\nchecked: `{sys.executable} -m localforge mcp` starts and answers `initialize`\n"
        "restart Claude Desktop to load it\n"
    )
    written = json.loads(path.read_text())["mcpServers"]["localforge"]
    params = StdioServerParameters(command=written["command"], args=written["args"], env=lf.env, cwd=str(lf.work))

    async def main():
        async with Client(params) as c:
            return {t.name for t in (await c.list_tools()).tools}

    tools = go(main)
    assert {"run_recipe", "validate_recipe", "list_tools", "recipe_hello-localforge"} <= tools


def test_mcp_config_for_claude_code_says_how_to_add_it_for_every_project(lf):
    """Issue 31, item 5: `claude mcp add` without `--scope user` adds it to one project only."""
    out = lf("mcp", "config", "--client", "claude-code", "--name", "lf", check=0).stdout
    assert out.endswith(f"# or, for every project: claude mcp add --scope user lf -- {sys.executable} -m localforge mcp\n"), out


def test_mcp_config_write_refuses_when_the_server_would_not_start(lf, tmp_path):
    """Issue 31, item 5: without the MCP SDK the client could not start the server later:
    nothing is written, and the message says what to install, into which Python."""
    _without_the_sdk(lf, tmp_path)
    proc = lf("mcp", "config", "--client", "claude-code", "--write", check=2)
    assert proc.stderr == (
        "error: not written: the command a client would start does not run LocalForge's MCP server: "
        "the MCP server needs the MCP Python SDK, which is not installed\n"
        f"  hint: install the MCP SDK into that Python (`{sys.executable} -m pip install 'mcp>=2.3,<3'`), then run this again\n"
    )
    assert not (lf.work / ".mcp.json").exists()


PICTURE = """\
name: picture
steps:
  - id: draw
    tool: script
    action: run
    inputs:
      command: >-
        python3 -c "import base64, pathlib; pathlib.Path('{{ workflow.run_dir }}/dot.png').write_bytes(base64.b64decode(
        'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=='))"
"""


def test_images_come_back_as_links_and_embedded(server):
    server.write("recipes/picture.yaml", PICTURE)

    async def main():
        async with Client(server.params) as c:
            r = await c.call_tool("recipe_picture", {})
            assert not r.is_error, r.content
            link = next(b for b in r.content if b.type == "resource_link")
            image = next(b for b in r.content if b.type == "image")
            blob = (await c.read_resource(link.uri)).contents[0]
            return link, image, blob

    link, image, blob = go(main)
    assert link.uri.endswith("/files/dot.png") and link.mime_type == "image/png" and link.size == 70
    assert image.mime_type == "image/png" and image.data == blob.blob


HARD_LINK = """\
name: hard-link
steps:
  - id: link
    tool: script
    action: run
    inputs:
      command: "echo plain > {{ workflow.run_dir }}/plain.txt && ln {secret} {{ workflow.run_dir }}/hard.txt"
"""


def test_a_hard_link_in_a_run_folder_is_neither_a_link_nor_a_resource(server):
    secret = server.home / "secret.txt"
    secret.write_text("secret")
    server.write("recipes/hard-link.yaml", HARD_LINK.replace("{secret}", str(secret)))

    async def main():
        async with Client(server.params) as c:
            r = await c.call_tool("recipe_hard-link", {})
            assert not r.is_error, r.content
            links = [b.uri for b in r.content if b.type == "resource_link"]
            run_id = r.structured_content["run_id"]
            plain = (await c.read_resource(f"localforge://runs/{run_id}/files/plain.txt")).contents[0].text
            with pytest.raises(mcp.shared.exceptions.MCPError) as e:
                await c.read_resource(f"localforge://runs/{run_id}/files/hard.txt")
            return links, plain, e.value

    links, plain, refused = go(main)
    assert [u.rsplit("/", 1)[1] for u in links] == ["plain.txt"] and plain == "plain\n"
    assert refused.code == -32002 and str(refused) == "`hard.txt` has other names (hard links) and is not served"


def test_a_run_left_going_is_followed_and_cancelled_by_id(server):
    w = server.work

    async def main():
        async with Client(server.params) as c:
            started = await c.call_tool("run_recipe", {"recipe": "sleeper", "wait": False})
            run_id = started.structured_content["run_id"]
            assert started.structured_content["status"] == "running"
            await anyio.to_thread.run_sync(wait_for_pid, w / "grandchild.pid")
            live = await c.call_tool("get_run", {"run_id": run_id})
            assert live.structured_content["status"] == "running" and live.structured_content["live"] is True
            stopped = await c.call_tool("cancel_run", {"run_id": run_id})
            again = await c.call_tool("cancel_run", {"run_id": run_id})
            unknown = await c.call_tool("cancel_run", {"run_id": "no-such-run"})
            return stopped.structured_content, again.structured_content, unknown

    stopped, again, unknown = go(main)
    assert stopped["status"] == "cancelled" and again["status"] == "cancelled"
    assert unknown.is_error and "no run" in unknown.content[0].text
    time.sleep(0.2)
    assert not process_alive(wait_for_pid(w / "grandchild.pid"))
    assert run_rows(server) == [(stopped["run_id"], "cancelled")]


def test_resume_run_continues_a_failed_run(server):
    flag = server.work / "flag"
    server.write(
        "recipes/flaky.yaml",
        f"name: flaky\nsteps:\n  - {{id: one, tool: file_ops, action: mkdir, inputs: {{path: '{{{{ workflow.run_dir }}}}/one'}}}}\n"
        f"  - {{id: two, tool: file_ops, action: read, inputs: {{path: '{flag}'}}}}\n",
    )

    async def main():
        async with Client(server.params) as c:
            failed = await c.call_tool("recipe_flaky", {})
            assert failed.is_error and failed.structured_content["status"] == "failed"
            assert failed.structured_content["steps"] == {"one": "completed", "two": "failed"}
            flag.write_text("now it exists")
            resumed = await c.call_tool("resume_run", {"run_id": failed.structured_content["run_id"]})
            return failed.structured_content["run_id"], resumed

    run_id, resumed = go(main)
    assert not resumed.is_error, resumed.content
    assert resumed.structured_content["run_id"] == run_id and resumed.structured_content["status"] == "completed"
    assert run_rows(server) == [(run_id, "completed")]


def test_http_token_file_must_hold_a_token(lf):
    empty = lf.work / "token"
    empty.write_text("")
    proc = lf("mcp", "--http", "--token-file", empty, check=2)
    assert "empty" in proc.stderr
    proc = lf("mcp", "--http", "--token-file", lf.work / "missing", check=2)
    assert "cannot read the token file" in proc.stderr
    proc = lf("mcp", "--token-file", empty, check=2)
    assert "--http" in proc.stderr


LOUD = """\
name: loud
steps:
  - id: say
    tool: script
    action: run
    inputs:
      command: "echo to out; echo to err >&2; exit 4"
"""


def test_a_steps_output_is_a_resource_after_it_failed(server):
    server.write("recipes/loud.yaml", LOUD)

    async def main():
        async with Client(server.params) as c:
            r = await c.call_tool("recipe_loud", {})
            run_id = r.structured_content["run_id"]
            both = (await c.read_resource(f"localforge://runs/{run_id}/logs/say")).contents[0].text
            err = (await c.read_resource(f"localforge://runs/{run_id}/logs/say/stderr")).contents[0].text
            templates = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
            with pytest.raises(mcp.shared.exceptions.MCPError) as e:
                await c.read_resource(f"localforge://runs/{run_id}/logs/nope")
            return both, err, templates, e.value

    both, err, templates, missing = go(main)
    assert (
        both
        == "== stdout of `say`, attempt 1 (failed), bytes 0–7 of 7 ==\nto out\n\n== stderr of `say`, attempt 1 (failed), bytes 0–7 of 7 ==\nto err\n"
    )
    assert err == "== stderr of `say`, attempt 1 (failed), bytes 0–7 of 7 ==\nto err\n"
    assert "localforge://runs/{run_id}/logs/{step}" in templates
    assert missing.code == -32002 and "has no step `nope` that started" in str(missing)


def test_a_command_that_does_not_answer_initialize_is_caught(monkeypatch, tmp_path):
    """Issue 31, item 5: the check really starts the command (here one that exits at once)."""
    from localforge.frontends.mcp_server import clients

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    assert clients.starts() is None, "this interpreter's `-m localforge mcp` answers"
    monkeypatch.setattr(clients, "command", lambda: (sys.executable, ["-c", "import sys; sys.exit(3)"]))
    why = clients.starts(timeout=10)
    assert why is not None and why.startswith(f"`{sys.executable} -c import sys; sys.exit(3)` did not "), why


def test_a_token_file_other_users_can_read_is_refused_or_replaced(lf, monkeypatch):
    from localforge.frontends.mcp_server import http

    given = lf.work / "token"
    given.write_text("a" * 32)
    given.chmod(0o644)
    proc = lf("mcp", "--http", "--token-file", given, check=2)
    assert f"can be read by other users (mode 644): `chmod 600 {given}`" in proc.stderr
    # The default file, left readable by others: a new token replaces it, mode 0600.
    monkeypatch.setenv("HOME", str(lf.home))
    default = http.default_token_file()
    default.parent.mkdir(parents=True, exist_ok=True)
    default.write_text("b" * 32)
    default.chmod(0o644)
    token, made = http.load_token(None)
    assert made and token != "b" * 32 and default.stat().st_mode & 0o777 == 0o600
    assert http.load_token(None) == (token, False)
