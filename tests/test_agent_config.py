"""`localforge agent-config generate` (issue 16, part 6): accurate against what the
engine reports, deterministic, under 32 KiB, merged without touching the user's text."""

import json
import re

HELLO = """\
name: r{i:02}
description: recipe number {i}
inputs:
  - {{name: who, default: world, description: who to greet}}
steps:
  - {{id: a, tool: file_ops, action: mkdir, inputs: {{path: "{{{{ workflow.run_dir }}}}/x"}}}}
"""


def test_it_lists_exactly_what_the_engine_reports(lf):
    text = lf("agent-config", "generate", "--format", "agents", check=0).stdout
    tools = json.loads(lf("list-tools", "--json", check=0).stdout)
    recipes = json.loads(lf("list", "--json", check=0).stdout)
    system = json.loads(lf("system", "--json", check=0).stdout)
    listed = set(re.findall(r"^- `([^`]+)`: ", text, re.M))
    available = {t["name"] for t in tools if t["available"]}
    assert available <= listed, "every available tool is listed"
    assert listed <= {t["name"] for t in tools} | {r["name"] for r in recipes}, "nothing that does not exist"
    names = [r["name"] for r in (recipes if isinstance(recipes, list) else recipes["recipes"])]
    assert all(f"- `{n}`: " in text for n in names), "every recipe is listed"
    assert f"({system['hardware']['cpu_cores']} threads); RAM: {system['hardware']['ram_gb']:.0f} GB" in text
    assert "--client codex --write" in text
    again = lf("agent-config", "generate", "--format", "agents", check=0).stdout
    assert again == text, "the same machine gives the same bytes"


def test_fifty_recipes_stay_under_32_kib(lf):
    for i in range(50):
        lf.write(f"recipes/r{i:02}.yaml", HELLO.format(i=i))
    doc = json.loads(lf("agent-config", "generate", "--json", check=0).stdout)
    assert doc["bytes"] < 32 * 1024 and "- `r49`: recipe number 49 — inputs: who: string = world" in doc["text"]


def test_merging_keeps_the_users_text_byte_for_byte(lf):
    target = lf.work / "CLAUDE.md"
    mine_before, mine_after = "# My project\n\nMy own rules.\n", "\n## After\nMore of mine.\n"
    target.write_text(mine_before)
    lf("agent-config", "generate", "--output", target, check=0)
    first = target.read_text()
    assert first.startswith(mine_before) and "<!-- localforge:begin" in first
    target.write_text(first + mine_after)
    lf("agent-config", "generate", "--output", target, check=0)
    second = target.read_text()
    assert second == first + mine_after, "the block is replaced in place; text before and after is kept"


def test_bad_usage_says_what_to_type(lf):
    assert lf("agent-config", check=2).stderr == (
        "error: `localforge agent-config` needs a command\n  hint: run `localforge agent-config --help` for its commands (generate)\n"
    )
    assert "invalid choice" in lf("agent-config", "generate", "--format", "clippy", check=2).stderr
