"""`localforge ui`: the local web dashboard (runs, their DAG, timeline and files, the
machine, recipes with a form to start them)."""

import sys

from localforge._project import install
from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError


def main(args) -> int:
    p = parser("ui", "Serve the LocalForge dashboard on this machine (127.0.0.1).")
    p.add_argument("--port", type=int, default=8766, help="port (default 8766; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host (anyone with the token can start runs)")
    p.add_argument("--open", action="store_true", help="open the page in the browser")
    p.add_argument("--recipes", action="append", default=[], metavar="DIR",
                   help="a folder of recipes the page may also start (repeatable; also `ui.recipe_folders` in the configuration)")  # fmt: skip
    ns = p.parse_args(args)
    try:
        import starlette  # noqa: F401
        import uvicorn
    except ImportError as e:
        raise UsageError(f"the dashboard needs {e.name}, which is not installed", hint=install("ui"))
    from localforge.frontends.mcp_server.http import is_loopback
    from localforge.frontends.ui.app import create_app
    from localforge.frontends.ui.security import load_or_make_token

    if not is_loopback(ns.host) and not ns.allow_remote:
        raise UsageError(
            f"--host {ns.host} is not a loopback address", hint="add --allow-remote to serve other machines (over a trusted network)"
        )
    from localforge.frontends.mcp_server.recipes import Refused, configured_folders

    token = load_or_make_token()
    try:
        app = create_app(token, allow_remote=ns.allow_remote, recipe_folders=ns.recipes + configured_folders("ui"))
    except Refused as e:
        raise UsageError(str(e), hint="pass folders that exist to --recipes (or fix `ui.recipe_folders` in the configuration)")
    # An open page's event streams would hold a stopping server up: they end when it begins
    # to stop, and what is left of a connection gets 2 s.
    config = uvicorn.Config(app, host=ns.host, port=ns.port, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    loop = None

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            # Ctrl-C / SIGTERM: cancel the runs started here and end every event stream
            # first (on the event loop), then stop as uvicorn does.
            if loop is not None and not self.should_exit:
                loop.call_soon_threadsafe(app.app.state.close)
            super().handle_exit(sig, frame)

    server = Server(config)

    async def announce():
        while not server.started:
            import asyncio

            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        shown = "127.0.0.1" if is_loopback(ns.host) else ns.host
        url = f"http://{shown}:{port}/?token={token}"
        print(f"LocalForge dashboard: {url}", flush=True)
        sys.stderr.write("Ctrl-C stops it (runs started here are cancelled first).\n")
        if ns.open:
            import webbrowser

            webbrowser.open(url)

    import asyncio

    async def serve():
        nonlocal loop
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(announce())
        await server.serve()
        task.cancel()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return EXIT_OK
