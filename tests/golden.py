"""Golden files: a text a user reads, pinned whole in `tests/snapshots/cli/NAME.txt`
after what changes from run to run or machine to machine (run ids, clock times,
durations, the scratch folders, this checkout) is replaced by a placeholder.

To accept new texts, run the tests with LOCALFORGE_UPDATE_SNAPSHOTS=1 and read the
diff before committing it:

    LOCALFORGE_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_cli_stderr.py tests/test_mcp.py
"""

import os
import re

import pytest

from conftest import REPO

SNAPSHOTS = REPO / "tests" / "snapshots" / "cli"
UPDATE = os.environ.get("LOCALFORGE_UPDATE_SNAPSHOTS") == "1"


def normalised(text: str, lf) -> str:
    """Stable text: what changes from run to run or machine to machine becomes a placeholder."""
    for path, mark in ((lf.work, "<WORK>"), (lf.home, "<HOME>"), (REPO, "<REPO>")):
        text = text.replace(str(path), mark)
    text = re.sub(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b", "<RUN_ID>", text)
    text = re.sub(r"\[\d\d:\d\d:\d\d\]", "[<TIME>]", text)
    return re.sub(r"\b\d+\.\d\ds\b", "<S>s", text)


def matches_golden(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if not UPDATE:
            pytest.fail(f"{path.relative_to(REPO)} was missing and is written now: check it and run again")
    assert text == path.read_text(), f"the text differs from {path.relative_to(REPO)} (to accept it: tests/golden.py)"
