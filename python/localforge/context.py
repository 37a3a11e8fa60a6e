"""The `ctx` object a Python tool's `handle(action, inputs, ctx)` receives: every
attribute and method 0.x's `WorkflowContext` offered, with the same shapes.

| attribute | what |
|---|---|
| `temp_dir`, `run_dir` | `pathlib.Path` |
| `run_id` | the run's id |
| `start_time` | `datetime.datetime` (local time) the run started |
| `inputs` | the run's inputs |
| `config`, `templates` | the recipe's `config:` and `templates:` mappings |
| `recipe` | the recipe as its YAML says it (`name`, `inputs`, `steps`, ...), plus `path` |
| `steps_output` | `{step_id: {"outputs": {...}}}` of the steps that have finished |
| `current_step` | the step's id (a `batch.foreach` sub-step sees its batch step's id); `step` has the details |
| `iteration_count` | `{failed_step_id: iteration}` of refinement loops so far |
| `refinement_active` | whether a refinement loop is going on |
| `errors` | a list of error texts (empty while steps run, as in 0.x) |
| `gpus` | new in 1.x: the GPUs the scheduler gave the step, `[{"index", "vendor", "name", "uuid", "vram_gb"}]` (empty without GPU work or a listed GPU) |
| `gpu_env` | new in 1.x: the variables that show a program only those cards (`{"CUDA_VISIBLE_DEVICES": "GPU-…"}`; empty on a machine of one card): pass them to a process the plugin starts |
| `log(message, level)`, `resolve(value)`, `set_step_output(id, outputs)`, `_evaluate(expr)` | as in 0.x |

Plugins may set attributes of their own on it. Values follow 0.x unless the plugin's
module says `TOOL_NATIVE_VALUES = True`: a templated input (`"{{ inputs.n }}"`) arrives
as text, as 0.x rendered it (`"3"`, `"['a', 'b']"`), and `resolve` returns text and
leaves a name it cannot evaluate as written. With `TOOL_NATIVE_VALUES = True` inputs
keep their types (`3`, `['a', 'b']`) and `resolve` renders as the engine does.
"""

import re
import threading
from datetime import datetime
from pathlib import Path

from localforge.errors import NotStorable

_PLACEHOLDER = re.compile(r"\{\{([^}]+)\}\}")


def run_info(run: dict) -> dict:
    """The run's fixed information, with paths as `pathlib.Path` (made once per run)."""
    run["temp_dir"] = Path(run["temp_dir"])
    run["run_dir"] = Path(run["run_dir"])
    started = run.get("started_at")
    try:
        run["start_time"] = datetime.fromisoformat(started.replace("Z", "+00:00")).astimezone().replace(tzinfo=None)
    except (AttributeError, ValueError):
        run["start_time"] = datetime.now()
    return run


def text_0x(value) -> str:
    """A value as 0.x's templates wrote it: Python's `str()` (`3`, `True`, `None`, `['a', 'b']`)."""
    return value if isinstance(value, str) else str(value)


def render_0x(value, evaluate, log):
    """`{{ name }}` in `value` (its text, and inside its dicts and lists) replaced by the text
    of `evaluate(name)`, as 0.x rendered; a name that fails stays as written, with a warning
    to `log(message, level)`. Other values pass through."""

    def substitute(match) -> str:
        expr = match.group(1).strip()
        try:
            return text_0x(evaluate(expr))
        except Exception as e:  # 0.x: any failure leaves the placeholder as written
            log(f"Could not resolve '{expr}': {e}", "WARNING")
            return match.group(0)

    if isinstance(value, str):
        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, dict):
        return {k: render_0x(v, evaluate, log) for k, v in value.items()}
    if isinstance(value, list):
        return [render_0x(v, evaluate, log) for v in value]
    return value


class _Counted:
    """An attribute of a `ToolContext` whose every read is told to the engine (`_read`):
    the step cache's key does not hold it. 0.x plugins may set what they like on ctx, so it
    can be set too."""

    def __init__(self, name: str):
        self.name, self.slot = name, "_" + name

    def __get__(self, ctx, owner=None):
        if ctx is None:
            return self
        ctx._read(f"`ctx.{self.name}`")
        return getattr(ctx, self.slot)

    def __set__(self, ctx, value) -> None:
        setattr(ctx, self.slot, value)


