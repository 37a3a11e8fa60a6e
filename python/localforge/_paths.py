"""Where the data shipped with LocalForge lives (recipes, data, seeds)."""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

# The package's folder, as text: the engine reads it at every start (`data/tools`), and
# `pathlib` is imported only by what returns a `Path`.
PACKAGE_DIR = os.path.dirname(os.path.realpath(__file__))


def data_dir(name: str) -> Path:
    """`recipes`, `data` or `seeds`, shipped inside the package."""
    from pathlib import Path

    return Path(PACKAGE_DIR, name)


def private_dir(path: Path) -> Path:
    """Make `path` (and missing parents) 0700 whatever the umask: `~/.localforge` holds
    tokens, the history and the step cache, which are their user's alone. An existing
    `~/.localforge` is tightened too; other existing folders are left as they are
    (the engine does the same, `src/config/private.rs`)."""
    from pathlib import Path

    home = Path(os.path.expanduser("~/.localforge"))
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(p, 0o700)
        os.chmod(p, 0o700)  # mkdir's mode is cut by the umask, never widened; this keeps it exact
    if path == home or home in path.parents:
        with contextlib.suppress(OSError):
            if home.stat().st_mode & 0o077:
                os.chmod(home, 0o700)
    return path
