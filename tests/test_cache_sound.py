"""A cache hit is exactly what a fresh run gives (issue 27, item 1): side files come back,
a path inside text counts by its content (absolute or relative, a file or a folder), a
step that ran again changes the key of every step after it, a damaged object is not
served, the environment a YAML tool reads and the program it runs are in the key, and a
file changed while the step ran keeps it out of the cache. Each case runs the recipe, changes
something, and compares the cached run with a `--no-cache` run of the same state.
Steps count their runs in a file named by `$COUNTER` (an environment variable, so the
counter itself is not something the steps read)."""

import hashlib
import json
import os
from pathlib import Path

import pytest


@pytest.fixture
def rr(lf):
    counter = lf.work / "counter.txt"
    lf.env["COUNTER"] = str(counter)

    def run(recipe, *args, fresh=False):
        if counter.exists():
            counter.unlink()
        extra = ["--no-cache"] if fresh else []
        doc = json.loads(lf("run", recipe, "--json", "-q", *extra, *args, check=0).stdout)
        assert doc["status"] == "completed", doc
        history = json.loads(lf("history", "show", doc["run_id"], "--json", check=0).stdout)
        ran = counter.read_text().split() if counter.exists() else []
        return doc, ran, {s["step_id"]: s["status"] for s in history["steps"]}

    run.lf = lf
    return run


def same_as_fresh(rr, recipe, *args):
    """The cached run's outputs and run-folder files equal a --no-cache run's."""
    cached, ran, statuses = rr(recipe, *args)
    fresh, _, _ = rr(recipe, *args, fresh=True)
    assert _outputs(cached) == _outputs(fresh), (cached["outputs"], fresh["outputs"])
    assert _files(cached) == _files(fresh)
    return cached, ran, statuses


def _outputs(doc):
    return json.loads(json.dumps(doc["outputs"]).replace(doc["run_dir"], "{run_dir}"))


def _files(doc):
    """The run folder's files, each run's own folder written `{run_dir}` in them."""
    root = Path(doc["run_dir"])
    return {
        str(p.relative_to(root)): p.read_bytes().replace(str(root).encode(), b"{run_dir}") if p.is_file() else None
        for p in root.rglob("*")
        if not str(p.relative_to(root)).startswith("logs")
    }


def test_a_cached_steps_side_files_and_folders_come_back(rr, lf):
    recipe = lf.write(
        "side.yaml",
        """\
name: side
steps:
  - id: make
    tool: script
    action: run
    cache: true
    inputs:
      command: >-
        echo make >> "$COUNTER"; echo data > {{ workflow.run_dir }}/f.txt;
        mkdir -p {{ workflow.run_dir }}/out/empty; echo deep > {{ workflow.run_dir }}/out/deep.txt;
        echo in-temp > side.txt
  - id: use
    tool: script
    action: run
    depends_on: [make]
    inputs:
      command: "cat {{ workflow.run_dir }}/f.txt {{ workflow.run_dir }}/out/deep.txt {{ temp_dir }}/side.txt; ls {{ workflow.run_dir }}/out"
outputs:
  seen: "{{ steps.use.outputs.stdout }}"
""",
    )
    first, ran, _ = rr(recipe)
    assert ran == ["make"]
    doc, ran, statuses = same_as_fresh(rr, recipe)
    assert ran == [] and statuses["make"] == "cached", "served, not run"
    assert doc["outputs"]["seen"].split() == ["data", "deep", "in-temp", "deep.txt", "empty"]
    assert (Path(doc["run_dir"]) / "out" / "empty").is_dir(), "an empty folder it made comes back too"


