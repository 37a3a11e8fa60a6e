"""A run started by an MCP call: progress notifications from the engine's
events, the step log as MCP log messages, approval gates through elicitation,
cancellation from the client exactly as Ctrl-C, and the report as a tool result
(outputs as structured content, the run's files as resource links)."""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import re
import sys
import threading
import warnings
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import quote

import anyio
import mcp.types as types

from localforge import api, errors

for _ext, _mime in {
    ".md": "text/markdown", ".yaml": "application/yaml", ".yml": "application/yaml", ".glb": "model/gltf-binary",
    ".gltf": "model/gltf+json", ".obj": "model/obj", ".stl": "model/stl", ".blend": "application/x-blender",
    ".flac": "audio/flac", ".ogg": "audio/ogg", ".wav": "audio/wav", ".webp": "image/webp", ".log": "text/plain",
}.items():  # fmt: skip
    mimetypes.add_type(_mime, _ext)

MAX_FILES = 200  # listed per result; the run's resource has them all
EMBED_IMAGE = 512 * 1024  # images and audio up to this size are also embedded, so a client can show them
EMBED_TOTAL = 4 * 1024 * 1024
LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]


def mime_type(path: Path) -> str:
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def file_uri(run_id: str, rel: str) -> str:
    return f"localforge://runs/{run_id}/files/{quote(rel)}"


def run_files(run_id: str, run_dir: str, limit: int = MAX_FILES) -> list[dict]:
    """Files the run left in its folder (newest layout first: sorted by path)."""
    root = Path(run_dir)
    if not root.is_dir():
        return []
    out = []
    for p in sorted(root.rglob("*")):
        if len(out) >= limit:
            break
        if p.is_file() and not p.is_symlink():
            st = p.stat()
            if st.st_nlink > 1:  # not served (`resources.read_file`), so not listed
                continue
            rel = p.relative_to(root).as_posix()
            out.append({"uri": file_uri(run_id, rel), "path": str(p), "mime_type": mime_type(p), "size": st.st_size})
    return out


class Live:
    """Runs this server started and that have not ended: `cancel_run` reaches them."""

    def __init__(self):
        self._runs: dict[str, api.Run] = {}
        self._lock = threading.Lock()

    def add(self, run: api.Run):
        with self._lock:
            self._runs[run.id] = run

    def drop(self, run: api.Run):
        with self._lock:
            self._runs.pop(run.id, None)

    def get(self, run_id: str) -> Optional[api.Run]:
        with self._lock:
            return self._runs.get(run_id)

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._runs)


class Settings:
    """Server-wide state a call reads: the log level the client set (handshake-era `logging/setLevel`)."""

    def __init__(self):
        self.log_level = "info"


# The engine's hints name the CLI's flags; over MCP the same choice is a tool argument.
_CLI_TO_MCP = [
    (re.compile(r"\b(run|start) with --force\b"), "call again with `force: true`"),
    (re.compile(r"\bresume with --force\b"), "call `resume_run` again with `force: true`"),
    (re.compile(r"`?--force`?"), "`force: true`"),
    (re.compile(r"(?<![\w-])`?(-y|--auto-approve)`?(?![\w-])"), "`auto_approve: true`"),
    (re.compile(r"`?--no-cache`?"), "`cache: false`"),
    (re.compile(r"`?--refresh ([\w.-]+)`?"), r"`refresh: [\1]`"),
    (re.compile(r"`(?:--input|-i) ([\w.-]+)=VALUE`"), r'`inputs: {"\1": VALUE}`'),
]


def as_arguments(text: Optional[str]) -> Optional[str]:
    """`text` with the CLI's flags said as this server's tool arguments."""
    if not text:
        return text
    for pattern, words in _CLI_TO_MCP:
        text = pattern.sub(words, text)
    return text


def problem_line(p: dict) -> str:
    where = ":".join(str(x) for x in (p.get("file"), p.get("line"), p.get("column")) if x)
    text = f"{where + ': ' if where else ''}{as_arguments(p.get('message', ''))}"
    if p.get("hint"):
        text += f" (hint: {as_arguments(p['hint'])})"
    return text


def tool_error(message: str, problems: Optional[list] = None) -> types.CallToolResult:
    """A tool error the calling model can read and correct: `message`, then each problem once,
    with where it is and what would fix it. A single problem with nothing more to say than its
    message goes on the same line (`message: problem`)."""
    problems = problems or []
    if len(problems) == 1 and not any(problems[0].get(k) for k in ("file", "line", "column", "hint")):
        text = f"{message}: {as_arguments(problems[0].get('message', ''))}"
    elif problems:
        text = "\n".join([f"{message}:"] + [f"- {problem_line(p)}" for p in problems])
    else:
        text = as_arguments(message) or ""
    return types.CallToolResult(content=[types.TextContent(text=text)], is_error=True)


