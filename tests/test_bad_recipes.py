"""Every malformed recipe in the corpus: exit 2, a message naming the file and
the problem, no traceback, and nothing run."""

import json
from pathlib import Path

import pytest

from conftest import FIXTURES

BAD = FIXTURES / "recipes" / "bad"

# file -> a phrase its message must contain
EXPECTED = {
    "alias-bomb.yaml": "alias bomb",
    "approval-default-not-an-option.yaml": "is not among its options",
    "bad-on-failure.yaml": "invalid `on_failure` value `retyr`",
    "bad-timeout.yaml": "`timeout` in step `a` must be a number",
    "batch-parallel-zero.yaml": "`parallel` must be a whole number of 1 or more, got 0",
    "batch-without-workflow-steps.yaml": "missing `inputs.workflow_steps`",
    "binary-garbage.yaml": "not UTF-8 text",
    "comments-only.yaml": "the recipe file is empty",
    "comma-in-flow-mapping.yaml": "unknown key `soft pads` in input `mood`",
    "cycle.yaml": "steps form a cycle: `a` → `b` → `c` → `a`",
    "default-not-a-choice.yaml": "`medium` is not one of the choices",
    "default-wrong-type.yaml": "default of input `count` (type `integer`)",
    "duplicate-ids.yaml": "duplicate step id `a`",
    "duplicate-key.yaml": "duplicate key `name`",
    "empty-steps.yaml": "`steps` is empty",
    "empty.yaml": "the recipe file is empty",
    "forward-reference.yaml": "(forward reference)",
    "inputs-not-mapping.yaml": "`inputs` of step `a` must be a mapping",
    "huge-retry-count.yaml": "`retry_count` in step `a` is `1000000000`, more than the most allowed (100)",
    "invalid-id.yaml": "invalid step id `1st step`",
    "missing-name.yaml": "missing required key `name`",
    "missing-steps.yaml": "missing required key `steps`",
    "negative-retry-count.yaml": "`retry_count` in step `a` must be a whole number",
    "nul-bytes.yaml": "NUL bytes",
    "refinement-unknown-trigger.yaml": "triggered by unknown step `gen`",
    "self-dependency.yaml": "step `a` depends on itself",
    "step-not-mapping.yaml": "must be a mapping (a step)",
    "steps-not-list.yaml": "`steps` must be a list",
    "template-syntax.yaml": "template syntax error",
    "top-level-list.yaml": "must be a YAML mapping at the top level",
    "top-level-scalar.yaml": "must be a YAML mapping at the top level",
    "two-documents.yaml": "more than one YAML document",
    "undefined-input.yaml": "undeclared input `inputs.nme`",
    "unknown-action.yaml": "tool `file_ops` has no action `cpy`",
    "unknown-cleanup-action.yaml": "unknown cleanup action `delet`",
    "unknown-filter.yaml": "unknown template filter `uper`",
    "unknown-input.yaml": "`file_ops.write` has no input `contnet` (step `note`)",
    "unknown-batch-sub-step-input.yaml": "`script.run` has no input `comand` (step `say`)",
    "misspelled-step-key.yaml": "unknown key `retires` in step `a`",
    "unknown-dependency.yaml": "depends on unknown step `prepare`",
    "unknown-input-type.yaml": "unknown type `strng`",
    "unknown-root-name.yaml": "unknown name `input`",
    "unknown-step-key.yaml": "unknown key `inptus`",
    "unknown-step-reference.yaml": "unknown step `steps.ghost`",
    "unknown-tool.yaml": "unknown tool `file_op`",
    "outputs-unknown-step.yaml": "recipe output reads `steps.fecth`, but there is no step `fecth`",
    "unknown-top-level-key.yaml": "unknown key `stpes`",
    "yaml-syntax.yaml": "YAML syntax error",
}

HINTS = {
    "unknown-tool.yaml": "did you mean `file_ops`?",
    "unknown-action.yaml": "did you mean `copy`?",
    "unknown-top-level-key.yaml": "did you mean `steps`?",
    "bad-on-failure.yaml": "did you mean `retry`?",
    "unknown-filter.yaml": "did you mean `upper`?",
    "unknown-input.yaml": "did you mean `content`?",
    "unknown-batch-sub-step-input.yaml": "did you mean `command`?",
    "misspelled-step-key.yaml": "did you mean `retry_count`?",
    "comma-in-flow-mapping.yaml": "a comma ends a value, so `soft pads` was read as a key: put the whole value in quotes",
}


