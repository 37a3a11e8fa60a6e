"""Tokens kept in files only their owner can read (the MCP server's, the dashboard's, the Ray cluster's)."""

import os
import secrets
from pathlib import Path


def write_new(path: Path) -> str:
    """Make a fresh token and write it to `path` with mode 0600 (the folder is made too)."""
    from localforge._paths import private_dir

    private_dir(path.parent)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that existed
    return token
