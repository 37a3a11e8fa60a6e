"""Seeds as Agent Skills: one folder per seed with a `SKILL.md` (front matter `name` and
`description`, as the Agent Skills format asks), its body the seed filled in for this
machine, so agents that load skills can use the playbooks directly."""

from __future__ import annotations

import json
import re
from pathlib import Path

from localforge._atomic import write_atomic
from localforge.errors import InvalidValue
from localforge.services import seed as seeds

NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_NAME, MAX_DESCRIPTION, MAX_COMPATIBILITY = 64, 1024, 500


def description(s: seeds.Seed) -> str:
    """What the skill does and when to use it, at most 1024 characters."""
    use = ", ".join(s.meta.get("applies_to") or []) or "this machine's local AI setup"
    text = f"{s.meta['summary']} Use when setting up, checking or improving {use} on this machine with LocalForge."
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def compatibility(s: seeds.Seed) -> str:
    req = s.requires
    parts = ["Needs LocalForge (`python -m localforge`)"]
    if req.get("os"):
        parts.append("on " + " or ".join({"linux": "Linux", "macos": "macOS", "windows": "Windows"}[o] for o in req["os"]))
    if req.get("binaries"):
        parts.append("with " + ", ".join(req["binaries"]))
    text = "; ".join(parts) + "."
    return text[:MAX_COMPATIBILITY]


def skill_md(s: seeds.Seed, facts: dict) -> str:
    """The SKILL.md text: front matter (JSON strings are valid YAML scalars), then the body."""
    body = seeds.render(s, facts).strip("\n")
    front = [
        "---",
        f"name: {s.id}",
        f"description: {json.dumps(description(s), ensure_ascii=False)}",
        f"compatibility: {json.dumps(compatibility(s), ensure_ascii=False)}",
        "metadata:",
        f"  source: {json.dumps(f'localforge seed {s.id}')}",
        f"  tags: {json.dumps(', '.join(s.meta.get('tags') or []))}",
        "---",
        "",
    ]
    tail = [
        "",
        "## Check it with LocalForge",
        "",
        f"- `python -m localforge seed check {s.id} --json` — each prerequisite and what the seed provides, met or not, with the fix.",
        f"- `python -m localforge seed verify {s.id} --json` — runs the seed's checks (exit 0 when all pass).",
        "",
    ]
    return "\n".join(front) + body + "\n" + "\n".join(tail)


def export(selected: list[seeds.Seed], facts: dict, folder: Path) -> list[dict]:
    """Write `folder/<id>/SKILL.md` for each seed (atomically, replacing an older export)."""
    out = []
    for s in selected:
        if not NAME.match(s.id) or len(s.id) > MAX_NAME:
            raise InvalidValue(f"seed id `{s.id}` is not a valid skill name (lowercase letters, digits and hyphens, at most 64)")
        d = folder / s.id
        d.mkdir(parents=True, exist_ok=True)
        text = skill_md(s, facts)
        write_atomic(d / "SKILL.md", text, mode=0o600)
        out.append({"id": s.id, "path": str(d / "SKILL.md"), "bytes": len(text.encode())})
    return out
