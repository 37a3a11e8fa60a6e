"""The MCP server: the SDK's low-level `Server` with LocalForge's tools,
resources and prompt, served over stdio or Streamable HTTP. Everything it does
goes through `localforge.api`; the SDK speaks the protocol (every handshake
revision and the stateless 2026-07-28 one)."""

from __future__ import annotations

import logging
import sys
from typing import Optional

import anyio
import mcp.types as types
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from localforge import __version__
from localforge.frontends.mcp_server import resources, runs
from localforge.frontends.mcp_server.recipes import Catalog
from localforge.frontends.mcp_server.tools import TOOLS, State, as_tool, recipe_spec, specs

INSTRUCTIONS = """\
LocalForge runs recipes of local AI workers (Ollama, Stable Diffusion, ComfyUI, Blender, FFmpeg, Whisper, any CLI)
on this machine. Each recipe is a tool (`recipe_<name>`) with typed inputs; `run_recipe` runs one by name or path.
`system_info` says what this machine has; `validate_recipe` checks a recipe you write (the `plan_pipeline` prompt
explains how). Runs are kept in a history (`list_runs`, `get_run`, `localforge://runs/{run_id}`); their files are
resources (`localforge://runs/{run_id}/files/{path}`)."""


def build(folders: Optional[list] = None) -> Server:
    """The server, offering the recipes under the built-in folder, ./recipes and `folders`."""
    state = State(Catalog(folders), runs.Live(), runs.Settings())
    subs = resources.Subscriptions()

    async def list_tools(ctx, params) -> types.ListToolsResult:
        table = await anyio.to_thread.run_sync(specs, state)
        return types.ListToolsResult(tools=[as_tool(name, spec) for name, spec in table.items()])

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        spec = TOOLS.get(params.name)
        if spec is None and params.name.startswith("recipe_"):
            recipe = await anyio.to_thread.run_sync(state.catalog.by_tool, params.name)
            spec = recipe_spec(recipe) if recipe else None
        if spec is None:
            raise MCPError(types.INVALID_PARAMS, f"unknown tool `{params.name}`; `tools/list` lists them")
        args = params.arguments or {}
        if not params.name.startswith("recipe_"):
            from localforge.frontends.mcp_server.schemas import problems

            wrong = problems(spec.input, args)
            if wrong:
                return runs.invalid(f"invalid arguments for `{params.name}`", wrong)
        result = await spec.handler(ctx, state, args)
        run_id = (result.structured_content or {}).get("run_id") if isinstance(result.structured_content, dict) else None
        if run_id:
            await subs.updated(f"localforge://runs/{run_id}")
        return result

    async def list_resources(ctx, params) -> types.ListResourcesResult:
        return types.ListResourcesResult(resources=await anyio.to_thread.run_sync(resources.listing, state.catalog))

    async def list_templates(ctx, params) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=resources.TEMPLATES)

    async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await anyio.to_thread.run_sync(resources.read, state.catalog, str(params.uri))

    async def subscribe(ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subs.add(str(params.uri), ctx.session)
        return types.EmptyResult()

    async def unsubscribe(ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subs.remove(str(params.uri), ctx.session)
        return types.EmptyResult()

    async def list_prompts(ctx, params) -> types.ListPromptsResult:
        return types.ListPromptsResult(prompts=[resources.PROMPT])

    async def get_prompt(ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name != resources.PROMPT.name:
            raise MCPError(types.INVALID_PARAMS, f"unknown prompt `{params.name}`; the one prompt is `plan_pipeline`")
        return await anyio.to_thread.run_sync(resources.prompt, state.catalog, params.arguments)

    async def complete(ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
        return await anyio.to_thread.run_sync(resources.complete, state.catalog, params)

    async def set_level(ctx, params: types.SetLevelRequestParams) -> types.EmptyResult:
        state.settings.log_level = params.level
        return types.EmptyResult()

    server = Server(
        "localforge",
        version=__version__,
        title="LocalForge",
        description="Recipes of local AI workers on this machine",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
    )
    # Registered here rather than as `on_set_logging_level`, which warns that logging is deprecated
    # from 2026-07-28: clients of the handshake revisions still set the level this way.
    server.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)
    return server


def log_to_stderr() -> None:
    """The server's own log: stderr only (on stdio, stdout is the protocol)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("localforge mcp: %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)


async def serve_stdio(server: Server) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


def serve_stdio_blocking(folders: Optional[list] = None) -> None:
    log_to_stderr()
    anyio.run(serve_stdio, build(folders))
