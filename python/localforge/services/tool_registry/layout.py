"""The registry's layout and rules: `tools/<name>/<version>/<name>.yaml` plus `index.json`
(data/schemas/registry-index.schema.json), the index built from the folder, and what a
definition must be to be installed from a registry (docs/registry.md)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from localforge import api
from localforge._paths import data_dir
from localforge.errors import RegistryError
from localforge.services import schemacheck

INDEX = "index.json"
FORMAT = 1
MAX_BYTES = 256 * 1024
# One limit for an index, however it is read (folder, git clone, HTTP) or written
# (`tools index`, `tools publish`): 8 MiB holds well over 10,000 tools.
MAX_INDEX = 8 * 1024 * 1024
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
VERSION = re.compile(r"^[0-9][0-9A-Za-z.+-]{0,31}$")
SCHEMA = data_dir("data") / "schemas" / "registry-index.schema.json"
INJECTION = re.compile(r"\$\(|`|;|&&|\|\||\||\n|\$\{")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def version_key(v: str) -> tuple:
    """Semantic-version order: `1.10.0` > `1.9.2`; a pre-release is older than its release
    (`1.0.0-rc1` < `1.0.0`); build metadata (`+build`) does not count."""
    core, _, pre = v.split("+", 1)[0].partition("-")
    parts = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in core.split("."))
    pre_key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split(".")) if pre else ()
    return (parts, 0 if pre else 1, pre_key)


def check_name(name: str, what: str = "tool name") -> str:
    if not NAME.match(name or ""):
        raise RegistryError(
            f"{what} `{name}` is not allowed",
            "names are lowercase letters, digits, `-` and `_` (no `/`, `..` or spaces), at most 64",
            usage=True,
        )
    return name


def check_version(version: str) -> str:
    if not VERSION.match(str(version or "")) or ".." in str(version):
        raise RegistryError(
            f"version `{version}` is not allowed", "versions look like 1.0.0 (digits, letters, `.`, `+`, `-`; no `/` or `..`)", usage=True
        )
    return str(version)


def rel_path(name: str, version: str) -> str:
    return f"tools/{check_name(name)}/{check_version(version)}/{name}.yaml"


def _too_big(label: str, size: int, limit: int) -> RegistryError:
    what = f"an {INDEX}" if limit == MAX_INDEX else "a tool definition"
    return RegistryError(f"{label} is {size / 1e6:.1f} MB; {what} may be at most {limit // 1024} KiB")


def read_inside(root: Path, rel: str, limit: int = MAX_BYTES) -> bytes:
    """The bytes of `root/rel`, refusing symlinks anywhere on the way, anything outside
    `root`, anything that is not a plain file, and files over `limit` (a definition's,
    or `MAX_INDEX` for the index)."""
    if rel.startswith("/") or ".." in rel.split("/"):
        raise RegistryError(f"path `{rel}` leaves the registry")
    path = root
    for part in rel.split("/"):
        path = path / part
        if path.is_symlink():
            raise RegistryError(f"`{rel}` in the registry is a symbolic link", "a registry holds plain files only")
    if not path.is_file():
        raise RegistryError(f"`{rel}` is not in the registry (or not a plain file)")
    size = path.stat().st_size
    if size > limit:
        raise _too_big(f"`{rel}`", size, limit)
    with open(path, "rb") as f:
        return f.read(limit + 1)


def validate_bytes(data: bytes, label: str, scratch: Path) -> dict:
    """Check a definition's bytes with the engine's checker plus the registry's rules;
    returns the engine's `{name, document}`. Raises `RegistryError` with the problems."""
    if len(data) > MAX_BYTES:
        raise RegistryError(f"{label} is {len(data) / 1e6:.1f} MB; a tool definition may be at most {MAX_BYTES // 1024} KiB")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise RegistryError(f"{label} is not UTF-8 text")
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / "definition.yaml"
    tmp.write_bytes(data)
    checked = api.tool_definition(tmp, shared=True)
    if checked["problems"]:
        for p in checked["problems"]:
            p["file"] = label
        raise RegistryError(f"{label} is not a valid tool definition", problems=checked["problems"])
    refused(checked["refused"], label)
    policy(checked["document"], label)
    return checked


def refused(reasons: list[dict], label: str) -> None:
    """The engine's rules for a shared definition (src/tools/cli/shared.rs): the program word
    pinned to `requirements.binary`, no shell, wrapper or interpreter, no argument that runs code."""
    if not reasons:
        return
    lines = [r["message"] for r in reasons]
    message = f"{label} is refused: {lines[0]}" if len(lines) == 1 else f"{label} is refused:" + "".join(f"\n  - {m}" for m in lines)
    raise RegistryError(message, reasons[0].get("hint"))


