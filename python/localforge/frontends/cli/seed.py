"""`localforge seed list|show|check|verify|export`: knowledge seeds on this machine."""

import re
import sys
from pathlib import Path

from localforge.frontends.cli.args import parser, pick
from localforge.frontends.cli.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, _style, diagnostics, error, print_json

COMMANDS = {
    "list": "list: every seed with its status here (done, ready, or what it needs)",
    "show": "show TOPIC: a seed filled in with this machine's figures",
    "check": "check TOPIC: what the seed needs that this machine lacks",
    "verify": "verify TOPIC: run the seed's checks of its result",
    "export": "export --format skills DIR: the seeds as Agent Skills folders",
}


def main(args) -> int:
    command = pick("seed", COMMANDS, args, "Playbooks that make this machine better.")
    if command is None:
        return EXIT_OK
    commands = {"list": list_, "show": show, "check": check, "verify": verify, "export": export}
    from localforge.services import seed

    try:
        return commands[command](args[1:])
    except seed.InvalidSeed as e:  # a seed file (named, or rendered) that does not follow the format
        diagnostics(e.errors)
        return EXIT_USAGE


def _pick(topic: str):
    """The seed a topic names, loading the rest only to match against."""
    from localforge.services import seed

    seeds, _ = seed.load_all()
    try:
        return seed.find(topic, seeds)
    except seed.NoSuchSeed as e:
        raise UsageError(str(e), hint=e.hint)


def _one(command: str, description: str, args):
    """`localforge seed COMMAND TOPIC [--json]`: the parsed arguments and the seed."""
    p = parser(f"seed {command}", description)
    p.add_argument("topic")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    return ns, _pick(ns.topic)


def list_(args) -> int:
    from localforge.services import seed

    p = parser("seed list", "Every seed with its status here: done, ready, or needs X.")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    seeds, problems = seed.load_all()
    facts = seed.facts(seeds)
    rows = [
        {"id": s.id, "title": s.meta["title"], "summary": s.meta["summary"], "tags": s.meta["tags"], "status": seed.status(s, facts),
         "source": s.source, "path": str(s.path)}
        for s in seeds
    ]  # fmt: skip
    if ns.json:
        print_json({"seeds": rows, "errors": problems, "problems": problems})  # `problems`: its first name
    else:
        width = max((len(r["id"]) for r in rows), default=0)
        for r in rows:
            mark = {"done": _style("✓", "32"), "ready": _style("○", "36")}.get(r["status"], _style("✗", "33"))
            print(f"{mark} {r['id']:<{width}}  {r['title']}")
            print(f"  {'':<{width}}  {r['status']}")
        if rows:
            print("\n`localforge seed show TOPIC` for one, filled in for this machine; `seed check TOPIC` for what is missing.")
        diagnostics(problems)
    return EXIT_USAGE if problems else EXIT_OK


def show(args) -> int:
    from localforge.services import seed

    p = parser("seed show", "A seed filled in with this machine's figures.")
    p.add_argument("topic", help="a seed id, a word of one (`whisper`), a tag, or a path to a seed file")
    p.add_argument("--raw", action="store_true", help="the file as written, nothing filled in")
    p.add_argument("--markdown", action="store_true", help="the filled-in Markdown, not styled for a terminal")
    p.add_argument("--json", action="store_true", help="{id, title, status, markdown, ...} as JSON")
    ns = p.parse_args(args)
    s = _pick(ns.topic)
    if ns.raw:
        sys.stdout.write(s.raw)
        return EXIT_OK
    facts = seed.facts([s], models=True)
    text = seed.render(s, facts)
    if ns.json:
        print_json(
            {"id": s.id, "title": s.meta["title"], "status": seed.status(s, facts), "meta": s.meta, "path": str(s.path), "markdown": text}
        )
    elif ns.markdown:
        sys.stdout.write(text)
    else:
        print(_style(s.meta["title"], "1") + f"  [{seed.status(s, facts)}]")
        print(s.meta["summary"])
        print()
        sys.stdout.write(terminal(text))
    return EXIT_OK


def terminal(markdown: str) -> str:
    """Markdown for a terminal: headings styled, code blocks indented without their fences."""
    out, in_code = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        if in_code:
            out.append("    " + line)
        elif re.match(r"^#{1,6} ", line):
            title = line.lstrip("#").strip()
            out.append(_style(title.upper() if line.startswith("## ") else title, "1;36" if line.startswith("## ") else "1"))
        else:
            out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"


def check(args) -> int:
    from localforge.services import seed

    ns, s = _one("check", "Each prerequisite of a seed, and each thing it provides, met or not, with the fix.", args)
    report = seed.check(s, seed.facts([s]))
    if ns.json:
        print_json(report)
    else:
        print(f"{s.id} — {s.meta['title']}: {report['status']}")
        for part, items in (("prerequisites", report["prerequisites"]), ("provides", report["provides"])):
            if not items:
                continue
            print(f"{part}:")
            for i in items:
                mark = _style("✓", "32") if i["ok"] else _style("✗", "31")
                found = f": {i['found']}" if i.get("found") else ""
                print(f"  {mark} {i['kind']} {i['name']}{found}")
                if not i["ok"] and i.get("fix"):
                    print(f"      fix: {i['fix']}")
    return EXIT_OK if report["ok"] else EXIT_FAILED


def verify(args) -> int:
    from localforge.services import seed

    ns, s = _one("verify", "Run a seed's checks (commands without a shell, HTTP requests), each with its deadline.", args)
    results = seed.verify(s, seed.facts([s]))
    ok = all(r["ok"] for r in results)
    if ns.json:
        print_json({"id": s.id, "ok": ok, "checks": results})
    else:
        for r in results:
            mark = _style("✓", "32") if r["ok"] else _style("✗", "31")
            print(f"{mark} {r['name']} ({r['seconds']:.1f} s)")
            if not r["ok"]:
                print(f"    {r['detail']}")
        if not results:
            print(f"{s.id} has no checks")
    return EXIT_OK if ok else EXIT_FAILED


def export(args) -> int:
    from localforge.services import seed, skills

    p = parser("seed export", "Write every seed (or the named ones) as Agent Skills folders: DIR/<id>/SKILL.md.")
    p.add_argument("--format", required=True, choices=["skills"])
    p.add_argument("folder", help="where the skill folders go (e.g. ~/.claude/skills or .claude/skills)")
    p.add_argument("--seed", action="append", default=[], metavar="TOPIC", help="only this seed (repeatable)")
    p.add_argument("--json", action="store_true")
    ns = p.parse_args(args)
    seeds, problems = seed.load_all()
    if problems:
        diagnostics(problems)
        return EXIT_USAGE
    selected = [_pick(t) for t in ns.seed] if ns.seed else seeds
    folder = Path(ns.folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is not a folder")
    try:
        written = skills.export(selected, seed.facts(selected, models=True), folder)
    except OSError as e:
        error(f"cannot write the skills into {folder}: {e.strerror or e}")
        return EXIT_FAILED
    if ns.json:
        print_json({"format": "skills", "folder": str(folder), "skills": written})
    else:
        for w in written:
            print(f"wrote {w['path']}")
    return EXIT_OK