class ToolContext:
    """Run information for one tool call. Built by the engine; cheap to create."""

    def __init__(self, run: dict, current_step: dict, engine, native: bool = False):
        self._run = run
        self._engine = engine
        self._steps_output = None
        self._native = native
        self.temp_dir = run["temp_dir"]
        self.run_dir = run["run_dir"]
        self._run_id = run["run_id"]
        self._start_time = run["start_time"]
        self._step = current_step
        self._current_step = re.split(r"[\[#]", current_step.get("id") or "", maxsplit=1)[0]
        self._iteration_count = dict(current_step.get("iteration_count") or {})
        self._refinement_active = bool(current_step.get("refinement_active"))
        self.errors = []
        self.gpus = [dict(g) for g in current_step.get("gpus") or []]
        self.gpu_env = dict(current_step.get("gpu_env") or {})

    # What the plugin reads of the run is told to the engine: the step cache's key does not
    # hold the run's inputs, config or templates, so a call that read them is not stored.
    def _read(self, what: str) -> None:
        read = getattr(self._engine, "read_run", None)
        if read is not None:
            read(what)

    # Attributes of this run or this step alone: a result made from them is not another's.
    run_id = _Counted("run_id")
    start_time = _Counted("start_time")
    step = _Counted("step")
    current_step = _Counted("current_step")
    iteration_count = _Counted("iteration_count")
    refinement_active = _Counted("refinement_active")

    @property
    def inputs(self) -> dict:
        """The run's inputs, after defaults and type conversion."""
        self._read("`ctx.inputs`")
        return self._run["inputs"]

    @property
    def config(self) -> dict:
        """The recipe's `config` mapping."""
        self._read("`ctx.config`")
        return self._run["config"]

    @property
    def templates(self) -> dict:
        """The recipe's `templates` mapping, unrendered."""
        self._read("`ctx.templates`")
        return self._run["recipe"].get("templates") or {}

    @property
    def recipe(self) -> dict:
        """The recipe as its YAML says it (unrendered `steps`, `inputs` as a list, ...) and `path`."""
        self._read("`ctx.recipe`")
        doc = self._run.get("_document")
        if doc is None:
            doc = dict(self._engine.recipe_document() or {})
            for key, value in self._run["recipe"].items():
                doc.setdefault(key, value)
            self._run["_document"] = doc
        return doc

    @property
    def steps_output(self) -> dict:
        """`{step_id: {"outputs": {...}}}` of the steps that have finished."""
        self._read("`ctx.steps_output`")
        if self._steps_output is None:
            self._steps_output = {k: {"outputs": v} for k, v in self._engine.steps_output().items()}
        return self._steps_output

    def set_step_output(self, step_id: str, outputs: dict) -> None:
        """Record `outputs` as step `step_id`'s: later templates (`{{ steps.ID.outputs.K }}`) read them."""
        self._engine.set_step_output(str(step_id), plain(outputs))
        self._steps_output = None

    def log(self, message, level: str = "INFO") -> None:
        """Write to the run's log (stderr) and its history."""
        self._engine.log(str(level).upper(), str(message))

    def _evaluate(self, expr: str):
        """The value of one expression (`inputs.n`, `steps.a.outputs.files`); ValueError if unknown."""
        return self._engine.evaluate(expr.strip())

    def resolve(self, value):
        """Render `{{ ... }}` in a value: as 0.x did (text; unknown names left as written, with a
        warning), or with the engine's own rules for a plugin with `TOOL_NATIVE_VALUES = True`."""
        if self._native:
            return self._engine.resolve(value)
        return render_0x(value, self._evaluate, self.log)

    def __repr__(self):
        return f"<ToolContext run={self._run['run_id']} step={self._current_step}>"


def plain(value):
    """`value` as plain data the engine can store: paths become text, tuples and sets lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise NotStorable(f"{type(value).__name__} is not storable data (use text, numbers, lists and dicts)")


class _StepOutput:
    """Stands in for `sys.stdout` once a plugin has run: what a plugin prints goes
    to its step's log (stderr progress, the history, `step_log` events) instead of
    stdout. Other threads write through unchanged. (`run --json` also moves file
    descriptor 1 to stderr while the run goes on, for output that bypasses
    `sys.stdout`: a C library, a child process, `sys.stdout.buffer`.)"""

    def __init__(self, real):
        self._real = real

    def write(self, text):
        step = getattr(_current, "step", None)
        if step is None:
            return self._real.write(text)
        step.pending += text
        *lines, step.pending = step.pending.split("\n")
        for line in lines:
            if line.strip():
                step.ctx.log(line)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if getattr(_current, "step", None) is None:
            self._real.flush()

    def __getattr__(self, name):
        return getattr(self._real, name)


class _Printing:
    __slots__ = ("ctx", "pending")

    def __init__(self, ctx):
        self.ctx, self.pending = ctx, ""


_current = threading.local()


def call_plugin(handle, action, inputs, ctx):
    """`handle(action, inputs, ctx)` with the plugin's `print()` sent to its step's log, and
    inputs as 0.x gave them unless the plugin asks for native values."""
    import sys

    module = sys.modules.get(getattr(handle, "__module__", None) or "")
    if getattr(module, "TOOL_NATIVE_VALUES", False) is True:
        ctx._native = True
    else:
        # The engine passed the step's inputs as the recipe wrote them: rendered here as 0.x
        # did (text; `{{item}}` and other names it does not know stay as written).
        inputs = ctx.resolve(inputs)

    if not isinstance(sys.stdout, _StepOutput):
        sys.stdout = _StepOutput(sys.stdout)
    outer = getattr(_current, "step", None)
    _current.step = printing = _Printing(ctx)
    try:
        return handle(action, inputs, ctx)
    finally:
        _current.step = outer
        if printing.pending.strip():
            ctx.log(printing.pending)
