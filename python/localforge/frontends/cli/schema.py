"""`localforge schema recipe|tool|config`: the JSON Schema editors and agents check files with."""

import json
import sys
from pathlib import Path

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError

KINDS = ("recipe", "tool", "config")


def main(args) -> int:
    p = parser(
        "schema",
        "Print (or write) a JSON Schema (draft 2020-12): `recipe` for recipes, specialised to the tools usable here "
        "(each tool's actions and their typed inputs); `tool` for YAML tool definitions; `config` for localforge.yaml.",
    )
    p.add_argument("kind", choices=KINDS, help="which schema")
    p.add_argument("-o", "--output", metavar="FILE", help="write it to FILE instead of printing it")
    p.add_argument("--generic", action="store_true", help="the recipe schema for any machine (the one the package ships)")
    ns = p.parse_args(args)
    from localforge import api

    doc = api.schema(ns.kind, local=not ns.generic)
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if ns.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    out = Path(ns.output)
    if out.is_dir():
        raise UsageError(f"{out} is a folder", hint=f"name a file, e.g. {out / (ns.kind + '.schema.json')}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK
