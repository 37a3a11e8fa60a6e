"""Write the JSON Schemas the package ships (`python/localforge/data/schemas/recipe|tool|config.schema.json`)
from the engine's key tables; `--check` fails (exit 1) when a shipped file differs from what the engine
writes now. Run after changing a parser's keys: `.venv/bin/python scripts/schemas.py`."""

import json
import sys
from pathlib import Path

from generated import write_or_check

from localforge import api

OUT = Path(__file__).resolve().parent.parent / "python" / "localforge" / "data" / "schemas"


def main() -> int:
    files = {OUT / f"{kind}.schema.json": json.dumps(api.schema(kind, local=False), indent=2, ensure_ascii=False) + "\n"
             for kind in ("recipe", "tool", "config")}  # fmt: skip
    return write_or_check(files, "--check" in sys.argv[1:], "scripts/schemas.py")


if __name__ == "__main__":
    sys.exit(main())