def invalid(head: str, problems: list) -> types.CallToolResult:
    """Arguments that do not fit a tool's input schema: `head`, and each problem naming its input."""
    return tool_error(head, [{"message": p} for p in problems])


def engine_error(e: errors.LocalForgeError) -> types.CallToolResult:
    kind = {
        errors.InputError: "invalid input",
        errors.RecipeError: "invalid recipe",
        errors.ResourceError: "this machine cannot run it",
        errors.ConfigError: "invalid configuration",
    }.get(type(e), "error")
    problems = getattr(e, "errors", None) or []
    if problems:
        return tool_error(kind, problems)
    hint = getattr(e, "hint", None)
    return tool_error(f"{kind}: {str(e).splitlines()[0]}" + (f" (hint: {hint})" if hint else ""))


class Follower:
    """Turns one run's events into what the MCP client sees while it waits."""

    def __init__(self, ctx, run: api.Run, settings: Settings, auto_approve: bool):
        self.ctx, self.run, self.settings, self.auto_approve = ctx, run, settings, auto_approve
        self.steps: set[str] = set()
        self.finished: set[str] = set()
        self.partial: dict[str, float] = {}
        self.last = -1.0

    async def progress(self, message: str):
        total = float(len(self.steps)) if self.steps else None
        value = len(self.finished) + sum(v for k, v in self.partial.items() if k not in self.finished)
        value = max(value, self.last + 0.001)  # strictly increasing, as the spec asks
        self.last = value
        await self.ctx.session.report_progress(round(value, 3), total, message)

    async def log(self, level: str, message: str, logger: str):
        level = level if level in LOG_LEVELS else "info"
        if LOG_LEVELS.index(level) < LOG_LEVELS.index(self.settings.log_level):
            return
        with warnings.catch_warnings():
            # Logging is deprecated from the 2026-07-28 revision; every client of the handshake
            # revisions (the desktop clients today) still shows it. The SDK gates delivery per era.
            warnings.simplefilter("ignore")
            await self.ctx.session.send_log_message(level, message, logger=logger, related_request_id=self.ctx.request_id)

    async def on(self, event: dict):
        kind = event["type"]
        if kind == "run_started":
            self.steps = {s for level in event["plan"] for s in level}
            await self.progress(f"run {event['run_id']} started: {len(self.steps)} steps")
        elif kind == "step_started":
            if event["step"] in self.steps:
                self.partial.setdefault(event["step"], 0.0)
            attempt = f" (attempt {event['attempt']})" if event["attempt"] > 1 else ""
            on = f" on {' + '.join(f'GPU {g}' for g in event['gpus'])}" if event.get("gpus") else ""
            await self.progress(f"{event['step']}: {event['tool']}.{event['action']}{attempt}{on}")
        elif kind == "step_progress":
            done, total = event.get("done"), event.get("total")
            if event["step"] in self.steps and done is not None and total:
                self.partial[event["step"]] = 0.99 * min(done / total, 1.0)
            shown = f"{done}/{total}" if total else f"{done}"
            await self.progress(f"{event['step']}: {shown} {event.get('unit') or ''}".rstrip())
        elif kind == "step_finished":
            if event["step"] in self.steps and event["status"] != "failed":
                self.finished.add(event["step"])
            elif event["step"] in self.steps and event["status"] == "failed":
                self.partial[event["step"]] = 0.0  # a retry or refinement may follow
            err = f": {event['error']}" if event.get("error") else ""
            await self.progress(f"{event['step']} {event['status']} in {event['elapsed_s']:.1f} s{err}")
        elif kind == "step_log":
            await self.log(event.get("level") or "info", event["message"], f"localforge.{event['step']}")
        elif kind == "note":
            await self.log("notice", event["message"], "localforge")
        elif kind == "approval_requested":
            await self.approve(event)
        elif kind == "run_finished":
            if event["status"] == "completed":
                self.finished |= self.steps
            await self.progress(f"run {event['status']} in {event['duration_s']:.1f} s")

    async def approve(self, event: dict):
        """Ask the person through the client (elicitation) when it can; else the gate's
        default, or approval when the call passed `auto_approve`."""
        answer: Any = True if self.auto_approve else event["default"]
        session = self.ctx.session
        caps = session.client_capabilities
        if not self.auto_approve and caps is not None and caps.elicitation is not None and session.can_send_request:
            schema = {
                "type": "object",
                "properties": {"answer": {"type": "string", "title": event["step"], "enum": event["options"], "default": event["default"]}},
                "required": ["answer"],
            }
            try:
                reply = await session.elicit_form(event["message"], schema, related_request_id=self.ctx.request_id)
            except Exception as e:  # a client that fails to answer: the gate's default, said in the log
                await self.log("warning", f"approval `{event['step']}`: the client did not answer ({e}); taking `{answer}`", "localforge")
            else:
                if reply.action == "accept" and reply.content and reply.content.get("answer") in event["options"]:
                    answer = reply.content["answer"]
                elif reply.action == "decline":
                    answer = False
        try:
            self.run.approve(event["step"], answer)
        except LookupError:
            pass  # withdrawn meanwhile (the run stopped)


