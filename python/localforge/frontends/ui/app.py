"""The dashboard's ASGI app (Starlette): the page, its JSON API, server-sent events of runs,
and the runs' files. Reads are GETs; start, cancel, resume and approve are POSTs that
`security.Guard` lets through only with the token and the CSRF token."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from localforge import api, errors
from localforge.frontends.mcp_server.recipes import Catalog
from localforge.frontends.mcp_server.recipes import Refused as NotAllowed
from localforge.frontends.ui.runs import TERMINAL, Changes, Refused, Runs, inside, run_ended
from localforge.frontends.ui.security import Guard

STATIC = Path(__file__).resolve().parent / "static"

# The page loads its script, style sheet, the runs' images and media and its API from this
# origin only: no inline script or style (the markup carries none; a gauge is an SVG rect),
# no other origin, no frame around it, no <base> or form posting elsewhere. `data:` is for
# the empty favicon.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
            "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip
# `X-Frame-Options` and `nosniff` go on every response, this one too (`security.Guard`).
PAGE_HEADERS = {"cache-control": "no-store", "content-security-policy": PAGE_CSP, "referrer-policy": "no-referrer"}


def _problem(e: Exception, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": str(e), "errors": getattr(e, "errors", None) or []}, status_code=status)


# How often a step's log is read for new output while a page follows it.
LOG_POLL = 0.2


def log_query(request: Request) -> tuple:
    """`(run_id, step, attempt, channel, offset, limit)` of a log request; UsageError naming
    what is wrong."""
    step, q = request.path_params["step"], request.query_params
    if "\x00" in step or "/" in step:
        raise errors.UsageError("a step id may not contain `/` or a NUL byte")
    numbers = {}
    for name, default in (("attempt", None), ("offset", -65536), ("limit", 65536)):
        text = (q.get(name) or "").strip()
        if not text:
            numbers[name] = default
        elif text.lstrip("-").isdecimal() and (name == "offset" or not text.startswith("-")):
            numbers[name] = int(text)
        else:
            raise errors.UsageError(f"`{name}` must be a whole number, found `{text}`")
    channel = q.get("channel") or "stdout"
    if channel not in ("stdout", "stderr"):
        raise errors.UsageError(f"`channel` is `stdout` or `stderr`, not `{channel}`")
    limit = min(max(numbers["limit"], 1), 1 << 20)
    return request.path_params["run_id"], step, numbers["attempt"], channel, numbers["offset"], limit


def create_app(token: str, allow_remote: bool = False, recipe_folders: Optional[list] = None) -> Guard:
    """The app. It starts only recipes in the recipe folders (built-in, ./recipes where it
    started, and `recipe_folders`), as `localforge mcp` does: the token holder names a
    recipe, not any YAML file on the machine. Raises `NotAllowed` for a folder that is not one."""
    runs = Runs()
    changes = Changes()
    catalog = Catalog(recipe_folders, front="ui")
    # Set when the server begins to stop: every event stream ends at once (`close`).
    closing = asyncio.Event()

    async def until_closing(awaitable) -> None:
        """Wait for `awaitable`, or less: until the server begins to stop."""
        work, stop = asyncio.ensure_future(awaitable), asyncio.ensure_future(closing.wait())
        await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        for f in (work, stop):
            f.cancel()

    def close() -> None:
        """The server begins to stop (Ctrl-C): the runs started here are cancelled and every
        event stream ends, so no open page holds the server up. Called on the event loop."""
        closing.set()
        runs.cancel_all()

    system_cache: dict = {}

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    async def list_runs(request: Request) -> Response:
        """A page of the runs, filtered over the whole history (`api.runs`)."""
        q = request.query_params
        text = (q.get("limit") or "50").strip()
        limit = int(text) if text.isdecimal() else 0
        if limit < 1:
            return JSONResponse({"error": f"`limit` must be a whole number from 1 to 1000, found `{q.get('limit')}`"}, status_code=400)
        offset_text = (q.get("offset") or "0").strip()
        if not offset_text.isdecimal():
            return JSONResponse({"error": f"`offset` must be a whole number, found `{q.get('offset')}`"}, status_code=400)
        filters = {k: (q.get(k) or "").strip() or None for k in ("status", "recipe", "since", "until", "text")}
        page = await asyncio.to_thread(api.runs, **filters, offset=int(offset_text), limit=min(limit, 1000))
        for r in page["runs"]:
            r["live"] = r["run_id"] in runs.active
        return JSONResponse(page)

    async def run_detail(request: Request) -> Response:
        d = await asyncio.to_thread(runs.detail, request.path_params["run_id"])
        return JSONResponse(d) if d else JSONResponse({"error": "no such run"}, status_code=404)

    async def run_events(request: Request) -> Response:
        """Server-sent events: the engine's events for a run started here; for any other
        run, a `snapshot` whenever its history row changes, until it ends."""
        run_id = request.path_params["run_id"]

        async def stream():
            a = runs.active.get(run_id)
            if a is not None:
                n = 0
                while not closing.is_set():
                    for event in a.events[n:]:
                        yield f"data: {json.dumps(event, default=str)}\n\n"
                    n = len(a.events)
                    if a.finished and n == len(a.events):
                        return
                    if await request.is_disconnected():
                        return
                    await until_closing(a.wait_past(n, 15))
                    if len(a.events) == n:
                        yield ": keep-alive\n\n"
                return
            last = None
            while not closing.is_set() and not await request.is_disconnected():
                d = await asyncio.to_thread(api.history_show, run_id)
                if d is None:
                    yield f"data: {json.dumps({'type': 'gone'})}\n\n"
                    return
                mark = (d["status"], len(d["steps"]), [s["status"] for s in d["steps"]])
                if mark != last:
                    last = mark
                    yield f"data: {json.dumps({'type': 'snapshot', 'status': d['status']})}\n\n"
                if d["status"] in TERMINAL:
                    return
                await until_closing(asyncio.sleep(1.0))

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})

    async def history_changes(request: Request) -> Response:
        """Server-sent events: `changed` whenever any run (of any process) wrote to the
        history; a page reloads what it shows then, instead of polling."""
        changes.start(closing)

        async def stream():
            seen = changes.version
            yield "retry: 2000\n\n"
            while not closing.is_set() and not await request.is_disconnected():
                await until_closing(changes.wait_past(seen, 15))
                if changes.version != seen:
                    seen = changes.version
                    yield "data: changed\n\n"
                else:
                    yield ": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})

    async def run_file(request: Request) -> Response:
        d = await asyncio.to_thread(api.history_show, request.path_params["run_id"])
        if not d or not d.get("run_dir"):
            return JSONResponse({"error": "no such run"}, status_code=404)
        try:
            path = inside(d["run_dir"], request.path_params["path"])
        except Refused as e:
            return JSONResponse({"error": str(e)}, status_code=e.status)
        # What a run made is not trusted: an SVG or HTML an LLM wrote must not run script on
        # the dashboard's origin. Served sandboxed (no script, no same origin), never sniffed
        # (`security.Guard` says so on every response), and markup types only as downloads.
        risky = path.suffix.lower() in {".html", ".htm", ".xhtml", ".xml", ".svg", ".svgz", ".js", ".mjs"}
        download = request.query_params.get("download") == "1" or (risky and path.suffix.lower() != ".svg")
        headers = {"content-security-policy": "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'",
                   "cache-control": "no-store"}  # fmt: skip
        return FileResponse(
            path, filename=path.name if download else None, content_disposition_type="attachment" if download else "inline", headers=headers
        )

    async def system(request: Request) -> Response:
        if not system_cache or time.monotonic() - system_cache["at"] > 10 or request.query_params.get("fresh"):
            system_cache.update(at=time.monotonic(), report=await asyncio.to_thread(api.system))
        return JSONResponse(system_cache["report"])

    async def recipes(request: Request) -> Response:
        def read():
            out = []
            for r in catalog.all():
                group = r.key.rpartition("/")[0]
                out.append({"name": r.name, "description": r.info.get("description") or "", "group": group, "path": str(r.path),
                            "source": r.source, "inputs": r.info.get("inputs") or [], "steps": r.info.get("steps")})  # fmt: skip
            return out

        return JSONResponse({"recipes": await asyncio.to_thread(read)})

    async def body(request: Request) -> dict:
        try:
            doc = await request.json()
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            raise errors.UsageError("the body must be a JSON object")
        return doc

    async def start(request: Request) -> Response:
        try:
            doc = await body(request)
            recipe = doc.get("recipe")
            if not isinstance(recipe, str) or not recipe:
                raise errors.UsageError("`recipe` (a path or a recipe's name) is required")
            inputs = doc.get("inputs") or {}
            if not isinstance(inputs, dict):
                raise errors.UsageError("`inputs` must be an object")
            try:
                path = str((await asyncio.to_thread(catalog.find, recipe)).path)
            except NotAllowed as e:
                return _problem(e, 403)
            refresh = doc.get("refresh") or []
            if not isinstance(refresh, list) or not all(isinstance(r, str) for r in refresh):
                raise errors.UsageError("`refresh` must be a list of step ids")
            options = {"cache": doc.get("cache", True) is not False, "force": doc.get("force") is True, "refresh": refresh}
            run_id = await asyncio.to_thread(runs.start, path, inputs, asyncio.get_running_loop(), **options)
        except (ValueError, errors.UsageError, errors.RecipeError) as e:
            return _problem(e)
        except errors.LocalForgeError as e:
            return _problem(e, 500)
        return JSONResponse({"run_id": run_id}, status_code=201)

    async def cancel(request: Request) -> Response:
        """Stop a run, whichever process on this machine runs it (`api.cancel`)."""
        run_id = request.path_params["run_id"]
        if runs.cancel(run_id):
            return JSONResponse({"run_id": run_id, "cancelling": True})
        try:
            await asyncio.to_thread(api.cancel, run_id)
        except errors.RecipeError as e:
            return _problem(e, 404 if str(e).startswith("no run") else 409)
        return JSONResponse({"run_id": run_id, "cancelling": True})

    async def resume(request: Request) -> Response:
        try:
            run_id = await asyncio.to_thread(runs.resume, request.path_params["run_id"], asyncio.get_running_loop())
        except errors.RecipeError as e:
            return _problem(e, 409)
        except errors.LocalForgeError as e:
            return _problem(e, 500)
        return JSONResponse({"run_id": run_id})

    async def approve(request: Request) -> Response:
        """Answer a run's approval gate: directly for a run started here (the option chosen
        comes back), through the history for a run of another process (`api.answer`)."""
        run_id = request.path_params["run_id"]
        a = runs.active.get(run_id)
        try:
            doc = await body(request)
            step, answer = str(doc.get("step")), doc.get("answer", True)
            if a is None:
                await asyncio.to_thread(api.answer, run_id, step, answer)
                return JSONResponse({"run_id": run_id, "step": step, "sent": answer}, status_code=202)
            chosen = a.run.approve(step, answer)
        except errors.RecipeError as e:
            return _problem(e, 404 if str(e).startswith("no run") else 409)
        except LookupError as e:
            return _problem(e, 409)
        except (ValueError, errors.UsageError) as e:
            return _problem(e, 400)
        return JSONResponse({"run_id": run_id, "step": step, "chosen": chosen})

    async def step_log(request: Request) -> Response:
        """A piece of a step's output (`api.step_log`: per attempt, from any byte, the
        tail by default), or with `q` the lines holding it (`api.search_step_log`)."""
        try:
            where = log_query(request)
        except errors.UsageError as e:
            return _problem(e)
        run_id, step, attempt, channel, offset, limit = where
        # Off the event loop: other pages are answered while a log is read or searched.
        if request.query_params.get("q"):
            hits = await asyncio.to_thread(api.search_step_log, run_id, step, request.query_params["q"], attempt=attempt, channel=channel)
            return (
                JSONResponse({"hits": hits})
                if hits is not None
                else JSONResponse({"error": "no such run, step or attempt"}, status_code=404)
            )
        piece = await asyncio.to_thread(api.step_log, run_id, step, attempt=attempt, channel=channel, offset=offset, limit=limit)
        if piece is None:
            return JSONResponse({"error": "no such run, step or attempt"}, status_code=404)
        return JSONResponse(piece)

    async def step_log_stream(request: Request) -> Response:
        """Server-sent events of a step's output as it is written: each new piece as
        `{text, start, end, size, attempt, status}` within a fifth of a second; a retry's new
        attempt as `{type: "attempt"}` (its output follows from its first byte); `{type:
        "end"}` once the attempt has ended and all of it was sent."""
        try:
            run_id, step, attempt, channel, offset, _ = log_query(request)
        except errors.UsageError as e:
            return _problem(e)

        async def stream():
            pos, current = max(offset, 0), attempt
            while not closing.is_set() and not await request.is_disconnected():
                piece = await asyncio.to_thread(api.step_log, run_id, step, attempt=attempt, channel=channel, offset=pos, limit=65536)
                if piece is not None and piece["attempt"] != current:
                    # The first read names the attempt; a later change is a retry that
                    # began: its output from its first byte.
                    if current is not None:
                        yield f"data: {json.dumps({'type': 'attempt', 'attempt': piece['attempt']})}\n\n"
                        pos = 0
                    current = piece["attempt"]
                    continue
                if piece is not None and piece["text"]:
                    pos = piece["end"]
                    yield f"data: {json.dumps(piece)}\n\n"
                    continue
                # Nothing new. Done when the attempt followed has ended, or (following the
                # newest) when the run has: until then a step may start, or a retry begin.
                ended = piece is not None and piece["status"] != "running" and attempt is not None
                if ended or (piece is None or piece["status"] != "running") and await asyncio.to_thread(run_ended, run_id):
                    yield f"data: {json.dumps({'type': 'end', 'status': piece and piece['status'], 'attempt': current})}\n\n"
                    return
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(closing.wait(), LOG_POLL)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"cache-control": "no-store"})

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.to_thread(runs.stop_all)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/runs", list_runs),
            Route("/api/runs", start, methods=["POST"]),
            Route("/api/changes", history_changes),
            Route("/api/runs/{run_id}", run_detail),
            Route("/api/runs/{run_id}/events", run_events),
            Route("/api/runs/{run_id}/log/{step}", step_log),
            Route("/api/runs/{run_id}/log/{step}/stream", step_log_stream),
            Route("/api/runs/{run_id}/cancel", cancel, methods=["POST"]),
            Route("/api/runs/{run_id}/resume", resume, methods=["POST"]),
            Route("/api/runs/{run_id}/approve", approve, methods=["POST"]),
            Route("/api/system", system),
            Route("/api/recipes", recipes),
            Route("/files/{run_id}/{path:path}", run_file),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.runs = runs
    app.state.close = close
    return Guard(app, token, allow_remote=allow_remote)
