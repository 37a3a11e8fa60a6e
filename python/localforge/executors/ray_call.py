"""What every call on the Ray cluster shares, by task (`ray._Call`) or on the run's actors
(`ray_slots`): Ray loaded, a call's payload packed, and what its failures and events
become for the step."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Optional

import localforge
from localforge._project import install
from localforge.executors import files, ray_auth

if TYPE_CHECKING:
    from localforge.executors.ray import RayExecutor

# Above Ray's own: a step that was asked to stop has this long before its worker is killed.
CANCEL_GRACE_S = 3.0


def load_ray():
    # Ray's own handler would print a stack dump on the SIGTERM that stops a run.
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
    if "ray" not in sys.modules:  # Ray reads its authentication mode when it loads
        ray_auth.for_driver()
    try:
        import ray
    except ImportError:
        from localforge.executors import unusable

        raise unusable(
            "`--executor ray` needs Ray, which is not installed",
            f"install it with `{install('ray')}` (on this machine and on every node)",
        ) from None
    return ray


def prepare(ex: RayExecutor, request: dict, inputs: dict) -> tuple[dict, dict]:
    """The Ray options and the worker's payload for a call, or ({}, {"error": ...}) when it
    cannot run on the cluster."""
    if str(inputs.get("detach", "")).lower() in ("true", "yes", "on", "1"):
        return {}, {
            "error": "`detach: true` starts a process that outlives its step, which a Ray node cannot keep: run this recipe locally"
        }
    opts, problem = ex.options(request)
    if problem:
        return {}, {"error": problem}
    cwd = os.getcwd()
    payload = {"version": localforge.__version__, "request": request, "inputs": inputs, "cwd": cwd, "limit_mb": ex.inline_mb}
    if not ex.shared_dir:
        roots = [request["run_dir"], request["temp_dir"], cwd]
        try:
            payload["shipment"] = files.pack(inputs, cwd, roots, ex.inline_mb)
        except files.TooLarge as e:
            return {}, {"error": str(e)}
    return opts, payload


def raised(e, node: Optional[str]) -> dict:
    """The result for a call whose code raised on the node (a RayTaskError)."""
    text = str(e)
    if "No module named 'localforge'" in text:
        return {"error": f"LocalForge is not installed on a node of the Ray cluster{_on(node)}: "
                         f"install LocalForge {localforge.__version__} there (the same wheel or checkout) and `{install('ray')}`"}  # fmt: skip
    cause = getattr(e, "cause", None)
    message = f"{type(cause).__name__}: {cause}" if cause is not None else text.strip().splitlines()[-1]
    return {"error": f"the step's task failed on the Ray cluster{_on(node)}: {message}", "detail": text}


def stopped(e, node: Optional[str]) -> dict:
    """The result for a call whose worker died under it."""
    first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return {"error": f"the Ray worker running it{_on(node)} stopped: {first}"}


def _on(node: Optional[str]) -> str:
    return f" (node {node[:12]})" if node else ""


def told(done, item: dict) -> None:
    """Hand one event a worker sent (a log line, progress, an LLM call) to the step."""
    if "log" in item:
        done.log(*item["log"])
    elif "progress" in item:
        done.progress(*item["progress"])
    elif "llm_call" in item:
        done.llm_call(item["llm_call"])
