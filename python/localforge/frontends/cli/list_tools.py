"""`localforge list-tools`: every tool, its kind, actions and availability."""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, print_json


def main(args) -> int:
    p = parser("list-tools", "List every tool with its actions and whether it can be used here.")
    p.add_argument("names", nargs="*", metavar="TOOL[.ACTION]", help="only these tools, or these actions of a tool")
    p.add_argument("--json", action="store_true")
    p.add_argument("--schema", action="store_true", help="with --json: each action's `inputs` as a JSON Schema")
    ns = p.parse_args(args)
    from localforge import api

    tools = api.list_tools(schema=ns.schema and ns.json, only=ns.names)
    if ns.json:
        print_json(tools)
        return EXIT_OK
    for t in tools:
        mark = "✓" if t["available"] else "✗"
        print(f"{mark} {t['name']} [{t['kind']}]  {', '.join(t['actions'])}")
        if t.get("description"):
            print(f"    {t['description']}")
        for m in t["missing"]:
            print(f"    missing: {m}")
    return EXIT_OK
