"""`localforge new NAME`: a new recipe with the schema modeline editors read, from a
skeleton that runs as it is, or from a template (a built-in recipe, or a file)."""

import json
import re
import sys
from pathlib import Path

from localforge.frontends.cli.args import parser
from localforge.frontends.cli.output import EXIT_OK, UsageError

MODELINE = "# yaml-language-server: $schema="

SKELETON = """\
{modeline}
# {name}: made by `localforge new`. Check it with `localforge validate {file}`,
# run it with `localforge run {file}`. Every key is described in the schema above:
# your editor completes and explains them (YAML extension: redhat.vscode-yaml).
name: {quoted}
description: What this recipe produces

inputs:
  - name: message
    type: string
    default: hello from {name}
    description: the text to write

steps:
  - id: write
    tool: file_ops
    action: write
    inputs:
      path: "{{{{ workflow.run_dir }}}}/message.txt"
      content: "{{{{ inputs.message }}}}"

  - id: read_back
    tool: file_ops
    action: read
    inputs:
      path: "{{{{ steps.write.outputs.path }}}}"

outputs:
  message: "{{{{ steps.read_back.outputs.content }}}}"
"""


def schema_path() -> Path:
    """The recipe schema shipped with the package."""
    from localforge._paths import data_dir

    return data_dir("data") / "schemas" / "recipe.schema.json"


def with_modeline(text: str, schema: str) -> str:
    """`text` with the schema modeline as its first line (an old one replaced)."""
    lines = [line for line in text.splitlines() if not line.startswith(MODELINE)]
    return "\n".join([MODELINE + schema, *lines]) + "\n"


def main(args) -> int:
    p = parser(
        "new",
        "Write a new recipe NAME.yaml (in ./recipes when that folder exists) with the schema modeline for editors: "
        "a skeleton that runs as it is, or a copy of a template.",
    )
    p.add_argument("name", help="the recipe's name (letters, digits, - and _); or a path ending in .yaml")
    p.add_argument("--from", dest="template", metavar="TEMPLATE", help="start from this recipe: a built-in name or a file")
    p.add_argument("--force", action="store_true", help="replace a file that exists")
    ns = p.parse_args(args)
    target = Path(ns.name)
    if target.suffix not in (".yaml", ".yml"):
        target = (Path("recipes") if Path("recipes").is_dir() else Path(".")) / f"{ns.name}.yaml"
    name = target.stem
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise UsageError(f"`{name}` is not a recipe name", hint="use letters, digits, `-`, `_` and `.` (a path may end in .yaml)")
    if target.exists() and not ns.force:
        raise UsageError(f"{target} exists", hint="choose another name, or --force to replace it")
    schema = str(schema_path())
    if ns.template:
        from localforge.frontends.cli.recipes import resolve

        source = Path(resolve(ns.template))
        text = source.read_text(encoding="utf-8")
        text = re.sub(r"(?m)^name:.*$", lambda _: f"name: {json.dumps(name)}", text, count=1)
        text = with_modeline(text, schema)
    else:
        text = SKELETON.format(modeline=MODELINE + schema, name=name, quoted=json.dumps(name), file=target)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    print(f"  check it:  localforge validate {target}", file=sys.stderr)
    print(f"  run it:    localforge run {target}", file=sys.stderr)
    print("  completion for this machine's tools: localforge schema recipe -o .localforge/recipe.schema.json", file=sys.stderr)
    return EXIT_OK
