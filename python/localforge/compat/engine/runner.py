"""0.x's `localforge.engine.runner`, kept for plugins that import it: `ToolRegistry`
(list and call tools) and `WorkflowRunner` (run a recipe), as thin layers over
`localforge.api`. Deprecated: use `localforge.list_tools()` and `localforge.run()`."""

from pathlib import Path
from typing import Any, Callable, Optional

from localforge.engine._shim import call_tool, deprecated
from localforge.engine.workflow_context import WorkflowContext  # noqa: F401  (0.x plugins import it from here)
from localforge.errors import InvalidValue

deprecated("localforge.engine.runner", "localforge.list_tools() / localforge.run()")


class ToolRegistry:
    """Every tool by name (0.x: `tools`, `load_errors`, `register`, `execute`, `available_tools`)."""

    def __init__(self):
        from localforge import api
        from localforge.plugins import for_engine

        plugins, broken = for_engine()
        handles = {p["name"]: p["module"].handle for p in plugins}
        self.tools: dict[str, Callable] = {}
        self.load_errors: dict[str, str] = {b["name"]: b["error"] for b in broken}
        for t in api.list_tools():
            if not t["available"] and t["name"] not in handles:
                self.load_errors.setdefault(t["name"], "; ".join(t["missing"]))
                continue
            self.tools[t["name"]] = handles.get(t["name"]) or self._engine_tool(t["name"])

    @staticmethod
    def _engine_tool(name: str) -> Callable:
        def handle(action, inputs, ctx=None):
            return call_tool(name, action, inputs)

        handle.__name__ = f"{name}_handle"
        return handle

    def register(self, name: str, handler: Callable) -> None:
        self.tools[name] = handler

    def execute(self, tool: str, action: str, inputs: dict, ctx: Any = None) -> dict:
        if tool not in self.tools:
            raise InvalidValue(f"Unknown tool: {tool}. Available: {', '.join(sorted(self.tools))}")
        return self.tools[tool](action, inputs, ctx)

    def available_tools(self) -> list[str]:
        return sorted(self.tools)

    def preflight_check(self) -> dict[str, bool]:
        return {name: True for name in self.tools}


class WorkflowRunner:
    """Runs a recipe (0.x: `run(recipe_path, inputs) -> {"success", "run_id", "outputs", ...}`)."""

    def __init__(self, auto_approve: bool = False, config_path: Optional[str] = None):
        from localforge.engine.config import get_config

        self.auto_approve = auto_approve
        self.config = get_config(config_path)
        self.registry = ToolRegistry()

    def load_recipe(self, recipe_path) -> dict:
        from localforge import api

        doc = api.recipe_document(recipe_path)
        if doc is None:
            raise InvalidValue(f"cannot read recipe {recipe_path}")
        return doc

    def run(self, recipe_path, inputs: Optional[dict] = None, project_id=None, use_persistence: bool = True) -> dict:
        from localforge import api, errors

        try:
            report = api.run(Path(recipe_path), inputs or {}, auto_approve=self.auto_approve)
        except errors.LocalForgeError as e:
            return {"success": False, "run_id": None, "error": str(e), "errors": [str(e)], "run_dir": None}
        outputs = {sid: {"outputs": s["outputs"]} for sid, s in report["steps"].items() if s["status"] == "completed"}
        if report["status"] == "completed":
            return {"success": True, "run_id": report["run_id"], "outputs": outputs, "run_dir": report["run_dir"]}
        return {"success": False, "run_id": report["run_id"], "error": report.get("error") or report["status"],
                "errors": [report.get("error") or report["status"]], "run_dir": report["run_dir"]}  # fmt: skip
