"""The Ray nodes `localforge ray-node` started on this machine, so that `ray-node --stop`
stops those and nothing else (`ray stop` stops every Ray on the machine, another user's
cluster included).

`ray start` runs in a session of its own. Every process of the node — the GCS, the
raylet, its agents and its workers, which Ray daemonizes and puts in process groups of
their own — stays in that session, so the session id names the node exactly. Each node
is recorded in `~/.localforge/ray/nodes/<session>.json`; a record whose session no longer
holds a Ray process is stale and dropped.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

# Ray's processes by the name the kernel shows (`raylet`, `gcs_server`, `ray::IDLE`, `python`
# for its monitors): a session id reused by something else after the node died is not touched.
RAY_NAMES = ("ray", "gcs_server", "python")


def nodes_dir() -> Path:
    return Path(os.path.expanduser("~/.localforge/ray/nodes"))


def start(argv: list, env: dict) -> int:
    """Run `ray start` (`argv`, the program first) in a session of its own and record the
    node it starts; a failed start leaves no process behind. Its exit status."""
    from localforge._atomic import write_atomic
    from localforge._paths import private_dir

    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    record = private_dir(nodes_dir()) / f"{proc.pid}.json"
    # Written before waiting: with `--block`, `ray start` runs until the node stops.
    write_atomic(record, json.dumps({"session": proc.pid, "argv": argv[1:], "started": time.time()}), mode=0o600)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        code = 130
    if code != 0 or not members(proc.pid):
        _stop_session(proc.pid)
        record.unlink(missing_ok=True)
    return code


def stop(grace_s: float = 10.0) -> list[dict]:
    """Stop every node this user started here with `ray-node`: SIGTERM to each of its
    processes (the raylet then stops its workers), SIGKILL to what is left after
    `grace_s`. The records of the nodes stopped (stale ones are dropped silently)."""
    stopped = []
    for path in sorted(nodes_dir().glob("*.json")) if nodes_dir().is_dir() else []:
        try:
            rec = json.loads(path.read_text())
            session = int(rec["session"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if members(session):
            rec["processes"] = _stop_session(session, grace_s)
            stopped.append(rec)
        path.unlink(missing_ok=True)
    return stopped


def members(session: int) -> list[int]:
    """The live Ray processes of `session` owned by this user (zombies are gone already)."""
    return [pid for pid, sess, state, name in _processes() if sess == session and state != "Z" and name.startswith(RAY_NAMES)]


def _processes():
    """(pid, session, state, name) of this user's processes: from /proc, or `ps` where
    there is none (macOS)."""
    uid = os.getuid()
    if not os.path.isdir("/proc/self"):
        out = subprocess.run(["ps", "-U", str(uid), "-o", "pid=,sess=,stat=,comm="], capture_output=True, text=True).stdout
        for line in out.splitlines():
            pid, sess, state, name = (line.split(None, 3) + ["", "", "", ""])[:4]
            if pid.isdigit() and sess.isdigit():
                yield int(pid), int(sess), state[:1], os.path.basename(name)
        return
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            owner = d.stat().st_uid
        except OSError:
            continue
        if owner != uid:
            continue
        # After the name (in parentheses): state ppid pgrp session ...
        rest = stat[stat.rindex(")") + 2 :].split()
        yield int(d.name), int(rest[3]), rest[0], stat[stat.index("(") + 1 : stat.rindex(")")]


def _stop_session(session: int, grace_s: float = 10.0) -> int:
    """Stop the processes of `session`; how many there were."""
    pids = members(session)
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for pid in members(session):
            _kill(pid, sig)
        deadline = time.monotonic() + wait
        while members(session) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not members(session):
            break
    return len(pids)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):  # gone already; or not ours to signal
        pass
