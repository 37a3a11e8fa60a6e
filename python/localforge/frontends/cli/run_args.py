"""`localforge run`'s arguments read without argparse when they are plain.

An agent calls `python -m localforge run RECIPE [-i K=V ...] [--json] [-q]` over and over,
and argparse (with the `re`, `gettext` and `locale` it imports, and the parser built for
each call) was a sixth of such a run. `plain` reads exactly the forms written in full —
each option spelled as `run --help` lists it, a value in the next word or after `=` — and
gives what argparse would; anything else (`--help`, an abbreviation, `-qy`, `--`, a value
that starts with `-`, a second recipe, a missing one) is left to argparse, which gives its
own result or its usage error. tests/test_cli_run.py checks the two agree on every
argument list `plain` reads.
"""

from __future__ import annotations

import types

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional

# The options of `run` (frontends/cli/run.py's parser), by spelling: what they set.
FLAGS = {
    "-y": "auto_approve",
    "--auto-approve": "auto_approve",
    "--list-inputs": "list_inputs",
    "--json": "json",
    "--dry-run": "dry_run",
    "--force": "force",
    "-q": "quiet",
    "--quiet": "quiet",
    "--no-cache": "no_cache",
}
APPENDED = {"-i": "input", "--input": "input", "--refresh": "refresh"}
VALUES = {"--executor": "executor"}


def defaults() -> dict:
    return {
        "recipe": None,
        "input": [],
        "auto_approve": False,
        "list_inputs": False,
        "json": False,
        "dry_run": False,
        "force": False,
        "quiet": False,
        "no_cache": False,
        "refresh": [],
        "executor": None,
    }


def plain(args: list[str]) -> Optional[types.SimpleNamespace]:
    """What argparse would make of `args`, when they are written plainly; else None."""
    got = defaults()
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word in FLAGS:
            got[FLAGS[word]] = True
            continue
        name, eq, value = word.partition("=")
        if name in APPENDED or name in VALUES:
            if not eq:
                if i == len(args) or args[i].startswith("-"):
                    return None  # no value: argparse's error
                value = args[i]
                i += 1
            elif not name.startswith("--"):
                return None  # `-i=K=V`: argparse keeps the `=`; left to it
            if name in APPENDED:
                got[APPENDED[name]] = [*got[APPENDED[name]], value]
            else:
                got[VALUES[name]] = value
            continue
        if word.startswith("-") or not word or got["recipe"] is not None:
            return None
        got["recipe"] = word
    if got["recipe"] is None:
        return None
    return types.SimpleNamespace(**got)
