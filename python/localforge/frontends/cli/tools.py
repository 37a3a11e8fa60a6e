"""`localforge tools ...`: search, inspect, install, update, remove and publish YAML tool
definitions from registries (docs/registry.md)."""

import sys
import tempfile
from pathlib import Path

from localforge.frontends.cli.args import parser, pick
from localforge.frontends.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, diagnostics, error, print_json, warning

COMMANDS = {
    "search": "search QUERY: find tool definitions by name, tag and description, in every registry",
    "info": "info NAME: one definition: what it runs, its inputs, its text, whether it is installed",
    "install": "install NAME[@VERSION]: install a definition into ~/.localforge/tools",
    "list": "list --installed: the definitions installed from registries",
    "update": "update [NAME]: install newer versions of installed definitions",
    "remove": "remove NAME: remove a definition installed from a registry",
    "publish": "publish FILE: check a definition and commit it on a new branch of a registry clone",
    "index": "index DIR: rebuild a registry folder's index.json (for registry maintainers)",
    "update-index": "update-index: fetch the registries again",
}


def main(args) -> int:
    command = pick("tools", COMMANDS, args, "Share YAML tool definitions through registries (docs/registry.md).")
    if command is None:
        return EXIT_OK
    from localforge.services.tool_registry.layout import RegistryError

    handler = globals()["cmd_" + command.replace("-", "_")]
    try:
        with tempfile.TemporaryDirectory(prefix="localforge-registry-") as scratch:
            return handler(args[1:], Path(scratch))
    except RegistryError as e:
        if e.problems:
            diagnostics(e.problems)
        error(str(e), hint=e.hint)
        return EXIT_USAGE if e.usage else EXIT_FAILED


def _notes(srcs) -> None:
    for s in srcs:
        if s.note:
            warning(f"registry `{s.name}`: {s.note}")


def _found(binaries: list) -> dict:
    """Which programs are on this machine, from the same discovery as `system`."""
    from localforge import api

    if not binaries:
        return {}
    tools = api.system(sorted(set(binaries)))["tools"]
    return {b: bool((tools.get(b) or {}).get("found")) for b in binaries}


def _install_hint(entry: dict) -> str:
    import platform

    key = "macos" if platform.system() == "Darwin" else "debian"
    hints = []
    for b in entry.get("binaries") or []:
        h = b["install"].get(key) or b["install"].get("any") or next(iter(b["install"].values()), "")
        hints.append(f"`{b['name']}`: {h}" if h else f"`{b['name']}`")
    return "; ".join(hints)


def cmd_search(args, scratch) -> int:
    from localforge.services.tool_registry import sources

    p = parser("tools search", "Find tool definitions by name, tag and description, in every registry.")
    p.add_argument("query", nargs="*")
    p.add_argument("--registry")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    words = [w.lower() for w in " ".join(ns.query).split()]
    srcs = sources.pick(ns.registry)
    rows = []
    for src in srcs:
        latest = {}
        for e in src.index()["tools"]:
            from localforge.services.tool_registry.layout import version_key

            if e["name"] not in latest or version_key(e["version"]) > version_key(latest[e["name"]]["version"]):
                latest[e["name"]] = e
        for e in latest.values():
            score = _score(e, words)
            if score > 0 or not words:
                rows.append({"score": score, "registry": src.name, **e})
    found = _found([b["name"] for r in rows for b in r["binaries"]])
    for r in rows:
        r["binaries_present"] = all(found.get(b["name"], False) for b in r["binaries"])
    rows.sort(key=lambda r: (-r["score"], r["name"]))
    _notes(srcs)
    if ns.json:
        print_json({"query": " ".join(ns.query), "results": rows})
        return EXIT_OK
    for r in rows:
        mark = "✓" if r["binaries_present"] else "✗"
        print(f"{mark} {r['name']} {r['version']}  [{r['registry']}]  {r['description']}")
        if not r["binaries_present"]:
            print(f"    needs {_install_hint(r)}")
    if not rows:
        print("no tools match")
    return EXIT_OK if rows else EXIT_FAILED


def _score(e: dict, words: list) -> int:
    score = 0
    for w in words:
        if w == e["name"]:
            score += 100
        elif w in e["name"]:
            score += 50
        if w in [t.lower() for t in e["tags"]]:
            score += 30
        if w in e["description"].lower():
            score += 10
    return score


def _refs(ns):
    from localforge.services.tool_registry import installer, sources

    name, version = installer.parse_ref(ns.name)
    return name, version, sources.pick(getattr(ns, "registry", None))


