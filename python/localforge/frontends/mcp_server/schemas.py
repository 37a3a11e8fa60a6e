"""JSON Schemas for MCP tools: a recipe's typed inputs become its `inputSchema`,
its `outputs:` mapping the `outputs` part of its `outputSchema`; and the check
of a call's arguments against them, so a wrong value is refused before any run
(and before any history row) with the input's name."""

from __future__ import annotations

import re
from typing import Any, Optional

# Recipe input types (RECIPES.md "Inputs") as JSON Schema.
_TYPES: dict[str, dict] = {
    "string": {"type": "string"},
    "path": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "list": {"type": "array"},
    "object": {"type": "object"},
}

# MCP tool names: letters, digits, `_`, `-`, `.` (SEP-986), at most 128 characters.
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]")


def tool_name(recipe_name: str) -> str:
    """`recipe_<name>`: the recipe's `name:` with anything a tool name may not hold as `_`."""
    return ("recipe_" + _NAME_BAD.sub("_", recipe_name))[:128]


def input_property(spec: dict) -> dict:
    """One recipe input as a JSON Schema property."""
    prop = dict(_TYPES.get(spec.get("type") or "string", {}))
    description = spec.get("description") or ""
    if spec.get("type") == "path":
        description = f"{description} (a file or folder path)".strip()
    if spec.get("must_exist"):
        description = f"{description}; must exist".strip("; ")
    if description:
        prop["description"] = description
    if spec.get("choices"):
        prop["enum"] = list(spec["choices"])
    if spec.get("default") is not None:
        prop["default"] = spec["default"]
    return prop


def inputs_schema(inputs: list, extra: Optional[dict] = None) -> dict:
    """The `inputSchema` of a recipe's inputs (plus `extra` properties a tool adds)."""
    props = {i["name"]: input_property(i) for i in inputs}
    required = [i["name"] for i in inputs if i.get("required") and i.get("default") is None]
    schema: dict[str, Any] = {"type": "object", "properties": {**props, **(extra or {})}, "additionalProperties": False}
    if required:
        schema["required"] = required
    return schema


FILE_SCHEMA = {
    "type": "object",
    "properties": {
        "uri": {"type": "string", "description": "localforge://runs/{run_id}/files/{path}: read it as a resource"},
        "path": {"type": "string", "description": "where it is on this machine"},
        "mime_type": {"type": "string"},
        "size": {"type": "integer", "description": "bytes"},
    },
    "required": ["uri", "path", "mime_type", "size"],
}


def run_schema(outputs: Any = None) -> dict:
    """The `outputSchema` of a run: its id, status, outputs (the recipe's `outputs:`
    mapping, each entry described by its template), folder and files."""
    if isinstance(outputs, dict) and outputs:
        out = {
            "type": "object",
            "description": "the recipe's `outputs:`, rendered after the run",
            "properties": {k: {"description": f"rendered from {v}"} for k, v in outputs.items()},
        }
    else:
        out = {"type": "object", "description": "the recipe's `outputs:` mapping, rendered after the run (empty if it has none)"}
    return {
        "type": "object",
        "properties": {
            "run_id": {"type": "string", "description": "the run's id: its history row and folder"},
            "recipe": {"type": "string"},
            "status": {"type": "string", "enum": ["completed", "failed", "cancelled", "running"]},
            "outputs": out,
            "error": {"type": ["string", "null"]},
            "run_dir": {"type": "string", "description": "the run's folder on this machine"},
            "duration_s": {"type": ["number", "null"]},
            "steps": {"type": "object", "description": "step id -> status"},
            "files": {"type": "array", "items": FILE_SCHEMA, "description": "files the run left in its folder"},
        },
        "required": ["run_id", "status", "outputs"],
    }


def problems(schema: dict, arguments: dict) -> list[str]:
    """What is wrong with `arguments` for `schema`, one line per problem naming the input."""
    import jsonschema

    out = []
    validator = jsonschema.Draft202012Validator(schema)
    for e in sorted(validator.iter_errors(arguments), key=lambda e: list(e.path)):
        if e.validator == "additionalProperties":
            known = ", ".join(f"`{k}`" for k in schema.get("properties", {})) or "none"
            extra = sorted(set(arguments) - set(schema.get("properties", {})))
            out.append(f"unknown input {', '.join(f'`{k}`' for k in extra)} (inputs: {known})")
        elif e.validator == "required":
            out.append(f"missing required input: {e.message.split(' is a required')[0]}")
        elif e.path:
            name = e.path[0]
            out.append(f"input `{name}`: {e.message}")
        else:
            out.append(e.message)
    return out
