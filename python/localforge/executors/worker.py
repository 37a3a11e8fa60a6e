"""The Ray task that runs one step's tool call on a node of the cluster.

A generator: it first says where it runs (so a step whose worker dies is retried
elsewhere), then runs the call and gives its result — the dict the engine's
`CallDone` takes, plus what the step did to files (`files.Scratch.changed`).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile

import localforge
from localforge.executors import files


def run_call(payload: dict):
    import ray

    yield {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "pid": os.getpid()}
    yield _run(payload)


def _run(payload: dict) -> dict:
    if payload["version"] != localforge.__version__:
        return {
            "error": f"this Ray node has LocalForge {localforge.__version__} and the run's driver {payload['version']}: "
            f"install the same version on every node (`pip install localforge=={payload['version']}`)"
        }
    request, inputs, cwd = payload["request"], payload["inputs"], payload["cwd"]
    shipment = payload.get("shipment")
    if shipment is None:  # shared storage: the driver's paths are this node's paths
        return _call(request, inputs, cwd if os.path.isdir(cwd) else None)
    root = tempfile.mkdtemp(prefix="localforge-step-")
    try:
        scratch = files.Scratch(root, shipment)
        request = {**request, **{k: scratch.inward(request.get(k)) for k in ("run_dir", "temp_dir", "info", "steps")}}
        local_cwd = scratch.local(cwd)
        os.makedirs(local_cwd, exist_ok=True)
        result = scratch.outward(_call(request, scratch.inward(inputs), local_cwd))
        result["changes"] = scratch.changed(payload["limit_mb"])
        return result
    except files.TooLarge as e:
        return {"error": str(e)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _call(request: dict, inputs: dict, cwd: str | None) -> dict:
    from localforge import api

    before = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        return api.call_step(request, inputs)
    finally:
        os.chdir(before)