def test_a_path_inside_text_counts_by_content_absolute_relative_file_or_folder(rr, lf):
    data = lf.work / "data"
    data.mkdir()
    f = lf.write("data/in.txt", "one\n")
    recipe = lf.write(
        "text.yaml",
        """\
name: text
inputs:
  - {name: f, type: path, required: true}
  - {name: d, type: path, required: true}
steps:
  - {id: whole, tool: script, action: run, cache: true, inputs: {command: 'echo x >> "$COUNTER"; cat {{ inputs.f }}'}}
  - {id: listed, tool: script, action: run, cache: true, inputs: {command: [cat, "{{ inputs.f }}"]}}
  - {id: relative, tool: script, action: run, cache: true, inputs: {cwd: "{{ inputs.d }}", command: 'echo x >> "$COUNTER"; cat in.txt'}}
  - {id: folder, tool: script, action: run, cache: true, inputs: {command: 'echo x >> "$COUNTER"; cat {{ inputs.d }}/*'}}
outputs:
  whole: "{{ steps.whole.outputs.stdout }}"
  listed: "{{ steps.listed.outputs.stdout }}"
  relative: "{{ steps.relative.outputs.stdout }}"
  folder: "{{ steps.folder.outputs.stdout }}"
""",
    )
    args = ("-i", f"f={f}", "-i", f"d={data}")
    rr(recipe, *args)
    _, ran, _ = rr(recipe, *args)
    assert ran == [], "unchanged: all served"
    stat = f.stat()
    f.write_text("two\n")  # same size, same mtime: only the content says
    os.utime(f, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    doc, ran, _ = same_as_fresh(rr, recipe, *args)
    assert set(doc["outputs"].values()) == {"two\n"}
    (data / "more.txt").write_text("three\n")  # a new file in the folder the last step names
    doc, ran, statuses = same_as_fresh(rr, recipe, *args)
    assert doc["outputs"]["folder"] == "two\nthree\n" and statuses["whole"] == "cached"


def test_a_step_that_ran_again_changes_the_keys_after_it_two_levels_deep(rr, lf):
    src = lf.write("src.txt", "v1\n")
    recipe = lf.write(
        "chain.yaml",
        """\
name: chain
inputs:
  - {name: src, type: path, required: true}
steps:
  - {id: copy, tool: file_ops, action: copy, inputs: {source: "{{ inputs.src }}", destination: "{{ workflow.run_dir }}/c1.txt"}}
  - id: mid
    tool: script
    action: run
    cache: true
    depends_on: [copy]
    inputs: {command: 'echo mid >> "$COUNTER"; cd {{ workflow.run_dir }} && cat c*.txt > m1.txt'}
  - id: last
    tool: script
    action: run
    cache: true
    depends_on: [mid]
    inputs: {command: 'echo last >> "$COUNTER"; cd {{ workflow.run_dir }} && cat m*.txt'}
outputs:
  result: "{{ steps.last.outputs.stdout }}"
""",
    )
    rr(recipe, "-i", f"src={src}")
    _, ran, _ = rr(recipe, "-i", f"src={src}")
    assert ran == []
    src.write_text("v2\n")  # edited in place: the copy runs again and writes the same path
    doc, ran, statuses = same_as_fresh(rr, recipe, "-i", f"src={src}")
    assert ran == ["mid", "last"] and doc["outputs"]["result"] == "v2\n", (ran, statuses)


def test_a_damaged_object_is_removed_and_the_step_runs(rr, lf):
    recipe = lf.write(
        "obj.yaml",
        """\
name: obj
steps:
  - {id: make, tool: script, action: run, cache: true, inputs: {command: 'echo make >> "$COUNTER"; printf payload-bytes > {{ workflow.run_dir }}/p.bin'}}
  - {id: use, tool: script, action: run, depends_on: [make], inputs: {command: "cat {{ workflow.run_dir }}/p.bin"}}
outputs:
  got: "{{ steps.use.outputs.stdout }}"
""",
    )
    rr(recipe)
    objects = [p for p in (lf.home / ".localforge" / "cache" / "objects").rglob("*") if p.is_file()]
    assert len(objects) == 1
    data = bytearray(objects[0].read_bytes())
    data[0] ^= 0x20  # one flipped bit, same size
    objects[0].write_bytes(bytes(data))
    doc, ran, statuses = same_as_fresh(rr, recipe)
    assert ran == ["make"] and statuses["make"] == "completed" and doc["outputs"]["got"] == "payload-bytes"
    _, ran, statuses = rr(recipe)
    assert ran == [] and statuses["make"] == "cached", "stored again, good this time"


YAML_TOOL = """\
name: moded
type: cli
description: Say the mode and the program's version (test tool)
deterministic: true
requirements: {{binary: {prog}}}
actions:
  say:
    shell: true
    command: 'echo x >> {counter}; echo "${{MODE:-production}}"; {prog}'
    outputs: {{}}
"""


def test_a_yaml_tools_environment_and_program_are_in_its_key(rr, lf, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    prog = bin_dir / "mytool"
    prog.write_text("#!/bin/sh\necho v1\n")
    prog.chmod(0o755)
    lf.env["PATH"] = f"{bin_dir}:{lf.env['PATH']}"
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "moded.yaml").write_text(YAML_TOOL.format(prog="mytool", counter=lf.work / "counter.txt"))
    recipe = lf.write(
        "moded.yaml",
        "name: m\nsteps:\n  - {id: say, tool: moded, action: say}\noutputs:\n  said: '{{ steps.say.outputs.stdout }}'\n",
    )
    first, _, _ = rr(recipe)
    assert first["outputs"]["said"] == "production\nv1\n"
    _, ran, _ = rr(recipe)
    assert ran == []
    lf.env["MODE"] = "dry-run"  # the program reads it from LocalForge's environment
    doc, ran, _ = same_as_fresh(rr, recipe)
    assert doc["outputs"]["said"] == "dry-run\nv1\n" and ran == ["x"]
    lf.env["TERM"] = "dumb"  # a terminal's own variable: no tool's result depends on it
    _, ran, _ = rr(recipe)
    assert ran == []
    prog.write_text("#!/bin/sh\necho v2\n")  # upgraded: same size
    doc, ran, _ = same_as_fresh(rr, recipe)
    assert doc["outputs"]["said"] == "dry-run\nv2\n" and ran == ["x"]


def test_a_file_changed_while_the_step_ran_keeps_it_out_of_the_cache(rr, lf):
    log = lf.write("log.txt", "start\n")
    recipe = lf.write(
        "grow.yaml",
        f"""\
name: grow
steps:
  - {{id: grow, tool: script, action: run, cache: true, inputs: {{command: 'echo x >> "$COUNTER"; cat {log}; echo more >> {log}'}}}}
""",
    )
    rr(recipe)
    _, ran, statuses = rr(recipe)
    assert ran == ["x"] and statuses["grow"] == "completed", "not stored: a hit could not make that change again"
    proc = lf("run", recipe, check=0)
    assert "grow: not stored in the step cache: " in proc.stderr and "which it reads, changed while it ran" in proc.stderr


def test_dry_run_says_why_a_step_is_not_served(rr, lf):
    src = lf.write("src.txt", "v1\n")
    recipe = lf.write(
        "why.yaml",
        "name: why\ninputs:\n  - {name: src, type: path, required: true}\nsteps:\n"
        "  - {id: copy, tool: file_ops, action: copy, inputs: {source: '{{ inputs.src }}', destination: '{{ workflow.run_dir }}/c.txt'}}\n"
        "  - {id: after, tool: script, action: run, cache: true, depends_on: [copy], inputs: {command: 'cat {{ workflow.run_dir }}/c.txt'}}\n"
        "  - {id: plain, tool: script, action: run, inputs: {command: 'true'}}\n",
    )

    def plan():
        proc = lf("run", recipe, "-i", f"src={src}", "--dry-run", "--json", check=0)
        return {s["id"]: s["cache"] for s in json.loads(proc.stdout)["steps"]}

    verdicts = plan()
    assert verdicts["copy"]["cache"] == "miss" and "no entry has this key" in verdicts["copy"]["why"]
    assert verdicts["after"] == {"cache": "unknown", "why": "its key depends on what `copy` gives, which runs first"}
    assert verdicts["plain"]["cache"] == "off" and "cache: true" in verdicts["plain"]["why"]
    rr(recipe, "-i", f"src={src}")
    assert [plan()[k]["cache"] for k in ("copy", "after")] == ["hit", "hit"]


def test_validate_warns_about_cache_true_where_the_cache_cannot_see_all_a_step_does(lf):
    recipe = lf.write(
        "warn.yaml",
        "name: warn\nsteps:\n"
        "  - {id: copy, tool: file_ops, action: copy, cache: true, inputs: {source: a, destination: b}}\n"
        "  - id: sh\n    tool: script\n    action: run\n    cache: true\n    inputs: {command: 'make all'}\n",
    )
    proc = lf("validate", recipe, check=0)
    assert (
        f"warning: {recipe}:4:5: step `sh`: `cache: true` on script.run, whose effects LocalForge cannot all see: "
        "a hit gives back its outputs and what it changed in the run folder, not what it reads or writes anywhere else"
    ) in proc.stderr
    assert "step `copy`" not in proc.stderr, "a deterministic tool is no cause for a warning"
    doc = json.loads(lf("validate", recipe, "--json", check=0).stdout)
    assert doc["valid"] and [w["line"] for w in doc["warnings"] if "cache: true" in w["message"]] == [4]


def test_a_step_after_an_uncached_one_sees_what_that_one_wrote(rr, lf):
    """The uncached step's outputs are the same each time (nothing printed); only what it
    wrote into the run folder differs, and the next step reads it through a glob."""
    src = lf.write("src.txt", "one\n")
    recipe = lf.write(
        "uncached.yaml",
        """\
name: uncached
inputs:
  - {name: src, type: path, required: true}
steps:
  - {id: fetch, tool: script, action: run, inputs: {command: "cp {{ inputs.src }} {{ workflow.run_dir }}/data.txt"}}
  - {id: count, tool: script, action: run, cache: true, depends_on: [fetch], inputs: {command: 'echo x >> "$COUNTER"; cd {{ workflow.run_dir }} && cat *.txt'}}
outputs:
  seen: "{{ steps.count.outputs.stdout }}"
""",
    )
    rr(recipe, "-i", f"src={src}")
    _, ran, _ = rr(recipe, "-i", f"src={src}")
    assert ran == [], "nothing changed: served"
    src.write_text("two\n")
    doc, ran, _ = same_as_fresh(rr, recipe, "-i", f"src={src}")
    assert ran == ["x"] and doc["outputs"]["seen"] == "two\n"


def test_a_yaml_tool_whose_script_was_upgraded_runs_again(rr, lf, tmp_path):
    """The definition runs an interpreter on a script by its path: the script is the program."""
    script = tmp_path / "tool.sh"
    script.write_text("echo v1\n")
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "scripted.yaml").write_text(
        f"name: scripted\ntype: cli\ndescription: t\ndeterministic: true\nactions:\n  go:\n    command: [sh, {script}]\n    outputs: {{}}\n"
    )
    recipe = lf.write(
        "s.yaml", "name: s\nsteps:\n  - {id: go, tool: scripted, action: go}\noutputs:\n  out: '{{ steps.go.outputs.stdout }}'\n"
    )
    rr(recipe)
    _, _, statuses = rr(recipe)
    assert statuses["go"] == "cached"
    script.write_text("echo v2\n")  # upgraded, same size
    doc, _, statuses = same_as_fresh(rr, recipe)
    assert statuses["go"] == "completed" and doc["outputs"]["out"] == "v2\n"


