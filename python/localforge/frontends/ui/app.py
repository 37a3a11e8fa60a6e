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
from localforge.frontends.ui.runs import TERMINAL, Refused, Runs, inside, log_tails
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


def create_app(token: str, allow_remote: bool = False, recipe_folders: Optional[list] = None) -> Guard:
    """The app. It starts only recipes in the recipe folders (built-in, ./recipes where it
    started, and `recipe_folders`), as `localforge mcp` does: the token holder names a
    recipe, not any YAML file on the machine. Raises `NotAllowed` for a folder that is not one."""
    runs = Runs()
    catalog = Catalog(recipe_folders, front="ui")
    system_cache: dict = {}

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    async def list_runs(request: Request) -> Response:
        q = request.query_params
        text = (q.get("limit") or "100").strip()
        limit = int(text) if text.isdecimal() else 0
        if limit < 1:
            return JSONResponse({"error": f"`limit` must be a whole number from 1 to 1000, found `{q.get('limit')}`"}, status_code=400)
        limit = min(limit, 1000)
        rows = await asyncio.to_thread(runs.summaries, limit, q.get("status") or None, q.get("recipe") or None)
        return JSONResponse({"runs": rows})

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
                while True:
                    for event in a.events[n:]:
                        yield f"data: {json.dumps(event, default=str)}\n\n"
                    n = len(a.events)
                    if a.finished and n == len(a.events):
                        return
                    if await request.is_disconnected():
                        return
                    await a.wait_past(n, 15)
                    if len(a.events) == n:
                        yield ": keep-alive\n\n"
            last = None
            while not await request.is_disconnected():
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
                await asyncio.sleep(1.0)

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
            run_id = await asyncio.to_thread(runs.start, path, inputs, asyncio.get_running_loop(), doc.get("cache", True) is not False)
        except (ValueError, errors.UsageError, errors.RecipeError) as e:
            return _problem(e)
        except errors.LocalForgeError as e:
            return _problem(e, 500)
        return JSONResponse({"run_id": run_id}, status_code=201)

    async def cancel(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if runs.cancel(run_id):
            return JSONResponse({"run_id": run_id, "cancelling": True})
        d = await asyncio.to_thread(api.history_show, run_id)
        if d is None:
            return JSONResponse({"error": "no such run"}, status_code=404)
        if d["status"] in TERMINAL:
            return JSONResponse({"error": f"the run has already ended ({d['status']})"}, status_code=409)
        return JSONResponse({"error": "this run was started outside the dashboard; stop it where it runs (Ctrl-C)"}, status_code=409)

    async def resume(request: Request) -> Response:
        try:
            run_id = await asyncio.to_thread(runs.resume, request.path_params["run_id"], asyncio.get_running_loop())
        except errors.RecipeError as e:
            return _problem(e, 409)
        except errors.LocalForgeError as e:
            return _problem(e, 500)
        return JSONResponse({"run_id": run_id})

    async def approve(request: Request) -> Response:
        run_id = request.path_params["run_id"]
        a = runs.active.get(run_id)
        try:
            doc = await body(request)
            if a is None:
                raise errors.Refused("only runs started from this dashboard can be answered here", status=409)
            chosen = a.run.approve(str(doc.get("step")), doc.get("answer", True))
        except errors.Refused as e:
            return _problem(e, e.status)
        except (ValueError, errors.UsageError) as e:
            return _problem(e, 400)
        return JSONResponse({"run_id": run_id, "step": doc.get("step"), "chosen": chosen})

    async def step_log(request: Request) -> Response:
        d = await asyncio.to_thread(api.history_show, request.path_params["run_id"])
        if not d or not d.get("run_dir"):
            return JSONResponse({"error": "no such run"}, status_code=404)
        step = request.path_params["step"]
        if "\x00" in step or "/" in step:
            return JSONResponse({"error": "a step id may not contain `/` or a NUL byte"}, status_code=400)
        # Off the event loop: other pages are answered while the logs are read.
        out = await asyncio.to_thread(log_tails, d["run_dir"], step)
        out["events"] = [e for e in d.get("events") or [] if e.get("step_id") == step]
        return JSONResponse(out)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        await asyncio.to_thread(runs.stop_all)

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/api/runs", list_runs),
            Route("/api/runs", start, methods=["POST"]),
            Route("/api/runs/{run_id}", run_detail),
            Route("/api/runs/{run_id}/events", run_events),
            Route("/api/runs/{run_id}/log/{step}", step_log),
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
    return Guard(app, token, allow_remote=allow_remote)
