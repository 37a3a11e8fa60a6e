"""Where registries come from: `registries:` in the config (name → a git URL, a folder or an
HTTP URL), plus `community`, the registry shipped with LocalForge. A git registry is
cloned with the real `git` into ~/.localforge/registries/<name> (shallow) and read from
there, offline too; an HTTP registry's index is cached there."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from localforge._atomic import write_atomic
from localforge._paths import data_dir, private_dir
from localforge.services.tool_registry.layout import INDEX, MAX_BYTES, MAX_INDEX, RegistryError, check_name, parse_index, read_inside

STAMP = ".localforge-fetched"
GIT_TIMEOUT = 300
# One deadline for a whole HTTP fetch (connecting, the headers, every byte of the body):
# a server that trickles a byte every few seconds never trips a per-read timeout.
FETCH_DEADLINE = 60.0


def home() -> Path:
    return Path(os.path.expanduser("~/.localforge/registries"))


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return "moments"


@dataclass
class Source:
    name: str
    kind: str  # git, folder, http
    location: str
    note: str = ""

    @property
    def cache(self) -> Path:
        return home() / self.name

    def root(self) -> Path:
        return Path(self.location).expanduser() if self.kind == "folder" else self.cache

    # --- fetching -------------------------------------------------------------------

    def ensure(self, refresh: bool = False) -> None:
        """Have a local copy (git) or index (http), fetching it when missing or `refresh`;
        when the network is not there, keep the last copy and say how old it is."""
        if self.kind == "folder":
            if not self.root().is_dir():
                raise RegistryError(f"registry `{self.name}`: folder {self.location} does not exist", "fix `registries` in localforge.yaml")
            return
        have = (self.cache / ".git").is_dir() if self.kind == "git" else (self.cache / INDEX).is_file()
        if have and not refresh:
            self.note = self._age_note()
            return
        try:
            self._fetch(have)
            (self.cache / STAMP).write_text(str(time.time()))
            self.note = ""
        except RegistryError as e:
            if not have:
                raise
            self.note = f"could not refresh ({e}); using the copy fetched {self._age()} ago"

    def _age(self) -> str:
        try:
            return _age(time.time() - float((self.cache / STAMP).read_text()))
        except (OSError, ValueError):
            return "an unknown time"

    def _age_note(self) -> str:
        return f"index fetched {self._age()} ago (`localforge tools update-index` refreshes it)"

    def _fetch(self, have: bool) -> None:
        if self.kind == "git":
            git = shutil.which("git")
            if not git:
                raise RegistryError("`git` is not installed", "install git (apt install git) to use git registries")
            if have:
                self._git(git, "-C", str(self.cache), "fetch", "--depth", "1", "--quiet", "origin")
                self._git(git, "-C", str(self.cache), "reset", "--hard", "--quiet", "FETCH_HEAD")
            else:
                private_dir(self.cache.parent)
                tmp = self.cache.with_name(f".{self.name}.cloning")
                shutil.rmtree(tmp, ignore_errors=True)
                url = self.location
                if Path(url).expanduser().is_dir():
                    url = Path(url).expanduser().resolve().as_uri()  # file:// so --depth applies
                self._git(git, "clone", "--depth", "1", "--quiet", "--no-tags", url, str(tmp))
                shutil.rmtree(self.cache, ignore_errors=True)
                os.replace(tmp, self.cache)
        else:
            data = http_get(f"{self.location.rstrip('/')}/{INDEX}", MAX_INDEX + 1)
            # Checked before it replaces anything: a bad answer keeps the last good copy.
            parse_index(data, f"registry `{self.name}`")
            private_dir(self.cache)
            write_atomic(self.cache / INDEX, data, mode=0o600)

    def _git(self, *argv: str) -> None:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=GIT_TIMEOUT, env=env, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise RegistryError(f"`git {argv[1]}` of registry `{self.name}` took over {GIT_TIMEOUT} s")
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise RegistryError(f"git could not fetch registry `{self.name}` from {self.location}: {tail}")

    # --- reading --------------------------------------------------------------------

    def index(self, refresh: bool = False) -> dict:
        self.ensure(refresh)
        if self.kind == "http":
            data = read_inside(self.cache, INDEX, MAX_INDEX)
        else:
            data = read_inside(self.root(), INDEX, MAX_INDEX) if (self.root() / INDEX).exists() else b""
            if not data:
                raise RegistryError(
                    f"registry `{self.name}` has no {INDEX}", f"its maintainers rebuild it with `localforge tools index {self.root()}`"
                )
        return parse_index(data, f"registry `{self.name}`")

    def read(self, rel: str) -> bytes:
        """The bytes of one definition (at most the size limit + 1, so a larger one is seen)."""
        if self.kind == "http":
            if rel.startswith("/") or ".." in rel.split("/"):
                raise RegistryError(f"path `{rel}` leaves the registry")
            return http_get(f"{self.location.rstrip('/')}/{rel}", MAX_BYTES + 1)
        return read_inside(self.root(), rel)


def http_get(url: str, limit: int) -> bytes:
    """At most `limit` bytes of `url`, all of it within `FETCH_DEADLINE` seconds. The fetch
    runs on a daemon thread that stops reading once the deadline has passed; the caller
    stops waiting for it then, whatever stage it is at (a status line sent a byte at a time
    keeps each read short, and only a thread can be given up on)."""
    deadline = time.monotonic() + FETCH_DEADLINE
    out: dict = {}

    def fetch() -> None:
        try:
            with urllib.request.urlopen(url, timeout=min(30.0, FETCH_DEADLINE)) as r:
                chunks, got = [], 0
                while got < limit:
                    if time.monotonic() >= deadline:
                        out["late"] = True
                        return
                    chunk = r.read1(min(65536, limit - got))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    got += len(chunk)
                out["data"] = b"".join(chunks)
        except urllib.error.HTTPError as e:
            e.close()
            out["error"] = f"HTTP {e.code}"
        except (OSError, ValueError) as e:
            out["error"] = str(getattr(e, "reason", e))

    worker = threading.Thread(target=fetch, name="registry-fetch", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if "error" in out:
        raise RegistryError(f"GET {url}: {out['error']}")
    if worker.is_alive() or out.get("late") or "data" not in out:
        raise RegistryError(
            f"GET {url}: took over {FETCH_DEADLINE:g} s", "the registry's server is too slow or not answering; try again later"
        )
    return out["data"]


def _kind(spec) -> tuple[str, str]:
    if isinstance(spec, dict):
        for kind in ("git", "folder", "http"):
            if spec.get(kind):
                return kind, str(spec[kind])
        raise RegistryError(f"a registry entry needs `git`, `folder` or `http`: {spec}")
    text = str(spec)
    if text.endswith(".git") or text.startswith(("git@", "ssh://", "git://")):
        return "git", text
    if text.startswith(("http://", "https://")):
        return "http", text
    return "folder", text


def community() -> Source:
    return Source("community", "folder", str(data_dir("data") / "registry"))


def sources(config: Optional[dict] = None) -> list[Source]:
    """The configured registries, `community` first (the shipped one unless configured)."""
    if config is None:
        from localforge import api

        config = api.config()["raw"]
    configured = config.get("registries") or {}
    if not isinstance(configured, dict):
        raise RegistryError("`registries` in the config must be a mapping of name to a git URL, folder or HTTP URL")
    out = {"community": community()}
    for name, spec in configured.items():
        check_name(str(name), "registry name")
        kind, location = _kind(spec)
        out[str(name)] = Source(str(name), kind, location)
    return list(out.values())


def pick(name: Optional[str], config: Optional[dict] = None) -> list[Source]:
    all_ = sources(config)
    if name is None:
        return all_
    chosen = [s for s in all_ if s.name == name]
    if not chosen:
        raise RegistryError(f"no registry `{name}`", f"registries: {', '.join(s.name for s in all_)}", usage=True)
    return chosen
