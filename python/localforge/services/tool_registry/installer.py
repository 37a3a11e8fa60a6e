"""Install, update and remove registry definitions in the user's tool folder
(~/.localforge/tools), recorded in ~/.localforge/tools/installed.json (the lock file).

Every install checks, before anything is written: the name and version, the path in the
index, no symbolic link, the size limit, the sha256 against the index, the engine's own
checker, and the registry rules (no shell). The definition and the lock file are each
written to a temporary file and renamed into place, so an interrupted install leaves the
previous version as it was."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shlex
import time
from pathlib import Path
from typing import Callable, Optional

from localforge._atomic import write_atomic
from localforge._paths import private_dir
from localforge.services.tool_registry.layout import RegistryError, check_name, check_version, rel_path, sha256, validate_bytes, version_key
from localforge.services.tool_registry.sources import Source

LOCK = "installed.json"


def tool_dir() -> Path:
    return Path(os.path.expanduser("~/.localforge/tools"))


@contextlib.contextmanager
def locked():
    """The lock file's content, held exclusively (two installs at once take turns)."""
    folder = private_dir(tool_dir())
    with open(folder / f".{LOCK}.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        state = _settle(_load())
        yield state
        _save(state)


def _save(state: dict) -> None:
    write_atomic(tool_dir() / LOCK, json.dumps(state, indent=2, sort_keys=True) + "\n", mode=0o600)


def _load() -> dict:
    try:
        doc = json.loads((tool_dir() / LOCK).read_text(encoding="utf-8"))
        return doc if isinstance(doc, dict) and isinstance(doc.get("tools"), dict) else {"tools": {}}
    except (OSError, ValueError):
        return {"tools": {}}


def read_lock() -> dict:
    """The lock file's content, with what an interrupted install left settled (`_settle`)
    and written back (not to be called while `locked`)."""
    doc = _load()
    if "pending" not in doc:
        return doc
    with locked() as state:
        return state


def _settle(state: dict) -> dict:
    """An install records what it is about to write under `pending` before it replaces the
    definition, and moves it to `tools` after. Killed in between, the next reader finishes
    it: the definition on disk is the new one (its sha256 says so) and is recorded as
    such, or it is still the old one and the old record stands. So the definition and its
    record never disagree, and `tools update` never mistakes a new version for a local edit."""
    pending = state.pop("pending", None)
    for name, rec in (pending if isinstance(pending, dict) else {}).items():
        try:
            path = Path(rec["path"])
            if path.is_file() and not path.is_symlink() and sha256(path.read_bytes()) == rec["sha256"]:
                state["tools"][name] = rec
        except (OSError, KeyError, TypeError):
            pass
    return state


def parse_ref(ref: str) -> tuple[str, Optional[str]]:
    name, _, version = ref.partition("@")
    return check_name(name), (check_version(version) if version else None)


def find(sources: list[Source], name: str, version: Optional[str] = None) -> tuple[Source, dict]:
    """The newest entry of `name` (or that version) across `sources`, first registry first."""
    seen = []
    for src in sources:
        entries = [e for e in src.index()["tools"] if e["name"] == name]
        seen += [e["version"] for e in entries]
        if version:
            entries = [e for e in entries if e["version"] == version]
        if entries:
            return src, max(entries, key=lambda e: version_key(e["version"]))
    if seen:
        raise RegistryError(f"`{name}` has no version {version}", f"versions: {', '.join(sorted(set(seen), key=version_key))}", usage=True)
    from localforge._suggest import did_you_mean

    names = {e["name"] for s in sources for e in s.index()["tools"]}
    raise RegistryError(
        f"no tool `{name}` in {', '.join(s.name for s in sources)}",
        did_you_mean(name, names) or "`localforge tools search WORD`",
        usage=True,
    )


def fetch(src: Source, entry: dict, scratch: Path) -> tuple[bytes, dict, dict]:
    """The definition's bytes, checked every way before anything is written, its document,
    and the engine's check (`argv`: each action's words with every default filled in;
    `confinement`: what it may do here)."""
    name, version = check_name(entry["name"]), check_version(entry["version"])
    expected = rel_path(name, version)
    if entry["path"] != expected:
        raise RegistryError(f"the index places `{name}` at `{entry['path']}`, not {expected}", "the registry's index is not trustworthy")
    data = src.read(entry["path"])
    digest = sha256(data)
    if digest != entry["sha256"]:
        raise RegistryError(
            f"`{entry['path']}` does not match the index: sha256 {digest[:16]}…, the index says {entry['sha256'][:16]}…",
            "the file changed after the index was built; nothing was installed",
        )
    checked = validate_bytes(data, entry["path"], scratch)
    doc = checked["document"]
    if doc.get("name") != name or str(doc.get("version") or "") != version:
        raise RegistryError(f"`{entry['path']}` defines `{doc.get('name')}` {doc.get('version')}, not `{name}` {version}")
    return data, doc, checked


def commands(doc: dict, checked: dict) -> list[str]:
    """Each action's command line as it will run: the full argv, every input at its default
    (`<name>` where it has none), quoted as a shell would need it, so nothing is hidden."""
    argv = checked["argv"]
    out = []
    for aname, action in (doc.get("actions") or {}).items():
        line = f"{aname}: {shlex.join(argv.get(aname) or [])}"
        env = {**(doc.get("env") or {}), **(action.get("env") or {})}
        if env:
            line += f"  (env: {', '.join(f'{k}={v}' for k, v in env.items())})"
        if action.get("cwd"):
            line += f"  (in {action['cwd']})"
        out.append(line)
    return out


def prompt_lines(doc: dict, checked: dict) -> list[str]:
    """What the install prompt shows: each action's command line, then what it may do when
    it runs (confined, or why not)."""
    return [*commands(doc, checked), f"and it runs {checked['confinement']}"]


def install(
    src: Source, entry: dict, scratch: Path, confirm: Callable[[dict, list[str]], bool] = lambda doc, lines: True, force: bool = False
) -> dict:
    """Install one entry; returns what was recorded. `confirm` sees the command lines first."""
    data, doc, checked = fetch(src, entry, scratch)
    if not confirm(doc, prompt_lines(doc, checked)):
        raise RegistryError("not installed (declined)")
    target = tool_dir() / f"{entry['name']}.yaml"
    with locked() as state:
        old = state["tools"].get(entry["name"])
        if target.is_symlink():
            raise RegistryError(f"{target} is a symbolic link", "remove it first; LocalForge writes plain files only")
        if target.exists() and not old and not force:
            raise RegistryError(f"{target} exists and was not installed from a registry", "move it away, or pass --force to replace it")
        if old and target.exists() and sha256(target.read_bytes()) != old["sha256"] and not force:
            raise RegistryError(f"{target} was changed locally since it was installed", "pass --force to replace your changes")
        record = {
            "name": entry["name"],
            "version": entry["version"],
            "sha256": entry["sha256"],
            "registry": src.name,
            "source": src.location,
            "path": str(target),
            "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        # Two writes, one transaction: the intent first, then the definition; the record
        # moves from `pending` to `tools` when `locked` writes the lock file back.
        _save({**state, "pending": {entry["name"]: record}})
        try:
            write_atomic(target, data, mode=0o600)
        except BaseException:
            _save(state)
            raise
        state["tools"][entry["name"]] = record
    return {**record, "previous": old["version"] if old else None, "document": doc}


def remove(name: str) -> dict:
    check_name(name)
    with locked() as state:
        record = state["tools"].get(name)
        if not record:
            raise RegistryError(
                f"`{name}` was not installed from a registry", "`localforge tools list --installed` shows what was", usage=True
            )
        target = Path(record["path"])
        if target.is_file() and not target.is_symlink():
            target.unlink()
        del state["tools"][name]
    return record


def installed() -> list[dict]:
    """Installed definitions, each with `changed` (edited since) and `present`."""
    out = []
    for _, rec in sorted(read_lock()["tools"].items()):
        path = Path(rec["path"])
        present = path.is_file()
        changed = present and sha256(path.read_bytes()) != rec["sha256"]
        out.append({**rec, "present": present, "changed": changed})
    return out
