"""Write the JSON Schemas the package ships (`python/localforge/data/schemas/recipe|tool|config.schema.json`)
from the engine's key tables; `--check` fails (exit 1) when a shipped file differs from what the engine
writes now. Run after changing a parser's keys: `.venv/bin/python scripts/schemas.py`."""

import json
import sys
from pathlib import Path

from localforge import api

OUT = Path(__file__).resolve().parent.parent / "python" / "localforge" / "data" / "schemas"


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for kind in ("recipe", "tool", "config"):
        path = OUT / f"{kind}.schema.json"
        text = json.dumps(api.schema(kind, local=False), indent=2, ensure_ascii=False) + "\n"
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale: {', '.join(stale)}; run `python scripts/schemas.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
