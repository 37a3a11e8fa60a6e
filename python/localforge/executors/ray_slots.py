"""Plain steps on actors kept for the run: a Ray actor (`worker.Slot`) per step running at
once, reused by the next plain step, instead of a Ray task per call.

A task costs the driver about twice an actor call (Ray's lease of a worker for it, the
streaming generator's messages), and between the tasks of a batch Ray hands leases back
and starts new workers (Python, Ray and LocalForge imported: about a second of CPU
each). An actor is started once and answers each call in one message when the step
says nothing, its reply awaited through a callback instead of a thread per call.

Only a step that holds one CPU and nothing else goes to an actor: each actor holds
`num_cpus=1` for as long as it lives, so Ray's accounting is the same as for the task
while it runs. An idle actor still holds its CPU, so it is kept only while no task of
the run waits (a step with VRAM, a GPU or memory reserved, or a retry kept away from a
node, which go as tasks) and for `IDLE_S`; then it is stopped and its CPU is free again.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, Optional

from localforge.executors import files, worker
from localforge.executors.ray_call import CANCEL_GRACE_S, load_ray, prepare, raised, stopped, told

if TYPE_CHECKING:
    from localforge.executors.ray import RayExecutor

# How long an actor with nothing to do is kept for the run's next plain step.
IDLE_S = 1.0


def plain(request: dict) -> bool:
    """Whether the step holds one CPU and nothing else (what an actor holds)."""
    r = request.get("reservation") or {}
    return r.get("cpu") == 1 and not r.get("ram_gb") and not r.get("gpu") and not r.get("vram_gb")


class _Slot:
    """One actor, and the node it runs on once it has said so."""

    def __init__(self, cls: Any) -> None:
        self.actor = cls.remote()
        self.node: Optional[str] = None
        self.idle_since = 0.0
        self.actor.where.remote().future().add_done_callback(self._placed)

    def _placed(self, fut) -> None:
        if fut.exception() is None:
            self.node = fut.result()["node"]


class Slots:
    """The run's actors: idle ones, and how many of the run's tasks are waiting or running."""

    def __init__(self) -> None:
        ray = load_ray()
        self.cls = ray.remote(num_cpus=1, max_concurrency=2, max_restarts=0, max_task_retries=0)(worker.Slot)
        self.lock = threading.Lock()
        self.idle: list[_Slot] = []
        self.tasks = 0
        self.reaper: Optional[threading.Thread] = None

    def take(self) -> _Slot:
        with self.lock:
            if self.idle:
                return self.idle.pop()
        return _Slot(self.cls)

    def give(self, slot: _Slot) -> None:
        """`slot` has finished its step: kept for the next, unless a task waits for CPUs."""
        with self.lock:
            if self.tasks:
                _retire(slot)
                return
            slot.idle_since = time.monotonic()
            self.idle.append(slot)
            if self.reaper is None:
                self.reaper = threading.Thread(target=self._reap, name="localforge-ray-slots", daemon=True)
                self.reaper.start()

    def task_started(self) -> None:
        """A task of the run is submitted: the idle actors give their CPUs back for it."""
        with self.lock:
            self.tasks += 1
            idle, self.idle = self.idle, []
        for slot in idle:
            _retire(slot)

    def task_ended(self) -> None:
        with self.lock:
            self.tasks -= 1

    def _reap(self) -> None:
        while True:
            time.sleep(IDLE_S / 2)
            with self.lock:
                now = time.monotonic()
                old = [s for s in self.idle if now - s.idle_since >= IDLE_S]
                self.idle = [s for s in self.idle if s not in old]
                if not self.idle:
                    self.reaper = None
            for slot in old:
                _retire(slot)
            if not old and self.reaper is None:
                return


def _retire(slot: _Slot) -> None:
    # Queued behind nothing (the actor is idle): it exits at once, its atexit handlers
    # (the scratch folder's removal) run.
    slot.actor.__ray_terminate__.remote()


class SlotCall:
    """One plain step's call on an actor: `start`, then `more` while the step goes on,
    each answer heard through a callback on Ray's thread; started when made."""

    def __init__(self, ex: RayExecutor, slots: Slots, request: dict, inputs: dict, done):
        self.ex, self.slots, self.request, self.done = ex, slots, request, done
        self.lock = threading.Lock()
        self.cancelled = False
        self.slot: Optional[_Slot] = None
        self.finished = threading.Event()
        try:
            _, payload = prepare(ex, request, inputs)
            if "error" in payload:
                return self._finish(payload)
            with self.lock:
                if self.cancelled:
                    return self._finish({"cancelled": True})
                self.slot = slots.take()
                self._send(self.slot.actor.start.remote(payload))
        except BaseException as e:  # anything unforeseen still answers the engine
            self._failed(e)

    def _send(self, ref) -> None:
        ref.future().add_done_callback(self._heard)

    def _heard(self, fut) -> None:
        ray = load_ray()
        slot = self.slot
        assert slot is not None
        try:
            try:
                reply = fut.result()
            except ray.exceptions.RayTaskError as e:
                self.slots.give(slot)  # its code raised; the actor is fine
                return self._finish(raised(e, slot.node))
            except ray.exceptions.RayError as e:
                if self.cancelled:
                    return self._finish({"cancelled": True})
                if "No module named 'localforge'" in str(e):  # the actor could not be made there
                    return self._finish(raised(e, slot.node))
                self.ex.died_on(self.request, slot.node)
                return self._finish(stopped(e, slot.node))
            for item in reply["events"]:
                told(self.done, item)
            if "result" not in reply:
                return self._send(slot.actor.more.remote())
            self.slots.give(slot)
            result = reply["result"]
            files.land(result.pop("changes", None) or {})
            self._finish(result)
        except BaseException as e:
            self._failed(e)

    def _failed(self, e: BaseException) -> None:
        self._finish({"error": f"the Ray executor failed: {type(e).__name__}: {e}", "detail": traceback.format_exc()})

    def _finish(self, result: dict) -> None:
        self.finished.set()
        self.done(result)

    def cancel(self) -> None:
        """Stop the call: the actor tells the step to stop (its processes are stopped); an
        actor that has not answered after `CANCEL_GRACE_S` is killed."""
        with self.lock:
            self.cancelled = True
            slot = self.slot
        if slot is None or self.finished.is_set():
            return
        ray = load_ray()
        try:
            slot.actor.stop.remote()
        except Exception:
            pass
        if not self.finished.wait(CANCEL_GRACE_S):
            try:
                ray.kill(slot.actor)
            except Exception:
                pass
            self.finished.wait(CANCEL_GRACE_S)
