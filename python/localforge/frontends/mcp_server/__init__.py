"""LocalForge as an MCP server (`localforge mcp`): every recipe and tool
reachable by any MCP client — Claude Desktop, Claude Code, Cursor, Codex, VS
Code — typed, with progress, cancellation and the run's files as resources.

Needs the optional extra `mcp` (`_project.install("mcp")` says the command: the official MCP
Python SDK, 2.x). Nothing here is imported by the rest of LocalForge but
`recipes.Catalog` (no SDK needed), which the dashboard shares: both run recipes
only from the same kind of folders.
"""

from localforge._project import install

MIN_SDK = (2, 3)


def install_hint() -> str:
    """What installs the SDK (read from the package metadata when asked: that costs ~25 ms)."""
    return f"{install('mcp')}  (the official MCP Python SDK, `mcp` 2.x; Python 3.10 or newer)"


def missing_sdk():
    """Why the MCP SDK cannot be used here (None when it can)."""
    import sys
    from importlib import metadata

    if sys.version_info < (3, 10):
        return f"the MCP server needs Python 3.10 or newer (this is {sys.version.split()[0]})"
    try:
        version = metadata.version("mcp")
    except metadata.PackageNotFoundError:
        return "the MCP server needs the MCP Python SDK, which is not installed"
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_SDK:
        return f"the MCP server needs the MCP Python SDK {MIN_SDK[0]}.{MIN_SDK[1]} or newer (installed: {version})"
    return None
