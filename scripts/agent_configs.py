"""Regenerate the example agent configs in agent-configs/ from the fixed machine profile
agent-configs/profile.json (see its `about`), with the shipped recipes and seeds, so the
examples show what `localforge agent-config generate` writes without depending on the
machine that builds them.

    python scripts/agent_configs.py           # rewrite the examples
    python scripts/agent_configs.py --check   # exit 1 if they are stale (tests run this)
"""

import json
import sys
from pathlib import Path

from generated import write_or_check

from localforge._paths import data_dir
from localforge.services import agentconfig

HERE = Path(__file__).resolve().parent.parent / "agent-configs"


def examples() -> dict:
    profile = json.loads((HERE / "profile.json").read_text(encoding="utf-8"))
    recipes = agentconfig.recipes(data_dir("recipes"))
    unknown = [r["name"] for r in recipes if r["name"] not in profile["preflight"]]
    if unknown:
        sys.exit(
            f"agent-configs/profile.json: no `preflight` entry for {', '.join(unknown)}; add what `run NAME --dry-run` "
            "would report on that machine (its first problem as message/hint/more, or null when it would run)"
        )
    for r in recipes:
        r["missing"] = profile["preflight"][r["name"]]
    seed_facts = {
        "system": profile["system"],
        "tools": {t["name"]: t for t in profile["list_tools"]},
        "python": profile["python"],
        "disk_free_gb": profile["disk_free_gb"],
        "os": profile["os"],
        "env": profile["env"],
    }
    facts = {"tools": profile["list_tools"], "recipes": recipes, "system": profile["system"], "launcher": profile["launcher"]}
    facts = agentconfig.with_seeds(facts, seed_facts)
    return {name: agentconfig.generate(fmt, facts) for fmt, (name, _, _) in agentconfig.FORMATS.items()}


def main(argv) -> int:
    files = {HERE / name: text for name, text in examples().items()}
    return write_or_check(files, "--check" in argv, "scripts/agent_configs.py")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
