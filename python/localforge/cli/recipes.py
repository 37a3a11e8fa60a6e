"""Finding recipes: by path, or by name among the built-in ones and ./recipes."""

import os

from localforge.cli.output import UsageError, suggest

BUILT_IN, LOCAL = "built-in", "./recipes"


def roots():
    """Folders searched for recipes, with the source each is shown as: the
    built-in recipes, then ./recipes."""
    from pathlib import Path

    from localforge._paths import data_dir

    out = [(data_dir("recipes"), BUILT_IN)]
    local = Path.cwd() / "recipes"
    if local.is_dir():
        out.append((local, LOCAL))
    return out


def catalog(search=None):
    """Every recipe once, as `(file, root, source)`, from `search` (`(folder,
    source)` pairs; default `roots()`). A file met again through a link, or a
    ./recipes file with the same relative path and content as a built-in one
    (what `pip install .` copies), is the same recipe: kept where first met."""
    import filecmp

    seen, built_in, out = set(), {}, []
    for root, source in roots() if search is None else search:
        for f in find_all(root):
            real = f.resolve()
            rel = f.relative_to(root).as_posix()
            if real in seen or (source != BUILT_IN and rel in built_in and filecmp.cmp(f, built_in[rel], shallow=False)):
                continue
            seen.add(real)
            if source == BUILT_IN:
                built_in[rel] = f
            out.append((f, root, source))
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
    for f, root, _ in catalog():
        rel = f.relative_to(root).with_suffix("").as_posix()
        known.setdefault(rel, f)
        known.setdefault(f.stem, f)
    key = name[:-5] if name.endswith(".yaml") else name
    if key in known:
        return str(known[key])
    hint = suggest(key, known) or "`localforge list` shows the recipes it knows"
    raise UsageError(f"recipe `{name}` not found (no such file, and no built-in recipe of that name)", hint=hint)
