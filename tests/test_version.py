"""Which project and version this is (issue 35): one version, above 0.x's 0.2.0, the same in
Cargo.toml, the installed package's metadata, `localforge.__version__`, the engine and
`--version`; the distribution name in one place; and no install line in the README that
would fetch another project from PyPI."""

import re
from importlib.metadata import version as installed_version

import localforge
from conftest import REPO
from localforge import _core, _project


def _cargo_version() -> str:
    text = (REPO / "Cargo.toml").read_text()
    return re.search(r'^version = "([^"]+)"', text, re.M).group(1)


def test_one_version_above_0x_everywhere(lf):
    v = _cargo_version()
    assert tuple(int(x) for x in v.split(".")[:3]) > (0, 2, 0), v
    assert localforge.__version__ == _core.__version__ == installed_version(_project.DIST) == v
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and not re.search(r"^version\s*=", pyproject, re.M), "Cargo.toml is the one place"
    first, second = lf("--version", check=0).stdout.splitlines()
    assert first == f"localforge {v}"
    assert second.startswith(f"LocalForge {v}: ") and "successor of LocalForge 0.x" in second and f"`{_project.DIST}`" in second


def test_the_distribution_name_is_written_once():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r'^name = "([^"]+)"', pyproject, re.M).group(1) == _project.DIST
    code = [p for p in (REPO / "python" / "localforge").rglob("*.py") if p.name != "_project.py"]
    stray = [str(p) for p in code if re.search(r"pip install '?localforge\[", p.read_text())]
    assert not stray, f"install hints come from _project.install(): {stray}"


def test_install_hints_name_the_packages_of_the_extra():
    assert _project.install("ui") == "pip install 'starlette>=0.36' 'uvicorn>=0.27'"
    assert _project.install("ray") == "pip install 'ray>=2.52'"
    assert _project.install("nothing-like-it") == f"pip install '{_project.DIST}[nothing-like-it]'"


def test_the_readme_installs_nothing_from_pypi_by_this_name():
    readme = (REPO / "README.md").read_text()
    for line in re.findall(r"pip install [^`\n]*", readme):
        if "pip install localforge`" in line + "`":
            continue  # the sentence that warns about it
        assert not re.search(r"pip install ['\"]?localforge\b", line), line
    assert "belongs to another project" in readme and "`localforge --version` says which project is running" in readme
