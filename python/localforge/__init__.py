"""LocalForge: run recipes of local AI workers (Ollama, Stable Diffusion, Blender, FFmpeg, any CLI) on your own machine.

Use it from Python::

    import localforge
    result = localforge.run("hello-localforge", {"name": "you"})
    print(result["status"], result["outputs"])

`run` / `arun` (asyncio) / `start` (a `Run` handle with events, approvals and
cancel), `resume`, `plan`, `validate`, `history`, `history_show`, `system`,
`health`, `list_tools`, `list_recipes`, `model_table`, `parse_yaml`,
`render_template`, `tool_definition`, `cache_stats`, `cache_clear`: see `localforge.api` and docs/api.md.
The engine is Rust (`localforge._core`), loaded on first use, so importing
this package is cheap; the command line is `python -m localforge`.
"""

import os

TYPE_CHECKING = False  # type checkers read it as true; importing `typing` for it would cost every start ~2 ms

# LocalForge 0.x's namespaces — `localforge.engine`, `localforge.tools`, `localforge.clients` —
# which its plugins import, live in compat/ and import under those names (compat/__init__.py).
__path__.append(os.path.join(os.path.dirname(__file__), "compat"))

if TYPE_CHECKING:  # what type checkers and editors see; at run time `__getattr__` loads the API on first use
    __version__: str
    from localforge.api import (
        Run,
        answer,
        arun,
        cache_clear,
        cache_stats,
        cancel,
        config,
        health,
        history,
        history_show,
        history_version,
        list_recipes,
        list_tools,
        model_table,
        parse_yaml,
        plan,
        recipe_document,
        recipe_info,
        render_template,
        resume,
        run,
        run_status,
        runs,
        schema,
        search_step_log,
        start,
        start_resume,
        step_log,
        system,
        tool_definition,
        validate,
        validate_warnings,
    )

__all__ = [
    "Run",
    "answer",
    "arun",
    "cache_clear",
    "cache_stats",
    "cancel",
    "config",
    "health",
    "history",
    "history_show",
    "history_version",
    "list_recipes",
    "list_tools",
    "model_table",
    "parse_yaml",
    "plan",
    "recipe_document",
    "recipe_info",
    "render_template",
    "resume",
    "run",
    "run_status",
    "runs",
    "schema",
    "search_step_log",
    "start",
    "start_resume",
    "step_log",
    "system",
    "tool_definition",
    "validate",
    "validate_warnings",
]
_API = frozenset(__all__)


def __getattr__(name):
    if name == "__version__":
        # The engine's version (Cargo.toml, the one place it is written), read when asked.
        from localforge._project import version

        globals()["__version__"] = version()
        return globals()["__version__"]
    if name in _API:
        from localforge import api

        return getattr(api, name)
    raise AttributeError(f"module 'localforge' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _API | {"__version__"})
