"""The `ctx` object a Python tool's `handle(action, inputs, ctx)` receives.

It offers what 0.x tools use: `temp_dir` and `run_dir` (pathlib.Path),
`run_id`, `inputs`, `config` (the recipe's), `recipe`, `steps_output`,
`current_step`, `log(message, level="INFO")` and `resolve(value)`.
"""

import threading
from pathlib import Path


def run_info(run: dict) -> dict:
    """The run's fixed information, with paths as `pathlib.Path` (made once per run)."""
    run["temp_dir"] = Path(run["temp_dir"])
    run["run_dir"] = Path(run["run_dir"])
    return run


class ToolContext:
    """Run information for one tool call. Built by the engine; cheap to create."""

    __slots__ = ("_run", "_engine", "_steps_output", "temp_dir", "run_dir", "run_id", "current_step")

    def __init__(self, run: dict, current_step: dict, engine):
        self._run = run
        self._engine = engine
        self._steps_output = None
        self.temp_dir = run["temp_dir"]
        self.run_dir = run["run_dir"]
        self.run_id = run["run_id"]
        self.current_step = current_step

    @property
    def inputs(self) -> dict:
        """The run's inputs, after defaults and type conversion."""
        return self._run["inputs"]

    @property
    def config(self) -> dict:
        """The recipe's `config` mapping."""
        return self._run["config"]

    @property
    def recipe(self) -> dict:
        """The recipe: name, version, description, config, templates, and the file."""
        return self._run["recipe"]

    @property
    def steps_output(self) -> dict:
        """Outputs of the steps that have finished, by step id."""
        if self._steps_output is None:
            self._steps_output = self._engine.steps_output()
        return self._steps_output

    def log(self, message, level: str = "INFO") -> None:
        """Write to the run's log (stderr) and its history."""
        self._engine.log(str(level).upper(), str(message))

    def resolve(self, value):
        """Render `{{ ... }}` templates in a value with the engine's own rules."""
        return self._engine.resolve(value)

    def __repr__(self):
        return f"<ToolContext run={self.run_id} step={self.current_step.get('id')}>"


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
    raise TypeError(f"{type(value).__name__} is not storable data (use text, numbers, lists and dicts)")


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
    """`handle(action, inputs, ctx)` with the plugin's `print()` sent to its step's log."""
    import sys

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
