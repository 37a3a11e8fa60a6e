"""Run a definition's `example` against the real program: its `files` are written into a
scratch folder, the action runs as a one-step recipe through `python -m localforge run`
(with only this definition in the tool folder, in a scratch home, recorded there as
installed from a registry, so it runs confined exactly as an installed copy would), and `expect` is
checked: each named file exists and is not empty (and matches its pattern, if given), each
named output matches its pattern."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 300


def run_example(definition: bytes, doc: dict) -> dict:
    """`{ok, skipped, detail}`; skipped (not failed) when the program is not installed."""
    example = doc.get("example")
    if not example:
        return {"ok": True, "skipped": True, "detail": "the definition has no example"}
    binary = (doc.get("requirements") or {}).get("binary")
    if binary and not shutil.which(binary):
        return {"ok": True, "skipped": True, "detail": f"`{binary}` is not installed here, so the example did not run"}
    outside = _outside(example.get("inputs") or {})
    if outside:
        return {"ok": False, "skipped": False, "detail": outside}
    with tempfile.TemporaryDirectory(prefix="localforge-example-") as tmp:
        root = Path(tmp)
        work, tools, home = root / "work", root / "tools", root / "home"
        for d in (work, tools, home):
            d.mkdir()
        path = tools / f"{doc['name']}.yaml"
        path.write_bytes(definition)
        record = {"name": doc["name"], "version": str(doc.get("version") or ""), "sha256": hashlib.sha256(definition).hexdigest()}
        (tools / "installed.json").write_text(json.dumps({"tools": {doc["name"]: {**record, "path": str(path)}}}) + "\n")
        for name, content in (example.get("files") or {}).items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if content.startswith("base64:"):
                path.write_bytes(base64.b64decode(content[len("base64:") :]))
            else:
                path.write_text(content, encoding="utf-8")
        (work / "localforge.yaml").write_text(json.dumps({"tool_dirs": [str(tools)]}) + "\n")
        # Relative paths are inside the example's folder (steps run in their run's temp folder).
        types = {k: (v or {}).get("type") for k, v in ((doc["actions"].get(example["action"]) or {}).get("inputs") or {}).items()}
        inputs = {
            k: str(work / v) if types.get(k) == "path" and isinstance(v, str) and not os.path.isabs(v) else v
            for k, v in (example.get("inputs") or {}).items()
        }
        step = {"id": "example", "tool": doc["name"], "action": example["action"], "inputs": inputs}
        (work / "example-recipe.yaml").write_text(json.dumps({"name": "example", "steps": [step]}) + "\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCALFORGE_")}
        env.update(HOME=str(home), NO_COLOR="1")
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "localforge", "run", "example-recipe.yaml", "--json", "-q", "-y"],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            return {"ok": False, "skipped": False, "detail": f"the example ran over {TIMEOUT} s"}
        try:
            report = json.loads(proc.stdout)
        except ValueError:
            return {"ok": False, "skipped": False, "detail": f"no report (exit {proc.returncode}): {proc.stderr.strip()[-500:]}"}
        if report.get("status") != "completed":
            step_error = ((report.get("steps") or {}).get("example") or {}).get("error") or report.get("error") or report.get("errors")
            return {"ok": False, "skipped": False, "detail": f"the example {report.get('status', 'failed')}: {step_error}"}
        outputs = ((report.get("steps") or {}).get("example") or {}).get("outputs") or {}
        problems = _expect(example.get("expect") or {}, work, outputs)
        return {
            "ok": not problems,
            "skipped": False,
            "detail": "; ".join(problems) or "ran and produced what it expects",
            "outputs": outputs,
        }


def _outside(inputs: dict) -> str | None:
    """Why the example's inputs name a path outside its own folder, if they do. An output
    path a caller gives grants the tool its folder, and here the author is the caller: an
    absolute path or one climbing out with `..` would let the example (run by `tools
    publish`, and by CI for a registry's pull requests) write anywhere."""
    for name, value in inputs.items():
        for text in value if isinstance(value, list) else [value]:
            if not isinstance(text, str):
                continue
            if any(mark in text for mark in ("{{", "{%", "{#")):
                return (
                    f"the example's input `{name}` is the template `{text}`: write its value itself "
                    "(a template renders to a path that cannot be checked here)"
                )
            if os.path.isabs(text) or os.path.normpath(text).split(os.sep)[0] == "..":
                return (
                    f"the example's input `{name}` is `{text}`, outside the example's folder: "
                    "name its files relative to it (`out.png`, `data/in.txt`), without `..`"
                )
    return None


def _expect(expect: dict, work: Path, outputs: dict) -> list[str]:
    problems = []
    for name, pattern in (expect.get("files") or {}).items():
        path = work / name
        if not path.is_file() or path.stat().st_size == 0:
            problems.append(f"`{name}` was not written (or is empty)")
        elif pattern and not re.search(pattern, path.read_bytes().decode("utf-8", "replace")):
            problems.append(f"`{name}` does not match /{pattern}/")
    for name, pattern in (expect.get("outputs") or {}).items():
        if name not in outputs:
            problems.append(f"no output `{name}` (outputs: {', '.join(outputs) or 'none'})")
            continue
        value = outputs[name]
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if pattern and not re.search(pattern, text):
            problems.append(f"output `{name}` does not match /{pattern}/: {text[:200]}")
    return problems