def cmd_info(args, scratch) -> int:
    from localforge.services.tool_registry import installer

    p = parser("tools info", "One definition: what it runs, what it needs, whether it is installed.")
    p.add_argument("name", help="NAME or NAME@VERSION")
    p.add_argument("--registry")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    name, version, srcs = _refs(ns)
    src, entry = installer.find(srcs, name, version)
    data, doc, checked = installer.fetch(src, entry, scratch)
    mine = next((i for i in installer.installed() if i["name"] == name), None)
    found = _found([b["name"] for b in entry["binaries"]])
    info = {**entry, "registry": src.name, "commands": installer.commands(doc, checked), "confinement": checked["confinement"],
            "binaries_present": found, "installed": mine, "definition": data.decode("utf-8")}  # fmt: skip
    _notes([src])
    if ns.json:
        print_json(info)
        return EXIT_OK
    print(f"{name} {entry['version']}  [{src.name}]  {entry['description']}")
    print(f"  license: {entry['license'] or '?'}   author: {entry['author'] or '?'}   tags: {', '.join(entry['tags'])}")
    for b in entry["binaries"]:
        print(f"  needs `{b['name']}`: {'found' if found.get(b['name']) else 'not found — ' + _install_hint({'binaries': [b]})}")
    print("  runs:")
    for line in info["commands"]:
        print(f"    {line}")
    print(f"  confined: it runs {info['confinement']}")
    print(f"  installed: {mine['version'] + (' (changed locally)' if mine['changed'] else '') if mine else 'no'}")
    print("  inputs:")
    for action, spec in (doc.get("actions") or {}).items():
        for line in _input_lines(action, (spec or {}).get("inputs") or {}):
            print(f"    {line}")
    print(f"  definition ({entry['path']}, {entry['size']} bytes):")
    for line in info["definition"].splitlines():
        print(f"    | {line}")
    return EXIT_OK


def _input_lines(action: str, inputs: dict) -> list:
    """`action.name (type, required|default X): description` for each input of an action."""
    if not inputs:
        return [f"{action}: none"]
    out = []
    for name, spec in inputs.items():
        spec = spec if isinstance(spec, dict) else {}
        how = "required" if spec.get("required") else (f"default {spec['default']!r}" if "default" in spec else "optional")
        about = f": {spec['description']}" if spec.get("description") else ""
        out.append(f"{action}.{name} ({spec.get('type') or 'string'}, {how}){about}")
    return out


def _confirm(yes: bool):
    def ask(doc, lines) -> bool:
        sys.stderr.write(f"`{doc['name']}` {doc.get('version')} will run:\n" + "".join(f"  {line}\n" for line in lines))
        if yes:
            return True
        if not sys.stdin.isatty():
            raise UsageError("not installed: confirm with -y (no terminal to ask on)", hint="read the command lines above, then add -y")
        return input("install it? [y/N] ").strip().lower() in ("y", "yes")

    return ask


def _report_install(rec, entry, as_json) -> None:
    found = _found([b["name"] for b in entry["binaries"]])
    missing = [b for b in entry["binaries"] if not found.get(b["name"])]
    rec = {k: v for k, v in rec.items() if k != "document"}
    if as_json:
        print_json({**rec, "binaries_present": found, "install_hint": _install_hint({"binaries": missing}) if missing else None})
        return
    was = f" (was {rec['previous']})" if rec.get("previous") and rec["previous"] != rec["version"] else ""
    print(f"installed {rec['name']} {rec['version']}{was} from `{rec['registry']}` into {rec['path']}")
    if missing:
        warning(
            f"`{rec['name']}` cannot run until you install {_install_hint({'binaries': missing})}",
            hint="`localforge list-tools` shows it as unavailable until then",
        )


def cmd_install(args, scratch) -> int:
    from localforge.services.tool_registry import installer

    p = parser("tools install", "Install a definition from a registry into ~/.localforge/tools.")
    p.add_argument("name", help="NAME or NAME@VERSION")
    p.add_argument("--registry")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask (agents)")
    p.add_argument("--force", action="store_true", help="replace a definition changed locally or not from a registry")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    name, version, srcs = _refs(ns)
    src, entry = installer.find(srcs, name, version)
    rec = installer.install(src, entry, scratch, confirm=_confirm(ns.yes), force=ns.force)
    _notes([src])
    _report_install(rec, entry, ns.json)
    return EXIT_OK


def cmd_list(args, scratch) -> int:
    from localforge.services.tool_registry import installer

    p = parser("tools list", "Definitions installed from registries (--installed).")
    p.add_argument("--installed", action="store_true", help="the installed ones (the default)")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    rows = installer.installed()
    if ns.json:
        print_json({"installed": rows})
        return EXIT_OK
    for r in rows:
        state = " (changed locally)" if r["changed"] else (" (file missing)" if not r["present"] else "")
        print(f"{r['name']} {r['version']}  [{r['registry']}]{state}")
    if not rows:
        print("nothing installed from a registry (`localforge tools search WORD`)")
    return EXIT_OK


