"""`localforge ray-node`: start this machine as a node of a Ray cluster that runs LocalForge
steps (`run --executor ray`), advertising its free VRAM as the custom resource `vram_gb`.

It runs `ray start` with `--resources '{"vram_gb": N}'` (N: the free VRAM of this
machine's GPUs, as `localforge system` finds it) and `--num-gpus`; anything after `--`
goes to `ray start` as it is (`--node-ip-address`, `--num-cpus`, ...).
"""

import json
import shlex
import shutil
import subprocess
import sys

from localforge._project import install
from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError, print_json


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


def main(args) -> int:
    p = parser(
        "ray-node",
        "Start this machine as a Ray node for `run --executor ray`: `ray start` with this machine's free VRAM "
        "as the `vram_gb` resource. Needs Ray (the `ray` extra) and the same LocalForge version on every node.",
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--head", action="store_true", help="start a new cluster here (its first node)")
    where.add_argument("--address", metavar="HOST:PORT", help="join the cluster whose head is at HOST:PORT")
    p.add_argument("--port", type=int, default=6379, help="the head's port (with --head; default 6379)")
    p.add_argument("--vram-gb", type=float, metavar="GB", help="VRAM to advertise (default: the roomiest GPU's free VRAM now)")
    p.add_argument("--num-gpus", type=int, metavar="N", help="GPUs to advertise (default: the NVIDIA GPUs found)")
    p.add_argument("--dry-run", action="store_true", help="print the `ray start` command instead of running it")
    p.add_argument("--json", action="store_true", help="with --dry-run: the command as a JSON list")
    p.add_argument("ray_args", nargs="*", metavar="-- RAY_START_ARGS", help="passed to `ray start` as they are")
    ns = p.parse_args(args)
    if ns.vram_gb is not None and ns.vram_gb < 0:
        raise UsageError(f"--vram-gb must be 0 or more, got {ns.vram_gb:g}")
    from localforge import api

    argv = command(ns, api.system()["hardware"])
    if ns.dry_run:
        if ns.json:
            print_json(argv)
        else:
            print(shlex.join(argv))
        return EXIT_OK
    ray = shutil.which("ray") or _beside_python("ray")
    if ray is None:
        raise UsageError("`ray` is not installed", hint=f"install it with `{install('ray')}`")
    print(f"starting: {shlex.join(argv)}", file=sys.stderr)
    return subprocess.call([ray, *argv[1:]])


def _beside_python(name):
    from pathlib import Path

    p = Path(sys.executable).with_name(name)
    return str(p) if p.exists() else None
