"""Files a step reads and writes, carried between the run's driver and the node that runs it.

What travels: the paths a step's inputs name —
- a whole input that is an absolute path: a file (not a program: not executable), or a
  file to be made whose folder exists, outside the system's folders (`/usr`, `/etc`,
  `/dev`, ...); a folder only when it lies in the run's folders or the driver's folder;
- a whole input that is a relative path of something in the driver's folder;
- absolute paths inside longer text (a script's command line) in the run's folders or
  the driver's folder.
The worker writes them under a scratch folder at the same path (`/run/x.png` becomes
`SCRATCH/run/x.png`), with their permissions, rewrites those paths in the inputs, and
runs the step there. What the step made, changed or deleted under the scratch folder,
and the folders it made, are done at their own paths on the driver; paths in the outputs
are rewritten back. So a step sees the same files at paths of the same shape, and its
outputs and the run folder end up as a local run leaves them.

With `shared_dir` (the run folder is on storage every node mounts at the same path)
nothing is carried and no path is rewritten.

Pure Python, no Ray: tested on its own (tests/test_executors.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from localforge import errors
from localforge._atomic import write_atomic

MB = 1024 * 1024
# All the files of one step together may be this many times `inline_mb`.
TOTAL_FACTOR = 8
# Folders of the system, not of the user's data: paths there are programs and devices.
SYSTEM = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/nix", "/opt", "/proc", "/run", "/sbin", "/snap",
          "/sys", "/usr", "/var/lib")  # fmt: skip

# An absolute path inside longer text: starts at `/` after a space, quote, `=`, `,` or the
# start, not inside a URL or `host:/path`; ends before a space, quote or shell operator.
_EMBEDDED = re.compile(r"(?:(?<=^)|(?<=[\s'\"=(,]))(/[^\s'\"`;|&<>(),]+)")


class TooLarge(errors.TooLargeError):
    """A file (or all of a step's files) over what travels through the object store."""


def strings(value: Any) -> Iterator[str]:
    """Every text in a value, however nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from strings(v)


def rewrite(value: Any, fn) -> Any:
    """`value` with `fn` applied to every text in it."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {k: rewrite(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite(v, fn) for v in value]
    return value


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _plain_file(p: str) -> bool:
    """A regular file that is not a program."""
    try:
        st = os.stat(p)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and not st.st_mode & 0o111


def _whole(p: str, roots: list[str]) -> bool:
    """Whether a whole input that is the absolute path `p` names the step's data."""
    if _under(p, roots):
        return p not in ("/",) and (os.path.exists(p) or os.path.isdir(os.path.dirname(p)))
    if _under(p, list(SYSTEM)) or os.path.dirname(p) == "/":
        return False
    return _plain_file(p) or (not os.path.exists(p) and os.path.isdir(os.path.dirname(p)))


def named_paths(inputs: dict, cwd: str, roots: list[str]) -> set[str]:
    """The absolute paths the inputs name (see the module's docstring)."""
    found: set[str] = set()
    for text in strings(inputs):
        if not text or len(text) > 4096 or "\n" in text or "\0" in text:
            continue
        if text.startswith("/"):
            p = os.path.normpath(text)
            if _whole(p, roots):
                found.add(p)
                continue
        elif not re.search(r"\s|://|\{\{", text):
            p = os.path.normpath(os.path.join(cwd, text))
            if p != cwd and _under(p, [cwd]) and os.path.exists(p):
                found.add(p)
                continue
        for m in _EMBEDDED.finditer(text):
            p = os.path.normpath(m.group(1).rstrip("."))
            if _under(p, roots) and (os.path.exists(p) or os.path.isdir(os.path.dirname(p))):
                found.add(p)
    return found


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack(inputs: dict, cwd: str, roots: list[str], limit_mb: float) -> dict:
    """What travels to the worker: `files` (path -> bytes) of every file the inputs name
    (a folder: the files in it), their `modes`, `dirs`, the folders that exist for them,
    and `paths`, the paths to rewrite there. `roots`: the run folder, its temp folder,
    the driver's folder."""
    roots = [r for r in roots if len(r) > 1]
    named = named_paths(inputs, cwd, roots)
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    dirs: set[str] = set(r for r in roots if os.path.isdir(r))
    total = 0

    def add(path: str) -> None:
        nonlocal total
        st = os.stat(path)
        if st.st_size > limit_mb * MB:
            raise TooLarge(
                f"{path} is {st.st_size / MB:.1f} MB, over executor.inline_mb ({limit_mb:g} MB) that travels with a step: "
                "put the run folder on storage every node mounts and set `executor.shared_dir: true`, or raise `executor.inline_mb`"
            )
        total += st.st_size
        if total > TOTAL_FACTOR * limit_mb * MB:
            raise TooLarge(
                f"the step's files come to more than {TOTAL_FACTOR * limit_mb:g} MB ({TOTAL_FACTOR} × executor.inline_mb) by {path}: "
                "put the run folder on storage every node mounts and set `executor.shared_dir: true`, or name fewer files"
            )
        files[path] = Path(path).read_bytes()
        modes[path] = stat.S_IMODE(st.st_mode)

    for p in sorted(named):
        if os.path.isfile(p):
            add(p)
            dirs.add(os.path.dirname(p))
        elif os.path.isdir(p):
            dirs.add(p)
            for folder, subdirs, names in os.walk(p):
                dirs.update(os.path.join(folder, d) for d in subdirs)
                for n in names:
                    f = os.path.join(folder, n)
                    if os.path.isfile(f) and not os.path.islink(f):
                        add(f)
        else:
            dirs.add(os.path.dirname(p))
    # The paths rewritten on the worker: those named, and the folders themselves.
    return {"files": files, "modes": modes, "dirs": sorted(dirs), "paths": sorted(named | set(roots))}


class Scratch:
    """The worker's side: a scratch folder that mirrors the driver's paths."""

    def __init__(self, root: str, shipment: dict):
        self.root = root.rstrip("/")
        self.shipped: dict[str, str] = {}
        for d in shipment["dirs"]:
            os.makedirs(self.local(d), exist_ok=True)
        modes = shipment.get("modes") or {}
        for path, data in shipment["files"].items():
            local = self.local(path)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            Path(local).write_bytes(data)
            if path in modes:
                os.chmod(local, modes[path])
            self.shipped[local] = _digest(data)
        # Every folder there before the step: those it makes are the others.
        self.dirs = {folder for folder, _, _ in os.walk(self.root)}
        paths = sorted(shipment["paths"], key=len, reverse=True)
        # A driver's path, not inside a longer path, a URL or `host:/path`.
        alternatives = "|".join(re.escape(p) + r"(?=/|$|[^\w.-])" for p in paths)
        self._to_local = re.compile(r"(?<![\w.:/-])(?:" + alternatives + ")") if paths else None
        self._to_driver = re.compile(re.escape(self.root) + r"(?=/)")

    def local(self, path: str) -> str:
        """Where a driver's path is here."""
        return self.root + path

    def inward(self, value: Any) -> Any:
        """`value` with the driver's paths made local."""
        if self._to_local is None:
            return value
        return rewrite(value, lambda s: self._to_local.sub(lambda m: self.local(m.group(0)), s))

    def outward(self, value: Any) -> Any:
        """`value` with local paths made the driver's again."""
        return rewrite(value, lambda s: self._to_driver.sub("", s))

    def changed(self, limit_mb: float) -> dict:
        """What the step did under the scratch folder, by the driver's paths: `files` made
        or changed (bytes) with their `modes`, `dirs` made, and shipped files `removed`."""
        files: dict[str, bytes] = {}
        modes: dict[str, int] = {}
        dirs: list[str] = []
        seen: set[str] = set()
        for folder, subdirs, names in os.walk(self.root):
            for d in subdirs:
                local = os.path.join(folder, d)
                if local not in self.dirs and not os.path.islink(local):
                    dirs.append(local[len(self.root) :])
            for n in names:
                local = os.path.join(folder, n)
                if not os.path.isfile(local) or os.path.islink(local):
                    continue
                seen.add(local)
                size = os.path.getsize(local)
                if size > limit_mb * MB:
                    raise TooLarge(
                        f"the step made {local[len(self.root) :]} ({size / MB:.1f} MB), over executor.inline_mb "
                        f"({limit_mb:g} MB) that comes back from a node: put the run folder on shared storage "
                        "(`executor.shared_dir: true`) or raise `executor.inline_mb`"
                    )
                data = Path(local).read_bytes()
                if self.shipped.get(local) == _digest(data):
                    continue
                files[local[len(self.root) :]] = data
                modes[local[len(self.root) :]] = stat.S_IMODE(os.stat(local).st_mode)
        removed = sorted(p[len(self.root) :] for p in self.shipped if p not in seen)
        return {"files": files, "modes": modes, "dirs": sorted(dirs), "removed": removed}


def tidy(root: str, keep: set[str]) -> None:
    """Empty the scratch folder `root` for the next step, keeping the folders `keep` (local
    paths, with their parents) when they are empty: every file goes, and every other
    folder. A worker keeps its scratch folder and a run's folder tree between steps,
    because making and removing that tree for each step cost ~15 ms (ext4)."""
    keep = set(keep)
    for d in list(keep):
        while len(d) > len(root):
            d = os.path.dirname(d)
            keep.add(d)
    for folder, subdirs, names in os.walk(root, topdown=False):
        for n in names:
            os.unlink(os.path.join(folder, n))
        for d in subdirs:
            local = os.path.join(folder, d)
            if os.path.islink(local):
                os.unlink(local)
            elif local not in keep:
                os.rmdir(local)


def land(changes: dict) -> None:
    """Do here what a step did on a node (`Scratch.changed`): folders made, files written
    (each all at once, with the mode it had there), shipped files it removed."""
    for d in changes.get("dirs") or []:
        os.makedirs(d, exist_ok=True)
    modes = changes.get("modes") or {}
    for path, data in (changes.get("files") or {}).items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, data, mode=modes.get(path, 0o644))
    for path in changes.get("removed") or []:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
