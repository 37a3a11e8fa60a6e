"""Type stubs for the Rust extension `localforge._core` (checked by `mypy.stubtest` in scripts/test.sh)."""

from collections.abc import Awaitable, Mapping
from os import PathLike
from typing import Any, Callable, Optional, Union, final

__all__ = [
    "CallDone",
    "CancelledError",
    "ConfigError",
    "InputError",
    "LocalForgeError",
    "RecipeError",
    "ResourceError",
    "RunError",
    "RunHandle",
    "StoreError",
    "TemplateError",
    "ToolError",
    "__version__",
    "cache_clear",
    "cache_stats",
    "call_tool",
    "config",
    "config_defaults",
    "control_run",
    "health_report",
    "history",
    "history_show",
    "history_version",
    "list_tools",
    "model_table",
    "parse_yaml",
    "plan_recipe",
    "query_runs",
    "recipe_document",
    "recipe_info",
    "render_template",
    "run_status",
    "schema_document",
    "search_step_log",
    "start_resume",
    "start_run",
    "step_log",
    "system_report",
    "tool_definition",
    "validate",
    "validate_warnings",
]

__version__: str

class LocalForgeError(Exception): ...

class RecipeError(LocalForgeError):
    errors: list[dict[str, Any]]

class InputError(RecipeError): ...
class ResourceError(RecipeError): ...

class ConfigError(LocalForgeError):
    errors: list[dict[str, Any]]

class StoreError(LocalForgeError): ...
class RunError(LocalForgeError): ...
class TemplateError(LocalForgeError): ...

class ToolError(LocalForgeError):
    result: Mapping[str, Any]
    step: Optional[str]
    errors: list[dict[str, Any]]

class CancelledError(LocalForgeError):
    result: Mapping[str, Any]
    step: Optional[str]
    errors: list[dict[str, Any]]

_Path = Union[str, PathLike[str]]
# `localforge.plugins.for_engine`: the names a recipe needs (None: all) -> (plugins, broken).
# (tool names the recipe needs or None for all, the configured tool folders) -> (plugins, broken)
_PluginSource = Callable[[Optional[list[str]], list[str]], tuple[list[dict[str, Any]], list[dict[str, Any]]]]
# the configuration's `executor` setting -> an executor object, or None (the steps run here)
_ExecutorChoice = Callable[[Any], Any]
# `engine::Options`: auto_approve, force, quiet, no_cache, refresh, events, answers (all optional).
_RunOptions = dict[str, Any]

@final
class RunHandle:
    """A run going on in the engine (see `localforge.api.Run`)."""

    @property
    def id(self) -> str: ...
    def cancel(self) -> None: ...
    def done(self) -> bool: ...
    def approve(self, step: str, answer: Union[bool, str]) -> str: ...
    def waiting_approvals(self) -> list[str]: ...
    def next_events(self, timeout: Optional[float] = None) -> Optional[list[dict[str, Any]]]: ...
    def next_events_async(self) -> Awaitable[Optional[list[dict[str, Any]]]]: ...
    def wait(self, timeout: Optional[float] = None) -> Optional[dict[str, Any]]: ...
    def wait_async(self) -> Awaitable[dict[str, Any]]: ...

@final
class CallDone:
    """Given to an executor's `submit`: call it once with the call's result dict."""

    def __call__(self, result: dict[str, Any]) -> None: ...
    def log(self, level: str, message: str) -> None: ...
    def progress(self, done: Optional[int], total: Optional[int], unit: str) -> None: ...
    def llm_call(self, call: dict[str, Any]) -> None: ...

def start_run(
    path: _Path,
    inputs: Optional[dict[str, Any]] = None,
    options: Optional[_RunOptions] = None,
    plugins: Optional[_PluginSource] = None,
    executor: Optional[_ExecutorChoice] = None,
) -> RunHandle: ...
def start_resume(
    run_id: str, options: Optional[_RunOptions] = None, plugins: Optional[_PluginSource] = None, executor: Optional[_ExecutorChoice] = None
) -> RunHandle: ...
def plan_recipe(
    path: _Path, inputs: Optional[dict[str, Any]] = None, options: Optional[_RunOptions] = None, plugins: Optional[_PluginSource] = None
) -> dict[str, Any]: ...
def call_tool(
    request: dict[str, Any],
    inputs: dict[str, Any],
    plugins: Optional[_PluginSource] = None,
    log: Optional[Callable[[str, str], Any]] = None,
    progress: Optional[Callable[[Optional[int], Optional[int], str], Any]] = None,
    stop: Optional[Callable[[], bool]] = None,
    llm_call: Optional[Callable[[dict[str, Any]], Any]] = None,
) -> dict[str, Any]: ...
def validate(paths: list[_Path], plugins: Optional[_PluginSource] = None) -> list[dict[str, Any]]: ...
def validate_warnings(paths: list[_Path], plugins: Optional[_PluginSource] = None) -> list[dict[str, Any]]: ...
def recipe_info(path: _Path) -> Optional[dict[str, Any]]: ...
def recipe_document(path: _Path) -> Optional[dict[str, Any]]: ...
def config_defaults() -> dict[str, Any]: ...
def list_tools(plugins: Optional[_PluginSource] = None, schema: bool = False) -> list[dict[str, Any]]: ...
def schema_document(kind: str, local: bool = False, plugins: Optional[_PluginSource] = None) -> dict[str, Any]: ...
def history(limit: int = 20) -> list[dict[str, Any]]: ...
def history_show(run_id: str) -> Optional[dict[str, Any]]: ...
def run_status(run_id: str) -> Optional[str]: ...
def config(path: Optional[_Path] = None) -> dict[str, Any]: ...
def system_report(binaries: Optional[list[str]] = None) -> dict[str, Any]: ...
def health_report() -> dict[str, Any]: ...
def model_table() -> list[dict[str, Any]]: ...
def parse_yaml(text: str) -> dict[str, Any]: ...
def render_template(text: str, context: dict[str, Any]) -> str: ...
def tool_definition(path: _Path, shared: bool = False) -> dict[str, Any]: ...
def cache_stats() -> dict[str, Any]: ...
def cache_clear(older_than_s: Optional[float] = None) -> int: ...
def control_run(run_id: str, control: dict[str, Any]) -> None: ...
def history_version() -> int: ...
def query_runs(query: Optional[dict[str, Any]] = None) -> dict[str, Any]: ...
def step_log(
    run_id: str, step: str, attempt: Optional[int] = None, channel: str = "stdout", offset: int = ..., limit: int = 65536
) -> Optional[dict[str, Any]]: ...
def search_step_log(
    run_id: str, step: str, text: str, attempt: Optional[int] = None, channel: str = "stdout", limit: int = 200
) -> Optional[list[dict[str, Any]]]: ...