async def start(begin: Callable[[], api.Run]) -> api.Run:
    """`begin()` (check, preflight, start) off the event loop; a call cancelled meanwhile
    cancels the run once it exists."""
    starting = asyncio.get_running_loop().run_in_executor(None, begin)
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        starting.add_done_callback(lambda f: f.cancelled() or f.exception() or f.result().cancel())
        raise


async def follow(ctx, run: api.Run, settings: Settings, auto_approve: bool) -> dict:
    """Follow `run` to its end for the calling client; the call's cancellation cancels the
    run (processes stopped, cleanup run, history `cancelled`) before it is re-raised."""
    follower = Follower(ctx, run, settings, auto_approve)
    try:
        async for event in run.events():
            await follower.on(event)
        return await run.wait_async()
    except BaseException:
        with anyio.CancelScope(shield=True):
            run.cancel()
            await run.wait_async()
        raise


def follow_in_background(run: api.Run, live: Live, auto_approve: bool):
    """A run the caller does not wait for (`wait: false`): gates take their default (or
    approval with `auto_approve`); `get_run` and `cancel_run` reach it."""

    def watch():
        try:
            for event in run.events():
                if event["type"] == "approval_requested":
                    try:
                        run.approve(event["step"], True if auto_approve else event["default"])
                    except LookupError:
                        pass
            run.wait()
        except Exception as e:  # noqa: BLE001 — reported, never lost silently in a thread
            print(f"localforge mcp: run {run.id}: {e}", file=sys.stderr)
        finally:
            live.drop(run)

    threading.Thread(target=watch, name=f"run-{run.id}", daemon=True).start()


def result(report: dict, *, embed: bool = True) -> types.CallToolResult:
    """A finished run as a tool result: `structuredContent` (see schemas.run_schema), a text
    summary, a resource link per file, and small images/audio embedded."""
    files = run_files(report["run_id"], report["run_dir"])
    structured = {
        "run_id": report["run_id"],
        "recipe": report["recipe"],
        "status": report["status"],
        "outputs": report.get("outputs") or {},
        "error": report.get("error"),
        "run_dir": report["run_dir"],
        "duration_s": report.get("duration_s"),
        "steps": {sid: s["status"] for sid, s in (report.get("steps") or {}).items()},
        "files": files,
    }
    summary = f"{report['recipe']} {report['status']} in {report.get('duration_s') or 0:.2f} s (run {report['run_id']})"
    if report.get("error"):
        summary += f"\nerror: {report['error']}"
    summary += "\noutputs: " + json.dumps(structured["outputs"], ensure_ascii=False, default=str)
    content: list = [types.TextContent(text=summary)]
    budget = EMBED_TOTAL
    for f in files:
        name = f["uri"].split("/files/", 1)[1]
        content.append(types.ResourceLink(uri=f["uri"], name=name, mime_type=f["mime_type"], size=f["size"]))
        kind = f["mime_type"].split("/")[0]
        if embed and kind in ("image", "audio") and f["size"] <= min(EMBED_IMAGE, budget):
            data = base64.b64encode(Path(f["path"]).read_bytes()).decode()
            budget -= f["size"]
            block = types.ImageContent if kind == "image" else types.AudioContent
            content.append(block(data=data, mime_type=f["mime_type"]))
    return types.CallToolResult(content=content, structured_content=structured, is_error=report["status"] != "completed")


def started(run: api.Run, recipe: str) -> types.CallToolResult:
    """The answer to `wait: false`: the run goes on; `get_run` follows it."""
    structured = {"run_id": run.id, "recipe": recipe, "status": "running", "outputs": {}, "error": None, "duration_s": None,
                  "steps": {}, "files": []}  # fmt: skip
    text = f"{recipe}: run {run.id} started; `get_run` with this id shows how it goes, `cancel_run` stops it"
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)
