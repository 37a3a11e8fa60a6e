"""The tool registry (issue 17): search, install, update, remove and publish against a
registry served three ways — a local git repository (cloned with the real `git`), a plain
folder, and a local HTTP server on 127.0.0.1 — the shipped registry/ (every definition
valid, every example run against the real program), and the tampering refusals."""

import functools
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO
from programs import landlock_abi

GREET = """\
name: greet
version: "{version}"
type: cli
description: Say hello through echo ({version})
tags: [text, demo]
license: MIT
author: tests
requirements:
  binary: echo
  install_hint: apt install coreutils
actions:
  say:
    command: [echo, "hello {{{{ who }}}} from {version}"]
    inputs:
      who: {{type: string, default: world}}
example:
  action: say
  inputs: {{who: registry}}
  expect:
    outputs: {{stdout: "hello registry from {version}"}}
"""


def git(*args, cwd=None):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True)


def add_version(root: Path, version: str, text: str = None, name: str = "greet") -> Path:
    path = root / "tools" / name / version / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text or GREET.format(version=version))
    return path


def committed_clone(upstream: Path, clone: Path) -> Path:
    """`upstream` (a registry folder) made a git repository with one commit, and a clone of it."""
    git("init", "-q", "-b", "main", cwd=upstream)
    git("add", "-A", cwd=upstream)
    git("commit", "-qm", "registry", cwd=upstream)
    git("clone", "-q", str(upstream), str(clone))
    return clone


