"""`localforge agent-config generate`: write the agent config for this machine."""

from pathlib import Path

from localforge.frontends.cli.args import parser, pick
from localforge.frontends.cli.output import EXIT_OK, print_json

COMMANDS = {"generate": "generate [--format F] [--output FILE] [--json]: the agent config (CLAUDE.md, AGENTS.md, ...) for this machine"}


def main(args) -> int:
    if pick("agent-config", COMMANDS, args) is None:
        return EXIT_OK
    from localforge.services import agentconfig

    p = parser("agent-config generate", "The agent config (CLAUDE.md, AGENTS.md, ...) telling an agent what this machine can do.")
    p.add_argument("--format", default="claude", choices=sorted(agentconfig.FORMATS))
    p.add_argument("--output", help="write (or merge into) this file; only LocalForge's marked block is replaced")
    p.add_argument("--json", action="store_true", help="print {format, file, bytes, text} as JSON")
    ns = p.parse_args(args[1:])
    text = agentconfig.generate(ns.format)
    if ns.output:
        path = Path(ns.output)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(agentconfig.merge(old, text), encoding="utf-8")
    if ns.json:
        print_json({"format": ns.format, "file": ns.output, "bytes": len(text.encode()), "text": text})
    elif not ns.output:
        print(text, end="")
    else:
        print(f"wrote LocalForge's block into {ns.output}")
    return EXIT_OK
