"""What runs one step's tool call on a node of the cluster, in two shapes:

- `run_call`, a Ray task (a generator): it first says where it runs (so a step whose
  worker dies is retried elsewhere), then the step's log lines and progress as they
  come, then its result;
- `Slot`, a Ray actor kept for a run's plain steps, answering the same in messages of
  several events (see its docstring).

The result is the dict the engine's `CallDone` takes, plus what the step did to files
(`files.Scratch.changed`).
"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Optional

import localforge
from localforge.executors import files

if TYPE_CHECKING:
    from localforge.types import CallResult


def run_call(payload: dict):
    """Where it runs (`where`: node, host, pid; so a step whose worker dies is retried
    elsewhere, however soon it dies); then `{"log": [level, message]}` and
    `{"progress": [done, total, unit]}` as the step goes; then `{"result": ...}`. The call
    runs on a thread of its own so its lines can be given as they come; when the task is
    cancelled (KeyboardInterrupt here), the call is told to stop and its processes are
    stopped before the task ends."""
    _settle()
    yield {"where": _where()}
    step = _Step()
    thread = threading.Thread(target=step.work, args=(payload,), name="localforge-step", daemon=True)
    thread.start()
    try:
        while True:
            try:  # short waits: a cancel (KeyboardInterrupt) gets through at once
                item = step.events.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                break
            yield item
    finally:
        step.stop.set()
        thread.join()
    yield {"result": step.outcome()}


def _where() -> dict:
    import ray

    return {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}


class _Step:
    """One call of `_run`, made by `work` on a thread other than the one that reads
    `events`: what the step says arrives there as it goes, then None; `stop` tells it to
    stop (its processes are stopped)."""

    def __init__(self):
        self.events: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.box: dict = {}

    def work(self, payload: dict) -> None:
        try:
            self.box["result"] = _run(payload, self.events.put, self.stop)
        except BaseException as e:  # noqa: BLE001 - raised again by `outcome`, on the reader's thread
            self.box["error"] = e
        finally:
            self.events.put(None)

    def outcome(self) -> dict:
        if "error" in self.box:
            raise self.box["error"]
        return self.box["result"]


# How long a slot gathers what a step says before it answers: lines that come together
# (and a result right after them) make one message instead of several.
GATHER_S = 0.02


class Slot:
    """A worker kept for one run's plain steps (a Ray actor the driver's `ray_slots` makes):
    one call at a time, `start` then `more` until the answer holds the result. Each answer
    is `{"events": [...], "result": ...}`, the result absent while the step goes on; the
    events are what `run_call` yields one by one. Answering at once when the step says
    something keeps its lines live; a step that says nothing costs one message. `stop`
    (on the actor's second thread) tells the running call to stop."""

    def __init__(self):
        self.step: Optional[_Step] = None
        # One thread runs the steps, one after the other: none is started per step.
        self.jobs: queue.Queue = queue.Queue()
        threading.Thread(target=self._steps, name="localforge-step", daemon=True).start()

    def _steps(self) -> None:
        while True:
            step, payload = self.jobs.get()
            step.work(payload)

    def where(self) -> dict:
        _settle()
        return _where()

    def start(self, payload: dict) -> dict:
        self.step = _Step()
        self.jobs.put((self.step, payload))
        return self.more()

    def more(self) -> dict:
        step = self.step
        assert step is not None, "`more` before `start`"
        events, deadline = [], None
        while True:
            try:
                item = step.events.get(timeout=None if deadline is None else max(deadline - time.monotonic(), 0))
            except queue.Empty:
                return {"events": events}
            if item is None:
                self.step = None
                return {"events": events, "result": step.outcome()}
            events.append(item)
            if deadline is None:
                deadline = time.monotonic() + GATHER_S

    def stop(self) -> None:
        step = self.step
        if step is not None:
            step.stop.set()


_SETTLED = False


def _settle() -> None:
    """Once per worker process, after its first call loaded LocalForge and Ray: what is
    loaded stays, so the garbage collector stops walking it (as the driver does)."""
    global _SETTLED
    if not _SETTLED:
        import gc

        gc.freeze()
        _SETTLED = True


def _run(payload: dict, emit=None, stop=None) -> dict:
    if payload["version"] != localforge.__version__:
        return {
            "error": f"this Ray node has LocalForge {localforge.__version__} and the run's driver {payload['version']}: "
            f"install LocalForge {payload['version']} on every node (the same wheel, or the same checkout's `pip install .`)"
        }
    request, inputs, cwd = payload["request"], payload["inputs"], payload["cwd"]
    shipment = payload.get("shipment")
    hear = _listeners(emit, stop)
    if shipment is None:  # shared storage: the driver's paths are this node's paths
        return _call(request, inputs, cwd if os.path.isdir(cwd) else None, hear)
    root = _scratch_root()
    folders = {root + d for d in shipment["dirs"]}
    try:
        files.tidy(root, folders)  # another run's folders go; this run's stay
        scratch = files.Scratch(root, shipment)
        request = {**request, **{k: scratch.inward(request.get(k)) for k in ("run_dir", "temp_dir", "info", "steps")}}
        local_cwd = scratch.local(cwd)
        os.makedirs(local_cwd, exist_ok=True)
        if emit is not None:  # what the step says names the driver's paths
            hear["log"] = lambda level, message: emit({"log": [level, scratch.outward(message)]})
            hear["llm_call"] = lambda call: emit({"llm_call": scratch.outward(call)})
        result = scratch.outward(_call(request, scratch.inward(inputs), local_cwd, hear))
        if result.get("cancelled") or (stop is not None and stop.is_set()):
            return result  # stopped: what it left behind is not the step's work
        result["changes"] = scratch.changed(payload["limit_mb"])
        return result
    except files.TooLarge as e:
        return {"error": str(e)}
    finally:
        try:
            files.tidy(root, folders)
        except OSError:  # the next step starts from a new folder
            _forget_scratch()


_ROOT: Optional[str] = None


def _scratch_root() -> str:
    """This worker process's scratch folder, kept between its steps (emptied after each).
    Ray ends a run's workers without their exit handlers, so the folder is locked (`flock`)
    for as long as its process lives, and a worker making its own first removes the
    folders nobody holds."""
    global _ROOT, _HOLD
    if _ROOT is None or not os.path.isdir(_ROOT):
        _forget_scratch()
        _tidy_gone()
        # Made under a hidden name and locked before it takes the name `_tidy_gone` looks
        # for: another worker tidying meanwhile never finds it unheld.
        hidden = tempfile.mkdtemp(prefix=f".localforge-step-{os.getpid()}-")
        _HOLD = _lock(hidden)
        _ROOT = os.path.join(os.path.dirname(hidden), os.path.basename(hidden)[1:])
        os.rename(hidden, _ROOT)
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


# The open descriptor holding `_ROOT`'s lock while this process lives.
_HOLD: Optional[int] = None


def _lock(path: str, wait: bool = True) -> Optional[int]:
    """An open descriptor of folder `path` holding its lock (the kernel lets it go when the
    process ends, however it ends); None when another process holds it, or where there are
    no such locks."""
    try:
        import fcntl
    except ImportError:
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        return fd
    except OSError:
        os.close(fd)
        return None


def _tidy_gone() -> None:
    """Remove the scratch folders (`localforge-step-PID-…`) whose process has ended."""
    top = tempfile.gettempdir()
    try:
        names = [n for n in os.listdir(top) if n.startswith("localforge-step-")]
    except OSError:
        return
    for name in names:
        path = os.path.join(top, name)
        if len(name.split("-")) != 4 or not os.path.isdir(path):
            continue  # an older LocalForge's, which never held its folder: left alone
        try:
            fd = _lock(path, wait=False)
        except OSError:
            continue
        if fd is not None:
            shutil.rmtree(path, ignore_errors=True)
            os.close(fd)


def _forget_scratch() -> None:
    global _ROOT, _HOLD
    if _ROOT is not None:
        shutil.rmtree(_ROOT, ignore_errors=True)
    if _HOLD is not None:
        os.close(_HOLD)
    _ROOT, _HOLD = None, None


def _listeners(emit, stop) -> dict:
    """`call_step`'s log, progress and stop, sending what it hears through `emit`."""
    if emit is None:
        return {}
    return {
        "log": lambda level, message: emit({"log": [level, message]}),
        "progress": lambda done, total, unit: emit({"progress": [done, total, unit]}),
        "llm_call": lambda call: emit({"llm_call": call}),
        "stop": stop.is_set if stop is not None else None,
    }


def call_step(
    request: Mapping[str, Any],
    inputs: Mapping[str, Any],
    *,
    log: Optional[Callable[[str, str], Any]] = None,
    progress: Optional[Callable[[Optional[int], Optional[int], str], Any]] = None,
    stop: Optional[Callable[[], bool]] = None,
    llm_call: Optional[Callable[[dict], Any]] = None,
) -> CallResult:
    """One tool call of another machine's run, here, with this machine's plugins
    (`localforge.api.call_step` says what goes in and what comes out)."""
    from localforge import _core
    from localforge.plugins import for_engine

    return _core.call_tool(dict(request), dict(inputs), plugins=for_engine, log=log, progress=progress, stop=stop, llm_call=llm_call)


def _call(request: dict, inputs: dict, cwd: str | None, hear: dict) -> dict:
    before = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        return call_step(request, inputs, **hear)
    except KeyboardInterrupt:  # told to stop: the engine stopped the step's processes
        return {"cancelled": True}
    finally:
        os.chdir(before)
