"""Plugin authors upgrading from LocalForge 0.x (issue 35): their own unit tests, written
against 0.x's API (`WorkflowContext(recipe, inputs, run_base_dir=...)`,
`ToolRegistry().execute(tool, action, inputs, ctx)`, `resolve`, step outputs,
`preflight_check`), run unchanged against this package; and the `ctx` a real run hands a
plugin counts as a `WorkflowContext`."""

import json
import shutil
import subprocess
import sys

from conftest import FIXTURES


def test_a_plugin_authors_0x_test_suite_passes_unchanged(lf):
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    shutil.copy(FIXTURES / "plugins" / "notes_tool.py", tools / "notes_tool.py")
    shutil.copy(FIXTURES / "plugin_author" / "notes_suite.py", lf.work / "test_notes_plugin.py")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore::DeprecationWarning", "test_notes_plugin.py"],
        cwd=lf.work,
        env=lf.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "8 passed" in proc.stdout, proc.stdout[-2000:]
    assert not (lf.work / "test_runs").exists(), "the suite's own clean-up ran"


WHO_AM_I = """\
from localforge.engine.runner import WorkflowContext

TOOL_NAME = "whoami"
TOOL_ACTIONS = ["check"]


def handle(action, inputs, ctx):
    return {"is_workflow_context": isinstance(ctx, WorkflowContext), "run_id": ctx.run_id}
"""


def test_the_ctx_of_a_real_run_is_a_workflow_context(lf):
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    (tools / "whoami_tool.py").write_text(WHO_AM_I)
    lf.write("who.yaml", "name: who\nsteps:\n  - {id: w, tool: whoami, action: check}\n")
    doc = json.loads(lf("run", "who.yaml", "--json", check=0).stdout)
    out = doc["steps"]["w"]["outputs"]
    assert out == {"is_workflow_context": True, "run_id": doc["run_id"]}