class Served:
    """A registry folder, and how the config names it for each kind of source."""

    def __init__(self, kind, root, lf):
        self.kind, self.root, self.lf = kind, root, lf
        self.server = None
        if kind == "http":
            handler = functools.partial(QuietHandler, directory=str(root))
            self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=self.server.serve_forever, daemon=True).start()
            spec = {"http": f"http://127.0.0.1:{self.server.server_address[1]}"}
        else:
            spec = {kind: str(root)}
        (lf.work / "localforge.yaml").write_text(json.dumps({"registries": {"test": spec}}) + "\n")

    def publish_change(self):
        """Rebuild the index, and commit it for git (then fetch it again)."""
        self.lf("tools", "index", self.root, check=0)
        if self.kind == "git":
            git("add", "-A", cwd=self.root)
            git("commit", "-qm", "update", cwd=self.root)
        # (`tools update` fetches git and HTTP registries again by itself.)

    def close(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(params=["folder", "git", "http"])
def served(request, lf, tmp_path):
    root = tmp_path / "registry"
    add_version(root, "1.0.0")
    lf("tools", "index", root, check=0)
    if request.param == "git":
        git("init", "-q", "-b", "main", cwd=root)
        git("add", "-A", cwd=root)
        git("commit", "-qm", "registry", cwd=root)
    s = Served(request.param, root, lf)
    yield s
    s.close()


def test_search_install_update_remove(served):
    lf = served.lf
    hits = json.loads(lf("tools", "search", "greet", "--registry", "test", "--json", check=0).stdout)["results"]
    assert hits[0]["name"] == "greet" and hits[0]["binaries_present"] and hits[0]["registry"] == "test"
    info = json.loads(lf("tools", "info", "greet", "--registry", "test", "--json", check=0).stdout)
    assert info["commands"] == ["say: echo 'hello world from 1.0.0'"] and info["installed"] is None
    # The text form says what the README says it does: the inputs and the definition's text too.
    text = lf("tools", "info", "greet", "--registry", "test", check=0).stdout
    assert "  inputs:\n    say.who (string, default 'world')\n" in text
    assert "  definition (tools/greet/1.0.0/greet.yaml, " in text and "    | name: greet\n" in text and '    | version: "1.0.0"\n' in text
    proc = lf("tools", "install", "greet@1.0.0", "--registry", "test", "-y", check=0)
    assert "say: echo 'hello world from 1.0.0'" in proc.stderr, "the full argv, defaults filled in, is shown before installing"
    # ... and what it may do when it runs: confined, or why not (issue 28).
    said = "confined (Landlock ABI" if landlock_abi() else "this kernel has no Landlock, so it runs unconfined"
    assert f"and it runs {said}" in proc.stderr and said in info["confinement"], proc.stderr
    assert "opens no TCP connection" in info["confinement"] or not landlock_abi(), info["confinement"]
    target = lf.home / ".localforge" / "tools" / "greet.yaml"
    lock = json.loads((target.parent / "installed.json").read_text())["tools"]["greet"]
    assert lock["version"] == "1.0.0" and lock["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest() and lock["registry"] == "test"
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert tools["greet"]["available"]
    # A newer version appears upstream.
    add_version(served.root, "1.1.0")
    served.publish_change()
    out = json.loads(lf("tools", "update", "-y", "--json", check=0).stdout)["results"]
    assert out == [{"name": "greet", "version": "1.1.0", "updated": True, "previous": "1.0.0"}]
    assert "from 1.1.0" in target.read_text()
    # A local edit is not overwritten without --force.
    target.write_text(target.read_text().replace("Say hello", "Say hi"))
    add_version(served.root, "1.2.0")
    served.publish_change()
    assert "changed locally" in lf("tools", "update", "greet", "-y", check=1).stdout
    assert "Say hi" in target.read_text()
    listed = json.loads(lf("tools", "list", "--installed", "--json", check=0).stdout)["installed"]
    assert listed[0]["name"] == "greet" and listed[0]["changed"]
    lf("tools", "update", "greet", "-y", "--force", check=0)
    assert "from 1.2.0" in target.read_text()
    lf("tools", "remove", "greet", check=0)
    assert not target.exists() and json.loads((target.parent / "installed.json").read_text())["tools"] == {}
    assert "was not installed from a registry" in lf("tools", "remove", "greet", check=2).stderr


def test_a_git_registry_works_offline_from_its_last_fetch(lf, tmp_path):
    root = tmp_path / "upstream"
    add_version(root, "1.0.0")
    lf("tools", "index", root, check=0)
    git("init", "-q", "-b", "main", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-qm", "registry", cwd=root)
    Served("git", root, lf)
    lf("tools", "search", "greet", "--registry", "test", check=0)
    assert (lf.home / ".localforge" / "registries" / "test" / ".git").is_dir(), "cloned with git"
    shutil.rmtree(root)
    proc = lf("tools", "update-index", "test", check=0)
    assert "could not refresh" in proc.stdout and "using the copy fetched" in proc.stdout
    assert lf("tools", "install", "greet", "--registry", "test", "-y", check=0)


def test_publish_commits_the_definition_on_a_new_branch(lf, tmp_path):
    upstream = tmp_path / "upstream"
    add_version(upstream, "1.0.0")
    lf("tools", "index", upstream, check=0)
    clone = committed_clone(upstream, tmp_path / "clone")
    mine = lf.write("wave.yaml", GREET.replace("greet", "wave").format(version="0.1.0"))
    # No git identity: refused, with the commands that set one (never a made-up author).
    proc = lf("tools", "publish", mine, "--registry", clone, "--version", "2.0.0", check=1)
    assert f"git has no name and email to commit as in {clone}" in proc.stderr and f"git -C {clone} config user.email" in proc.stderr
    git("config", "user.name", "Ada", cwd=clone)
    git("config", "user.email", "ada@example.org", cwd=clone)
    out = json.loads(lf("tools", "publish", mine, "--registry", clone, "--version", "2.0.0", "--json", check=0).stdout)
    assert out["branch"] == "add-wave-2.0.0" and not out["example"]["skipped"] and out["example"]["ok"]
    assert out["from"] == "origin/main"
    author = subprocess.run(["git", "-C", str(clone), "log", "-1", "--format=%an <%ae>"], capture_output=True, text=True).stdout.strip()
    assert author == "Ada <ada@example.org>"
    # A second tool, published while the first's branch is checked out, branches from the
    # default branch: its pull request carries it alone.
    other = lf.write("hum.yaml", GREET.replace("greet", "hum").format(version="0.1.0"))
    second = json.loads(lf("tools", "publish", other, "--registry", clone, "--version", "1.0.0", "--json", check=0).stdout)
    files = subprocess.run(
        ["git", "-C", str(clone), "diff", "--name-only", "origin/main", second["commit"]], capture_output=True, text=True
    )
    assert sorted(files.stdout.split()) == ["index.json", "tools/hum/1.0.0/hum.yaml"], files.stdout
    git("checkout", "-q", "add-wave-2.0.0", cwd=clone)
    branch = subprocess.run(["git", "-C", str(clone), "branch", "--show-current"], capture_output=True, text=True).stdout.strip()
    assert branch == "add-wave-2.0.0"
    log = subprocess.run(["git", "-C", str(clone), "log", "-1", "--format=%H %s", "--name-only"], capture_output=True, text=True).stdout
    assert log.startswith(f"{out['commit']} Add wave 2.0.0") and "tools/wave/2.0.0/wave.yaml" in log and "index.json" in log
    index = json.loads((clone / "index.json").read_text())
    assert [(e["name"], e["version"]) for e in index["tools"]] == [("greet", "1.0.0"), ("wave", "2.0.0")]
    assert 'version: "2.0.0"' in (clone / "tools/wave/2.0.0/wave.yaml").read_text()
    # The same version again, a folder that is not a clone, uncommitted changes: each refused, saying why.
    git("checkout", "-q", "main", cwd=clone)
    git("branch", "-q", "-D", "add-wave-2.0.0", cwd=clone)
    same = lf.write("greet-again.yaml", GREET.format(version="1.0.0"))
    assert "greet 1.0.0 is already in the registry" in lf("tools", "publish", same, "--registry", clone, check=1).stderr
    assert "is not a git clone of a registry" in lf("tools", "publish", mine, "--registry", tmp_path, check=1).stderr
    (clone / "stray.txt").write_text("x")
    assert "has uncommitted changes" in lf("tools", "publish", mine, "--registry", clone, "--version", "3.0.0", check=1).stderr
    (clone / "stray.txt").unlink()
    # A failing example is not published.
    bad = lf.write("bad.yaml", GREET.replace("greet", "badex").replace("hello registry", "goodbye").format(version="1.0.0"))
    git("checkout", "-q", "main", cwd=clone)
    proc = lf("tools", "publish", bad, "--registry", clone, check=1)
    assert "the example of badex failed" in proc.stderr
    assert not (clone / "tools/badex").exists()


def test_the_shipped_registry_is_valid_and_its_examples_run(lf):
    from localforge import api
    from localforge.services.tool_registry.example import run_example

    lf("tools", "index", REPO / "registry", "--check", check=0)
    paths = sorted((REPO / "registry" / "tools").glob("*/*/*.yaml"))
    assert len(paths) >= 12
    ran, failed = [], []
    for path in paths:
        doc = api.tool_definition(path, shared=True)
        assert doc["problems"] == [] and doc["refused"] == [], (doc["problems"], doc["refused"])
        assert doc["document"].get("example"), f"{path.name} has an example"
        result = run_example(path.read_bytes(), doc["document"])
        if not result["skipped"]:
            (ran if result["ok"] else failed).append((doc["name"], result["detail"]))
    assert not failed, failed
    if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        assert len(ran) >= 10, ran


def test_install_from_the_community_registry_then_a_recipe_uses_it(lf):
    if not shutil.which("jq"):
        pytest.skip("jq is not installed")
    hits = json.loads(lf("tools", "search", "json", "query", "--json", check=0).stdout)["results"]
    assert hits[0]["name"] == "jq" and hits[0]["registry"] == "community"
    lf("tools", "install", "jq", "-y", check=0)
    data = lf.write("data.json", '{"items": [{"name": "a"}, {"name": "b"}]}')
    recipe = lf.write(
        "names.yaml",
        "name: names\ninputs:\n  - {name: file, type: path, required: true}\nsteps:\n"
        "  - {id: q, tool: jq, action: query, inputs: {input: '{{ inputs.file }}', filter: '[.items[].name]'}}\n"
        "outputs:\n  names: '{{ steps.q.outputs.json }}'\n",
    )
    doc = json.loads(lf("run", recipe, "-i", f"file={data}", "--json", "-q", check=0).stdout)
    assert doc["outputs"]["names"] == ["a", "b"]


def test_missing_binaries_still_install_with_the_hint(lf, tmp_path):
    root = tmp_path / "reg"
    add_version(root, "1.0.0", GREET.format(version="1.0.0").replace("echo", "no-such-program-xyz"))
    lf("tools", "index", root, check=0)
    Served("folder", root, lf)
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=0)
    assert "cannot run until you install `no-such-program-xyz`: apt install coreutils" in proc.stderr
    tools = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert not tools["greet"]["available"]


# --- tampering: each refused with a clear message, and nothing written ---------------------


@pytest.fixture
def folder_registry(lf, tmp_path):
    root = tmp_path / "reg"
    add_version(root, "1.0.0")
    lf("tools", "index", root, check=0)
    Served("folder", root, lf)
    return root


def _nothing_written(lf):
    tools = lf.home / ".localforge" / "tools"
    assert not (tools / "greet.yaml").exists() and not [p for p in tools.glob("*.yaml")]
    lock = tools / "installed.json"
    assert not lock.exists() or json.loads(lock.read_text())["tools"] == {}


def _set_entry(root: Path, **changes):
    index = json.loads((root / "index.json").read_text())
    index["tools"][0].update(changes)
    (root / "index.json").write_text(json.dumps(index))


def test_bytes_that_differ_from_the_index_are_refused(lf, folder_registry):
    path = folder_registry / "tools/greet/1.0.0/greet.yaml"
    path.write_text(path.read_text().replace("echo", "echo", 1) + "# changed after indexing\n")
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=1)
    assert "does not match the index" in proc.stderr
    _nothing_written(lf)


@pytest.mark.parametrize("ref", ["../evil", "/etc/passwd", "a/b", "greet@../1"])
def test_names_with_paths_are_refused(lf, folder_registry, ref):
    proc = lf("tools", "install", ref, "-y", "--registry", "test", check=2)
    assert "is not allowed" in proc.stderr
    _nothing_written(lf)


def test_an_index_pointing_outside_the_registry_is_refused(lf, folder_registry):
    _set_entry(folder_registry, path="/etc/passwd")
    assert "not a LocalForge registry index" in lf("tools", "install", "greet", "-y", "--registry", "test", check=1).stderr
    _set_entry(folder_registry, path="tools/greet/1.0.0/../../other/1.0.0/greet.yaml")
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=1)
    assert "not a LocalForge registry index" in proc.stderr or "not tools/greet/1.0.0/greet.yaml" in proc.stderr
    _nothing_written(lf)