def cmd_update(args, scratch) -> int:
    from localforge.services.tool_registry import installer, sources
    from localforge.services.tool_registry.layout import RegistryError, version_key

    p = parser("tools update", "Install newer versions of installed definitions.")
    p.add_argument("name", nargs="?")
    p.add_argument("-y", "--yes", action="store_true")
    p.add_argument("--force", action="store_true", help="overwrite definitions changed locally")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    rows = installer.installed()
    if ns.name:
        rows = [r for r in rows if r["name"] == ns.name]
        if not rows:
            raise UsageError(f"`{ns.name}` was not installed from a registry", hint="`localforge tools list --installed`")
    results, failed = [], False
    fresh = {}
    for r in rows:
        if r["registry"] not in fresh:  # look at the registry as it is now (offline: its last copy)
            fresh[r["registry"]] = sources.pick(r["registry"])
            for src in fresh[r["registry"]]:
                src.ensure(refresh=True)
            _notes(fresh[r["registry"]])
        src, entry = installer.find(fresh[r["registry"]], r["name"])
        if version_key(entry["version"]) <= version_key(r["version"]):
            results.append({"name": r["name"], "version": r["version"], "updated": False, "why": "up to date"})
            continue
        if r["changed"] and not ns.force:
            failed = True
            results.append(
                {
                    "name": r["name"],
                    "version": r["version"],
                    "updated": False,
                    "why": f"changed locally; {entry['version']} not installed (--force)",
                }
            )
            continue
        try:
            rec = installer.install(src, entry, scratch / r["name"], confirm=_confirm(ns.yes), force=ns.force)
        except RegistryError as e:
            failed = True
            results.append({"name": r["name"], "version": r["version"], "updated": False, "why": str(e)})
            continue
        results.append({"name": r["name"], "version": rec["version"], "updated": True, "previous": r["version"]})
    if ns.json:
        print_json({"results": results})
    else:
        for r in results:
            print(f"{r['name']}: {'updated ' + r['previous'] + ' → ' + r['version'] if r['updated'] else r['version'] + ', ' + r['why']}")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_remove(args, scratch) -> int:
    from localforge.services.tool_registry import installer

    p = parser("tools remove", "Remove a definition installed from a registry.")
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    rec = installer.remove(ns.name)
    if ns.json:
        print_json({"removed": rec})
    else:
        print(f"removed {rec['name']} {rec['version']} ({rec['path']})")
    return EXIT_OK


def cmd_publish(args, scratch) -> int:
    from localforge.services.tool_registry import publish

    p = parser("tools publish", "Check a definition, run its example, and commit it on a new branch of a registry clone.")
    p.add_argument("file")
    p.add_argument("--registry", required=True, help="a local git clone of the registry")
    p.add_argument("--version", help="publish as this version (sets `version:` in the copy)")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    out = publish.publish(Path(ns.file), Path(ns.registry).expanduser(), ns.version, scratch)
    if ns.json:
        print_json(out)
        return EXIT_OK
    ex = out["example"]
    print(f"example: {'skipped — ' if ex['skipped'] else ''}{ex['detail']}")
    print(f"committed {out['name']} {out['version']} on branch `{out['branch']}` ({out['commit'][:12]}) in {ns.registry}")
    print("next:")
    for step in out["next"]:
        print(f"  {step}")
    return EXIT_OK


def cmd_index(args, scratch) -> int:
    from localforge.services.tool_registry.layout import INDEX, build_index, index_text

    p = parser("tools index", "Rebuild a registry folder's index.json, validating every definition (for registry maintainers).")
    p.add_argument("folder")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if index.json is not what it would be")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    root = Path(ns.folder)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder")
    index, problems = build_index(root, scratch)
    text = index_text(index)
    path = root / INDEX
    stale = not path.exists() or path.read_text(encoding="utf-8") != text
    if not ns.check and not problems:
        path.write_text(text, encoding="utf-8")
    if ns.json:
        print_json({"tools": len(index["tools"]), "errors": problems, "problems": problems, "stale": stale and ns.check})
    else:
        diagnostics(problems)
        if ns.check:
            print(
                f"{path}: {'out of date — run `localforge tools index ' + str(root) + '`' if stale else 'up to date'} ({len(index['tools'])} definitions)"
            )
        elif not problems:
            print(f"wrote {path} ({len(index['tools'])} definitions)")
    if problems:
        return EXIT_USAGE
    return EXIT_FAILED if ns.check and stale else EXIT_OK


def cmd_update_index(args, scratch) -> int:
    from localforge.services.tool_registry import sources

    p = parser("tools update-index", "Fetch the registries again (git fetch, or the HTTP index).")
    p.add_argument("registry", nargs="?")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    out = []
    for src in sources.pick(ns.registry):
        src.index(refresh=True)
        out.append({"registry": src.name, "kind": src.kind, "location": src.location, "note": src.note, "tools": len(src.index()["tools"])})
    if ns.json:
        print_json({"registries": out})
    else:
        for r in out:
            print(f"{r['registry']} ({r['kind']} {r['location']}): {r['tools']} definitions{'; ' + r['note'] if r['note'] else ''}")
    return EXIT_OK