def policy(doc: dict, label: str) -> None:
    """Beyond the engine's rules: no shell syntax in a default (harmless as one argument,
    but a sign of intent)."""
    for aname, action in (doc.get("actions") or {}).items():
        for iname, spec in (action.get("inputs") or {}).items():
            default = (spec or {}).get("default") if isinstance(spec, dict) else None
            for value in default if isinstance(default, list) else [default]:
                if isinstance(value, str) and INJECTION.search(value):
                    raise RegistryError(
                        f"{label}: the default of input `{iname}` of action `{aname}` holds shell syntax: {value!r}",
                        "defaults are plain values; remove `;`, `|`, `&&`, `$(`, backticks and line breaks",
                    )


def entry(doc: dict, rel: str, data: bytes) -> dict:
    """The index entry of one definition."""
    req = doc.get("requirements") or {}
    hints = dict(req.get("install_hints") or {})
    if req.get("install_hint") and "any" not in hints:
        hints["any"] = req["install_hint"]
    return {
        "name": doc["name"],
        "version": str(doc.get("version") or ""),
        "description": doc.get("description") or "",
        "tags": list(doc.get("tags") or []),
        "license": doc.get("license") or "",
        "author": doc.get("author") or "",
        "homepage": doc.get("homepage") or "",
        "binaries": [{"name": req["binary"], "install": hints}] if req.get("binary") else [],
        "actions": sorted((doc.get("actions") or {}).keys()),
        "example": bool(doc.get("example")),
        "path": rel,
        "size": len(data),
        "sha256": sha256(data),
    }


def build_index(root: Path, scratch: Path) -> tuple[dict, list[dict]]:
    """`index.json` for the folder `root` (every `tools/<name>/<version>/<name>.yaml`,
    validated), and the problems found; a definition with problems is left out."""
    entries, problems = [], []
    tools = root / "tools"
    for path in sorted(tools.glob("*/*/*")) if tools.is_dir() else []:
        rel = path.relative_to(root).as_posix()
        name, version = path.parent.parent.name, path.parent.name
        try:
            if path.name != f"{name}.yaml":
                raise RegistryError(f"{rel}: expected tools/{name}/{version}/{name}.yaml")
            check_name(name)
            check_version(version)
            data = read_inside(root, rel)
            checked = validate_bytes(data, rel, scratch)
            doc = checked["document"]
            if doc.get("name") != name:
                raise RegistryError(f"{rel}: the definition's `name` is `{doc.get('name')}`, not `{name}`")
            if str(doc.get("version") or "") != version:
                raise RegistryError(f"{rel}: the definition's `version` is `{doc.get('version')}`, not `{version}` (its folder)")
            entries.append(entry(doc, rel, data))
        except RegistryError as e:
            problems.extend(e.problems or [{"file": str(path), "line": None, "column": None, "message": str(e), "hint": e.hint}])
    entries.sort(key=lambda e: (e["name"], version_key(e["version"])))
    return {"format": FORMAT, "tools": entries}, problems


def index_text(index: dict) -> str:
    """The index as written; one over `MAX_INDEX` is refused here, so what `tools index`
    and `tools publish` write is what `tools search` reads."""
    text = json.dumps(index, indent=2, ensure_ascii=False) + "\n"
    size = len(text.encode("utf-8"))
    if size > MAX_INDEX:
        raise RegistryError(
            f"the {INDEX} of {len(index.get('tools') or [])} definitions would be {size / 1e6:.1f} MB; an {INDEX} may be at most {MAX_INDEX // 1024} KiB",
            "split the registry in two, or shorten the definitions' descriptions",
        )
    return text


def parse_index(data: bytes, label: str) -> dict:
    """An index's bytes, as read from a registry: within `MAX_INDEX`, JSON, and of the schema."""
    if len(data) > MAX_INDEX:
        raise _too_big(f"{label}: {INDEX}", len(data), MAX_INDEX)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise RegistryError(f"{label}: {INDEX} is not JSON ({type(e).__name__}: {e})")
    return check_index(doc, label)


def check_index(index: Any, label: str) -> dict:
    """An index as read from a registry, checked against its schema."""
    problems = schemacheck.check(index, schemacheck.load(str(SCHEMA)))
    if problems:
        pointer, message = problems[0]
        raise RegistryError(f"{label}: not a LocalForge registry index ({message})", "rebuild it with `localforge tools index DIR`")
    return index
