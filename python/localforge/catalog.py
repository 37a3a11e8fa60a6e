"""Finding recipes: the built-in ones and ./recipes, each once, and by name."""

import os
from pathlib import Path

BUILT_IN, LOCAL = "built-in", "./recipes"


def roots():
    """Folders searched for recipes, with the source each is shown as: the
    built-in recipes, then ./recipes."""
    from localforge._paths import data_dir

    out = [(data_dir("recipes"), BUILT_IN)]
    local = Path.cwd() / "recipes"
    if local.is_dir():
        out.append((local, LOCAL))
    return out


def find_all(root):
    """Every recipe file under `root`, sorted (skipping TEMPLATE.yaml)."""
    files = [p for ext in ("*.yaml", "*.yml") for p in root.rglob(ext)]
    return sorted(p for p in files if p.name != "TEMPLATE.yaml")


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


def names():
    """Recipes by name: `examples/batch-resize` and `batch-resize` alike."""
    known = {}
    for f, root, _ in catalog():
        known.setdefault(f.relative_to(root).with_suffix("").as_posix(), f)
        known.setdefault(f.stem, f)
    return known


def find(name: str):
    """The file of a recipe path or name, or `None` (then `suggestion(name)` may help)."""
    if os.path.exists(name):
        return name
    found = names().get(name[:-5] if name.endswith(".yaml") else name)
    return str(found) if found is not None else None


def suggestion(name: str) -> str:
    import difflib

    key = name[:-5] if name.endswith(".yaml") else name
    match = difflib.get_close_matches(key, list(names()), n=1)
    return f"did you mean `{match[0]}`?" if match else "`localforge list` shows the recipes it knows"
