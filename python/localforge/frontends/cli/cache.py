"""`localforge cache stats|clear`: the step cache (docs/cache.md)."""

import re

from localforge.frontends.cli.args import parser, pick
from localforge.frontends.cli.output import EXIT_OK, UsageError, print_json

COMMANDS = {
    "stats": "stats [--json]: what the step cache holds",
    "clear": "clear [--older-than AGE]: remove entries (all, or those not used for AGE: 30d, 12h, 90m)",
}
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def seconds(text: str) -> float:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not m:
        raise UsageError(f"`{text}` is not a duration", hint="write it like 30d, 12h, 90m (s, m, h, d, w)")
    return float(m.group(1)) * UNITS[m.group(2)]


def main(args) -> int:
    from localforge import api

    if pick("cache", COMMANDS, args, "The step cache (docs/cache.md).") is None:
        return EXIT_OK
    p = parser(f"cache {args[0]}", "The step cache: what it holds, or remove entries.")
    p.add_argument("--json", action="store_true")
    if args[0] == "clear":
        p.add_argument("--older-than", metavar="AGE", help="only entries not used for AGE (30d, 12h, 90m)")
    ns = p.parse_args(args[1:])
    if args[0] == "stats":
        s = api.cache_stats()
        if ns.json:
            print_json(s)
        else:
            print(f"{s['dir']}: {s['entries']} entries, {s['bytes'] / 1e6:.1f} MB of {s['max_bytes'] / 1e9:.1f} GB (cache.max_gb)")
            if s["entries"]:
                print(f"used between {s['oldest_use']} and {s['newest_use']}")
                print("by tool: " + ", ".join(f"{k} {v}" for k, v in sorted(s["by_tool"].items())))
        return EXIT_OK
    older = seconds(ns.older_than) if ns.older_than else None
    removed = api.cache_clear(older)
    if ns.json:
        print_json({"removed": removed})
    else:
        print(f"removed {removed} entr{'y' if removed == 1 else 'ies'}" + (f" not used for {ns.older_than}" if older else ""))
    return EXIT_OK
