"""The MCP tools: the fixed ones (list, validate, system, history, run, resume,
cancel) and one per recipe (`recipe_<name>`). Each tool's schemas, annotations
and handler are declared together in TOOLS; the recipe tools come from the
catalog on every `tools/list`, so a recipe added to a folder shows up."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import anyio
import mcp.types as types

from localforge import api, errors
from localforge.frontends.mcp_server import runs, schemas
from localforge.frontends.mcp_server.recipes import Catalog, Refused

OBJECT = {"type": "object"}
# One problem, as `validate --json`, the CLI's errors and `localforge.errors` carry it.
PROBLEM = {
    "type": "object",
    "properties": {"file": {"type": ["string", "null"]}, "line": {"type": ["integer", "null"]}, "column": {"type": ["integer", "null"]},
                   "message": {"type": "string"}, "hint": {"type": ["string", "null"]}},
    "required": ["message"],
}  # fmt: skip
NO_ARGS = {"type": "object", "properties": {}, "additionalProperties": False}
READ = types.ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
# A run may write, move and delete files (cleanup, file_ops), start programs and call services.
RUNS = types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
CANCEL = types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

RUN_OPTIONS = {
    "auto_approve": {"type": "boolean", "default": False, "description": "approve every approval gate (else: asked through the client when it can, or the gate's default)"},
    "wait": {"type": "boolean", "default": True, "description": "wait for the run to end (false: return its id at once; `get_run` follows it)"},
    "force": {"type": "boolean", "default": False, "description": "start even if preflight finds this machine short of what the recipe declares"},
}  # fmt: skip
# The step cache (docs/cache.md): only for starting a run.
CACHE_OPTIONS = {
    "cache": {"type": "boolean", "default": True, "description": "take unchanged deterministic steps from the step cache (false: run every step)"},
    "refresh": {"type": "array", "items": {"type": "string"}, "default": [], "description": "steps to run again even if cached, with every step after them"},
}  # fmt: skip


@dataclass
class State:
    catalog: Catalog
    live: runs.Live
    settings: runs.Settings


Handler = Callable[[Any, State, dict], Awaitable[types.CallToolResult]]


@dataclass
class Spec:
    description: str
    input: dict
    output: dict
    annotations: types.ToolAnnotations
    handler: Handler


def ok(structured: dict, text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)


def dumps(value) -> str:
    import json

    return json.dumps(value, indent=1, ensure_ascii=False, default=str)


async def off_loop(fn, *args):
    """Engine reads (they may parse files or probe services) without blocking the event loop."""
    return await anyio.to_thread.run_sync(fn, *args)


# -- reads ---------------------------------------------------------------------------------


async def list_tools(ctx, state: State, args: dict):
    try:
        tools = await off_loop(api.list_tools, bool(args.get("schema")), args.get("only") or ())
    except errors.UsageError as e:
        return runs.tool_error(str(e) + (f"; {e.hint}" if e.hint else ""))
    if args.get("available_only"):
        tools = [t for t in tools if t["available"]]
    lines = [f"{'✓' if t['available'] else '✗'} {t['name']} ({t['kind']}): {', '.join(t['actions'])}" for t in tools]
    return ok({"tools": tools}, "\n".join(lines))


def recipe_entry(r) -> dict:
    return {"name": r.name, "tool": r.tool, "description": r.info.get("description") or "", "version": r.info.get("version"),
            "source": r.source, "key": r.key, "path": str(r.path), "steps": r.info.get("steps"),
            "input_schema": r.input_schema, "outputs": r.info.get("outputs")}  # fmt: skip


async def list_recipes(ctx, state: State, args: dict):
    recipes = [recipe_entry(r) for r in await off_loop(state.catalog.all)]
    text = "\n".join(f"{r['name']} (tool `{r['tool']}`): {r['description']}" for r in recipes)
    return ok({"recipes": recipes}, text)


async def validate_recipe(ctx, state: State, args: dict):
    """`{valid, errors, warnings}` as `localforge validate --json` says it; `problems` is the same
    list as `errors`, under the name this tool used before (kept for old clients)."""
    text, ref = args.get("yaml"), args.get("recipe")
    if (text is None) == (ref is None):
        return runs.tool_error("give either `recipe` (a name or path) or `yaml` (the recipe's text), not both or neither")

    def check(path: str) -> tuple[list, list]:
        return api.validate(path), api.validate_warnings(path)

    if text is not None:
        with tempfile.TemporaryDirectory(prefix="localforge-mcp-") as tmp:
            path = os.path.join(tmp, "recipe.yaml")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            found, warnings = await off_loop(check, path)
            for p in [*found, *warnings]:
                if p.get("file") == path:
                    p["file"] = "<yaml>"
    else:
        try:
            recipe = state.catalog.find(ref)
        except Refused as e:
            return runs.tool_error(str(e))
        found, warnings = await off_loop(check, str(recipe.path))
    doc = {"valid": not found, "errors": found, "warnings": warnings, "problems": found}
    if not found:
        return ok(doc, "✓ valid" + "".join(f"\nwarning: {runs.problem_line(w)}" for w in warnings))
    return ok(doc, runs.tool_error(f"{len(found)} error{'s' if len(found) != 1 else ''}", found).content[0].text)


async def system_info(ctx, state: State, args: dict):
    report = await off_loop(api.system)
    return ok(report, dumps(report))


async def list_runs(ctx, state: State, args: dict):
    rows = await off_loop(api.history, max(1, min(int(args.get("limit", 20)), 1000)))
    if args.get("status"):
        rows = [r for r in rows if r["status"] == args["status"]]
    if args.get("recipe"):
        rows = [r for r in rows if r["recipe"] == args["recipe"]]
    live = set(state.live.ids())
    for r in rows:
        r["live"] = r["run_id"] in live
    text = "\n".join(f"{r['run_id']}  {r['status']:<10} {r['recipe']}" for r in rows) or "no runs yet"
    return ok({"runs": rows}, text)


async def get_run(ctx, state: State, args: dict):
    detail = await off_loop(api.history_show, args["run_id"])
    if detail is None:
        return runs.tool_error(f"no run `{args['run_id']}` in the history; `list_runs` lists them")
    detail["live"] = state.live.get(args["run_id"]) is not None
    detail["files"] = runs.run_files(detail["run_id"], detail["run_dir"]) if detail.get("run_dir") else []
    return ok(detail, dumps({k: v for k, v in detail.items() if k != "steps"}))


# -- runs ----------------------------------------------------------------------------------


async def launch(ctx, state: State, begin, recipe_name: str, options: dict) -> types.CallToolResult:
    """Start a run (`begin` returns the api.Run), then wait for it or leave it going."""
    try:
        run = await runs.start(begin)
    except errors.LocalForgeError as e:
        return runs.engine_error(e)
    state.live.add(run)
    if not options.get("wait", True):
        runs.follow_in_background(run, state.live, options.get("auto_approve", False))
        return runs.started(run, recipe_name)
    try:
        report = await runs.follow(ctx, run, state.settings, options.get("auto_approve", False))
    finally:
        state.live.drop(run)
    return runs.result(report)


async def run_named(ctx, state: State, recipe, inputs: dict, options: dict):
    problems = schemas.problems(recipe.input_schema, inputs)
    if problems:
        return runs.invalid(f"invalid input for recipe `{recipe.name}`", problems)

    def begin():
        return api.start(
            str(recipe.path), inputs, auto_approve=options.get("auto_approve", False), force=options.get("force", False),
            cache=options.get("cache", True), refresh=options.get("refresh") or (),
        )  # fmt: skip

    return await launch(ctx, state, begin, recipe.name, options)


async def run_recipe(ctx, state: State, args: dict):
    try:
        recipe = await off_loop(state.catalog.find, args["recipe"])
    except Refused as e:
        return runs.tool_error(str(e))
    return await run_named(ctx, state, recipe, args.get("inputs") or {}, args)


async def resume_run(ctx, state: State, args: dict):
    run_id = args["run_id"]
    detail = await off_loop(api.history_show, run_id)
    if detail is None:
        return runs.tool_error(f"no run `{run_id}` in the history; `list_runs` lists them")
    path = detail.get("recipe_path")
    if not path or not state.catalog.allows(Path(path)):
        return runs.tool_error(
            f"run `{run_id}` is of a recipe outside the recipe folders ({state.catalog.folders()}); resume it with the CLI"
        )

    def begin():
        return api.start_resume(run_id, auto_approve=args.get("auto_approve", False), force=args.get("force", False))

    return await launch(ctx, state, begin, detail["recipe"], args)


async def cancel_run(ctx, state: State, args: dict):
    run = state.live.get(args["run_id"])
    if run is None:
        detail = await off_loop(api.history_show, args["run_id"])
        if detail is None:
            return runs.tool_error(f"no run `{args['run_id']}`; `list_runs` lists them")
        if detail["status"] != "running":
            return ok({"run_id": detail["run_id"], "status": detail["status"]}, f"run {detail['run_id']} already ended: {detail['status']}")
        return runs.tool_error(f"run `{args['run_id']}` was not started by this server; stop it where it runs (Ctrl-C)")
    run.cancel()
    report = await run.wait_async()
    return ok({"run_id": report["run_id"], "status": report["status"]}, f"run {report['run_id']}: {report['status']}")


def recipe_tool(recipe) -> Handler:
    async def handler(ctx, state: State, args: dict):
        return await run_named(ctx, state, recipe, args, {})

    return handler


STATUS = {"type": "string", "enum": ["running", "completed", "failed", "cancelled", "interrupted"]}
RUN_ID = {"run_id": {"type": "string", "description": "a run's id (`list_runs`)"}}
TOOLS: dict[str, Spec] = {
    "list_tools": Spec(
        "The tools LocalForge can use on this machine (native, Python plugins, YAML tools) with their actions and whether each is available here; "
        "with `schema`, each action's `inputs` as a JSON Schema, to write recipe steps from (name the tools or actions you need in `only`).",
        {"type": "object", "properties": {"available_only": {"type": "boolean", "default": False},
                                          "schema": {"type": "boolean", "default": False, "description": "include each action's input JSON Schema"},
                                          "only": {"type": "array", "items": {"type": "string"}, "default": [],
                                                   "description": "only these tools (`ollama`) or actions (`ollama.generate`); the whole list with `schema` is large"}},
         "additionalProperties": False},  # fmt: skip
        {"type": "object", "properties": {"tools": {"type": "array", "items": OBJECT}}, "required": ["tools"]},
        READ, list_tools,
    ),
    "list_recipes": Spec(
        "The recipes this server can run, each with its MCP tool name and typed input schema.",
        NO_ARGS, {"type": "object", "properties": {"recipes": {"type": "array", "items": OBJECT}}, "required": ["recipes"]},
        READ, list_recipes,
    ),
    "validate_recipe": Spec(
        "Check a recipe without running it (what `localforge validate --json` says): `errors`, each with file, line, column, message and hint, and `warnings`. Give `recipe` (a name or a path in the recipe folders) or `yaml` (a recipe's text, e.g. one you are writing).",
        {"type": "object", "properties": {"recipe": {"type": "string"}, "yaml": {"type": "string", "description": "the recipe's YAML text"}}, "additionalProperties": False},
        {"type": "object", "properties": {"valid": {"type": "boolean"}, "errors": {"type": "array", "items": PROBLEM},
                                          "warnings": {"type": "array", "items": PROBLEM},
                                          "problems": {"type": "array", "items": PROBLEM, "description": "the same as `errors` (its old name)"}},
         "required": ["valid", "errors", "warnings"]},
        READ, validate_recipe,
    ),
    "system_info": Spec(
        "This machine: CPU, RAM, GPUs and VRAM, services (Ollama, SD WebUI, ComfyUI) up or down, command-line tools with versions, the models that fit, tuning advice (what `localforge system --json` says).",
        NO_ARGS, OBJECT, READ, system_info,
    ),
    "list_runs": Spec(
        "Past and running runs, newest first.",
        {"type": "object", "properties": {"limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20}, "status": STATUS,
                                          "recipe": {"type": "string"}}, "additionalProperties": False},  # fmt: skip
        {"type": "object", "properties": {"runs": {"type": "array", "items": OBJECT}}, "required": ["runs"]},
        READ, list_runs,
    ),
    "get_run": Spec(
        "One run from the history: status, inputs, outputs, each step's attempts (inputs, outputs, errors, times), and the files in its folder.",
        {"type": "object", "properties": RUN_ID, "required": ["run_id"], "additionalProperties": False},
        {"type": "object", "properties": {"run_id": {"type": "string"}, "status": STATUS}, "required": ["run_id", "status"]},
        READ, get_run,
    ),
    "run_recipe": Spec(
        "Run a recipe by name (`list_recipes`) or by path inside the recipe folders, with its inputs. Returns its outputs, status and files (as resource links). Progress is reported per step when the call carries a progress token.",
        {"type": "object", "properties": {"recipe": {"type": "string", "description": "a recipe name or a path in the recipe folders"},
                                          "inputs": {"type": "object", "description": "the recipe's inputs by name (see its input schema in `list_recipes`)"},
                                          **RUN_OPTIONS, **CACHE_OPTIONS}, "required": ["recipe"], "additionalProperties": False},  # fmt: skip
        schemas.run_schema(), RUNS, run_recipe,
    ),
    "resume_run": Spec(
        "Continue a failed, cancelled or interrupted run in its own folder and history row; completed steps keep their outputs.",
        {"type": "object", "properties": {**RUN_ID, **RUN_OPTIONS}, "required": ["run_id"], "additionalProperties": False},
        schemas.run_schema(), RUNS, resume_run,
    ),
    "cancel_run": Spec(
        "Stop a run this server started: its steps and their processes stop, `cleanup.on_failure` runs, the history says `cancelled`.",
        {"type": "object", "properties": RUN_ID, "required": ["run_id"], "additionalProperties": False},
        {"type": "object", "properties": {"run_id": {"type": "string"}, "status": STATUS}, "required": ["run_id", "status"]},
        CANCEL, cancel_run,
    ),
}  # fmt: skip


def recipe_spec(recipe) -> Spec:
    desc = recipe.info.get("description") or f"the `{recipe.name}` recipe"
    desc = f"Run the `{recipe.name}` recipe: {desc}. Returns its outputs, status and files."
    return Spec(desc, recipe.input_schema, recipe.output_schema, RUNS, recipe_tool(recipe))


def as_tool(name: str, spec: Spec) -> types.Tool:
    return types.Tool(
        name=name, description=spec.description, input_schema=spec.input, output_schema=spec.output, annotations=spec.annotations
    )


def specs(state: State) -> dict[str, Spec]:
    """Every tool by name: the fixed ones, then one per recipe."""
    out = dict(TOOLS)
    for r in state.catalog.all():
        out.setdefault(r.tool, recipe_spec(r))
    return out