def test_the_corpus_is_covered():
    files = sorted(p.name for p in BAD.iterdir())
    assert len(files) >= 25
    assert files == sorted(EXPECTED), "add the new file's expected message to EXPECTED"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_run_rejects_bad_recipe(lf, name):
    path = BAD / name
    proc = lf("run", path, timeout=10, check=2)
    assert str(path) in proc.stderr
    assert EXPECTED[name] in proc.stderr
    if name in HINTS:
        assert HINTS[name] in proc.stderr
    assert proc.stdout == ""
    assert not lf.db.exists(), "an invalid recipe must not create a run"


@pytest.mark.parametrize("name", ["cycle.yaml", "unknown-tool.yaml", "yaml-syntax.yaml"])
def test_validate_json_gives_positions(lf, name):
    proc = lf("validate", BAD / name, "--json", check=2)
    doc = json.loads(proc.stdout)
    assert doc["valid"] is False
    first = doc["errors"][0]
    assert first["file"] == str(BAD / name)
    assert isinstance(first["line"], int) and isinstance(first["column"], int)
    assert EXPECTED[name] in " ".join(e["message"] for e in doc["errors"])


def test_run_json_reports_invalid_recipe_on_stdout(lf):
    proc = lf("run", BAD / "unknown-tool.yaml", "--json", check=2)
    doc = json.loads(proc.stdout)
    assert doc["status"] == "invalid"
    assert doc["errors"][0]["hint"] == "did you mean `file_ops`?"


def test_every_problem_is_reported_at_once(lf):
    path = lf.write(
        "many.yaml",
        "name: many\nstpes: []\nsteps:\n  - id: a\n    tool: file_op\n    action: x\n  - id: a\n    tool: file_ops\n    action: cpy\n",
    )
    proc = lf("validate", path, check=2)
    for phrase in ("unknown key `stpes`", "unknown tool `file_op`", "duplicate step id `a`", "no action `cpy`"):
        assert phrase in proc.stderr
    assert "4 problems in 1 recipe" in proc.stderr


def test_validate_accepts_good_recipes(lf):
    proc = lf("validate", Path(__file__).parent.parent / "recipes" / "getting-started" / "hello-localforge.yaml", check=0)
    assert proc.stdout.startswith("✓ ")


def test_validate_json_points_at_the_node_of_each_problem():
    """`validate --json` problems carry the JSON Pointer of the node they are about (for
    agents and editors), and every pointer names a node of the file."""
    import json
    import subprocess
    import sys

    from localforge import api

    corpus = sorted((FIXTURES / "recipes" / "bad").glob("*.yaml"))
    pointed = 0
    for path in corpus:
        proc = subprocess.run([sys.executable, "-m", "localforge", "validate", str(path), "--json"], capture_output=True, text=True)
        doc = api.parse_yaml(path.read_text(encoding="utf-8", errors="replace"))
        if "positions" not in doc:
            continue  # not YAML at all: nothing to point into
        for e in json.loads(proc.stdout)["errors"]:
            if e.get("line") and e.get("file") == str(path):
                assert e.get("pointer") in doc["positions"], (path.name, e)
                pointed += 1
    assert pointed > 20
    unknown = FIXTURES / "recipes" / "bad" / "unknown-step-key.yaml"
    out = subprocess.run([sys.executable, "-m", "localforge", "validate", str(unknown), "--json"], capture_output=True, text=True).stdout
    assert [e["pointer"] for e in json.loads(out)["errors"]] == ["/steps/0/inptus"], "the unknown key itself"


FMT_TOOL = """\
name: fmt
type: cli
actions:
  pick:
    command: [grep, "{{ filter }}", "{{ input }}"]
    inputs:
      input: {type: path, required: true}
      filter: {type: string, default: "."}
"""

