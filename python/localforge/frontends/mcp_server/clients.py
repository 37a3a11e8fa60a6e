"""`localforge mcp config --client NAME [--write]`: the entry that makes an MCP
client launch this server, printed, or merged into the client's own config file
(other servers kept, the old file backed up next to it)."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from localforge import errors
from localforge._atomic import write_atomic
from localforge._project import install


class Refused(errors.Refused):
    """A config file that cannot be merged safely; the message says what to do."""


def command() -> tuple[str, list[str]]:
    """This interpreter (so the client runs the environment LocalForge is installed in)."""
    return sys.executable, ["-m", "localforge", "mcp"]


def _claude_desktop() -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / "Claude" / "claude_desktop_config.json"
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home)) / "Claude" / "claude_desktop_config.json"
    return Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "Claude" / "claude_desktop_config.json"


@dataclass
class Client:
    title: str
    path: Callable[[], Path]
    key: str  # the table servers live in
    fmt: str  # "json" or "toml"
    stdio_type: bool = False  # VS Code wants `"type": "stdio"`
    note: str = ""


CLIENTS = {
    "claude-desktop": Client("Claude Desktop", _claude_desktop, "mcpServers", "json", note="restart Claude Desktop to load it"),
    "claude-code": Client("Claude Code (this project: .mcp.json)", lambda: Path.cwd() / ".mcp.json", "mcpServers", "json",
                          note="or, for every project: claude mcp add --scope user {name} -- {cmd}"),
    "cursor": Client("Cursor", lambda: Path.home() / ".cursor" / "mcp.json", "mcpServers", "json"),
    "codex": Client("Codex CLI", lambda: Path(os.environ.get("CODEX_HOME", Path.home() / ".codex")) / "config.toml", "mcp_servers", "toml"),
    "vscode": Client("VS Code (this workspace: .vscode/mcp.json)", lambda: Path.cwd() / ".vscode" / "mcp.json", "servers", "json",
                     stdio_type=True),
}  # fmt: skip


START_TIMEOUT = 15.0  # seconds for the written command to start and answer `initialize` (about one, usually)


def install_command() -> str:
    """What installs the MCP SDK into the interpreter the written command runs."""
    return f"{sys.executable} -m {install('mcp')}"


def starts(timeout: float = START_TIMEOUT) -> Optional[str]:
    """Start the command `--write` would write, as a client launches it, and ask it to
    `initialize` (the official SDK's client): None when it answers, else why not."""
    from localforge.frontends.mcp_server import missing_sdk

    why = missing_sdk()
    if why:
        return why
    import anyio
    from mcp import Client as McpClient
    from mcp import StdioServerParameters

    exe, args = command()

    async def ask() -> str:
        with anyio.fail_after(timeout):
            async with McpClient(StdioServerParameters(command=exe, args=args), mode="legacy") as c:
                return c.server_info.name

    try:
        name = anyio.run(ask)
    except TimeoutError:
        return f"`{' '.join([exe, *args])}` did not answer `initialize` within {timeout:.0f} s"
    except Exception as e:  # noqa: BLE001 — whatever stops it from starting is the answer
        return f"`{' '.join([exe, *args])}` did not start an MCP server ({type(e).__name__}: {e})"
    return None if name == "localforge" else f"`{' '.join([exe, *args])}` answered as `{name}`, not LocalForge"


def entry(client: Client) -> dict:
    exe, args = command()
    out = {"type": "stdio"} if client.stdio_type else {}
    out.update(command=exe, args=args)
    return out


def _toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def client_name(client: Client) -> str:
    return next(k for k, v in CLIENTS.items() if v is client)


def toml_table(name: str, client: Client) -> str:
    e = entry(client)
    args = ", ".join(_toml_str(a) for a in e["args"])
    return f"[{client.key}.{name}]\ncommand = {_toml_str(e['command'])}\nargs = [{args}]\n"


def snippet(client: Client, name: str) -> str:
    """What to put in the client's config file."""
    if client.fmt == "toml":
        return toml_table(name, client)
    return json.dumps({client.key: {name: entry(client)}}, indent=2) + "\n"


def merged(client: Client, name: str, old: Optional[str]) -> str:
    """The config file's text with this server's entry added or replaced, all else kept."""
    if client.fmt == "toml":
        return _merge_toml(client, name, old or "")
    try:
        doc = json.loads(old) if old and old.strip() else {}
    except json.JSONDecodeError as e:
        raise Refused(
            f"it is not plain JSON (line {e.lineno}, column {e.colno}: {e.msg}), and merging into it would lose what it holds "
            f"(comments, trailing commas). Either add the `{name}` entry below to its `{client.key}` by hand:\n{snippet(client, name)}"
            f"or make the file plain JSON (remove the comments) and run the same command again.",
            hint=f"the file is left as it was; `localforge mcp config --client {client_name(client)}` prints the entry again",
        )
    if not isinstance(doc, dict) or not isinstance(doc.get(client.key, {}), dict):
        raise Refused(f"its `{client.key}` is not a mapping; add this by hand:\n{snippet(client, name)}")
    doc.setdefault(client.key, {})[name] = entry(client)
    return json.dumps(doc, indent=2) + "\n"


def _merge_toml(client: Client, name: str, old: str) -> str:
    """Replace the `[mcp_servers.NAME]` table (and its sub-tables) or append it; the rest of the
    file is kept byte for byte. (Python's tomllib reads TOML but cannot write it; the file is
    parsed before and after to make sure the edit is sound.)"""
    try:
        import tomllib
    except ImportError:  # Python 3.10: no TOML reader in the standard library; the edit is line-based anyway
        tomllib = None
    if tomllib is not None:
        try:
            tomllib.loads(old)
        except tomllib.TOMLDecodeError as e:
            raise Refused(f"it is not valid TOML ({e}); fix it, or add this by hand:\n{toml_table(name, client)}")
    header = f"[{client.key}.{name}]"
    lines, out, skipping = old.splitlines(keepends=True), [], False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            skipping = stripped == header or stripped.startswith(f"[{client.key}.{name}.")
        if not skipping:
            out.append(line)
    text = "".join(out)
    if text and not text.endswith("\n"):
        text += "\n"
    text += ("\n" if text.strip() else "") + toml_table(name, client)
    if tomllib is not None:
        tomllib.loads(text)
    return text


def write(client: Client, name: str) -> tuple[Path, Optional[Path]]:
    """Merge the entry into the client's file; returns the file and the backup of the old one."""
    path = client.path()
    old = path.read_text(encoding="utf-8") if path.exists() else None
    text = merged(client, name, old)
    backup = None
    if old is not None:
        backup = path.with_name(f"{path.name}.{time.strftime('%Y%m%d-%H%M%S')}.bak")
        shutil.copy2(path, backup)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text)  # the file keeps its mode (a new one gets the umask's)
    return path, backup
