"""Finding recipes: the built-in ones and ./recipes, each once, and by name."""

import os

from localforge import errors

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


class NotFound(errors.NotFoundError):
    """No recipe by that path or name; `hint` says what there is."""

    def __init__(self, message: str, hint: str):
        super().__init__(message, hint)
        self.message = message


def resolve(name: str) -> str:
    """The file of a recipe path or name (`hello-localforge`, `examples/batch-resize`).
    A path that exists costs two `stat`s: `pathlib` and the recipe folders only for a name."""
    if os.path.isdir(name):
        raise NotFound(f"`{name}` is a folder, not a recipe file", "pass a .yaml file; `localforge list` shows recipes")
    if os.path.exists(name):
        return name
    known = names()
    key = name[:-5] if name.endswith(".yaml") else name
    if key in known:
        return str(known[key])
    from localforge._suggest import did_you_mean

    hint = did_you_mean(key, known) or "`localforge list` shows the recipes it knows"
    raise NotFound(f"recipe `{name}` not found (no such file, and no built-in recipe of that name)", hint)