# Declares the inputs of `save`, not of `shout`.
NOTES_PLUGIN = '''\
"""Notes: save a line of text."""
TOOL_NAME = "notes"
TOOL_ACTIONS = ["save", "shout"]
TOOL_INPUTS = {"save": {"text": {"type": "string", "required": True}, "name": {"type": "string", "default": "note.txt"}}}


def handle(action, inputs, ctx):
    path = ctx.temp_dir / inputs.get("name", "note.txt")
    path.write_text(inputs.get("text", ""))
    return {"path": str(path)}
'''

# A 0.x plugin: no TOOL_INPUTS, so its steps' inputs are its own business.
OLD_PLUGIN = """\
TOOL_NAME = "old"
TOOL_ACTIONS = ["go"]


def handle(action, inputs, ctx):
    return {"got": sorted(inputs)}
"""

MISSPELLED = """\
name: misspelled
steps:
  - id: w
    tool: file_ops
    action: write
    inputs:
      path: out.txt
      contnet: hello
  - {id: p, tool: fmt, action: pick, inputs: {input: out.txt, fitler: x}}
  - {id: n, tool: notes, action: save, inputs: {tetx: hi}}
  - id: each
    tool: batch
    action: foreach
    inputs:
      items: [a]
      workflow_steps:
        - {id: s, tool: script, action: run, inputs: {comand: "echo {{ item }}", allow_failure: false}}
"""


@pytest.fixture
def tools(lf):
    """~/.localforge/tools with a YAML tool, a plugin that declares TOOL_INPUTS and a 0.x one."""
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    (folder / "fmt.yaml").write_text(FMT_TOOL)
    (folder / "notes_tool.py").write_text(NOTES_PLUGIN)
    (folder / "old_tool.py").write_text(OLD_PLUGIN)
    return folder


def test_a_misspelled_input_never_passes(lf, tools):
    """An input the step's tool action does not take — a native tool's, a YAML tool
    action's, a batch sub-step's, a TOOL_INPUTS plugin's — is refused by `validate` and by
    `run` before anything runs: exit 2, file:line:column, the name meant."""
    rec = lf.write("r.yaml", MISSPELLED)
    expected = (
        f"error: {rec}:8:7: `file_ops.write` has no input `contnet` (step `w`)\n  hint: did you mean `content`?\n"
        f"error: {rec}:9:63: `fmt.pick` has no input `fitler` (step `p`)\n  hint: did you mean `filter`?\n"
        f"error: {rec}:10:49: `notes.save` has no input `tetx` (step `n`)\n  hint: did you mean `text`?\n"
        f"error: {rec}:17:55: `script.run` has no input `comand` (step `s`)\n  hint: did you mean `command`?\n"
    )
    proc = lf("validate", rec, check=2)
    assert proc.stderr.startswith(expected), proc.stderr
    assert "4 problems in 1 recipe" in proc.stderr
    doc = json.loads(lf("validate", rec, "--json", check=2).stdout)
    assert [(e["line"], e["column"], e["pointer"]) for e in doc["errors"]] == [
        (8, 7, "/steps/0/inputs/contnet"),
        (9, 63, "/steps/1/inputs/fitler"),
        (10, 49, "/steps/2/inputs/tetx"),
        (17, 55, "/steps/3/inputs/workflow_steps/0/inputs/comand"),
    ]
    proc = lf("run", rec, check=2)
    assert proc.stderr.startswith(expected), proc.stderr
    assert not (lf.work / "out.txt").exists(), "nothing ran: no empty file written"
    assert not lf.db.exists(), "an invalid recipe must not create a run"
    refused = json.loads(lf("run", rec, "--json", check=2).stdout)
    assert refused["status"] == "invalid" and refused["errors"][0]["hint"] == "did you mean `content`?"


