"""A Ray cluster of two nodes on this machine for the Ray executor's tests and benchmark:
node A advertises `vram_gb: 8`, node B `vram_gb: 24`, each started by `localforge
ray-node` (`ray start`, with Ray's token authentication, as ray-node does by default)
bound to 127.0.0.1, with a folder and a HOME of its own (so its token and its node
records are its own, and `ray-node --stop` there stops this cluster only)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`plugins`: a folder of tool plugins the nodes (and drivers using `config`) load."""

    def __init__(self, root: Path, plugins: Path, cpus: int = 2):
        self.root, self.cpus = root, cpus
        self.marks = root / "marks"
        self.marks.mkdir(parents=True)
        self.config = root / "localforge.yaml"
        self.config.write_text(f"tool_dirs: [{plugins}]\n")
        # A short folder: Ray's sockets live under it (a Unix socket path has ~107 bytes).
        self.temp = Path(tempfile.mkdtemp(prefix="lfray-", dir="/tmp"))
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        home = self.home = root / "home"
        home.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCALFORGE_", "RAY_"))}
        self.env.update(HOME=str(home), LOCALFORGE_CONFIG=str(self.config), LF_TEST_MARKS=str(self.marks),
                        PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # fmt: skip
        self.nodes: dict[str, str] = {}

    def node(self, *args: str, ray_args=()) -> None:
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus), "--disable-usage-stats", *ray_args]
        cmd = [sys.executable, "-m", "localforge", "ray-node", *args, "--", *common]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr

    def start(self, count: int = 2) -> None:
        """The head (A), and B unless `count` is 1."""
        head = ["--temp-dir", str(self.temp), "--include-dashboard", "false"]
        self.node("--head", "--port", str(self.port), "--vram-gb", "8", ray_args=head)
        # The token the head made: the second node, the drivers and `ask` use it.
        self.token = self.home / ".localforge" / "ray" / "auth_token"
        self.env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token))
        if count > 1:
            self.node("--address", self.address, "--vram-gb", "24")
        # Each node's id by the VRAM it advertises.
        nodes = {}
        for _ in range(100):
            nodes = self.ask("{n['NodeID']: n['Resources'].get('vram_gb') for n in ray.nodes() if n['Alive']}")
            if len(nodes) == count:
                self.nodes = {("A" if gb == 8 else "B"): nid for nid, gb in nodes.items()}
                return
            time.sleep(0.2)
        raise AssertionError(f"the cluster did not come up: {nodes}")

    def ask(self, expr: str):
        """The value of a Python expression about the cluster, from a driver of its own."""
        code = f"import json, sys, ray; ray.init(address=sys.argv[1], logging_level='ERROR'); print(json.dumps({expr}))"
        out = subprocess.run([sys.executable, "-c", code, self.address], env=self.env, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def idle(self) -> bool:
        """No task holds any resource on any node."""
        available, total = self.ask("[ray.available_resources(), ray.cluster_resources()]")
        keys = ("CPU", "vram_gb")
        return all(abs(available.get(k, 0) - total.get(k, 0)) < 1e-6 for k in keys)

    def stop(self) -> None:
        """Stop this cluster's nodes (`ray-node --stop` in its HOME), then anything of it
        still left (whose command line names its folder), not other Ray clusters."""
        env = {k: v for k, v in self.env.items() if not k.startswith("RAY_")}
        subprocess.run([sys.executable, "-m", "localforge", "ray-node", "--stop"], env=env, capture_output=True, timeout=60)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self._pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(1)
        shutil.rmtree(self.temp, ignore_errors=True)

    def _pids(self):
        for pid, _, cmd in processes():
            if str(self.temp).encode() in cmd or f"127.0.0.1:{self.port}".encode() in cmd:
                yield pid


def processes():
    """(pid, the text of /proc/PID/stat, the command line) of each process."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                yield int(d.name), (d / "stat").read_text(), (d / "cmdline").read_bytes()
            except OSError:
                continue


def _after_name(stat: str) -> list:
    """The fields of /proc/PID/stat after the name (in parentheses): state ppid pgrp session ..."""
    return stat[stat.rindex(")") + 2 :].split()


def session_of(pid: int) -> int:
    return int(_after_name(Path(f"/proc/{pid}/stat").read_text())[3])


def in_session(session: int) -> list:
    """The live (not zombie) processes of `session`."""
    return [pid for pid, stat, _ in processes() if (f := _after_name(stat))[0] != "Z" and int(f[3]) == session]
