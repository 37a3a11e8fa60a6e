"""`localforge list [DIR]`: recipes with their descriptions, grouped by folder,
each once, with where it comes from (built-in, ./recipes, or DIR)."""

from pathlib import Path

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError, print_json


def main(args) -> int:
    p = parser("list", "List recipes: the built-in ones and ./recipes, or those under DIR.")
    p.add_argument("dir", nargs="?", help="folder to search instead")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    if ns.dir and not Path(ns.dir).is_dir():
        raise UsageError(f"`{ns.dir}` is not a folder")
    from localforge import api

    entries = api.list_recipes(ns.dir)
    if ns.json:
        print_json(entries)
        return EXIT_OK
    if not entries:
        print("no recipes found")
    heading = None
    width = max((len(e["name"]) for e in entries), default=0)
    for e in entries:
        if (e["source"], e["group"]) != heading:
            heading = (e["source"], e["group"])
            print(f"\n{e['group']}/  ({e['source']})" if e["group"] else f"\n({e['source']})")
        print(f"  {e['name']:<{width}}  {e['description']}")
    return EXIT_OK