def test_inputs_a_tool_takes_pass_and_open_or_undeclared_ones_are_not_checked(lf, tools):
    """What each tool really reads passes (0.x spellings it still accepts included); an
    action that passes other inputs on (the LLM's model options), an action TOOL_INPUTS
    leaves out and a 0.x plugin that declares nothing are not checked."""
    rec = lf.write(
        "ok.yaml",
        "name: ok\nsteps:\n"
        "  - {id: w, tool: file_ops, action: write, inputs: {path: out.txt, content: hello, append: false, encoding: utf-8}}\n"
        "  - {id: s, tool: script, action: run, inputs: {command: [cat, out.txt], working_dir: '.', allow_failure: false}}\n"
        "  - {id: n, tool: notes, action: save, inputs: {text: hi, name: n.txt}}\n"
        "  - {id: loud, tool: notes, action: shout, inputs: {volume: 11}}\n"
        "  - {id: o, tool: old, action: go, inputs: {whatever: 1, colour: red}}\n",
    )
    lf("validate", rec, check=0)
    doc = json.loads(lf("run", rec, "--json", check=0).stdout)
    assert doc["steps"]["s"]["outputs"]["stdout"].strip() == "hello"
    assert doc["steps"]["o"]["outputs"]["got"] == ["colour", "whatever"]
    llm = lf.write("llm.yaml", "name: llm\nsteps:\n  - {id: g, tool: ollama, action: generate, inputs: {prompt: hi, temperature: 0.2}}\n")
    lf("validate", llm, check=0)


def test_a_misspelled_blender_input_is_refused_and_its_0x_spellings_pass(lf):
    rec = lf.write(
        "b.yaml",
        "name: b\nsteps:\n"
        "  - {id: p, tool: blender, action: create_primitive, inputs: {shape: cube, ouput: p.png}}\n"
        "  - {id: old, tool: blender, action: render, inputs: {blend_file: a.blend, output_path: a.png, resolution: [64, 64]}}\n",
    )
    proc = lf("validate", rec, check=2)
    assert proc.stderr.startswith(
        f"error: {rec}:3:76: `blender.create_primitive` has no input `ouput` (step `p`)\n  hint: did you mean `output`?\n"
    ), proc.stderr
    assert "1 problem in 1 recipe" in proc.stderr, "the 0.x spellings of `old` pass"


def test_a_misspelled_batch_input_is_refused(lf):
    rec = lf.write(
        "p.yaml",
        "name: p\nsteps:\n  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [a, b]\n      parralel: 2\n"
        "      workflow_steps:\n        - {id: s, tool: script, action: run, inputs: {command: 'echo {{ item }}', allow_failure: false}}\n",
    )
    proc = lf("validate", rec, check=2)
    assert proc.stderr.startswith(
        f"error: {rec}:8:7: `batch.foreach` has no input `parralel` (step `each`)\n  hint: did you mean `parallel`?\n"
    )
    lf("run", rec, check=2)
    assert not lf.db.exists(), "refused before anything ran"


TYPED_PLUGIN = """\
TOOL_NAME = "typed"
TOOL_ACTIONS = ["go"]
TOOL_NATIVE_VALUES = True
TOOL_INPUTS = {"go": {"times": {"type": "integer", "required": True}, "mood": {"type": "string", "choices": ["happy", "sad"]}}}


def handle(action, inputs, ctx):
    return {"times": inputs["times"], "mood": inputs.get("mood")}
"""


def test_a_plugins_declared_inputs_are_held_to_their_type_required_and_choices(lf):
    """TOOL_INPUTS is more than names: a required input must be given, a value is of its
    type (converted as a YAML tool's: "3" is 3) and one of its choices, before `handle`
    runs; a type TOOL_INPUTS misspells makes the plugin unavailable, saying which."""
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    (folder / "typed_tool.py").write_text(TYPED_PLUGIN)
    (folder / "badtype_tool.py").write_text(TYPED_PLUGIN.replace('"typed"', '"badtype"').replace('"integer"', '"intger"'))
    ok = lf.write("ok.yaml", "name: ok\nsteps:\n  - {id: g, tool: typed, action: go, inputs: {times: '3', mood: happy}}\n")
    doc = json.loads(lf("run", ok, "--json", check=0).stdout)
    assert doc["steps"]["g"]["outputs"] == {"times": 3, "mood": "happy"}
    bad = lf.write("bad.yaml", "name: bad\nsteps:\n  - {id: g, tool: typed, action: go, inputs: {mood: angry}}\n")
    doc = json.loads(lf("run", bad, "--json", check=1).stdout)
    assert doc["steps"]["g"]["error"] == "`typed.go`: missing required input `times`; input `mood`: `angry` is not one of `happy`, `sad`"
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert "has type 'intger', which is no input type; did you mean `integer`?" in json.dumps(tools["badtype"]), tools["badtype"]
