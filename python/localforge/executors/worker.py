"""The Ray task that runs one step's tool call on a node of the cluster.

A generator: it first says where it runs (so a step whose worker dies is retried
elsewhere), then the step's log lines and progress as they come, then its result —
the dict the engine's `CallDone` takes, plus what the step did to files
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
    import ray

    _settle()
    yield {"where": {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}}
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    box: dict = {}

    def work():
        try:
            box["result"] = _run(payload, events.put, stop)
        except BaseException as e:  # noqa: BLE001 - handed to the task's thread below
            box["error"] = e
        finally:
            events.put(None)

    thread = threading.Thread(target=work, name="localforge-step", daemon=True)
    try:
        thread.start()
        while True:
            try:  # short waits: a cancel (KeyboardInterrupt) gets through at once
                item = events.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is None:
                break
            yield item
    finally:
        stop.set()
        thread.join()
    if "error" in box:
        raise box["error"]
    yield {"result": box["result"]}


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
    """This worker process's scratch folder, kept between its steps (emptied after each)."""
    global _ROOT
    if _ROOT is None or not os.path.isdir(_ROOT):
        _ROOT = tempfile.mkdtemp(prefix="localforge-step-")
        atexit.register(shutil.rmtree, _ROOT, True)
    return _ROOT


def _forget_scratch() -> None:
    global _ROOT
    if _ROOT is not None:
        shutil.rmtree(_ROOT, ignore_errors=True)
    _ROOT = None


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
