"""Finding recipes: by path, or by name among the built-in ones and ./recipes."""

import os

from localforge.cli.output import UsageError, suggest


def roots():
    """Folders searched for recipes: the built-in recipes, then ./recipes."""
    from pathlib import Path

    from localforge._paths import data_dir

    out = [data_dir("recipes")]
    local = Path.cwd() / "recipes"
    if local.is_dir() and local.resolve() != out[0].resolve():
        out.append(local)
    return out


def plugins(needed=None):
    """Python plugins for the engine; the engine calls this only when a recipe
    needs a tool that is not native, so plain recipes never import plugin code."""
    from localforge.plugins import for_engine

    return for_engine(needed)


def find_all(root):
    """Every recipe file under `root`, sorted (skipping TEMPLATE.yaml)."""
    files = [p for ext in ("*.yaml", "*.yml") for p in root.rglob(ext)]
    return sorted(p for p in files if p.name != "TEMPLATE.yaml")


def resolve(name: str) -> str:
    """A path as given, or a recipe name like `hello-localforge` or `examples/batch-resize`."""
    if os.path.exists(name):
        if os.path.isdir(name):
            raise UsageError(f"`{name}` is a folder, not a recipe file", hint="pass a .yaml file; `localforge list` shows recipes")
        return name
    known = {}
    for root in roots():
        for f in find_all(root):
            rel = f.relative_to(root).with_suffix("").as_posix()
            known.setdefault(rel, f)
            known.setdefault(f.stem, f)
    key = name[:-5] if name.endswith(".yaml") else name
    if key in known:
        return str(known[key])
    hint = suggest(key, known) or "`localforge list` shows the recipes it knows"
    raise UsageError(f"recipe `{name}` not found (no such file, and no built-in recipe of that name)", hint=hint)
