"""`localforge mcp`: serve LocalForge to MCP clients (stdio, or Streamable HTTP
with --http); `localforge mcp config --client NAME` sets a client up."""

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, EXIT_USAGE, UsageError, error

EPILOG = """\
transports:
  (default)   stdio: what desktop clients launch; the protocol on stdout, logs on stderr
  --http      Streamable HTTP on http://HOST:PORT/mcp; 127.0.0.1 by default, a bearer
              token required (~/.localforge/mcp-token, made on first start, mode 0600)

set a client up:
  localforge mcp config --client claude-desktop|claude-code|cursor|codex|vscode [--write]

exit codes: 0 stopped, 2 invalid usage or the MCP SDK is not installed"""


def main(args) -> int:
    if args[:1] == ["config"]:
        return config(args[1:])
    p = parser("mcp", "Serve LocalForge's recipes and tools to MCP clients.", epilog=EPILOG)
    p.add_argument("--http", action="store_true", help="serve Streamable HTTP instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="address to bind with --http (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="port with --http (default 8765; 0 picks a free one)")
    p.add_argument("--recipes", action="append", default=[], metavar="DIR", help="also offer the recipes under DIR (repeatable)")
    p.add_argument("--token-file", help="read the bearer token from this file instead of ~/.localforge/mcp-token")
    p.add_argument("--allow-remote", action="store_true", help="allow --host to be a non-loopback address")
    p.add_argument("--no-auth", action="store_true", help="no bearer token (loopback only; for conformance tests)")
    ns = p.parse_args(args)
    if not ns.http and (ns.token_file or ns.allow_remote or ns.no_auth or ns.host != "127.0.0.1"):
        raise UsageError("--host, --token-file, --allow-remote and --no-auth are for --http", hint="add --http")
    _need_sdk()
    from localforge.frontends.mcp_server import recipes

    folders = ns.recipes + recipes.configured_folders("mcp")
    try:
        if ns.http:
            from localforge.frontends.mcp_server import http

            try:
                http.serve(folders, ns.host, ns.port, ns.token_file, ns.allow_remote, ns.no_auth)
            except http.Refused as e:
                raise UsageError(str(e))
        else:
            from localforge.frontends.mcp_server.server import serve_stdio_blocking

            serve_stdio_blocking(folders)
    except recipes.Refused as e:
        raise UsageError(str(e), hint="pass folders that exist to --recipes (or fix `mcp.recipe_folders` in the configuration)")
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def _need_sdk() -> None:
    from localforge.frontends.mcp_server import install_hint, missing_sdk

    why = missing_sdk()
    if why:
        raise UsageError(why, hint=install_hint())


def config(args) -> int:
    from localforge.frontends.mcp_server import clients

    p = parser("mcp config", "Print (or with --write, merge in) the entry that makes an MCP client launch this server.")
    p.add_argument("--client", required=True, choices=sorted(clients.CLIENTS))
    p.add_argument("--name", default="localforge", help="the server's name in the client (default localforge)")
    p.add_argument("--write", action="store_true", help="merge it into the client's config file (the old file is backed up)")
    ns = p.parse_args(args)
    client = clients.CLIENTS[ns.client]
    exe, argv = clients.command()
    note = client.note.format(cmd=" ".join([exe, *argv]), name=ns.name) if client.note else ""
    if not ns.write:
        print(f"# {client.title}: {client.path()}", flush=True)
        print(clients.snippet(client, ns.name), end="")
        if note:
            print("# " + note)
        return EXIT_OK
    why = clients.starts()
    if why:
        raise UsageError(
            f"not written: the command a client would start does not run LocalForge's MCP server: {why}",
            hint=f"install the MCP SDK into that Python (`{clients.install_command()}`), then run this again",
        )
    try:
        path, backup = clients.write(client, ns.name)
    except clients.Refused as e:
        error(f"cannot merge into {client.path()}: {e}", hint=e.hint or "")
        return EXIT_USAGE
    print(f"wrote `{ns.name}` into {path}" + (f" (the old file is {backup})" if backup else ""))
    print(f"checked: `{exe} {' '.join(argv)}` starts and answers `initialize`")
    if note:
        print(note)
    return EXIT_OK
