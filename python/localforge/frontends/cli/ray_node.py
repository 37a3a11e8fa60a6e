"""`localforge ray-node`: start this machine as a node of a Ray cluster that runs LocalForge
steps (`run --executor ray`), advertising its free VRAM as the custom resource `vram_gb`;
or stop the nodes it started here (`--stop`).

It runs `ray start` with `--resources '{"vram_gb": N}'` (N: the free VRAM of this
machine's GPUs, as `localforge system` finds it) and `--num-gpus`, with Ray's token
authentication on (`RAY_AUTH_MODE=token`, the token in ~/.localforge/ray/auth_token,
made by the first `--head`); anything after `--` goes to `ray start` as it is
(`--node-ip-address`, `--num-cpus`, ...).
"""

import json
import os
import shlex
import shutil
import sys

from localforge._project import install
from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError, print_json, warning


def command(ns, hardware: dict) -> list:
    """The `ray start` command line for this machine."""
    gpus = [g for g in hardware.get("gpus") or [] if not g.get("unified")]
    # The roomiest card's free VRAM: a step's memory is on one card, so a sum over cards
    # would place a 40 GB step on two 24 GB cards. `--vram-gb` says otherwise.
    vram = ns.vram_gb if ns.vram_gb is not None else round(max((g["vram_free_gb"] for g in gpus), default=0.0), 2)
    num_gpus = ns.num_gpus if ns.num_gpus is not None else len(gpus)
    argv = ["ray", "start"]
    if ns.head:
        argv += ["--head", "--port", str(ns.port)]
    else:
        argv += ["--address", ns.address]
    argv += ["--num-gpus", str(num_gpus), "--resources", json.dumps({"vram_gb": vram}, separators=(",", ":"))]
    return argv + list(ns.ray_args)


def authentication(ns) -> tuple[dict, str]:
    """The variables that turn Ray's token authentication on for `ray start`, and where
    the token is (for the user); `{RAY_AUTH_MODE: disabled}` with `--insecure`."""
    from localforge.executors import ray_auth

    if ns.insecure:
        return {ray_auth.MODE: "disabled"}, ""
    chosen = os.environ.get(ray_auth.MODE, "")
    if chosen and chosen.lower() != "token":
        raise UsageError(
            f"{ray_auth.MODE}={chosen} would start a Ray node that anyone who can reach it can run code on",
            hint=f"unset {ray_auth.MODE} (LocalForge turns token authentication on), or give --insecure to do it anyway",
        )
    try:
        hit = ray_auth.found()
        if hit is None and ns.head and not ns.dry_run:
            ray_auth.make()
            hit = ray_auth.found()
    except ray_auth.TokenProblem as e:
        fix = "fix it, or remove the file to have a new token made" if ns.head else f"fix it: {ray_auth.CARRY}"
        raise UsageError(str(e), hint=fix) from None
    if hit is None:
        if ns.head:  # --dry-run: the token is made when the node starts
            return {ray_auth.MODE: "token", ray_auth.TOKEN_PATH: str(ray_auth.token_file())}, str(ray_auth.token_file())
        raise UsageError(
            "this machine has no token for the Ray cluster (LocalForge's nodes use Ray's token authentication)",
            hint=f"{ray_auth.CARRY}; or give --insecure to join a cluster started with --insecure",
        )
    return hit


def main(args) -> int:
    p = parser(
        "ray-node",
        "Start this machine as a Ray node for `run --executor ray`: `ray start` with this machine's free VRAM "
        "as the `vram_gb` resource and Ray's token authentication on; or stop the nodes started here (--stop). "
        "Needs Ray (the `ray` extra) and the same LocalForge version on every node.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--head", action="store_true", help="start a new cluster here (its first node)")
    where.add_argument("--address", metavar="HOST:PORT", help="join the cluster whose head is at HOST:PORT")
    where.add_argument("--stop", action="store_true", help="stop the Ray nodes `ray-node` started on this machine, and no other Ray")
    p.add_argument("--port", type=int, default=6379, help="the head's port (with --head; default 6379)")
    p.add_argument("--vram-gb", type=float, metavar="GB", help="VRAM to advertise (default: the roomiest GPU's free VRAM now)")
    p.add_argument("--num-gpus", type=int, metavar="N", help="GPUs to advertise (default: the NVIDIA GPUs found)")
    p.add_argument(
        "--insecure",
        action="store_true",
        help="without Ray's token authentication: anyone who can reach the node's ports can run code on it",
    )
    p.add_argument("--dry-run", action="store_true", help="print the `ray start` command instead of running it")
    p.add_argument("--json", action="store_true", help="with --dry-run or --stop: the answer as JSON")
    p.add_argument("ray_args", nargs="*", metavar="-- RAY_START_ARGS", help="passed to `ray start` as they are")
    ns = p.parse_args(args)
    if ns.stop:
        return _stop(ns)
    if ns.vram_gb is not None and ns.vram_gb < 0:
        raise UsageError(f"--vram-gb must be 0 or more, got {ns.vram_gb:g}")
    from localforge import api

    argv = command(ns, api.system()["hardware"])
    env, token_at = authentication(ns)
    if ns.dry_run:
        if ns.json:
            print_json({"argv": argv, "env": env})
        else:
            print(shlex.join([f"{k}={v}" for k, v in env.items()] + argv))
        return EXIT_OK
    ray = shutil.which("ray") or _beside_python("ray")
    if ray is None:
        raise UsageError("`ray` is not installed", hint=f"install it with `{install('ray')}`")
    if not ns.insecure:
        _has_token_authentication()
    else:
        warning(
            "starting a Ray node without token authentication: anyone who can reach its ports can run code on this machine",
            hint="use it only on a network you trust, behind a firewall",
        )
    print(f"starting: {shlex.join(argv)}", file=sys.stderr)
    from localforge.executors import ray_nodes

    code = ray_nodes.start([ray, *argv[1:]], {**os.environ, **env})
    if code == 0 and ns.head and token_at:
        print(
            f"token authentication is on; the token is in {token_at}. To add a machine, copy it there "
            f"(same path, mode 600) and run `localforge ray-node --address THIS-HOST:{ns.port}`. "
            "Stop the nodes started here with `localforge ray-node --stop`.",
            file=sys.stderr,
        )
    return code


def _stop(ns) -> int:
    from localforge.executors import ray_nodes

    stopped = ray_nodes.stop()
    if ns.json:
        print_json({"stopped": [{"session": r["session"], "argv": r["argv"], "processes": r["processes"]} for r in stopped]})
        return EXIT_OK
    if not stopped:
        print("no Ray node started by `localforge ray-node` is running here", file=sys.stderr)
    for r in stopped:
        print(f"stopped: ray {shlex.join(r['argv'])} ({r['processes']} processes)", file=sys.stderr)
    return EXIT_OK


def _has_token_authentication() -> None:
    """Ray before 2.52 ignores RAY_AUTH_MODE: its node would be open to anyone."""
    from importlib import metadata

    try:
        version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        return  # the `ray` program is not from this environment: it checks for itself
    if tuple(int(p) for p in version.split(".")[:2] if p.isdigit()) < (2, 52):
        raise UsageError(
            f"Ray {version} has no token authentication: its nodes would run code for anyone who can reach them",
            hint=f"upgrade with `{install('ray')}` (Ray 2.52 or later), or give --insecure",
        )


def _beside_python(name):
    from pathlib import Path

    p = Path(sys.executable).with_name(name)
    return str(p) if p.exists() else None
