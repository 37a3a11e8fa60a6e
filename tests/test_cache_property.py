"""Property: for random small DAGs and random edits between runs, a run that takes what it
can from the step cache gives exactly what a `--no-cache` run of the same state gives —
the same outputs and the same files in the run folder (issue 27). Seeded, so a failure
names the case that reproduces it.

Each step is a `script` step with `cache: true` (or, one in four, a `file_ops.write` whose
text names pool files and earlier steps' files without reading them) that reads some of: a pool file by absolute
path or relative to its `cwd`, a pool folder, the file an earlier step wrote by its path, or
(through a glob the key cannot see, so only the chain of upstream keys protects it) every
file an earlier step wrote; and writes a side file its outputs do not name, sometimes in a
folder of its own. Edits rewrite pool files (often the same size with the old mtime), add
files to the folder, or change nothing."""

import json
import os
import random
from pathlib import Path

import localforge

CASES = 60
ROUNDS = 4


def _recipe(rng, pool):
    n = rng.randint(2, 6)
    steps = []
    for i in range(n):
        deps = sorted(rng.sample(range(i), k=rng.randint(0, min(i, 2)))) if i else []
        if rng.random() < 0.25:
            # `file_ops.write`: its text names pool files and an earlier step's file, which
            # it does not read (`Tool::names_no_files`); steps after it read what it wrote.
            named = [f"{pool}/f{rng.randint(0, 3)}.txt", "f1.txt"] + [f"s{d}.txt" for d in deps]
            content = f"written by s{i}: " + " ".join(rng.sample(named, k=len(named))) + "\n"
            steps.append(
                {
                    "id": f"s{i}",
                    "tool": "file_ops",
                    "action": "write",
                    "cache": True,
                    "depends_on": [f"s{d}" for d in deps],
                    "inputs": {"path": f"{{{{ workflow.run_dir }}}}/s{i}.txt", "content": content},
                }
            )
            continue
        reads = []
        cwd = None
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["abs", "rel", "dir", "up_path", "up_glob"] if deps else ["abs", "rel", "dir"])
            if kind == "abs":
                reads.append(f"cat {pool}/f{rng.randint(0, 3)}.txt")
            elif kind == "rel":
                cwd = str(pool)
                reads.append(f"cat f{rng.randint(0, 3)}.txt")
            elif kind == "dir":
                reads.append(f"ls {pool}/d; cat {pool}/d/*")
            elif kind == "up_path":
                reads.append(f"cat {{{{ workflow.run_dir }}}}/s{rng.choice(deps)}.txt")
            else:
                reads.append(f"cat {{{{ workflow.run_dir }}}}/s{rng.choice(deps)}*")
        out = f"{{{{ workflow.run_dir }}}}/s{i}.txt"
        sub = rng.random() < 0.3
        body = "; ".join(reads)
        command = f"({body}) | md5sum > {out}; cat {out}"
        if sub:
            command += f"; mkdir -p {{{{ workflow.run_dir }}}}/own{i} && cp {out} {{{{ workflow.run_dir }}}}/own{i}/copy"
        inputs = {"command": command}
        if cwd:
            inputs["cwd"] = cwd
        steps.append(
            {"id": f"s{i}", "tool": "script", "action": "run", "cache": True, "depends_on": [f"s{d}" for d in deps], "inputs": inputs}
        )
    shown = {"script": "stdout", "file_ops": "path"}
    doc = {
        "name": "prop",
        "steps": steps,
        "outputs": {s["id"]: "{{ steps." + s["id"] + ".outputs." + shown[s["tool"]] + " }}" for s in steps},
    }
    return json.dumps(doc)  # JSON is YAML


def _edit(rng, pool):
    what = rng.choice(["same_size", "same_size", "grow", "add", "none"])
    if what == "same_size":
        f = pool / f"f{rng.randint(0, 3)}.txt"
        st = f.stat()
        text = f.read_text()
        f.write_text("".join(rng.choice("abcdef") for _ in text))
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif what == "grow":
        f = pool / f"f{rng.randint(0, 3)}.txt"
        f.write_text(f.read_text() + "more\n")
    elif what == "add":
        (pool / "d" / f"n{rng.randint(0, 999)}.txt").write_text(str(rng.random()))
    return what


def _state(report):
    root = Path(report["run_dir"])
    files = {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not str(p.relative_to(root)).startswith("logs")
    }
    outputs = {k: v.replace(report["run_dir"], "{run_dir}") for k, v in report["outputs"].items()}
    return outputs, files


def test_cached_runs_equal_fresh_runs_on_random_dags_and_edits(home):
    served = 0
    for case in range(CASES):
        rng = random.Random(case)
        pool = home / f"pool{case}"
        (pool / "d").mkdir(parents=True)
        for i in range(4):
            (pool / f"f{i}.txt").write_text(f"file {i} of case {case}\n")
        (pool / "d" / "a.txt").write_text("a\n")
        recipe = home / f"case{case}.yaml"
        recipe.write_text(_recipe(rng, pool))
        localforge.run(recipe, check=True)
        for round_ in range(ROUNDS):
            edit = _edit(rng, pool)
            cached = localforge.run(recipe, check=True)
            fresh = localforge.run(recipe, cache=False, check=True)
            assert _state(cached) == _state(fresh), f"case {case}, round {round_} (edit: {edit}): the cached run differs"
            detail = localforge.history_show(cached["run_id"])
            served += sum(1 for s in detail["steps"] if s["status"] == "cached")
    assert served > CASES, "the cache served steps (the property is not vacuous)"
