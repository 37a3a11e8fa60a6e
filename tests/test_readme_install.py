"""The README's install lines (issue 35), run as written in a scratch virtual environment:
each optional part's `pip install` line resolves against the package index (`--dry-run`:
what it would install, without downloading whole wheels where the index serves their
metadata), and none of them fetches another project named `localforge`. The quick start
(`pip install .`) and the release wheel's line are run by scripts/test.sh itself (the
extension build and scripts/check-wheel.sh)."""

import os
import re
import shlex
import subprocess
import sys
import venv

import pytest

from conftest import REPO

README = (REPO / "README.md").read_text()
# `.venv/bin/pip install ...` lines of the optional parts, with the README's own comments.
LINES = sorted(
    {m.group(1).strip() for m in re.finditer(r"\.venv/bin/pip (install [^`#\n&]+)", README)} - {"install ."}  # `.`: the quick start
)


def test_the_readme_has_an_install_line_for_each_optional_part():
    joined = " ".join(LINES)
    for package in ("starlette", "uvicorn", "mcp", "ray", "Pillow", "numpy", "requests", "PyYAML"):
        assert package in joined, package


@pytest.fixture(scope="module")
def scratch_pip(tmp_path_factory):
    where = tmp_path_factory.mktemp("readme-venv")
    venv.create(where, with_pip=True)
    pip = where / "bin" / "pip"
    probe = subprocess.run([str(pip), "download", "--no-deps", "--dry-run", "-q", "six"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0 and "--dry-run" not in probe.stderr:
        if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
            raise RuntimeError(f"the package index cannot be reached: {probe.stderr[-500:]}")
        pytest.skip("the package index cannot be reached")
    return pip


@pytest.mark.parametrize("line", LINES)
def test_each_install_line_resolves_and_installs_no_other_localforge(line, scratch_pip):
    args = shlex.split(line)
    assert args[0] == "install" and not any(re.match(r"['\"]?localforge\b", a) for a in args[1:]), line
    if "mcp" in line and sys.version_info < (3, 10):
        pytest.skip("the MCP SDK needs Python 3.10+")
    proc = subprocess.run(
        [str(scratch_pip), *args, "--dry-run", "--disable-pip-version-check", "--ignore-installed", "--report", "-"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"name": "localforge"' not in proc.stdout.lower().replace("'", '"'), "it would install a `localforge` from the index"