def test_items_running_together_into_one_new_folder_each_keep_their_own_file(rr, lf):
    """Four items at once, each writing its own file into a folder that none had. Each names
    `out` and `out/ITEM.txt`, so each change goes to the item that names it most closely.
    (Which items are served on the next run depends on timing: an item whose key is made
    after a served neighbour restored its file into `out` sees a folder with other content.
    What is served is always right.)"""
    recipe = lf.write(
        "fan.yaml",
        """\
name: fan
steps:
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: [a, b, c, d]
      parallel: 4
      workflow_steps:
        - id: w
          tool: script
          action: run
          cache: true
          inputs: {command: 'echo x >> "$COUNTER"; sleep 0.2; mkdir -p {{ workflow.run_dir }}/out && echo {{ item }} > {{ workflow.run_dir }}/out/{{ item }}.txt'}
  - {id: all, tool: script, action: run, depends_on: [each], inputs: {command: "cat {{ workflow.run_dir }}/out/*.txt"}}
outputs:
  all: "{{ steps.all.outputs.stdout }}"
""",
    )
    first, ran, _ = rr(recipe)
    assert first["outputs"]["all"] == "a\nb\nc\nd\n" and len(ran) == 4
    for _ in range(3):
        doc, ran, _ = same_as_fresh(rr, recipe)
        assert doc["outputs"]["all"] == "a\nb\nc\nd\n"
    entries = list((lf.home / ".localforge" / "cache" / "entries").rglob("*.json"))
    stored = [json.loads(e.read_text()) for e in entries]
    assert stored and all(len(e["files"]) == 1 for e in stored), "each entry holds its item's own file only"