def test_a_symlinked_definition_is_refused(lf, folder_registry, tmp_path):
    path = folder_registry / "tools/greet/1.0.0/greet.yaml"
    outside = tmp_path / "outside.yaml"
    shutil.move(path, outside)
    path.symlink_to(outside)
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=1)
    assert "is a symbolic link" in proc.stderr
    _nothing_written(lf)


def test_a_50_mb_definition_is_refused_unread(lf, folder_registry):
    path = folder_registry / "tools/greet/1.0.0/greet.yaml"
    with open(path, "a") as f:
        f.write(("#" * 1023 + "\n") * 50 * 1024)
    _set_entry(folder_registry, sha256=hashlib.sha256(path.read_bytes()).hexdigest(), size=path.stat().st_size)
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=1)
    assert "52.4 MB; a tool definition may be at most 256 KiB" in proc.stderr
    _nothing_written(lf)


def test_a_yaml_bomb_is_refused(lf, folder_registry):
    path = folder_registry / "tools/greet/1.0.0/greet.yaml"
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    path.write_text(bomb)
    _set_entry(folder_registry, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=2, timeout=60)
    assert "is not a valid tool definition" in proc.stderr and "alias" in proc.stderr
    _nothing_written(lf)


@pytest.mark.parametrize(
    "change, words",
    [
        (("      who: {type: string, default: world}", "      who: {type: string, default: 'x; rm -rf ~'}"), "holds shell syntax"),
        (("      who: {type: string, default: world}", "      who: {type: string, default: '$(id)'}"), "holds shell syntax"),
        (
            ('    command: [echo, "hello {{ who }} from 1.0.0"]', '    command: [bash, -c, "echo {{ who }}"]'),
            "but the definition declares `requirements.binary: echo`",
        ),
        (('    command: [echo, "hello {{ who }} from 1.0.0"]', '    shell: true\n    command: "echo {{ who }}"'), "uses `shell: true`"),
        (
            ('    command: [echo, "hello {{ who }} from 1.0.0"]', """    command: "'bash' -c 'id > /tmp/x'\""""),
            "but the definition declares `requirements.binary: echo`",
        ),
        (
            ('    command: [echo, "hello {{ who }} from 1.0.0"]', '    command: " bash -c id"'),
            "but the definition declares `requirements.binary: echo`",
        ),
        (
            ('    command: [echo, "hello {{ who }} from 1.0.0"]', "    command: [python3, -c, 'import os']"),
            "but the definition declares `requirements.binary: echo`",
        ),
        (
            ('    command: [echo, "hello {{ who }} from 1.0.0"]', "    command: [timeout, '5', sh, -c, id]"),
            "but the definition declares `requirements.binary: echo`",
        ),
    ],
)
def test_shell_in_a_shared_definition_is_refused(lf, folder_registry, change, words):
    path = folder_registry / "tools/greet/1.0.0/greet.yaml"
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1]))
    _set_entry(folder_registry, sha256=hashlib.sha256(path.read_bytes()).hexdigest())
    proc = lf("tools", "install", "greet", "-y", "--registry", "test", check=1)
    assert words in proc.stderr, proc.stderr
    _nothing_written(lf)


