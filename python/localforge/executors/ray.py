"""The Ray executor: each step's tool call (each `batch.foreach` item's too) runs on a node
that has what the step reserves: a plain step (one CPU, nothing else) on one of the run's
actors (`ray_slots`), any other as a Ray task of its own.

The engine keeps parsing, templates, the schedule, the step cache and the history; it
hands each call to `submit`, which runs `worker.run_call` on the cluster with the step's
reservation as Ray resources (`num_cpus`, `memory`, the custom `vram_gb` each node
advertises, `num_gpus` for a GPU step of unknown VRAM) and answers through `done`.
Ray does not retry (`max_retries=0`): the engine counts attempts as it does locally, and
a retry after a worker died goes to another node.
"""

from __future__ import annotations

import atexit
import gc
import logging
import socket
import sys
import threading
import time
import traceback
from typing import Optional

from localforge.errors import InvalidValue
from localforge.executors import files, ray_auth, worker
from localforge.executors.ray_call import CANCEL_GRACE_S, load_ray, prepare, raised, stopped, told

# How long the list of the cluster's nodes is used before it is asked for again.
NODES_FRESH_S = 1.0


class RayExecutor:
    """Runs tool calls on the Ray cluster at `address` ("auto": the one this machine is part of)."""

    def __init__(self, address: Optional[str] = None, shared_dir: bool = False, inline_mb: float = 64):
        ray = load_ray()
        self.address = address or "auto"
        self.shared_dir = shared_dir
        self.inline_mb = inline_mb
        if not ray.is_initialized():
            try:
                _reachable(self.address)
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False)
                atexit.register(_leave)
                # What is loaded by now (Ray's modules: most of this process's objects) stays:
                # the garbage collector no longer walks it on each full collection, which cost
                # the driver about a third of its CPU on a batch of short steps. Once, when
                # this process connects: a server that makes an executor per run must not
                # freeze what each run leaves behind.
                gc.freeze()
            except (ConnectionError, RuntimeError, ValueError, OSError) as e:
                from localforge.executors import unusable

                if _refused_token(e):
                    raise unusable(
                        f"the Ray cluster at `{self.address}` refused this machine's token (Ray's token authentication: "
                        "no token here, or another cluster's)",
                        ray_auth.CARRY,
                    ) from None
                raise unusable(
                    f"cannot reach a Ray cluster at `{self.address}`: {str(e).splitlines()[0] if str(e) else type(e).__name__}",
                    "start one with `localforge ray-node --head` (then `localforge ray-node --address HEAD:6379` on the other "
                    "machines), or name it: `--executor ray:HOST:6379`",
                ) from None
        self._task = ray.remote(max_retries=0, num_returns="streaming")(worker.run_call)
        from localforge.executors import ray_slots

        self._slots = ray_slots.Slots()
        self._lock = threading.Lock()
        # Steps whose worker died, by (run, step): the node to keep their retry away from.
        self._avoid: dict[tuple[str, str], str] = {}
        self._known: Optional[tuple[float, list[dict]]] = None

    # -- what the engine asks -------------------------------------------------------------

    def capacity(self) -> dict:
        """The cluster's CPUs and VRAM, for the run's ledger (RAM is left to Ray)."""
        res = load_ray().cluster_resources()
        return {"cpu": int(res.get("CPU", 1)), "ram_gb": 0.0, "vram_gb": float(res.get("vram_gb", 0.0))}

    def submit(self, request: dict, inputs: dict, done):
        """Run the call: a plain step on one of the run's actors (`ray_slots`), any other
        as a task of its own."""
        from localforge.executors import ray_slots

        if ray_slots.plain(request) and (request.get("run_id"), request.get("step_id")) not in self._avoid:
            return ray_slots.SlotCall(self, self._slots, request, inputs, done)
        call = _Call(self, request, inputs, done)
        self._slots.task_started()
        threading.Thread(target=call.run, name=f"localforge-ray-{request.get('step_id')}", daemon=True).start()
        return call

    # -- placement ------------------------------------------------------------------------

    def _nodes(self, fresh: bool = False) -> list[dict]:
        """The live nodes, asked of the cluster at most once a second (asking costs a
        round trip to the GCS; each step's placement reads them), after a worker died,
        and when `fresh`."""
        with self._lock:
            if fresh or self._known is None or time.monotonic() - self._known[0] > NODES_FRESH_S:
                self._known = (time.monotonic(), [n for n in load_ray().nodes() if n.get("Alive")])
            return self._known[1]

    def options(self, request: dict) -> tuple[dict, Optional[str]]:
        """Ray options for the step's reservation, or why no node can ever run it (asked
        again of the cluster before saying so: a node may have joined since)."""
        opts, problem = self._options(request, self._nodes())
        if problem:
            opts, problem = self._options(request, self._nodes(fresh=True))
        return opts, problem

    def _options(self, request: dict, nodes: list[dict]) -> tuple[dict, Optional[str]]:
        r = request.get("reservation") or {}
        most = lambda key: max((n.get("Resources", {}).get(key, 0.0) for n in nodes), default=0.0)  # noqa: E731
        opts: dict = {"num_cpus": min(max(int(r.get("cpu") or 0), 0), int(most("CPU")) or 1)}
        vram = r.get("vram_gb") or 0.0
        step = request.get("step_id")
        # A GPU the step's `resources` ask for is a need: on a cluster with none it is
        # refused, as on a machine with none (a tool's own estimate is not: it runs where it can).
        if r.get("declared_gpu") and most("GPU") < 1 and most("vram_gb") <= 0:
            return opts, (
                f"step `{step}` declares a GPU in its `resources`, and no node of the Ray cluster has one (no `GPU` or `vram_gb` "
                "resource): start a node on a machine with a GPU (`localforge ray-node`), or drop `gpu`/`vram_gb` from the step"
            )
        # A cluster that advertises no VRAM runs GPU steps where it can, as a machine without a GPU does.
        if vram > 0 and most("vram_gb") > 0:
            if vram > most("vram_gb") + 1e-9:
                return opts, (
                    f"step `{step}` needs {vram:g} GB of VRAM and the largest node of the Ray cluster offers {most('vram_gb'):g} "
                    "(its `vram_gb` resource): start a node with a larger GPU (`localforge ray-node`), or lower the step's `resources.vram_gb`"
                )
            opts["resources"] = {"vram_gb": vram}
        elif r.get("gpu") and most("GPU") >= 1:
            opts["num_gpus"] = 1
        if r.get("ram_gb"):
            opts["memory"] = int(r["ram_gb"] * 1024**3)
        if nodes and not any(_fits(n, opts) for n in nodes):
            want = ", ".join(f"{k} {v:g}" for k, v in _wanted(opts).items() if v)
            return (
                opts,
                f"no node of the Ray cluster has all that step `{step}` holds at once ({want}): start a node that does, or lower its `resources`",
            )
        avoid = self._avoid.get((request.get("run_id"), step))
        if avoid:
            other = next((n for n in nodes if n["NodeID"] != avoid and _fits(n, opts)), None)
            if other is not None:
                from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

                opts["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node_id=other["NodeID"], soft=True)
        return opts, None

    def died_on(self, request: dict, node: Optional[str]) -> None:
        with self._lock:
            self._known = None
            if node:
                self._avoid[(request.get("run_id"), request.get("step_id"))] = node


def _leave() -> None:
    """At this process's exit, before Ray's own handler (registered earlier, so run
    later): leave the cluster. Ray's handler first sleeps half a second so that lines the
    workers print reach this terminal; the executor has them not sent here
    (`log_to_driver=False`), so that wait bought nothing and every `run --executor ray`
    paid it."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail at once when nothing listens at HOST:PORT (Ray itself would retry for minutes)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise InvalidValue(f"`{address}` is not HOST:PORT")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
        pass


def _refused_token(e: BaseException) -> bool:
    """Whether Ray gave up connecting because the cluster refused the token (its
    AuthenticationError, somewhere in the chain of causes)."""
    seen: Optional[BaseException] = e
    while seen is not None:
        if type(seen).__name__ == "AuthenticationError" or "InvalidAuthToken" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _wanted(opts: dict) -> dict:
    return {"CPU": opts.get("num_cpus", 0), "GPU": opts.get("num_gpus", 0), "memory": opts.get("memory", 0), **opts.get("resources", {})}


def _fits(node: dict, opts: dict) -> bool:
    """Whether the node has, in all, what a task with `opts` asks for."""
    have = node.get("Resources", {})
    return all(have.get(k, 0.0) >= v for k, v in _wanted(opts).items() if v)


class _Call:
    """One tool call on the cluster: packed, submitted, awaited, its files landed here."""

    def __init__(self, ex: RayExecutor, request: dict, inputs: dict, done):
        self.ex, self.request, self.inputs, self.done = ex, request, inputs, done
        self.lock = threading.Lock()
        self.cancelled = False
        self.gen = None
        self.node: Optional[str] = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            result = self._run()
        except BaseException as e:  # anything unforeseen still answers the engine
            result = {"error": f"the Ray executor failed: {type(e).__name__}: {e}", "detail": traceback.format_exc()}
        finally:
            self.ex._slots.task_ended()
            self.finished.set()
        self.done(result)

    def _run(self) -> dict:
        ray = load_ray()
        opts, payload = prepare(self.ex, self.request, self.inputs)
        if "error" in payload:
            return payload
        with self.lock:
            if self.cancelled:
                return {"cancelled": True}
            self.gen = self.ex._task.options(**opts).remote(payload)
        try:
            result = None
            for ref in self.gen:  # the step's log and progress as they come, then its result
                item = ray.get(ref)
                if "where" in item:
                    self.node = item["where"]["node"]
                if "result" in item:
                    result = item["result"]
                else:
                    told(self.done, item)
            if result is None:
                return {"cancelled": True} if self.cancelled else {"error": "the Ray task ended without a result"}
        except ray.exceptions.TaskCancelledError:
            return {"cancelled": True}
        except ray.exceptions.RayTaskError as e:
            return raised(e, self.node)
        except ray.exceptions.RayError as e:
            if self.cancelled:
                return {"cancelled": True}
            self.ex.died_on(self.request, self.node)
            return stopped(e, self.node)
        files.land(result.pop("changes", None) or {})
        return result

    def cancel(self) -> None:
        """Stop the call: Ray interrupts it (the step's processes are stopped on the node);
        a worker that has not stopped after `CANCEL_GRACE_S` is killed."""
        with self.lock:
            self.cancelled = True
            gen = self.gen
        if gen is None:
            return
        ray = load_ray()
        try:
            ray.cancel(gen)
        except Exception:
            pass
        if not self.finished.wait(CANCEL_GRACE_S):
            try:
                ray.cancel(gen, force=True)
            except Exception:
                pass
            self.finished.wait(CANCEL_GRACE_S)