def test_small_steps_probed_in_place_see_a_same_second_rewrite_and_a_file_appearing(rr, lf):
    """Steps that name only small files are probed on the async worker (`cache::in_place`):
    a rewrite of the same size with the same times is seen as on a blocking thread. What
    `file_ops.write` writes is text (`Tool::names_no_files`): a file its words name
    appearing beside the recipe leaves it served, and the served run equals a fresh one.
    (A file appearing under a folder a word of other inputs is read from changes the key
    in place: `cache::tests`.)"""
    src = lf.write("in.txt", "one\n")
    recipe = lf.write(
        "small.yaml",
        """\
name: small
inputs:
  - {name: src, type: path, required: true}
steps:
  - {id: copy, tool: file_ops, action: copy, inputs: {source: "{{ inputs.src }}", destination: "{{ workflow.run_dir }}/c.txt"}}
  - {id: note, tool: file_ops, action: write, cache: true, depends_on: [], inputs: {path: "{{ workflow.run_dir }}/n.txt", content: "see notes.txt"}}
""",
    )
    args = ("-i", f"src={src}")
    rr(recipe, *args)
    _, _, statuses = rr(recipe, *args)
    assert statuses == {"copy": "cached", "note": "cached"}
    stat = src.stat()
    src.write_text("two\n")  # same size, its times put back: only the content says
    os.utime(src, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    doc, _, statuses = same_as_fresh(rr, recipe, *args)
    assert statuses == {"copy": "completed", "note": "cached"}
    assert (Path(doc["run_dir"]) / "c.txt").read_text() == "two\n"
    lf.write("notes.txt", "beside the recipe, where a relative word is read from\n")
    _, _, statuses = same_as_fresh(rr, recipe, *args)
    assert statuses == {"copy": "cached", "note": "cached"}


def test_a_file_that_names_the_run_folder_names_the_new_one_when_served(rr, lf):
    """A key writes the run folder `{run_dir}`, so the same step of the next run is served:
    a file it wrote holding the run folder's path must then name the new run's folder, as
    running it there would. `file_ops.write`'s file is its content: kept with `{run_dir}`
    and written with the new folder (`cache::relocate`). A script's file holding the path
    may have more made of it (a checksum beside it), so that step is not stored and runs,
    as one whose binary file holds it."""
    recipe = lf.write(
        "where.yaml",
        """\
name: where
steps:
  - id: note
    tool: file_ops
    action: write
    cache: true
    inputs: {path: "{{ workflow.run_dir }}/note.txt", content: "made in {{ workflow.run_dir }}, temp {{ temp_dir }}"}
  - id: said
    tool: script
    action: run
    cache: true
    inputs: {command: 'echo s >> "$COUNTER"; echo "in {{ workflow.run_dir }}/here"'}
  - id: told
    tool: script
    action: run
    cache: true
    inputs: {command: 'echo t >> "$COUNTER"; echo "{{ workflow.run_dir }}" > told.txt; sha256sum told.txt > SUMS', cwd: "{{ workflow.run_dir }}"}
  - id: packed
    tool: script
    action: run
    cache: true
    inputs: {command: 'echo p >> "$COUNTER"; printf "\\\\000%s" "{{ workflow.run_dir }}" > "{{ workflow.run_dir }}/packed.bin"'}
outputs:
  said: "{{ steps.said.outputs.stdout }}"
""",
    )
    first, _, _ = rr(recipe)
    doc, ran, statuses = rr(recipe)
    assert statuses == {"note": "cached", "told": "completed", "packed": "completed", "said": "cached"}, statuses
    assert sorted(ran) == ["p", "t"], "the steps whose files hold the path ran again"
    run_dir = Path(doc["run_dir"])
    assert doc["run_dir"] != first["run_dir"]
    assert (run_dir / "note.txt").read_text() == f"made in {run_dir}, temp {run_dir / 'temp'}"
    assert (run_dir / "told.txt").read_text() == f"{run_dir}\n"
    digest = hashlib.sha256((run_dir / "told.txt").read_bytes()).hexdigest()
    assert (run_dir / "SUMS").read_text() == f"{digest}  told.txt\n", "the checksum is of the file beside it"
    assert doc["outputs"]["said"] == f"in {run_dir}/here\n", "outputs name the new run's folder"
    assert (run_dir / "packed.bin").read_bytes() == b"\0" + str(run_dir).encode()
    proc = lf("run", recipe, check=0)
    assert "told: not stored in the step cache: it made `told.txt`, which holds the run folder's path" in proc.stderr
    assert "packed: not stored in the step cache: it made `packed.bin`, which holds the run folder's path" in proc.stderr


def test_a_neighbours_file_that_names_the_run_folder_does_not_keep_a_step_out(rr, lf):
    """Steps running together: a file only the other step names is its own, so what it
    holds does not decide whether this one is stored."""
    recipe = lf.write(
        "beside.yaml",
        """\
name: beside
steps:
  - {id: a, tool: script, action: run, cache: true, depends_on: [], inputs: {command: 'echo a >> "$COUNTER"; sleep 0.5; echo hi > {{ workflow.run_dir }}/a.txt'}}
  - {id: b, tool: script, action: run, depends_on: [], inputs: {command: 'sleep 0.2; printf "x\\\\000%s" "{{ workflow.run_dir }}" > {{ workflow.run_dir }}/b.bin'}}
""",
    )
    rr(recipe)
    _, ran, statuses = rr(recipe)
    assert statuses["a"] == "cached" and ran == [], statuses


def test_steps_after_an_uncached_file_writer_are_served_in_the_next_run(rr, lf):
    """An uncached step that writes only what its outputs name hands on a digest of those
    files by their place in the run folder, not its absolute path: the cached step after
    it is served in the next run."""
    recipe = lf.write(
        "after.yaml",
        """\
name: after
steps:
  - {id: a, tool: file_ops, action: write, inputs: {path: "{{ workflow.run_dir }}/x.txt", content: hello}}
  - {id: b, tool: script, action: run, cache: true, depends_on: [a], inputs: {command: 'echo b >> "$COUNTER"; echo hi'}}
""",
    )
    rr(recipe)
    _, ran, statuses = same_as_fresh(rr, recipe)
    assert statuses == {"a": "completed", "b": "cached"} and ran == [], statuses


CONFIG_PLUGIN = """\
import os

TOOL_NAME = "moder"
TOOL_ACTIONS = ["say", "echo", "about", "which"]
TOOL_DETERMINISTIC = True
TOOL_NATIVE_VALUES = True


def handle(action, inputs, ctx):
    with open(os.environ["COUNTER"], "a") as f:
        f.write("x\\n")
    if action == "say":  # reads the recipe's config, which is not one of its inputs
        return {"said": f"{inputs['word']} {ctx.config['mode']}"}
    if action == "about":  # the recipe document (read once per run by the engine)
        return {"said": ctx.recipe.get("description")}
    if action == "which":  # this run's own id
        return {"said": ctx.run_id}
    return {"said": inputs["word"]}
"""


def test_a_plugin_that_reads_the_run_through_its_ctx_is_not_stored(rr, lf):
    """A deterministic plugin's key holds its inputs and its code, not the run's config,
    inputs or other steps' outputs: a call that read them through `ctx` is not stored (a
    hit after the recipe's config changed would say the old mode); one that read only its
    inputs is."""
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "moder_tool.py").write_text(CONFIG_PLUGIN)
    body = (
        "name: m\ndescription: {mode}\nconfig: {{mode: {mode}}}\nsteps:\n  - {{id: s, tool: moder, action: say, inputs: {{word: hi}}}}\n"
        "  - {{id: e, tool: moder, action: echo, inputs: {{word: hi}}}}\n  - {{id: a1, tool: moder, action: about, inputs: {{}}}}\n"
        "  - {{id: a2, tool: moder, action: about, inputs: {{}}}}\n  - {{id: w, tool: moder, action: which, inputs: {{}}}}\n"
    )
    recipe = lf.write("m.yaml", body.format(mode="fast"))
    doc, ran, _ = rr(recipe)
    assert doc["steps"]["s"]["outputs"]["said"] == "hi fast" and len(ran) == 5
    doc, ran, statuses = rr(recipe)
    assert len(ran) == 4 and statuses["e"] == "cached", "every call that read the run ran again; the other was served"
    assert doc["steps"]["w"]["outputs"]["said"] == doc["run_id"]
    recipe = lf.write("m.yaml", body.format(mode="slow"))
    doc, _, _ = same_as_fresh(rr, recipe)
    assert doc["steps"]["s"]["outputs"]["said"] == "hi slow" and doc["steps"]["a2"]["outputs"]["said"] == "slow"
