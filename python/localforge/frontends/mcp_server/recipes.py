"""The recipes this server offers, and the only files `run_recipe` may run: the
built-in recipes, ./recipes where the server started, and the folders given
with `--recipes DIR` or `mcp.recipe_folders` in the configuration. A path that
leaves them (`..`, a link pointing out, an absolute path elsewhere) is refused,
and a link in them that points out is not offered by name either. The
dashboard (`localforge ui`, `ui.recipe_folders`) starts recipes through the same
`Catalog`."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from localforge import api, errors
from localforge.frontends.mcp_server import schemas


def configured_folders(section: str) -> list:
    """`SECTION: {recipe_folders: [...]}` in the configuration (`mcp`, `ui`): the folders
    beyond the built-in recipes and ./recipes that a front end may run recipes from."""
    raw = (api.config().get("raw") or {}).get(section) or {}
    folders = raw.get("recipe_folders") or []
    return [folders] if isinstance(folders, str) else list(folders)


class Refused(errors.Refused):
    """A recipe the server will not run; the message says why and what would do."""


@dataclass
class Recipe:
    name: str  # its `name:`
    tool: str  # its MCP tool name
    path: Path
    info: dict  # api.recipe_info: description, version, inputs, outputs, steps
    source: str
    key: str  # its path under its folder, without .yaml (`examples/batch-resize`)
    input_schema: dict
    output_schema: dict


class Catalog:
    """Recipes under the allowed folders, read again when a file changes."""

    def __init__(self, folders: Optional[list] = None, front: str = "mcp"):
        """`front` names the command in the hints: `localforge mcp` or `localforge ui`."""
        from localforge.catalog import roots

        self.front = front
        self.lister = "`list_recipes`" if front == "mcp" else "the Recipes page"
        self.checker = "`validate_recipe`" if front == "mcp" else "`localforge validate`"

        self.roots: list[tuple[Path, str]] = [(Path(r).resolve(), s) for r, s in roots()]
        for f in folders or []:
            p = Path(f).expanduser().resolve()
            if not p.is_dir():
                raise Refused(f"recipe folder `{f}` does not exist")
            if all(p != r for r, _ in self.roots):
                self.roots.append((p, str(f)))
        self._parsed: dict[Path, tuple[tuple, Optional[Recipe]]] = {}
        self._outside: dict[str, tuple[Path, Path]] = {}  # key and stem -> (the link, where it leads)
        self._told: set[Path] = set()

    def _load(self, path: Path, source: str, key: str) -> Optional[Recipe]:
        """The recipe in `path` with its schemas, parsed again only when the file changed."""
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._parsed.get(path)
        if cached is None or cached[0] != stamp:
            info = api.recipe_info(path)
            recipe = None
            if info is not None:
                recipe = Recipe(info["name"], schemas.tool_name(info["name"]), path, info, source, key,
                                schemas.inputs_schema(info["inputs"]), schemas.run_schema(info.get("outputs")))  # fmt: skip
            cached = (stamp, recipe)
            self._parsed[path] = cached
        return cached[1]

    def all(self) -> list[Recipe]:
        """Every recipe once (the first met wins a name; later ones are reported on stderr)."""
        from localforge.catalog import catalog

        out, names, outside = [], {}, {}
        for f, root, source in catalog(self.roots):
            key = f.relative_to(root).with_suffix("").as_posix()
            if not self.allows(f):
                # A link that leads out of the folders: refused by path, so by name too
                # (not a tool, not a resource), whatever the file it points to says.
                outside[key] = outside[f.stem] = (f, f.resolve())
                if f not in self._told:
                    self._told.add(f)
                    print(f"localforge: {f} is not offered: it is a link to {f.resolve()}, outside the recipe folders", file=sys.stderr)
                continue
            r = self._load(f, source, key)
            if r is None:
                continue
            if r.tool in names:
                print(f"localforge mcp: recipe {f} is not offered as a tool: {names[r.tool]} has the same name", file=sys.stderr)
                continue
            names[r.tool] = f
            out.append(r)
        self._outside = outside
        return out

    def by_tool(self, tool: str) -> Optional[Recipe]:
        return next((r for r in self.all() if r.tool == tool), None)

    def find(self, ref: str) -> Recipe:
        """A recipe by name (`hello-localforge`), by folder key (`examples/batch-resize`), or by
        path under the allowed folders. Anything else is Refused."""
        ref = (ref or "").strip()
        if not ref:
            raise Refused(f"no recipe given: pass a recipe name (see {self.lister}) or a path")
        if "\0" in ref:
            raise Refused("a recipe name cannot hold a NUL character")
        recipes = self.all()
        for r in recipes:
            if ref in (r.name, r.key, r.key.rsplit("/", 1)[-1]):
                return r
        if ref in self._outside:
            link, real = self._outside[ref]
            raise Refused(
                f"`{ref}` is a link ({link}) to {real}, outside the recipe folders ({self.folders()}); add its folder with `localforge {self.front} --recipes DIR`"
            )
        parts = Path(ref).parts
        if ".." in parts:
            raise Refused(f"`{ref}` leaves the recipe folders (`..`); run recipes by name, or by a path inside: {self.folders()}")
        looks_like_path = os.sep in ref or ref.endswith((".yaml", ".yml"))
        if not looks_like_path:
            from localforge._suggest import did_you_mean

            hint = did_you_mean(ref, [r.name for r in recipes]) or f"{self.lister} lists them"
            raise Refused(f"no recipe named `{ref}`; {hint}")
        candidates = [Path(ref)] if Path(ref).is_absolute() else [Path.cwd() / ref] + [root / ref for root, _ in self.roots]
        for c in candidates:
            real = c.resolve()
            if not any(real.is_relative_to(root) for root, _ in self.roots):
                continue
            if not real.is_file():
                continue
            for r in recipes:
                if r.path.resolve() == real:
                    return r
            recipe = self._load(real, "path", ref)
            if recipe is None:
                raise Refused(f"`{ref}` is not a readable recipe; {self.checker} says what is wrong")
            return recipe
        if any(c.resolve().is_file() for c in candidates):
            raise Refused(
                f"`{ref}` is outside the recipe folders ({self.folders()}); add its folder with `localforge {self.front} --recipes DIR`"
            )
        raise Refused(f"no recipe file `{ref}` in the recipe folders ({self.folders()})")

    def folders(self) -> str:
        return ", ".join(str(r) for r, _ in self.roots)

    def allows(self, path: Path) -> bool:
        real = path.resolve()
        return any(real.is_relative_to(root) for root, _ in self.roots)
