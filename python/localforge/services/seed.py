"""Knowledge seeds: Markdown playbooks (seeds/*.md) that make this machine better — install
models, tune services, add tools — with YAML front matter that makes them checkable.

    parse/load_all  the seed files (built-in, then ~/.localforge/seeds), checked against
                    data/schemas/seed.schema.json with file:line problems
    facts           what the engine reports about this machine (`api.system` with the
                    seeds' binaries, `api.list_tools`, Python packages, free disk)
    check/status    each prerequisite and each thing the seed provides, met or not, with the fix
    verify          the seed's `verify` commands (argv, never a shell) and HTTP checks, each
                    with a deadline
    render          the Markdown filled with this machine's figures (minijinja, in the engine)

Front ends (`localforge seed`, agent-config, the skills export) use only these functions."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from localforge import api
from localforge._paths import data_dir
from localforge.errors import SeedError
from localforge.services import schemacheck

SCHEMA = data_dir("data") / "schemas" / "seed.schema.json"
SECTIONS = ("Prerequisites", "Commands", "Verify", "Use it in recipes", "Impact")
NOT_SEEDS = {"README.md", "TEMPLATE.md"}
FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*\r?\n", re.S | re.M)
DEFAULT_TIMEOUT = 30.0


class InvalidSeed(SeedError):
    """A seed file that does not follow the format; `errors` are problems with file:line."""

    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["message"] if errors else "invalid seed", errors=errors)


@dataclass
class Seed:
    id: str
    path: Path
    meta: dict
    body: str
    body_line: int
    source: str = "built-in"
    raw: str = field(default="", repr=False)

    @property
    def requires(self) -> dict:
        return self.meta.get("requires") or {}

    @property
    def improves(self) -> dict:
        return self.meta.get("improves") or {}


def folders() -> list[tuple[Path, str]]:
    """Where seeds are read from: the built-in ones, then the user's (which win by id)."""
    out = [(data_dir("seeds"), "built-in")]
    user = Path(os.path.expanduser("~/.localforge/seeds"))
    if user.is_dir():
        out.append((user, "user"))
    return out


def _problem(path: Path, line: Optional[int], message: str, hint: Optional[str] = None, column: Optional[int] = None) -> dict:
    return {"file": str(path), "line": line, "column": column, "message": message, "hint": hint}


