"""The JSON Schemas, checked with `check-jsonschema` (PyPI), the tool editors' and CI's
users reach for: the shipped recipes, the 0.x recipes and the shipped YAML tools validate;
every structurally wrong file of the bad-recipe corpus fails; the schema for this
machine's tools rejects an unknown action and a wrong-typed input; `localforge new`
writes a recipe that validates and runs; `list-tools --json --schema` gives each action's
input schema. Skipped without check-jsonschema, except in CI (LOCALFORGE_REQUIRE_TOOLS=1)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO

PACKAGE = REPO / "python" / "localforge"
SCHEMAS = PACKAGE / "data" / "schemas"
CHECKER = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
if not Path(CHECKER).exists():
    if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        raise RuntimeError("check-jsonschema is required (LOCALFORGE_REQUIRE_TOOLS=1): pip install check-jsonschema")
    pytest.skip("check-jsonschema is not installed", allow_module_level=True)

BAD = FIXTURES / "recipes" / "bad"
# The bad recipes whose problem is not their structure — a reference, the step graph, a
# template, a value that must match another — which only the engine can see. Every
# other file of the corpus must fail the schema.
NOT_STRUCTURAL = {
    "approval-default-not-an-option.yaml": "default_action must be one of the same step's options",
    "cycle.yaml": "the step graph",
    "default-not-a-choice.yaml": "default must be one of the same input's choices",
    "duplicate-ids.yaml": "ids unique across steps",
    "forward-reference.yaml": "a template reads a later step",
    "outputs-unknown-step.yaml": "a template names a step",
    "refinement-unknown-trigger.yaml": "a trigger names a step",
    "self-dependency.yaml": "the step graph",
    "template-syntax.yaml": "template syntax",
    "undefined-input.yaml": "a template names an input",
    "unknown-dependency.yaml": "depends_on names a step",
    "unknown-filter.yaml": "a template's filter",
    "unknown-root-name.yaml": "a template's name",
    "unknown-step-reference.yaml": "a template names a step",
    "unknown-action.yaml": "the tools installed: the schema for this machine rejects it (below)",
    "unknown-tool.yaml": "the tools installed: the schema for this machine rejects it (below)",
    "unknown-input.yaml": "the tools installed: the schema for this machine rejects it (below)",
    "unknown-batch-sub-step-input.yaml": "the tools installed: the schema for this machine rejects it (below)",
}
# A YAML alias bomb: the engine's parser refuses it before anything else; a checker that
# expands aliases (check-jsonschema's ruamel) would fill memory.
NOT_CHECKED = {"alias-bomb.yaml"}


def check(schema: Path, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHECKER, "--schemafile", str(schema), *map(str, files)], capture_output=True, text=True, timeout=300)


def shipped_recipes():
    return sorted((PACKAGE / "recipes").rglob("*.yaml"))


@pytest.fixture(scope="module")
def local_schema(tmp_path_factory):
    """`localforge schema recipe` for this machine's tools."""
    out = tmp_path_factory.mktemp("schema") / "recipe.local.schema.json"
    proc = subprocess.run([sys.executable, "-m", "localforge", "schema", "recipe", "-o", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


def test_the_shipped_schemas_are_what_the_engine_writes_now():
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "schemas.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_shipped_and_0x_recipes_validate_against_both_recipe_schemas(local_schema):
    files = shipped_recipes() + sorted((FIXTURES / "recipes" / "0x").glob("*.yaml"))
    assert len(files) > 10
    for schema in (SCHEMAS / "recipe.schema.json", local_schema):
        proc = check(schema, *files)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shipped_yaml_tools_and_the_registry_validate_against_the_tool_schema():
    files = sorted((PACKAGE / "data" / "tools").glob("*.yaml")) + sorted((PACKAGE / "data" / "registry" / "tools").rglob("*.yaml"))
    assert len(files) > 20
    proc = check(SCHEMAS / "tool.schema.json", *files)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_structurally_wrong_bad_recipe_fails_the_schema():
    files = sorted(BAD.glob("*.yaml"))
    assert set(NOT_STRUCTURAL) | NOT_CHECKED <= {f.name for f in files}
    passed = []
    for f in files:
        if f.name in NOT_CHECKED:
            continue
        ok = check(SCHEMAS / "recipe.schema.json", f).returncode == 0
        if ok != (f.name in NOT_STRUCTURAL):
            passed.append(f"{f.name}: {'passes' if ok else 'fails'}")
    assert not passed, "the schema and the corpus disagree: " + "; ".join(passed)


def test_the_schema_for_this_machine_rejects_unknown_tools_actions_and_wrong_typed_inputs(local_schema, tmp_path):
    proc = check(local_schema, BAD / "unknown-action.yaml", BAD / "unknown-tool.yaml")
    assert proc.returncode == 1
    assert "'cpy' is not one of ['copy', 'move'," in proc.stdout
    assert "'file_op' is not one of" in proc.stdout
    # An input the action does not take, a batch sub-step's too, as `validate` refuses it.
    for name in ("unknown-input.yaml", "unknown-batch-sub-step-input.yaml"):
        proc = check(local_schema, BAD / name)
        assert proc.returncode == 1 and "Additional properties are not allowed" in proc.stdout, (name, proc.stdout)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("name: w\nsteps:\n  - {id: c, tool: ffmpeg, action: convert, inputs: {input: a.wav, output: [a.mp3]}}\n")
    proc = check(local_schema, wrong)
    assert proc.returncode == 1 and "$.steps[0].inputs.output: ['a.mp3'] is not valid" in proc.stdout
    # The same step with a template, or text, is fine; and a batch's sub-steps are checked too.
    right = tmp_path / "right.yaml"
    right.write_text(
        "name: r\ninputs: [{name: f, type: path}]\nsteps:\n"
        "  - {id: c, tool: ffmpeg, action: convert, inputs: {input: '{{ inputs.f }}', output: out.mp3, sample_rate: 44100}}\n"
        "  - id: each\n    tool: batch\n    action: foreach\n    inputs:\n      items: [a, b]\n"
        "      workflow_steps:\n        - {id: t, tool: ffmpeg, action: trim, inputs: {input: '{{ item }}', start: x}}\n"
    )
    proc = check(local_schema, right)
    assert proc.returncode == 1 and "$.steps[1].inputs.workflow_steps[0].inputs.start" in proc.stdout
    right.write_text(right.read_text().replace("start: x", "start: 1.5"))
    assert check(local_schema, right).returncode == 0


def test_config_schema_takes_the_configs_init_writes(lf):
    lf("init", check=0)
    proc = check(SCHEMAS / "config.schema.json", lf.work / "localforge.yaml")
    assert proc.returncode == 0, proc.stdout
    bad = lf.write("bad.yaml", "persistence: {enabled: maybe}\nexecutor: {kind: rey}\n")
    proc = check(SCHEMAS / "config.schema.json", bad)
    assert proc.returncode == 1 and "persistence.enabled" in proc.stdout and "executor" in proc.stdout


def test_new_writes_a_recipe_that_validates_and_runs(lf):
    (lf.work / "recipes").mkdir()
    proc = lf("new", "demo", check=0)
    path = lf.work / "recipes" / "demo.yaml"
    assert f"wrote {Path('recipes') / 'demo.yaml'}" in proc.stderr
    first = path.read_text().splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMAS / 'recipe.schema.json'}"
    assert check(SCHEMAS / "recipe.schema.json", path).returncode == 0
    lf("validate", path, check=0)
    report = json.loads(lf("run", path, "--json", "-i", "message=hi there", check=0).stdout)
    assert report["status"] == "completed" and report["outputs"]["message"] == "hi there"
    assert "exists" in lf("new", "demo", check=2).stderr
    # From a template: a built-in recipe, renamed, with the modeline.
    lf("new", "mine.yaml", "--from", "hello-localforge", check=0)
    text = (lf.work / "mine.yaml").read_text()
    assert text.startswith("# yaml-language-server: $schema=") and '\nname: "mine"\n' in text
    assert check(SCHEMAS / "recipe.schema.json", lf.work / "mine.yaml").returncode == 0
    assert "not a recipe name" in lf("new", "bad name", check=2).stderr
    # A name YAML would read as something else is written quoted.
    lf("new", "null", check=0)
    lf("validate", lf.work / "recipes" / "null.yaml", check=0)


def test_every_shipped_recipe_and_yaml_tool_carries_the_schema_modeline():
    tools = sorted((PACKAGE / "data" / "tools").glob("*.yaml"))
    for files, schema in ((shipped_recipes(), "recipe.schema.json"), (tools, "tool.schema.json")):
        for f in files:
            first = f.read_text().splitlines()[0]
            assert first.startswith("# yaml-language-server: $schema="), f
            assert (f.parent / first.split("=", 1)[1]).resolve() == (SCHEMAS / schema).resolve(), f


def test_list_tools_schema_gives_each_actions_inputs(lf):
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", "--schema", check=0).stdout)}
    convert = tools["ffmpeg"]["inputs"]["convert"]
    assert convert["required"] == ["input"] and "output" in convert["properties"] and "format" in convert["properties"]
    assert convert["additionalProperties"] is False
    write = tools["file_ops"]["inputs"]["write"]
    assert write["required"] == ["path"] and write["properties"]["content"] == {
        "description": "What to write (a value that is not text is written as JSON; none: an empty file)."
    }
    pandoc = tools["pandoc"]["inputs"]
    assert all(v is None or v["type"] == "object" for v in pandoc.values())
    assert "workflow_steps" in tools["batch"]["inputs"]["foreach"]["properties"]
    # Without --schema the listing stays as it was.
    assert "inputs" not in json.loads(lf("list-tools", "--json", check=0).stdout)[0]


def test_a_plugins_tool_inputs_reach_the_schemas(lf, tmp_path):
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", "--schema", check=0).stdout)}
    resize = tools["image_processor"]["inputs"]["resize"]
    assert resize["required"] == ["input"] and resize["properties"]["method"]["anyOf"][0]["enum"] == ["lanczos", "bilinear", "nearest"]
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "odd_tool.py").write_text(
        "TOOL_NAME = 'odd'\nTOOL_ACTIONS = ['go']\nTOOL_INPUTS = {'went': {}}\ndef handle(action, inputs, ctx):\n    return {}\n"
    )
    lf.write("localforge.yaml", f"tool_dirs: [{folder}]\n")
    odd = next(t for t in json.loads(lf("list-tools", "--json", check=0).stdout) if t["name"] == "odd")
    assert not odd["available"] and "TOOL_INPUTS names action `went`, which is not in TOOL_ACTIONS" in odd["missing"][0]
