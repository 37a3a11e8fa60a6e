"""The runs the dashboard started, with their events fanned out to every page watching, and
what a page shows of any run (from history): its plan as a DAG, attempts, LLM calls, files.
Everything goes through `localforge.api`."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from localforge import api, errors

TERMINAL = {"completed", "failed", "cancelled", "interrupted"}
KINDS = {
    "image": {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"},
    "audio": {".wav", ".mp3", ".ogg", ".opus", ".flac", ".m4a"},
    "video": {".mp4", ".webm", ".mov", ".mkv"},
    "markdown": {".md"},
    "json": {".json"},
    "text": {".txt", ".log", ".csv", ".yaml", ".yml", ".py", ".sh", ".srt", ".vtt", ".html"},
    "model": {".glb", ".gltf", ".obj", ".stl", ".blend", ".fbx"},
}
MAX_FILES = 500


class Signal:
    """Wakes whoever waits now: each `notify()` ends the current wait, and later waits wait
    for the next one."""

    def __init__(self):
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Until the next `notify()`, or `timeout` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


class Active:
    """A run started from the dashboard: its handle, every event so far, and the pages
    waiting for the next one."""

    def __init__(self, run: api.Run, loop: asyncio.AbstractEventLoop):
        self.run, self.loop = run, loop
        self.events: list[dict] = []
        self.approvals: dict[str, dict] = {}
        self._changed = Signal()
        threading.Thread(target=self._pump, name=f"ui-events-{run.id}", daemon=True).start()

    def _pump(self) -> None:
        for event in self.run.events():
            self.loop.call_soon_threadsafe(self._add, event)
        self.loop.call_soon_threadsafe(self._add, None)

    def _add(self, event: Optional[dict]) -> None:
        if event is not None:
            self.events.append(event)
            if event.get("type") == "approval_requested":
                self.approvals[event["step"]] = event
        self._changed.notify()

    async def wait_past(self, n: int, timeout: float) -> None:
        if len(self.events) <= n and not self.finished:
            await self._changed.wait(timeout)

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].get("type") == "run_finished"

    def waiting(self) -> list[dict]:
        waiting = set(self.run.waiting_approvals())
        return [e for step, e in self.approvals.items() if step in waiting]


class Changes:
    """Whether the history changed, for every open page at once: one task asks the engine
    (`api.history_version`) twice a second while any page listens, and wakes them all
    when it moved. Pages then reload what they show; nothing polls per page."""

    POLL = 0.5

    def __init__(self):
        self.version = 0
        self._changed = Signal()
        self._task: Optional[asyncio.Task] = None

    def start(self, closing: asyncio.Event) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch(closing))

    async def _watch(self, closing: asyncio.Event) -> None:
        last = None
        while not closing.is_set():
            try:
                now = await asyncio.to_thread(api.history_version)
            except errors.LocalForgeError:
                now = last
            if last is not None and now != last:
                self.version += 1
                self._changed.notify()
            last = now
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(closing.wait(), self.POLL)
        self._changed.notify()

    async def wait_past(self, seen: int, timeout: float) -> None:
        if self.version == seen:
            await self._changed.wait(timeout)


class Runs:
    def __init__(self):
        self.active: dict[str, Active] = {}
        self._plans: dict[str, Any] = {}

    def start(
        self,
        recipe: str,
        inputs: dict,
        loop: asyncio.AbstractEventLoop,
        cache: bool = True,
        force: bool = False,
        refresh: Sequence[str] = (),
    ) -> str:
        """Check, preflight and start (on a worker thread: preflight probes services);
        `refresh`: steps that run again, with every step after them (`run --refresh`)."""
        run = api.start(recipe, inputs, cache=cache, force=force, refresh=refresh)
        self.active[run.id] = Active(run, loop)
        return run.id

    def resume(self, run_id: str, loop: asyncio.AbstractEventLoop) -> str:
        run = api.start_resume(run_id)
        self.active[run.id] = Active(run, loop)
        return run.id

    def cancel(self, run_id: str) -> bool:
        a = self.active.get(run_id)
        if not a or a.run.done():
            return False
        a.run.cancel()
        return True

    def cancel_all(self) -> None:
        """Cancel every run started here that is still going (returns at once)."""
        for a in list(self.active.values()):
            if not a.run.done():
                a.run.cancel()

    def stop_all(self) -> None:
        """On shutdown: cancel what is still running and wait for it to stop."""
        for a in self.active.values():
            if not a.run.done():
                a.run.cancel()
        for a in self.active.values():
            a.run.wait(30)

    # --- what pages show ------------------------------------------------------------

    def plan(self, detail: dict) -> Optional[dict]:
        """The run's DAG and what each step reserves, from its recipe and inputs."""
        key = f"{detail['run_id']}:{detail.get('recipe_hash')}"
        if key not in self._plans:
            path = detail.get("recipe_path")
            try:
                p = api.plan(path, detail.get("inputs") or {}, force=True) if path and os.path.exists(path) else None
            except Exception as e:  # noqa: BLE001 - a recipe changed or gone since: show the run without its DAG
                p = {"error": str(e)}
            self._plans[key] = p
        return self._plans[key]

    def detail(self, run_id: str) -> Optional[dict]:
        d = api.history_show(run_id)
        a = self.active.get(run_id)
        # The history row of a run started a moment ago may not be written yet (the store
        # commits in groups): give it a few seconds rather than calling the run unknown.
        deadline = time.monotonic() + 5
        while d is None and a is not None and time.monotonic() < deadline:
            time.sleep(0.05)
            d = api.history_show(run_id)
        if d is None:
            return None
        # Any run that is running can be cancelled here, whichever process runs it.
        d["live"] = bool(a and not a.run.done()) or d["status"] == "running"
        d["waiting"] = (
            [{"step": e["step"], "message": e.get("message"), "options": e.get("options")} for e in a.waiting()] if a else gates(d)
        )
        d["plan"] = self.plan(d)
        d["files"] = files(d.get("run_dir"))
        return d


