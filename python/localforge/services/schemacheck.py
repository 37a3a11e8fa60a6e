"""Check a JSON value against the JSON Schemas LocalForge ships (data/schemas/), with each
problem at a JSON Pointer, so a caller holding the YAML positions can say file:line.

Hand-written on purpose: LocalForge has no runtime dependencies, and the `jsonschema`
package (with its Rust-built `rpds-py`) is a heavy one for the few keywords our own
schemas use. Those keywords are exactly the ones below; a schema that uses any other
raises, so a new keyword cannot be silently ignored. Tests check this against `jsonschema`
on the shipped seeds and a corpus of broken ones."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from localforge.errors import InvalidValue

KNOWN = {
    "$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties", "required",
    "additionalProperties", "items", "enum", "const", "pattern", "minLength", "maxLength",
    "minimum", "maximum", "exclusiveMinimum", "minItems", "uniqueItems", "oneOf",
}  # fmt: skip
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
KIND = {dict: "a mapping", list: "a list", str: "text", bool: "a boolean", int: "an integer", float: "a number", type(None): "nothing"}


@cache
def load(path: str) -> dict:
    schema = json.loads(Path(path).read_text(encoding="utf-8"))
    _known(schema)
    return schema


def _known(schema: Any) -> None:
    if isinstance(schema, dict):
        unknown = set(schema) - KNOWN
        if unknown:
            raise InvalidValue(f"schema keyword(s) not supported by localforge.services.schemacheck: {sorted(unknown)}")
        for key, value in schema.items():
            if key in ("properties", "$defs"):
                for sub in value.values():
                    _known(sub)
            elif key in ("items", "additionalProperties", "oneOf"):
                for sub in value if isinstance(value, list) else [value]:
                    _known(sub)


def where(pointer: str) -> str:
    """`/requires/binaries/0` → `requires.binaries[0]`, for messages."""
    out = ""
    for part in pointer.split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "the document"


def _kind(value: Any) -> str:
    return KIND.get(type(value), type(value).__name__)


def check(value: Any, schema: dict) -> list[tuple[str, str]]:
    """Every problem as `(json_pointer, message)`, in document order; empty when valid."""
    out: list[tuple[str, str]] = []
    _check(value, schema, schema, "", out)
    return out


def _check(value: Any, schema: dict, root: dict, ptr: str, out: list) -> None:
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise InvalidValue(f"unsupported $ref {ref}")
        _check(value, root["$defs"][ref[len("#/$defs/") :]], root, ptr, out)
    name = where(ptr)
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(TYPES[t](value) for t in types):
            out.append((ptr, f"`{name}` must be {' or '.join(_article(t) for t in types)}, not {_kind(value)}"))
            return
    if "enum" in schema and value not in schema["enum"]:
        out.append((ptr, f"`{name}` is {json.dumps(value)}; it must be one of: {', '.join(json.dumps(v) for v in schema['enum'])}"))
    if "const" in schema and value != schema["const"]:
        out.append((ptr, f"`{name}` must be {json.dumps(schema['const'])}"))
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            out.append((ptr, f"`{name}` is empty" if not value else f"`{name}` is shorter than {schema['minLength']} characters"))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append((ptr, f"`{name}` is {len(value)} characters long; at most {schema['maxLength']}"))
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append((ptr, f"`{name}` is {json.dumps(value)}, which does not match {schema['pattern']}"))
    if TYPES["number"](value):
        if "minimum" in schema and value < schema["minimum"]:
            out.append((ptr, f"`{name}` is {value}; it must be at least {schema['minimum']}"))
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            out.append((ptr, f"`{name}` is {value}; it must be more than {schema['exclusiveMinimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append((ptr, f"`{name}` is {value}; it must be at most {schema['maximum']}"))
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append((ptr, f"`{name}` needs at least {schema['minItems']} item(s)"))
        if schema.get("uniqueItems"):
            seen = []
            for i, item in enumerate(value):
                if item in seen:
                    out.append((f"{ptr}/{i}", f"`{where(f'{ptr}/{i}')}` repeats {json.dumps(item)}"))
                seen.append(item)
        if "items" in schema:
            for i, item in enumerate(value):
                _check(item, schema["items"], root, f"{ptr}/{i}", out)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                out.append((ptr, f"{'the front matter' if not ptr else f'`{name}`'} has no `{key}`, which is required"))
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            sub = f"{ptr}/{str(key).replace('~', '~0').replace('/', '~1')}"
            if key in props:
                _check(item, props[key], root, sub, out)
            elif extra is False:
                known = ", ".join(f"`{k}`" for k in props)
                out.append((sub, f"unknown key `{where(sub)}`; known keys here: {known}"))
            elif isinstance(extra, dict):
                _check(item, extra, root, sub, out)
    if "oneOf" in schema:
        matched = [alt for alt in schema["oneOf"] if not check_sub(value, alt, root)]
        if len(matched) != 1:
            needs = [k for alt in schema["oneOf"] for k in alt.get("required", [])]
            if needs and all(set(alt) == {"required"} for alt in schema["oneOf"]):
                out.append((ptr, f"`{name}` needs exactly one of {', '.join(f'`{k}`' for k in needs)}"))
            else:
                out.append((ptr, f"`{name}` matches {len(matched)} of its {len(schema['oneOf'])} allowed forms; it must match exactly one"))


def check_sub(value: Any, schema: dict, root: dict) -> list:
    out: list = []
    _check(value, schema, root, "", out)
    return out


def _article(t: str) -> str:
    return {"object": "a mapping", "array": "a list", "string": "text", "integer": "an integer", "number": "a number"}.get(t, t)