def test_an_interrupted_install_leaves_the_previous_version(lf, folder_registry, monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(lf.home))
    from localforge.services.tool_registry import installer, sources

    src = sources.Source("test", "folder", str(folder_registry))
    _, entry = installer.find([src], "greet")
    installer.install(src, entry, tmp_path / "s1")
    target = installer.tool_dir() / "greet.yaml"
    before, lock_before = target.read_bytes(), (target.parent / "installed.json").read_bytes()
    add_version(folder_registry, "1.1.0")
    lf("tools", "index", folder_registry, check=0)
    _, newer = installer.find([src], "greet")
    assert newer["version"] == "1.1.0"
    real_replace = os.replace

    def interrupted(a, b):
        if str(b).endswith("greet.yaml"):
            raise KeyboardInterrupt
        return real_replace(a, b)

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        installer.install(src, newer, tmp_path / "s2")
    monkeypatch.setattr(os, "replace", real_replace)
    assert target.read_bytes() == before and (target.parent / "installed.json").read_bytes() == lock_before
    assert [p.name for p in target.parent.iterdir() if p.name.startswith(".greet")] == [], "no temporary file left"


def test_bad_usage(lf):
    assert "unknown command `localforge tools instal`" in lf("tools", "instal", "x", check=2).stderr
    assert "no tool `nosuchtool`" in lf("tools", "install", "nosuchtool", "-y", check=2).stderr
    assert "no registry `nope`" in lf("tools", "search", "x", "--registry", "nope", check=2).stderr
    proc = lf("tools", "install", "jq", check=2)
    assert "confirm with -y" in proc.stderr