def parse(path: Path, source: str = "built-in") -> Seed:
    """Read one seed; raises `InvalidSeed` naming file:line for each problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidSeed([_problem(path, None, f"cannot read the seed: {e}")])
    m = FRONT.match(text)
    if not m:
        raise InvalidSeed(
            [_problem(path, 1, "no front matter", "a seed starts with `---`, its YAML front matter, and `---` (see seeds/TEMPLATE.md)")]
        )
    doc = api.parse_yaml(m.group(1))
    if "error" in doc:
        e = doc["error"]
        raise InvalidSeed([_problem(path, (e.get("line") or 0) + 1, e["message"], e.get("hint"), e.get("column"))])
    meta, positions = doc["value"], doc["positions"]

    def line_of(pointer: str) -> tuple[int, Optional[int]]:
        while pointer not in positions and pointer:
            pointer = pointer.rsplit("/", 1)[0]
        line, col = positions.get(pointer, [0, None])
        return line + 1, col  # the front matter starts on the file's second line

    problems = []
    if not isinstance(meta, dict):
        problems.append(_problem(path, 2, "the front matter must be a YAML mapping (`id: ...`, `title: ...`)"))
    else:
        for pointer, message in schemacheck.check(meta, schemacheck.load(str(SCHEMA))):
            line, col = line_of(pointer)
            problems.append(_problem(path, line, message, "see seeds/TEMPLATE.md for every key", col))
        if isinstance(meta.get("id"), str) and meta["id"] != path.stem:
            line, col = line_of("/id")
            problems.append(
                _problem(path, line, f"`id` is `{meta['id']}` but the file is {path.name}", f"name the file {meta['id']}.md", col)
            )
    body_line = text[: m.end()].count("\n") + 1
    body = text[m.end() :]
    headings = {h.strip() for h in re.findall(r"^##[ \t]+(.+?)[ \t]*$", body, re.M)}
    for name in SECTIONS:
        if name not in headings:
            problems.append(_problem(path, body_line, f"no `## {name}` section", f"a seed has the sections {', '.join(SECTIONS)}"))
    if problems:
        raise InvalidSeed(sorted(problems, key=lambda p: p["line"] or 0))
    return Seed(meta["id"], path, meta, body, body_line, source, text)


def load_all() -> tuple[list[Seed], list[dict]]:
    """Every seed by id (a user seed replaces a built-in one of the same id), and the
    problems of the files that are not valid seeds."""
    seeds: dict[str, Seed] = {}
    problems: list[dict] = []
    for folder, source in folders():
        for f in sorted(folder.glob("*.md")):
            if f.name in NOT_SEEDS:
                continue
            try:
                s = parse(f, source)
            except InvalidSeed as e:
                problems.extend(e.errors)
                continue
            seeds[s.id] = s
    return sorted(seeds.values(), key=lambda s: s.id), problems


class NoSuchSeed(SeedError):
    """No seed by that id, word or tag; `hint` names the nearest."""


def find(topic: str, seeds: list[Seed]) -> Seed:
    """A seed by id, by a path to a seed file, by a word of its id (`whisper`), or by a tag;
    `NoSuchSeed` with "did you mean" otherwise."""
    if topic.endswith(".md") and Path(topic).is_file():
        return parse(Path(topic), "file")
    t = topic.strip().lower()
    by_id = {s.id: s for s in seeds}
    if t in by_id:
        return by_id[t]
    words = [s for s in seeds if re.search(rf"(^|-){re.escape(t)}(-|$)", s.id)]
    if not words:
        words = [s for s in seeds if t in (s.meta.get("tags") or []) or t in (s.meta.get("applies_to") or [])]
    if len(words) == 1:
        return words[0]
    if len(words) > 1:
        raise NoSuchSeed(f"`{topic}` matches {len(words)} seeds: {', '.join(s.id for s in words)}", "name one of them")
    raise NoSuchSeed(f"no seed `{topic}`", _did_you_mean(t, seeds))


def _did_you_mean(topic: str, seeds: list[Seed]) -> str:
    """The seeds whose id, a word of their id, or a tag is closest to `topic`."""
    from localforge._suggest import did_you_mean

    names: dict[str, set] = {}
    for s in seeds:
        for name in [s.id, *s.id.split("-"), *(s.meta.get("tags") or [])]:
            names.setdefault(name, set()).add(s.id)
    return did_you_mean(topic, names, n=3, cutoff=0.7, offer=names.__getitem__) or (
        "seeds: " + ", ".join(s.id for s in seeds) + " (`localforge seed list`)"
    )


# --- what this machine has ------------------------------------------------------------


def _os_name() -> str:
    return {"Darwin": "macos", "Windows": "windows"}.get(platform.system(), "linux")


def _python_version(name: str) -> Optional[str]:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def facts(seeds: list[Seed], models: bool = False) -> dict:
    """What the engine reports about this machine, with the seeds' binaries looked up too
    (`models`: also every model profile measured against it, for rendering)."""
    binaries = sorted({b for s in seeds for part in (s.requires, s.improves) for b in part.get("binaries") or []})
    packages = sorted({p for s in seeds for part in (s.requires, s.improves) for p in part.get("python") or []})
    home = Path(os.path.expanduser("~"))
    try:
        disk = shutil.disk_usage(home).free / 1024**3
    except OSError:
        disk = None
    out = {
        "system": api.system(binaries),
        "tools": {t["name"]: t for t in api.list_tools()},
        "python": {p: _python_version(p) for p in packages},
        "disk_free_gb": round(disk, 1) if disk is not None else None,
        "os": _os_name(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("OLLAMA_")},
    }
    if models:
        out["models"] = api.model_table()
    return out


def _services(facts: dict, name: str) -> list[dict]:
    """Services called `name`, or of that kind (`openai` finds a llama.cpp server configured as `ollama`)."""
    services = facts["system"]["services"]
    return [dict(s, name=n) for n, s in services.items() if n == name or s.get("kind") == name]


def _item(kind: str, name: str, ok: bool, found: Any = None, fix: Optional[str] = None) -> dict:
    return {"kind": kind, "name": name, "ok": ok, "found": found, "fix": None if ok else fix}


def _binary(facts: dict, name: str, hint: Optional[str]) -> dict:
    t = facts["system"]["tools"].get(name) or {}
    found = (t.get("version") or "found") if t.get("found") else None
    return _item("binary", name, bool(t.get("found")), found, hint or t.get("note") or f"install `{name}` so it is on PATH")


def _service(facts: dict, name: str, hint: Optional[str]) -> dict:
    matches = _services(facts, name)
    up = [s for s in matches if s.get("running")]
    if up:
        return _item("service", name, True, f"{up[0]['label']} at {up[0]['url']}")
    fix = hint or (matches[0].get("hint") if matches else f"configure `services.{name}` in localforge.yaml and start it")
    return _item("service", name, False, None, fix)


def _python(facts: dict, name: str, hint: Optional[str]) -> dict:
    v = facts["python"].get(name)
    return _item("python", name, v is not None, v, hint or f"{sys.executable} -m pip install {name}")


def prerequisites(seed: Seed, facts: dict) -> list[dict]:
    req, hints = seed.requires, seed.requires.get("hints") or {}
    hw = facts["system"]["hardware"]
    out = []
    if req.get("os"):
        here = facts["os"]
        out.append(_item("os", " or ".join(req["os"]), here in req["os"], here, f"the commands are written for {', '.join(req['os'])}"))
    # What the seed itself installs or starts (`improves`) is what it does, not what it needs:
    # a seed that installs Ollama does not wait for Ollama.
    own = seed.improves
    mine = lambda kind, name: name in (own.get(kind) or [])  # noqa: E731
    out += [_binary(facts, b, hints.get(b)) for b in req.get("binaries") or [] if not mine("binaries", b)]
    out += [_service(facts, s, hints.get(s)) for s in req.get("services") or [] if not mine("services", s)]
    out += [_python(facts, p, hints.get(p)) for p in req.get("python") or [] if not mine("python", p)]
    if req.get("ram_gb"):
        need = req["ram_gb"]
        out.append(
            _item("ram", f"{need:g} GB RAM", hw["ram_gb"] >= need, f"{hw['ram_gb']:.1f} GB", f"this machine has {hw['ram_gb']:.1f} GB RAM")
        )
    if req.get("vram_gb"):
        need, best = req["vram_gb"], max((g["vram_total_gb"] for g in hw.get("gpus") or []), default=0.0)
        fix = (
            f"a GPU with {need:g} GB VRAM (this machine's largest has {best:.1f} GB)"
            if best
            else f"a GPU with {need:g} GB VRAM (none found)"
        )
        out.append(_item("vram", f"{need:g} GB VRAM", best >= need, f"{best:.1f} GB" if best else "no GPU", fix))
    if req.get("disk_gb"):
        need, free = req["disk_gb"], facts.get("disk_free_gb")
        out.append(_item("disk", f"{need:g} GB free disk", free is None or free >= need, f"{free} GB free", "free some disk space"))
    return out


def _model_installed(models: list, model: str) -> bool:
    base = model if ":" in model else f"{model}:latest"
    return any(m == model or m == base or m.split(":")[0] == model for m in models)


def provides(seed: Seed, facts: dict) -> list[dict]:
    """What the seed makes available, each present or not: whether it has been done."""
    imp = seed.improves
    how = f"follow the commands in `localforge seed show {seed.id}`"
    out = [_binary(facts, b, how) for b in imp.get("binaries") or []]
    out += [_service(facts, s, how) for s in imp.get("services") or []]
    out += [_python(facts, p, how) for p in imp.get("python") or []]
    for name in imp.get("tools") or []:
        t = facts["tools"].get(name)
        missing = "; ".join(t["missing"]) if t else "no such tool installed"
        out.append(_item("tool", name, bool(t and t["available"]), "usable" if t and t["available"] else None, f"{missing} — {how}"))
    recs = {r["task"]: r for r in facts["system"].get("recommendations") or []}
    ollama = [s for s in _services(facts, "ollama") if s.get("running") and s.get("kind") == "ollama"]
    for task in imp.get("recommendations") or []:
        r = recs.get(task)
        if not r or not r["fits"] or task in ("image_generation", "speech"):
            continue  # nothing to install for it here, or not something Ollama serves
        installed = bool(ollama) and _model_installed(ollama[0].get("models") or [], r["model"])
        out.append(_item("model", f"{task}: {r['model']}", installed, r["model"] if installed else None, f"ollama pull {r['model']}"))
    advised = {a["setting"].split("=")[0] for a in facts["system"].get("advice") or []}
    for setting in imp.get("settings") or []:
        var, _, want = setting.partition("=")
        have = facts["env"].get(var) if var.startswith("OLLAMA_") else os.environ.get(var)
        ok = have == want if want else have is not None
        if not ok and var not in advised and var.startswith("OLLAMA_"):
            ok = True  # the engine does not advise it for this machine
        out.append(_item("setting", setting, ok, have, f"set {setting} where Ollama is started (see the seed's commands)"))
    return out


def check(seed: Seed, facts: dict) -> dict:
    """Each prerequisite and each thing the seed provides, with the fix for what is missing."""
    pre, done = prerequisites(seed, facts), provides(seed, facts)
    return {
        "id": seed.id,
        "title": seed.meta["title"],
        "status": status_of(pre, done),
        "ok": all(i["ok"] for i in pre + done),
        "prerequisites": pre,
        "provides": done,
    }


def status_of(pre: list, done: list) -> str:
    """`needs X, Y` (prerequisites unmet), `done` (met, and everything it provides is here),
    or `ready` (met; the commands are still to run)."""
    label = {"service": "{} running", "python": "{} (Python)", "os": "{}"}
    unmet = [label.get(i["kind"], "{}").format(i["name"]) for i in pre if not i["ok"]]
    if unmet:
        return "needs " + ", ".join(unmet)
    return "done" if done and all(i["ok"] for i in done) else "ready"


def status(seed: Seed, facts: dict) -> str:
    return status_of(prerequisites(seed, facts), provides(seed, facts))


# --- verify ---------------------------------------------------------------------------


def _run(argv: list, timeout: float) -> tuple[Optional[int], str]:
    """Run `argv` (no shell) in its own process group; on timeout the whole group is killed."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        text=True,
        errors="replace",
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise


