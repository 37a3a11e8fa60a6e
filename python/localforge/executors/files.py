"""Files a step reads and writes, carried between the run's driver and the node that runs it.

The driver finds the paths a step's inputs name — a whole input that is a path
(absolute, or relative to the driver's folder), and absolute paths inside longer text
(a script's command line) that lie in the run's folders or the driver's folder — and
packs the files there. The worker writes them under a scratch folder at the same path
(`/run/x.png` becomes `SCRATCH/run/x.png`), rewrites those paths in the inputs, and runs
the step there. Files the step made or changed under the scratch folder come back and
are written at their own path on the driver; paths in the outputs are rewritten back.
So a step sees the same files at paths of the same shape, and its outputs and the run
folder end up as a local run leaves them.

With `shared_dir` (the run folder is on storage every node mounts at the same path)
nothing is carried and no path is rewritten.

Pure Python, no Ray: tested on its own (tests/test_executor_files.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MB = 1024 * 1024

# An absolute path inside longer text: starts at `/` after a space, quote, `=` or the start.
_EMBEDDED = re.compile(r"(?:(?<=^)|(?<=[\s'\"=:(]))(/[^\s'\"`;|&<>()]+)")


class TooLarge(Exception):
    """A file over the size that travels through the object store."""


def strings(value: Any) -> Iterator[str]:
    """Every text in a value, however nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(value=v)
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


def named_paths(inputs: dict, cwd: str, roots: list[str]) -> set[str]:
    """The absolute paths the inputs name: whole inputs that are paths (that exist, or
    whose folder exists), and absolute paths under `roots` inside longer text."""
    found: set[str] = set()
    for text in strings(inputs):
        if not text or len(text) > 4096 or "\n" in text or "\0" in text:
            pass
        elif text.startswith("/"):
            p = os.path.normpath(text)
            if os.path.exists(p) or os.path.isdir(os.path.dirname(p)):
                found.add(p)
                continue
        elif not re.search(r"\s|://|\{\{", text) and os.path.exists(os.path.join(cwd, text)):
            found.add(os.path.normpath(os.path.join(cwd, text)))
            continue
        for m in _EMBEDDED.finditer(text):
            p = os.path.normpath(m.group(1))
            if _under(p, roots) and (os.path.exists(p) or os.path.isdir(os.path.dirname(p))):
                found.add(p)
    return found


def pack(inputs: dict, cwd: str, roots: list[str], limit_mb: float) -> dict:
    """What travels to the worker: `files` (path -> bytes) of every file the inputs name
    (a folder: the files in it), `dirs`, the folders that exist for them, and `paths`,
    the paths to rewrite there. `roots`: the run folder, its temp folder, the driver's folder."""
    roots = [r for r in roots if len(r) > 1]
    named = named_paths(inputs, cwd, roots)
    files: dict[str, bytes] = {}
    dirs: set[str] = set(r for r in roots if os.path.isdir(r))
    total = 0

    def add(path: str) -> None:
        nonlocal total
        size = os.path.getsize(path)
        if size > limit_mb * MB:
            raise TooLarge(
                f"{path} is {size / MB:.1f} MB, over executor.inline_mb ({limit_mb:g} MB) that travels with a step: "
                "put the run folder on storage every node mounts and set `executor.shared_dir: true`, or raise `executor.inline_mb`"
            )
        total += size
        files[path] = Path(path).read_bytes()

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
                    if os.path.isfile(f):
                        add(f)
        else:
            dirs.add(os.path.dirname(p))
    # The paths rewritten on the worker: those named, and the folders themselves.
    return {"files": files, "dirs": sorted(dirs), "paths": sorted(named | set(roots))}


class Scratch:
    """The worker's side: a scratch folder that mirrors the driver's paths."""

    def __init__(self, root: str, shipment: dict):
        self.root = root.rstrip("/")
        self.written: dict[str, tuple[int, int]] = {}
        for d in shipment["dirs"]:
            os.makedirs(self.local(d), exist_ok=True)
        for path, data in shipment["files"].items():
            local = self.local(path)
            os.makedirs(os.path.dirname(local), exist_ok=True)
            Path(local).write_bytes(data)
            st = os.stat(local)
            self.written[local] = (st.st_mtime_ns, st.st_size)
        paths = sorted(shipment["paths"], key=len, reverse=True)
        self._to_local = re.compile("|".join(re.escape(p) + r"(?=/|$|[^\w.-])" for p in paths)) if paths else None
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

    def changed(self, limit_mb: float) -> dict[str, bytes]:
        """Files made or changed under the scratch folder, by their driver's path."""
        out: dict[str, bytes] = {}
        for folder, _, names in os.walk(self.root):
            for n in names:
                local = os.path.join(folder, n)
                if not os.path.isfile(local) or os.path.islink(local):
                    continue
                st = os.stat(local)
                if self.written.get(local) == (st.st_mtime_ns, st.st_size):
                    continue
                if st.st_size > limit_mb * MB:
                    raise TooLarge(
                        f"the step made {local[len(self.root) :]} ({st.st_size / MB:.1f} MB), over executor.inline_mb "
                        f"({limit_mb:g} MB) that comes back from a node: put the run folder on shared storage "
                        "(`executor.shared_dir: true`) or raise `executor.inline_mb`"
                    )
                out[local[len(self.root) :]] = Path(local).read_bytes()
        return out


def land(files: dict[str, bytes]) -> None:
    """Write the files a step made on a node at their paths here."""
    for path, data in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.localforge-part"
        Path(tmp).write_bytes(data)
        os.replace(tmp, path)
