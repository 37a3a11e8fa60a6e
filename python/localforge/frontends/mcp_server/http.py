"""Streamable HTTP: 127.0.0.1 by default, `Host`/`Origin` checked against DNS
rebinding (the SDK's transport security), and a bearer token on every request
(`~/.localforge/mcp-token`, made on first start with mode 0600, or
`--token-file`). A non-loopback address needs `--allow-remote`."""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
import sys
from pathlib import Path
from typing import Optional

from localforge import errors

LOOPBACK_NAMES = ("localhost",)


class Refused(errors.Refused):
    """A setting the server will not start with; the message says what would do."""


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_token_file() -> Path:
    return Path.home() / ".localforge" / "mcp-token"


def load_token(token_file: Optional[str]) -> tuple[str, bool]:
    """The bearer token and whether it was made just now. A given `token_file` must exist and hold one."""
    if token_file:
        path = Path(token_file).expanduser()
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise Refused(f"cannot read the token file {path}: {e.strerror}; write a token into it (e.g. `openssl rand -hex 32`)")
        if len(token) < 16:
            raise Refused(f"the token in {path} is {'empty' if not token else 'too short'}: use at least 16 characters")
        if _shared(path) and path.stat().st_uid == os.getuid():  # a secret mounted by another owner is theirs to guard
            raise Refused(
                f"the token file {path} can be read by other users (mode {stat.S_IMODE(path.stat().st_mode):o}): `chmod 600 {path}`"
            )
        return token, False
    path = default_token_file()
    # One other users could read is not a secret any more: a new one replaces it.
    if path.exists() and not _shared(path):
        token = path.read_text(encoding="utf-8").strip()
        if len(token) >= 16:
            return token, False
    from localforge._secret import write_new

    return write_new(path), True


def _shared(path: Path) -> bool:
    """Whether users other than its owner may read or write the file."""
    return bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


class BearerAuth:
    """ASGI middleware: 401 unless `Authorization: Bearer <token>` (compared in constant time)."""

    def __init__(self, app, token: str):
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        given = b""
        for name, value in scope.get("headers", []):
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                given = value[7:].strip()
        if not hmac.compare_digest(given, self.token):
            from starlette.responses import JSONResponse

            body = {
                "error": "unauthorized",
                "error_description": "send `Authorization: Bearer <token>`; the token is in ~/.localforge/mcp-token",
            }
            response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="localforge"'})
            return await response(scope, receive, send)
        return await self.app(scope, receive, send)


def app(server, host: str, port: int, token: Optional[str]):
    """The ASGI app: the SDK's Streamable HTTP app, DNS-rebinding protection for the bound
    host, and the bearer check around it."""
    from mcp.server.transport_security import TransportSecuritySettings

    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:*")
        origins.append(f"http://{host}:*")
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=host not in ("0.0.0.0", "::"), allowed_hosts=hosts, allowed_origins=origins
    )
    inner = server.streamable_http_app(host=host, transport_security=security)
    return inner if token is None else BearerAuth(inner, token)


def serve(folders: Optional[list], host: str, port: int, token_file: Optional[str], allow_remote: bool, no_auth: bool) -> None:
    """Serve until interrupted; say where on stderr (the port too, when 0 picked one)."""
    import anyio
    import uvicorn

    from localforge.frontends.mcp_server.server import build, log_to_stderr

    if not is_loopback(host) and not allow_remote:
        raise Refused(f"`{host}` is not a loopback address: anyone who can reach it could run recipes here; add --allow-remote to mean it")
    if no_auth and not is_loopback(host):
        raise Refused("--no-auth only on a loopback address (127.0.0.1, ::1, localhost)")
    token = None
    if not no_auth:
        token, made = load_token(token_file)
        where = token_file or default_token_file()
        if made:
            print(f"localforge mcp: a new bearer token, saved in {where} (mode 0600):\n  {token}", file=sys.stderr)
        else:
            print(f"localforge mcp: bearer token in {where}", file=sys.stderr)
    else:
        print("localforge mcp: --no-auth: no token required (loopback only)", file=sys.stderr)
    log_to_stderr()
    config = uvicorn.Config(app(build(folders), host, port, token), host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def main():
        async with anyio.create_task_group() as tg:
            tg.start_soon(server.serve)
            while not server.started:
                if server.should_exit:
                    return
                await anyio.sleep(0.05)
            bound = server.servers[0].sockets[0].getsockname()
            shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
            print(f"localforge mcp: serving http://{shown}:{bound[1]}/mcp", file=sys.stderr, flush=True)

    anyio.run(main)
