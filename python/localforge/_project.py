"""What this project is and how its parts are installed: the one place the distribution
name is written for messages (pyproject.toml's `[project] name` is the same; a test checks
both), so the project can be published under another name without touching the import
name `localforge` or the command. The version is the engine's (`Cargo.toml`)."""

from __future__ import annotations

PROJECT = "LocalForge"
DIST = "localforge"
WHAT = "the local-first AI orchestrator with a Rust engine (1.x, the successor of LocalForge 0.x)"


def version() -> str:
    from localforge._core import __version__

    return __version__


def banner() -> str:
    """Which project and version is running, for `--version` and `system`: another
    project's package of the same name says something else."""
    return f"{PROJECT} {version()}: {WHAT}"


def install(extra: str) -> str:
    """The pip command that adds optional part `extra`: its packages by name, as this
    installed distribution's metadata lists them (right whichever index or wheel it came
    from), else `pip install '<dist>[extra]'`. Reading the metadata costs ~25 ms the first
    time: call this where a hint is shown, not at import."""
    try:
        from importlib.metadata import PackageNotFoundError, requires
    except ImportError:  # pragma: no cover - Python < 3.8
        return f"pip install '{DIST}[{extra}]'"
    try:
        wanted = requires(DIST) or []
    except PackageNotFoundError:
        wanted = []
    marker = f'extra == "{extra}"'
    packages = [r.split(";")[0].strip() for r in wanted if marker in r.replace("'", '"')]
    if not packages:
        return f"pip install '{DIST}[{extra}]'"
    return "pip install " + " ".join(f"'{p}'" if any(c in p for c in "<>=!~[ ") else p for p in packages)
