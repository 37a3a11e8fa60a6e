"""LocalForge's own data is its user's alone (issue 28, item 6): under `umask 000`, a run
that is recorded in the history and fills the step cache leaves `~/.localforge`, the
cache's folders and the database 0700/0600, so another local user can neither read past
runs nor put objects into the cache."""

import json
import os
import stat

import pytest

COPY_TOOL = """\
name: copier
type: cli
description: Copy a file (test tool)
deterministic: true
actions:
  copy:
    command: ["cp", "{{ input }}", "{{ output }}"]
    inputs:
      input: {type: path, required: true}
      output: {type: path, output: true, required: true}
    outputs:
      output: {path: "{{ output }}"}
"""

RECIPE = """\
name: private
inputs:
  - {name: first, type: path, required: true}
steps:
  - {id: a, tool: copier, action: copy, inputs: {input: "{{ inputs.first }}", output: "{{ workflow.run_dir }}/a.txt"}}
"""


@pytest.fixture
def umask_000():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path):
    return stat.S_IMODE(path.lstat().st_mode)


def test_history_and_cache_are_private_whatever_the_umask(lf, umask_000):
    # An older version (or a hand-made folder) left ~/.localforge open to everyone.
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    assert mode(lf.home / ".localforge") == 0o777
    (tools / "copier.yaml").write_text(COPY_TOOL)
    first = lf.write("first.txt", "one\n")
    recipe = lf.write("private.yaml", RECIPE)
    for _ in range(2):  # the second run is served from the cache
        doc = json.loads(lf("run", recipe, "-i", f"first={first}", "--json", "-q", check=0).stdout)
    steps = json.loads(lf("history", "show", doc["run_id"], "--json", check=0).stdout)["steps"]
    assert steps[0]["status"] == "cached"

    assert mode(lf.home / ".localforge") == 0o700, "~/.localforge is tightened"
    db_files = [p for p in (lf.home / ".localforge").iterdir() if p.name.startswith("runs.db")]
    assert db_files and {p.name: mode(p) for p in db_files} == {p.name: 0o600 for p in db_files}
    cache = lf.home / ".localforge" / "cache"
    folders = [cache, *[p for p in cache.rglob("*") if p.is_dir()]]
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert {"objects", "entries"} <= {p.name for p in folders} and len(files) >= 2
    assert {str(p): oct(mode(p)) for p in folders} == {str(p): "0o700" for p in folders}
    assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}


def test_a_registry_install_makes_its_folders_private(home, umask_000):
    from localforge._paths import private_dir

    tools = private_dir(home.parent / "home" / ".localforge" / "tools")
    assert [mode(tools), mode(tools.parent)] == [0o700, 0o700]
    open_one = home / "shared"
    open_one.mkdir()
    assert private_dir(open_one / "new") and mode(open_one) == 0o777, "only folders it makes, and ~/.localforge, change"
    assert mode(open_one / "new") == 0o700
