"""0.x's `WorkflowContext`, as plugin authors build one in their unit tests:
`WorkflowContext(recipe, inputs, run_base_dir=...)` makes a run folder with a `temp`
folder inside, resolves `{{ ... }}` the way 0.x did, and keeps step outputs, so a test can
call `handle(action, inputs, ctx)` or `ToolRegistry().execute(tool, action, inputs, ctx)`
with it. A run the engine makes hands its plugins a `localforge.context.ToolContext`
instead, which counts as a `WorkflowContext` too (`isinstance`)."""

from __future__ import annotations

import abc
import logging
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from localforge.context import ToolContext, render_0x
from localforge.errors import InvalidValue

log = logging.getLogger("localforge")


class WorkflowContext(abc.ABC):  # noqa: B024  (an ABC only so that ToolContext can register as one)
    """What a 0.x tool's `ctx` held, made by hand: the recipe (a dict), its inputs, its
    `config` and `templates`, a fresh 8-character run id, and `run_dir` (made under
    `run_base_dir`, `./workflow_runs` by default) with `temp_dir` inside it."""

    def __init__(self, recipe: dict, inputs: dict, run_base_dir: Optional[str] = None):
        self.recipe = recipe
        self.inputs = inputs
        self.config = recipe.get("config") or {}
        self.templates = recipe.get("templates") or {}
        self.steps_output: dict[str, dict[str, Any]] = {}
        self.run_id = uuid.uuid4().hex[:8]
        self.run_dir = Path(run_base_dir or "./workflow_runs") / self.run_id
        self.temp_dir = self.run_dir / "temp"
        self.start_time = datetime.now()
        self.current_step: Optional[str] = None
        self.errors: list[str] = []
        self.iteration_count: dict[str, int] = {}
        self.refinement_active = False
        self.temp_dir.mkdir(parents=True, exist_ok=True)

    def resolve(self, value: Any) -> Any:
        """`{{ name }}` in text replaced by the value's text (nested in dicts and lists);
        a name that cannot be found stays as written, with a warning, as 0.x did."""
        return render_0x(value, self._evaluate, self.log)

    def _evaluate(self, expr: str) -> Any:
        """One dotted name: `inputs.*`, `config.*`, `steps.ID.outputs.*`, `templates.NAME`,
        `workflow.run_id|run_dir|name`, `temp_dir`, `timestamp`."""
        root, *path = expr.split(".")
        if root == "timestamp":
            return datetime.now().isoformat()
        if root == "temp_dir":
            return str(self.temp_dir)
        if root == "workflow":
            fields = {"run_id": self.run_id, "run_dir": str(self.run_dir), "name": self.recipe.get("name", "unnamed")}
            if len(path) == 1 and path[0] in fields:
                return fields[path[0]]
        if root == "templates":
            return self.templates[path[0]] if path else self.templates
        sources = {"inputs": self.inputs, "config": self.config, "steps": self.steps_output}
        if root not in sources:
            raise InvalidValue(f"Unknown variable: {expr}")
        value: Any = sources[root]
        for key in path:
            value = value[int(key)] if isinstance(value, list) else value[key]
        return value

    def set_step_output(self, step_id: str, outputs: dict) -> None:
        """Record a step's outputs: `{{ steps.ID.outputs.KEY }}` reads them."""
        self.steps_output[step_id] = {"outputs": outputs}

    def get_step_output(self, step_id: str) -> dict:
        """A step's outputs (an empty dict for a step that has none yet)."""
        return self.steps_output.get(step_id, {}).get("outputs", {})

    def log(self, message: Any, level: str = "INFO") -> None:
        """A line for the run's log: here, Python's `localforge` logger."""
        log.log(getattr(logging, str(level).upper(), logging.INFO), str(message))


WorkflowContext.register(ToolContext)