# --- unbounded reads (issue 28, item 5) ----------------------------------------------------


class Trickle(http.server.BaseHTTPRequestHandler):
    """Answers one byte every 0.3 s: in its status line (`/slow-head`) or in a body
    that claims 100 kB."""

    def do_GET(self):
        head = b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n"
        try:
            if self.path.startswith("/slow-head"):
                for b in head:
                    self.wfile.write(bytes([b]))
                    self.wfile.flush()
                    time.sleep(0.3)
            else:
                self.wfile.write(head)
            for _ in range(200):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("where", ["slow-head", "slow-body"])
def test_a_trickling_http_registry_is_given_up_at_one_deadline(monkeypatch, where):
    from conftest import serve
    from localforge.services.tool_registry import sources
    from localforge.services.tool_registry.layout import RegistryError

    monkeypatch.setattr(sources, "FETCH_DEADLINE", 2.0)
    with serve(Trickle) as url:
        t0 = time.monotonic()
        with pytest.raises(RegistryError) as e:
            sources.http_get(f"{url}/{where}/index.json", 1000)
        took = time.monotonic() - t0
    assert "took over 2 s" in str(e.value) and f"{where}/index.json" in str(e.value)
    assert took < 10, f"a deadline of 2 s, not one per read: {took:.1f} s"


