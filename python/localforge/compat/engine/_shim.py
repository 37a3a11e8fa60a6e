"""Shared by the 0.x module shims: the deprecation warning, and calling one tool action
through the engine (a one-step run) for tools that are not Python plugins."""

import json
import os
import tempfile
import warnings


def deprecated(module: str, instead: str) -> None:
    warnings.warn(
        f"`{module}` is kept for LocalForge 0.x plugins and will go in 2.0; use {instead}",
        DeprecationWarning,
        stacklevel=3,
    )


def call_tool(tool: str, action: str, inputs: dict) -> dict:
    """Run `tool.action` with `inputs` through the engine, as a one-step recipe: its outputs,
    or RuntimeError with the step's error. (The run is recorded in the history like any other.)"""
    from localforge import api, errors

    recipe = {"name": f"{tool}.{action}", "steps": [{"id": "call", "tool": tool, "action": action, "inputs": inputs or {}}]}
    fd, path = tempfile.mkstemp(prefix="localforge-call-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(recipe, f)  # JSON is YAML
        report = api.run(path, auto_approve=True)
    except errors.LocalForgeError as e:  # refused before it ran (a service down, a bad input)
        raise errors.OperationFailed(str(e)) from None
    finally:
        os.unlink(path)
    step = report["steps"]["call"]
    if step["status"] != "completed":
        raise errors.OperationFailed(step.get("error") or report.get("error") or f"{tool}.{action} {step['status']}")
    return step["outputs"]
