"""MCP resources (`localforge://system`, `localforge://recipes/{name}`,
`localforge://runs/{run_id}`, `localforge://runs/{run_id}/files/{path}`), the
`plan_pipeline` prompt, and argument completion for them."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Optional
from urllib.parse import unquote

import anyio
import mcp.types as types
from mcp.shared.exceptions import MCPError

from localforge import api
from localforge.frontends.mcp_server import runs
from localforge.frontends.mcp_server.recipes import Catalog, Refused

RESOURCE_NOT_FOUND = -32002  # the MCP spec's code for an unknown resource
MAX_READ = 50 * 1024 * 1024
TEXT_TYPES = ("application/json", "application/yaml", "application/xml", "application/x-yaml")

TEMPLATES = [
    types.ResourceTemplate(name="run", uri_template="localforge://runs/{run_id}", mime_type="application/json",
                           description="A run from the history: status, inputs, outputs, each step's attempts"),
    types.ResourceTemplate(name="run-file", uri_template="localforge://runs/{run_id}/files/{path}",
                           description="A file a run produced, under its run folder"),
    types.ResourceTemplate(name="recipe", uri_template="localforge://recipes/{name}", mime_type="application/yaml",
                           description="A recipe's YAML"),
    types.ResourceTemplate(name="step-log", uri_template="localforge://runs/{run_id}/logs/{step}", mime_type="text/plain",
                           description="What a step's program printed (its newest attempt): the last 64 KB of stdout, then of stderr"),
    types.ResourceTemplate(name="step-log-stream", uri_template="localforge://runs/{run_id}/logs/{step}/{channel}", mime_type="text/plain",
                           description="One stream (`stdout` or `stderr`) of a step's newest attempt: its last 64 KB"),
]  # fmt: skip


def not_found(message: str) -> MCPError:
    return MCPError(RESOURCE_NOT_FOUND, message)


def listing(catalog: Catalog) -> list[types.Resource]:
    out = [types.Resource(uri="localforge://system", name="system", mime_type="application/json",
                          description="This machine: hardware, services, tools, models that fit (`system --json`)")]  # fmt: skip
    for r in catalog.all():
        out.append(types.Resource(uri=f"localforge://recipes/{r.name}", name=f"recipe {r.name}", mime_type="application/yaml",
                                  description=r.info.get("description") or r.name))  # fmt: skip
    for row in api.history(20):
        out.append(types.Resource(uri=f"localforge://runs/{row['run_id']}", name=f"run {row['run_id']}", mime_type="application/json",
                                  description=f"{row['recipe']}: {row['status']}"))  # fmt: skip
    return out


def _text(uri: str, text: str, mime: str) -> types.ReadResourceResult:
    return types.ReadResourceResult(contents=[types.TextResourceContents(uri=uri, text=text, mime_type=mime)])


def read(catalog: Catalog, uri: str) -> types.ReadResourceResult:
    """The contents of a `localforge://` resource; MCPError (-32002) if there is none."""
    if not uri.startswith("localforge://"):
        raise not_found(f"unknown resource `{uri}`: resources are localforge://system, localforge://recipes/NAME, localforge://runs/ID")
    rest = uri[len("localforge://") :]
    if rest == "system":
        return _text(uri, json.dumps(api.system(), indent=1, default=str), "application/json")
    if rest.startswith("recipes/"):
        try:
            recipe = catalog.find(unquote(rest[len("recipes/") :]))
        except Refused as e:
            raise not_found(str(e))
        return _text(uri, recipe.path.read_text(encoding="utf-8"), "application/yaml")
    if rest.startswith("runs/"):
        run_id, _, tail = rest[len("runs/") :].partition("/")
        detail = api.history_show(unquote(run_id))
        if detail is None:
            raise not_found(f"no run `{run_id}` in the history")
        if not tail:
            return _text(uri, json.dumps(detail, indent=1, default=str), "application/json")
        if tail.startswith("files/"):
            return read_file(uri, detail, unquote(tail[len("files/") :]))
        if tail.startswith("logs/"):
            return read_log(uri, detail["run_id"], unquote(tail[len("logs/") :]))
    raise not_found(f"unknown resource `{uri}`")


def read_log(uri: str, run_id: str, rest: str) -> types.ReadResourceResult:
    """`STEP` (both streams) or `STEP/CHANNEL` of the step's newest attempt, each its last
    64 KB with a line saying which attempt, its status and which bytes these are."""
    step, _, channel = rest.partition("/")
    channels = [channel] if channel else ["stdout", "stderr"]
    if any(c not in ("stdout", "stderr") for c in channels):
        raise not_found(f"no output `{channel}`: read localforge://runs/{run_id}/logs/{step}/stdout or .../stderr")
    parts = []
    for c in channels:
        piece = api.step_log(run_id, step, channel=c)
        if piece is None:
            raise not_found(f"run {run_id} has no step `{step}` that started")
        where = f"bytes {piece['start']}–{piece['end']} of {piece['size']}" if piece["size"] else "empty"
        parts.append(f"== {c} of `{step}`, attempt {piece['attempt']} ({piece['status']}), {where} ==\n{piece['text']}")
    return _text(uri, "\n".join(parts), "text/plain")


def read_file(uri: str, detail: dict, rel: str) -> types.ReadResourceResult:
    """A file inside the run's folder; `..`, absolute paths, links that lead out and files
    with more than one name (hard links) are refused."""
    root = Path(detail["run_dir"]).resolve()
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        raise not_found(f"`{rel}` is not a path inside run {detail['run_id']}'s folder")
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise not_found(f"no file `{rel}` in run {detail['run_id']}'s folder")
    st = path.stat()
    if st.st_nlink > 1:
        # A hard link shares its content with a file anywhere on the same file system
        # (a key in the home folder): refused, as the dashboard does (`ui.runs.inside`).
        raise not_found(f"`{rel}` has other names (hard links) and is not served")
    size = st.st_size
    if size > MAX_READ:
        raise MCPError(
            types.INVALID_PARAMS, f"`{rel}` is {size} bytes; files over {MAX_READ} bytes are not sent: read {path} on this machine"
        )
    mime = runs.mime_type(path)
    data = path.read_bytes()
    if mime.startswith("text/") or mime in TEXT_TYPES:
        try:
            return _text(uri, data.decode("utf-8"), mime)
        except UnicodeDecodeError:
            pass
    blob = base64.b64encode(data).decode()
    return types.ReadResourceResult(contents=[types.BlobResourceContents(uri=uri, blob=blob, mime_type=mime)])


PROMPT = types.Prompt(
    name="plan_pipeline",
    title="Plan a LocalForge pipeline",
    description="Teaches you to write a LocalForge recipe for a goal, from the tools this machine has",
    arguments=[types.PromptArgument(name="goal", description="what the pipeline should do", required=True)],
)

RECIPE_RULES = """\
A recipe is YAML: `name`, `description`, `inputs` (each: name, type = string|number|integer|boolean|path|list|object,
default, description, choices), `steps`, and `outputs` (name: "{{ template }}", returned to the caller).
Each step: `id`, `tool`, `action`, `inputs` (templates allowed), optional `depends_on` (step ids; steps without
it run in file order), `when` (a template; false skips), `on_failure` (abort | skip | retry with `retry_count` |
refine), `timeout`, `resources` (gpu, vram_gb, ram_gb, cpus) so parallel steps share the machine safely.
Templates (minijinja): `{{ inputs.X }}`, `{{ steps.ID.outputs.KEY }}`, `{{ workflow.run_dir }}`, `{{ temp_dir }}`.
`tool: batch, action: foreach` runs `inputs.workflow_steps` once per item of `inputs.items` (`{{ item }}`),
`parallel: N` at a time. Write files under `{{ workflow.run_dir }}` so they come back as results."""


def prompt(catalog: Catalog, arguments: Optional[dict]) -> types.GetPromptResult:
    goal = (arguments or {}).get("goal")
    if not goal:
        raise MCPError(types.INVALID_PARAMS, "plan_pipeline needs the argument `goal`: what the pipeline should do")
    tools = [t for t in api.list_tools() if t["available"]]
    tool_lines = "\n".join(f"- {t['name']} ({t['kind']}): {', '.join(t['actions'])}" for t in tools)
    example = next((r for r in catalog.all() if r.name == "hello-localforge"), None)
    example_text = example.path.read_text(encoding="utf-8") if example else ""
    text = (
        f"Write a LocalForge recipe for this goal: {goal}\n\n"
        f"Use only the tools available on this machine:\n{tool_lines}\n\n{RECIPE_RULES}\n\n"
        "Steps: 1. draft the recipe; 2. call `validate_recipe` with `yaml` set to it and fix every problem it names; "
        "3. tell the user where to save it (a recipe folder: `list_recipes` shows them) or run an existing recipe "
        "with `run_recipe`. `system_info` says which models fit this machine's memory."
        + (f"\n\nA working recipe to follow:\n```yaml\n{example_text}```" if example_text else "")
    )
    return types.GetPromptResult(description=f"Plan a pipeline: {goal}",
                                 messages=[types.PromptMessage(role="user", content=types.TextContent(text=text))])  # fmt: skip


def complete(catalog: Catalog, params: types.CompleteRequestParams) -> types.CompleteResult:
    """Values for a template's `{run_id}` / `{name}` and the prompt's arguments, by prefix."""
    ref, arg = params.ref, params.argument
    prefix = arg.value or ""
    values: list[str] = []
    if isinstance(ref, types.ResourceTemplateReference):
        if arg.name == "run_id":
            values = [r["run_id"] for r in api.history(100)]
        elif arg.name == "name":
            values = [r.name for r in catalog.all()]
    matches = [v for v in values if v.startswith(prefix)]
    return types.CompleteResult(completion=types.Completion(values=matches[:100], total=len(matches), has_more=len(matches) > 100))


class Subscriptions:
    """Clients that subscribed to a run's resource hear when it changes (a step ends, it ends)."""

    def __init__(self):
        self._by_uri: dict[str, list] = {}

    def add(self, uri: str, session) -> None:
        self._by_uri.setdefault(uri, []).append(session)

    def remove(self, uri: str, session) -> None:
        self._by_uri[uri] = [s for s in self._by_uri.get(uri, []) if s is not session]

    async def updated(self, uri: str) -> None:
        for session in list(self._by_uri.get(uri, [])):
            try:
                await session.send_resource_updated(uri)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
                self.remove(uri, session)