def _http_registry(lf, tmp_path):
    root = tmp_path / "registry"
    add_version(root, "1.0.0")
    lf("tools", "index", root, check=0)
    return Served("http", root, lf)


@pytest.mark.parametrize(
    "bad, says",
    [
        (b"<html>not an index</html>", "index.json is not JSON"),
        (b'{"format": 1, "tools": "no"}', "not a LocalForge registry index"),
        (b"[" + b" " * (9 * 1024 * 1024) + b"]", "an index.json may be at most 8192 KiB"),
    ],
    ids=["garbage", "not-an-index", "oversized"],
)
def test_a_bad_index_from_http_keeps_the_last_good_copy(lf, tmp_path, bad, says):
    served = _http_registry(lf, tmp_path)
    try:
        assert "greet" in lf("tools", "search", "greet", check=0).stdout
        cached = lf.home / ".localforge" / "registries" / "test" / "index.json"
        good = cached.read_bytes()
        (served.root / "index.json").write_bytes(bad)
        proc = lf("tools", "update-index", check=None)
        assert says in proc.stdout + proc.stderr, proc.stdout + proc.stderr
        assert cached.read_bytes() == good, "the last good copy is kept"
        assert [p.name for p in cached.parent.iterdir() if p.name.startswith(".index")] == [], "no temporary file left"
        assert "greet" in lf("tools", "search", "greet", check=0).stdout
    finally:
        served.close()


def test_one_index_limit_for_every_registry_and_for_tools_index(lf, folder_registry, monkeypatch):
    # An index over a definition's 256 KiB limit (a registry of ~800 tools) is read.
    index = (folder_registry / "index.json").read_text()
    (folder_registry / "index.json").write_text(index + " " * (400 * 1024))
    assert "greet" in lf("tools", "search", "greet", check=0).stdout
    (folder_registry / "index.json").write_text(index + " " * (9 * 1024 * 1024))
    proc = lf("tools", "search", "greet", check=None)
    assert proc.returncode != 0 and "`index.json` is 9.4 MB; an index.json may be at most 8192 KiB" in proc.stderr
    # `tools index` refuses to write what `tools search` would refuse.
    from localforge.services.tool_registry import layout

    monkeypatch.setattr(layout, "MAX_INDEX", 300)
    with pytest.raises(layout.RegistryError) as e:
        layout.index_text(json.loads(index))
    assert "the index.json of 1 definitions would be" in str(e.value) and "at most 0 KiB" in str(e.value)


# --- an interrupted install (issue 28, item 8) ---------------------------------------------

KILLED_INSTALL = """\
import os, sys
from pathlib import Path
from localforge.services.tool_registry import installer, sources

src = sources.Source("test", "folder", sys.argv[1])
_, newer = installer.find([src], "greet")
real, when = os.replace, sys.argv[2]


def replace(a, b):
    if str(b).endswith("greet.yaml"):
        if when == "after":
            real(a, b)
        os._exit(137)  # as a kill -9: nothing after runs
    return real(a, b)


os.replace = replace
installer.install(src, newer, Path(sys.argv[3]))
"""