def gates(detail: dict) -> list[dict]:
    """The approval gates a run of another process waits at (its running `approval_gate`
    attempts), with the message and options its recipe gives them."""
    running = [a["step_id"] for a in detail.get("steps") or [] if a["status"] == "running" and a.get("tool") == "approval_gate"]
    if not running or detail.get("status") != "running":
        return []
    path = detail.get("recipe_path")
    doc = (api.recipe_document(path) if path and os.path.exists(path) else None) or {}
    steps = {s.get("id"): s for s in doc.get("steps") or [] if isinstance(s, dict)}
    return [{"step": sid, "message": steps.get(sid, {}).get("message"), "options": steps.get(sid, {}).get("options")} for sid in running]


def files(run_dir: Optional[str]) -> list[dict]:
    """The files a run made (its temp folder left out), each with its kind for the gallery."""
    if not run_dir or not os.path.isdir(run_dir):
        return []
    root = Path(run_dir)
    out = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == "temp" or not path.is_file() or path.is_symlink():
            continue
        stat = path.stat()
        if stat.st_nlink > 1:  # not served (`inside`), so not listed
            continue
        ext = path.suffix.lower()
        kind = next((k for k, exts in KINDS.items() if ext in exts), "other")
        out.append(
            {
                "path": rel.as_posix(),
                "kind": kind,
                "bytes": stat.st_size,
                "mime": mimetypes.guess_type(path.name)[0],
                "mtime": stat.st_mtime,
            }
        )
        if len(out) >= MAX_FILES:
            break
    return out


class Refused(errors.Refused):
    """A file the dashboard does not serve, with the HTTP status (`status`) that says why."""


def inside(run_dir: str, rel: str) -> Path:
    """`run_dir/rel` when it is a plain file inside the run folder (no `..`, no link out,
    no second name). A hard link would serve whatever file it shares its content with
    (another user's readable file, a key in the home folder), wherever that lives on the
    same file system: a file with more than one name is refused (a run's own copies are
    plain files; the step cache restores by copying). Raises `Refused`."""
    if "\x00" in rel:
        raise Refused("a file path may not contain a NUL byte", status=400)
    if not rel or rel.startswith("/") or "\\" in rel or any(p in ("..", "") for p in rel.split("/")):
        raise Refused("no such file in the run's folder", status=404)
    root = Path(run_dir).resolve()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        raise Refused("no such file in the run's folder", status=404)
    if path.stat().st_nlink > 1:
        raise Refused(f"`{rel}` has other names (hard links) and is not served", status=403)
    return path


def run_ended(run_id: str) -> bool:
    """Whether run `run_id` is over (or unknown): its history row says so."""
    status = api.run_status(run_id)
    return status is None or status in TERMINAL
