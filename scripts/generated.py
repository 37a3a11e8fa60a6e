"""Files the repository keeps generated (the shipped schemas, the example agent configs):
write those that differ from what their generator gives now, or, with `check`, only say which."""

import sys
from pathlib import Path


def write_or_check(files: dict[Path, str], check: bool, script: str) -> int:
    """Exit status: 1 when checking and a file is stale (naming `script`, which rewrites them)."""
    stale = []
    for path, text in files.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)}; run `python {script}`", file=sys.stderr)
        return 1
    return 0
