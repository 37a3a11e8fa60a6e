"""`localforge list [DIR]`: recipes with their descriptions, grouped by folder."""

from pathlib import Path

from localforge.cli.args import parser
from localforge.cli.output import EXIT_OK, UsageError, print_json
from localforge.cli.recipes import find_all, roots


def main(args) -> int:
    p = parser("list", "List recipes: the built-in ones and ./recipes, or those under DIR.")
    p.add_argument("dir", nargs="?", help="folder to search instead")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    if ns.dir:
        d = Path(ns.dir)
        if not d.is_dir():
            raise UsageError(f"`{ns.dir}` is not a folder")
        search = [d]
    else:
        search = roots()
    from localforge import _core

    entries = []
    for root in search:
        for f in find_all(root):
            info = _core.recipe_info(str(f))
            if info is None:
                continue
            group = f.parent.relative_to(root).as_posix()
            entries.append(
                {"name": info["name"], "description": info.get("description") or "", "group": "" if group == "." else group, "path": str(f)}
            )
    if ns.json:
        print_json(entries)
        return EXIT_OK
    if not entries:
        print("no recipes found")
    group = None
    width = max((len(e["name"]) for e in entries), default=0)
    for e in entries:
        if e["group"] != group:
            group = e["group"]
            print(f"\n{group or '(top level)'}/")
        print(f"  {e['name']:<{width}}  {e['description']}")
    return EXIT_OK