@pytest.mark.parametrize("when, version", [("before", "1.0.0"), ("after", "1.1.0")])
def test_an_install_killed_between_its_two_writes_is_settled_on_the_next_start(lf, folder_registry, tmp_path, when, version):
    lf("tools", "install", "greet", "-y", check=0)
    add_version(folder_registry, "1.1.0")
    lf("tools", "index", folder_registry, check=0)
    script = tmp_path / "killed_install.py"
    script.write_text(KILLED_INSTALL)
    argv = [sys.executable, str(script), str(folder_registry), when, str(tmp_path / "scratch")]
    proc = subprocess.run(argv, env=lf.env, cwd=lf.work, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 137, proc.stderr
    target = lf.home / ".localforge" / "tools" / "greet.yaml"
    assert f"from {version}" in target.read_text()
    assert "pending" in json.loads((target.parent / "installed.json").read_text()), "the kill left the intent behind"
    listed = json.loads(lf("tools", "list", "--installed", "--json", check=0).stdout)["installed"]
    assert [(t["name"], t["version"], t["changed"]) for t in listed] == [("greet", version, False)]
    out = json.loads(lf("tools", "update", "-y", "--json", check=0).stdout)["results"]
    assert out[0]["version"] == "1.1.0" and "from 1.1.0" in target.read_text()
    lock = json.loads((target.parent / "installed.json").read_text())
    assert "pending" not in lock and lock["tools"]["greet"]["version"] == "1.1.0"


def test_a_recipe_naming_a_registry_tool_that_is_not_installed_says_how_to_install_it(lf):
    """Issue 31 item 6: after `tools remove jq` (or before any install), a recipe using `jq`
    hears that the registry has it, not only that the name is unknown."""
    rec = lf.write("q.yaml", "name: q\nsteps:\n  - {id: q, tool: jq, action: query, inputs: {input: x.json}}\n")
    proc = lf("validate", rec, check=2)
    assert "step `q` uses unknown tool `jq`" in proc.stderr
    assert "hint: it is in the tool registry: install it with `localforge tools install jq`" in proc.stderr
    proc = lf("validate", lf.write("n.yaml", "name: n\nsteps:\n  - {id: n, tool: jqq, action: x}\n"), check=2)
    assert "install it" not in proc.stderr, "a name the registry does not have gets the usual hint"


def test_an_example_naming_a_path_outside_its_folder_does_not_run(tmp_path):
    """The author is the caller of its own example, and a caller's output path grants the
    tool that path's folder: `tools publish` (and CI) must not run an example whose
    inputs name a path outside the example's folder."""
    from localforge.services.tool_registry.example import run_example

    victim = tmp_path / "victim"
    victim.mkdir()
    templated = "{{ '..' }}/{{ '..' }}/{{ '..' }}/{{ '..' }}/{{ '..' }}/{{ '..' }}/{{ '..' }}" + str(victim / "made")
    commented = "{# #}../{# #}../{# #}../{# #}../{# #}../{# #}../{# #}.." + str(victim / "made")
    for output in ["../../../../../../.." + str(victim / "made"), str(victim / "made"), templated, commented]:
        text = (
            "name: toucher\nversion: 1.0.0\ntype: cli\nrequirements: {binary: touch}\nactions:\n  go:\n"
            '    command: [touch, "{{ output }}"]\n    inputs:\n      output: {type: path, output: true}\n'
            f"example:\n  action: go\n  inputs: {{output: '{output}'}}\n"
        )
        doc = {"name": "toucher", "requirements": {"binary": "touch"}, "actions": {"go": {"inputs": {"output": {"type": "path"}}}},
               "example": {"action": "go", "inputs": {"output": output}}}  # fmt: skip
        result = run_example(text.encode(), doc)
        assert not result["ok"] and ("outside the example's folder" in result["detail"] or "is the template" in result["detail"]), result
        assert not (victim / "made").exists()
