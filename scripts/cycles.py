"""No import cycles: among the Rust engine's modules and among the Python package's.

Rust: every `crate::a::b` / `super::x` path in `src/` (in `use` lines and inline) is an
edge from the file's module to the module it names. Two levels are checked: the crate's
top-level modules (`recipe` -> `plan`), and the sibling files of each folder
(`exec/attempt.rs` -> `exec/runner.rs`). A name reached through a folder's `mod.rs`
re-export counts as an edge to the sibling that defines it; `mod.rs` itself (which
declares and re-exports its children) and test modules are not nodes.

Python: every import between modules of `python/localforge`, at module level or inside a
function (a deferred import is still a loop), with `TYPE_CHECKING`-only imports left out.
A package counts as its `__init__`. The 0.x namespaces in `compat/` count under the names
they import as (`compat/engine/config.py` is `localforge.engine.config`).

Prints each cycle and exits 1 if there is one. Hand-written (a strongly-connected-
components pass over a graph read with `re` and `ast`): cargo-modules would need a
nightly-pinned rust-analyzer build, and import-linter checks declared layers, not
arbitrary cycles.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PY = ROOT / "python" / "localforge"
COMPAT = PY / "compat"  # on the package's __path__: its packages import as localforge.engine, ...

PATH = re.compile(r"\b(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
USE_GROUP = re.compile(r"\buse\s+(crate|super)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)
ITEM = re.compile(
    r"^\s*pub(?:\([^)]*\))?\s+(?:async\s+)?(?:unsafe\s+)?(?:fn|struct|enum|trait|type|const|static|mod)\s+([A-Za-z_][A-Za-z0-9_]*)",
    re.M,
)
REEXPORT = re.compile(r"^\s*pub(?:\([^)]*\))?\s+use\s+([a-z_][a-z0-9_]*)::(\{[^;]*\}|[A-Za-z_][A-Za-z0-9_]*)", re.M)


def rust_module(path: Path) -> list[str]:
    """`src/exec/attempt.rs` -> ['exec', 'attempt']; `src/exec/mod.rs` -> ['exec']."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] in ("mod", "lib"):
        parts = parts[:-1]
    return parts


def strip_tests(text: str) -> str:
    """Drop `#[cfg(test)] mod x { ... }` blocks and comments: tests may reach anywhere."""
    text = re.sub(r"//[^\n]*", "", text)
    out, i = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{", text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j
    out.append(text[i:])
    return "".join(out)


def rust_paths(text: str):
    """Every (`crate`|`super`, [segments]) path, with `use a::{b, c::d}` groups expanded."""
    for m in USE_GROUP.finditer(text):
        head = [s for s in m.group(2).split("::") if s]
        for item in re.split(r",(?![^{]*\})", m.group(3)):
            item = re.sub(r"\s+as\s+\w+", "", item).strip()
            if not item or item.startswith("{"):
                continue
            first = item.split("::{")[0]
            yield m.group(1), head + [s for s in first.split("::") if s and s != "self"]
    for m in PATH.finditer(USE_GROUP.sub("", text)):
        yield m.group(1), [s for s in m.group(2).split("::") if s]


def rust_graph():
    files = {tuple(rust_module(p)): p for p in SRC.rglob("*.rs") if "tests" not in p.relative_to(SRC).parts[:-1]}
    files = {k: v for k, v in files.items() if k and k[-1] != "tests"}
    # Which sibling file defines a name that a folder's mod.rs holds or re-exports.
    defined: dict[tuple[str, ...], dict[str, tuple[str, ...]]] = defaultdict(dict)
    for mod, path in files.items():
        if len(mod) < 2:
            continue
        for name in ITEM.findall(strip_tests(path.read_text())):
            defined[mod[:-1]].setdefault(name, mod)
    for mod, path in files.items():
        if path.name != "mod.rs":
            continue
        for child, names in REEXPORT.findall(path.read_text()):
            for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", names):
                if (*mod, child) in files and name != "self":
                    defined[mod][name] = (*mod, child)

    def resolve(target: list[str]) -> tuple[str, ...]:
        """The deepest file module a path reaches, through mod.rs re-exports."""
        best: tuple[str, ...] = ()
        for i in range(1, len(target) + 1):
            if tuple(target[:i]) in files:
                best = tuple(target[:i])
            elif best and len(target) > i - 1 and target[i - 1] in defined.get(best, {}):
                return defined[best][target[i - 1]]
            else:
                break
        return best

    edges: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()
    for mod, path in files.items():
        for root, segs in rust_paths(strip_tests(path.read_text())):
            base = [] if root == "crate" else list(mod[:-1])
            while segs and segs[0] == "super":
                base, segs = base[:-1], segs[1:]
            to = resolve(base + segs)
            if to and to != mod:
                edges.add((mod, to))
    return edges


def levels(edges):
    """Top-level edges, and sibling edges within each folder (mod.rs files are not nodes)."""
    top = {(a[0], b[0]) for a, b in edges if a[0] != b[0]}
    sib = defaultdict(set)
    for a, b in edges:
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        if n < len(a) and n < len(b):
            sib[a[:n]].add((a[n], b[n]))
    return {"crate": top, **{"::".join(k): v for k, v in sib.items() if k}}


def sccs(edges):
    graph = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(list(graph)):
        if v not in index:
            visit(v)
    return out


def python_module(path: Path) -> str:
    under = COMPAT if COMPAT in path.parent.parents else PY.parent  # compat/__init__.py itself is localforge.compat
    parts = (["localforge"] if under == COMPAT else []) + list(path.relative_to(under).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def python_graph():
    modules = {python_module(p): p for p in PY.rglob("*.py")}
    edges = set()
    for mod, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        skip = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skip.update(id(n) for b in node.body for n in ast.walk(b))
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names]
                if any(n not in modules for n in names):
                    names.append(base)
            for name in names:
                while name and name not in modules:
                    name = name.rpartition(".")[0]
                if name and name != mod and not mod.startswith(name + "."):
                    edges.add((mod, name))
    return edges


def main() -> int:
    found = []
    for level, es in levels(rust_graph()).items():
        found += [f"rust {level}: " + " <-> ".join(c) for c in sccs(es)]
    found += ["python: " + " <-> ".join(c) for c in sccs(python_graph())]
    for line in found:
        print(line)
    if found:
        print(f"{len(found)} import cycle(s)", file=sys.stderr)
        return 1
    print("no import cycles (Rust modules and Python modules)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