def _http(url: str, timeout: float) -> tuple[Optional[int], str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read(1 << 20).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.read(1 << 16).decode("utf-8", "replace")


def verify_one(check: dict, facts: dict) -> dict:
    timeout = float(check.get("timeout") or DEFAULT_TIMEOUT)
    started = time.monotonic()
    result = {"name": check["name"], "ok": False, "detail": ""}
    if "run" in check:
        argv = [sys.executable if a == "{python}" else a for a in check["run"]]
        result["command"] = argv
        want = int(check.get("exit", 0))
        try:
            code, out = _run(argv, timeout)
        except FileNotFoundError:
            code, out = None, ""
            result["detail"] = f"`{argv[0]}` is not on PATH"
        except OSError as e:
            code, out = None, ""
            result["detail"] = f"cannot run `{argv[0]}`: {e}"
        if not result["detail"]:
            if code is None:
                result["detail"] = f"still running after {timeout:g} s (stopped)"
            elif code != want:
                result["detail"] = f"exited with {code}, expected {want}: {_tail(out)}"
    else:
        service, _, rest = check["http"].partition("/")
        up = [s for s in _services(facts, service) if s.get("running")] or _services(facts, service)
        if not up:
            result["detail"] = f"no service `{service}` is configured"
            return _timed(result, started)
        url = up[0]["url"].rstrip("/") + "/" + rest
        result["url"] = url
        want = int(check.get("status", 200))
        try:
            code, out = _http(url, timeout)
        except (OSError, ValueError) as e:
            code, out = None, ""
            result["detail"] = f"GET {url}: {getattr(e, 'reason', e)}"
        if code is not None and code != want:
            result["detail"] = f"GET {url} answered {code}, expected {want}"
    if not result["detail"] and check.get("expect") and not re.search(check["expect"], out):
        result["detail"] = f"the output does not match /{check['expect']}/: {_tail(out)}"
    result["ok"] = not result["detail"]
    if result["ok"]:
        result["detail"] = _tail(out, 120) or "ok"
    return _timed(result, started)


def _timed(result: dict, started: float) -> dict:
    result["seconds"] = round(time.monotonic() - started, 2)
    return result


def _tail(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else "…" + text[-limit:]


def verify(seed: Seed, facts: dict) -> list[dict]:
    return [verify_one(c, facts) for c in seed.meta.get("verify") or []]


# --- render ---------------------------------------------------------------------------


def context(seed: Seed, facts: dict) -> dict:
    """The names a seed's Markdown may use, all from the engine: `hw`, `gpu` (the roomiest
    GPU or none), `services`, `binaries`, `recommend` (by task), `advice`, `models` and
    `fits` (the model table, and the rows that fit), `os`, `python`, `seed`."""
    system = facts["system"]
    gpus = system["hardware"].get("gpus") or []
    models = facts.get("models") or []
    return {
        "hw": system["hardware"],
        "gpu": max(gpus, key=lambda g: g["vram_free_gb"]) if gpus else None,
        "services": system["services"],
        "binaries": system["tools"],
        "recommend": {r["task"]: r for r in system.get("recommendations") or []},
        "advice": system.get("advice") or [],
        "models": models,
        "fits": [m for m in models if m["fits"]],
        "os": facts["os"],
        "python": sys.executable,
        "seed": seed.meta,
    }


def render(seed: Seed, facts: dict) -> str:
    """The seed's Markdown with this machine's figures filled in."""
    from localforge import errors

    try:
        return api.render_template(seed.body, context(seed, facts))
    except errors.TemplateError as e:
        m = re.match(r"line (\d+): (.*)", str(e), re.S)
        line, message = (int(m.group(1)) + seed.body_line - 1, m.group(2)) if m else (seed.body_line, str(e))
        raise InvalidSeed([_problem(seed.path, line, message, "the names a seed may use are listed in seeds/TEMPLATE.md")])
