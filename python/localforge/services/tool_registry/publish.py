"""`tools publish FILE --registry DIR`: check a definition, run its example, and commit it
with its index entry on a new branch of a local clone of the registry, ready to push and
open as a pull request. The example runs only after every check has passed: the engine's
checker, the registry's rules (docs/registry.md), the clone's state and the new index."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from localforge.services.tool_registry.example import run_example
from localforge.services.tool_registry.layout import (
    INDEX,
    MAX_BYTES,
    RegistryError,
    build_index,
    check_name,
    check_version,
    index_text,
    rel_path,
    validate_bytes,
)


def set_version(data: bytes, version: str) -> bytes:
    """The definition with its top-level `version:` set (added after `name:` if absent)."""
    text = data.decode("utf-8")
    line = f'version: "{check_version(version)}"'
    if re.search(r"^version:.*$", text, re.M):
        text = re.sub(r"^version:.*$", line, text, count=1, flags=re.M)
    else:
        text = re.sub(r"^(name:.*)$", lambda m: f"{m.group(1)}\n{line}", text, count=1, flags=re.M)
    return text.encode("utf-8")


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RegistryError(f"`git {' '.join(args)}` failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return proc.stdout.strip()


def publish(file: Path, registry: Path, version: Optional[str], scratch: Path) -> dict:
    if not file.is_file():
        raise RegistryError(f"{file} is not a file")
    if file.stat().st_size > MAX_BYTES:
        raise RegistryError(f"{file} is over {MAX_BYTES // 1024} KiB")
    data = file.read_bytes()
    if version:
        data = set_version(data, version)
    doc = validate_bytes(data, str(file), scratch)["document"]
    name = check_name(str(doc.get("name") or ""))
    if not doc.get("version"):
        raise RegistryError(f"{file} has no `version`", "add `version: 1.0.0`, or pass --version")
    version = check_version(str(doc["version"]))
    if not shutil.which("git"):
        raise RegistryError("`git` is not installed", "install git (apt install git)")
    if not (registry / ".git").exists():
        raise RegistryError(
            f"{registry} is not a git clone of a registry", "clone the registry first: `git clone URL DIR`, then --registry DIR"
        )
    rel = rel_path(name, version)
    if (registry / rel).exists():
        raise RegistryError(f"{name} {version} is already in the registry", "publish a new version (--version)")
    if _git(registry, "status", "--porcelain"):
        raise RegistryError(f"{registry} has uncommitted changes", "commit or stash them first; publish makes a commit of its own")
    _index_with(registry, rel, data, scratch / "pre-index")
    if not _has_identity(registry):
        raise RegistryError(
            f"git has no name and email to commit as in {registry}",
            f'set them: git -C {registry} config user.name "Your Name" && git -C {registry} config user.email you@example.com '
            "(or `git config --global ...` for every repository), then publish again",
        )
    # Every check above has passed; only now does the definition's example run.
    example = run_example(data, doc)
    if not example["ok"]:
        raise RegistryError(f"the example of {name} failed: {example['detail']}", "fix the definition or its `example`, then publish again")
    # From the registry's default branch, not from whatever is checked out (an earlier
    # publish's branch): the pull request carries this tool alone.
    branch, base = f"add-{name}-{version}", _default_branch(registry)
    _git(registry, "checkout", "-q", "-b", branch, base)
    target = registry / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    index, problems = build_index(registry, scratch / "index")
    if problems:
        raise RegistryError(f"the registry does not index cleanly: {problems[0]['message']}", problems=problems)
    (registry / INDEX).write_text(index_text(index), encoding="utf-8")
    _git(registry, "add", rel, INDEX)
    subprocess.run(
        ["git", "-C", str(registry), "commit", "-q", "-m", f"Add {name} {version}", "-m", doc.get("description") or ""],
        check=True,
        capture_output=True,
        timeout=120,
    )
    commit = _git(registry, "rev-parse", "HEAD")
    return {
        "name": name,
        "version": version,
        "path": str(target),
        "branch": branch,
        "from": base,
        "commit": commit,
        "example": example,
        "next": [f"git -C {registry} push -u origin {branch}", "open a pull request for that branch on the registry's host"],
    }


def _index_with(registry: Path, rel: str, data: bytes, scratch: Path) -> None:
    """Index a copy of the registry's definitions plus the new one, so a registry that will
    not index is refused before the example runs (symbolic links copied as links, refused)."""
    copy = scratch / "registry"
    shutil.rmtree(copy, ignore_errors=True)
    if (registry / "tools").is_dir():
        shutil.copytree(registry / "tools", copy / "tools", symlinks=True)
    (copy / rel).parent.mkdir(parents=True, exist_ok=True)
    (copy / rel).write_bytes(data)
    _, problems = build_index(copy, scratch / "checks")
    if problems:
        raise RegistryError(f"the registry does not index cleanly: {problems[0]['message']}", problems=problems)


def _default_branch(repo: Path) -> str:
    """The branch a pull request goes to: the remote's default (`origin/HEAD`), else a local
    `main` or `master`, else what is checked out."""
    proc = subprocess.run(
        ["git", "-C", str(repo), "symbolic-ref", "--quiet", "--short", "refs/remotes/origin/HEAD"], capture_output=True, text=True
    )
    if proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    for name in ("main", "master"):
        if (
            subprocess.run(
                ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"refs/heads/{name}"], capture_output=True
            ).returncode
            == 0
        ):
            return name
    return "HEAD"


def _has_identity(repo: Path) -> bool:
    """A name and an email set for commits in `repo` (its config, the global one, or git's
    environment variables): never one made up."""

    def config(key: str) -> bool:
        proc = subprocess.run(["git", "-C", str(repo), "config", key], capture_output=True, text=True)
        return proc.returncode == 0 and bool(proc.stdout.strip())

    name = config("user.name") or bool(os.environ.get("GIT_AUTHOR_NAME") and os.environ.get("GIT_COMMITTER_NAME"))
    email = config("user.email") or bool(os.environ.get("GIT_AUTHOR_EMAIL") and os.environ.get("GIT_COMMITTER_EMAIL"))
    return name and email
