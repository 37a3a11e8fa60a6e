"""Shared fixtures: every test runs the real CLI in a scratch HOME and folder,
so history databases and run folders never touch the developer's own."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"


def pytest_configure(config):
    """Started from a background job (`cmd &`, nohup), this process inherits SIGINT as
    ignored, and so would every child: a test's Ctrl-C would never reach the CLI under
    test. A handled signal is reset to its default by exec (an ignored one is not), so
    handling it here starts every child — and theirs — with SIGINT at its default."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def lf(tmp_path, monkeypatch):
    """Run `python -m localforge ...` in an isolated environment; a CLI started with
    `popen` and still running when the test ends is killed, so it cannot disturb the next."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_")}
    env.update(HOME=str(home), NO_COLOR="1", PYTHONUNBUFFERED="1")
    monkeypatch.chdir(work)

    class Runner:
        def __init__(self):
            self.home, self.work, self.env = home, work, env
            self.db = home / ".localforge" / "runs.db"
            self.runs = home / "localforge-workspace" / "runs"
            self.started = []

        def __call__(self, *args, input=None, timeout=120, check=None):
            proc = subprocess.run(
                [sys.executable, "-m", "localforge", *map(str, args)],
                cwd=work,
                env=env,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if check is not None:
                assert proc.returncode == check, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            assert "Traceback" not in proc.stderr, proc.stderr
            return proc

        def popen(self, *args):
            proc = subprocess.Popen(
                [sys.executable, "-m", "localforge", *map(str, args)],
                cwd=work,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self.started.append(proc)
            return proc

        def write(self, name, text):
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return path

    runner = Runner()
    yield runner
    for proc in runner.started:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """For the in-process Python API: a scratch HOME and working folder; LOCALFORGE_* settings from outside are dropped."""
    for k in [k for k in os.environ if k.startswith("LOCALFORGE_")]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@contextlib.contextmanager
def serve(handler):
    """A stand-in HTTP service on 127.0.0.1 answering with `handler` (a BaseHTTPRequestHandler
    class), in a thread: its URL while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def process_alive(pid: int) -> bool:
    """Running, and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return not stat.rsplit(") ", 1)[1].startswith("Z")


def wait_for_pid(path, timeout=30) -> int:
    """The process id a step writes to `path`, once it is there."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def wait_until(what: str, until, timeout: float = 30.0):
    """`until()`'s first true value, asked every 50 ms; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = until()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def running_run(db: Path):
    """The id of a run the history file `db` says is running (another process's), if any."""
    import sqlite3

    if not db.exists():
        return None
    try:
        with sqlite3.connect(db) as c:
            row = c.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchone()
    except sqlite3.OperationalError:  # the other process made the file and not yet its tables
        return None
    return row and row[0]
