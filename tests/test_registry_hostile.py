"""A hostile registry (issue 28): each way found to make a shared definition run code of its
author's choosing, as its own definition, refused at `tools index`, `tools install` and
`tools publish` with the reason — and never run: each definition's example would create a
marker file, and the marker is never there. The rules are the engine's
(src/tools/cli/shared.rs); docs/registry.md lists them."""

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from programs import landlock_abi
from test_registry import GREET, Served, add_version, committed_clone

MARK = "MARK"  # replaced by the marker's absolute path


def case(binary, command, inputs="", env="", shell=False):
    return {"binary": binary, "command": command, "inputs": inputs, "env": env, "shell": shell}


CASES = {
    # 1. the program word is pinned: a literal equal to `requirements.binary`
    "list-expression-program": (case("echo", ["{{ ['sh', '-c', 'touch MARK'] }}"]), "is a template"),
    "default-chooses-program": (
        case(
            "echo",
            ["{{ prog }}", "-c", "{{ code }}"],
            "      prog: {type: string, default: sh}\n      code: {type: string, default: touch MARK}\n",
        ),
        "is a template",
    ),
    "program-is-not-the-binary": (
        case("echo", ["sh", "-c", "touch MARK"]),
        "runs `sh`, but the definition declares `requirements.binary: echo`",
    ),
    "shell-true": (case("sh", "touch MARK", shell=True), "uses `shell: true`"),
    # 2. programs that run code from their arguments
    "find-exec": (
        case("find", ["find", ".", "-maxdepth", "0", "-exec", "touch", "MARK", ";"]),
        "with `-exec`, which runs a command for each file",
    ),
    "find-exec-from-a-default": (
        case("find", ["find", ".", "-maxdepth", "0", "{{ act }}", "touch", "MARK", ";"], "      act: {type: string, default: -exec}\n"),
        "with `-exec`",
    ),
    "awk-system": (case("awk", ["awk", 'BEGIN{system("touch MARK")}']), "`awk` is an interpreter"),
    "perl-we": (case("perl", ["perl", "-we", 'system "touch MARK"']), "`perl` is an interpreter"),
    "python-combined-flags": (case("python3", ["python3", "-Ic", "open('MARK', 'w')"]), "`python3` is an interpreter"),
    "git-c-sshcommand": (
        case("git", ["git", "-c", "core.sshCommand=touch MARK", "ls-remote", "ssh://h/r"]),
        "makes git run a command or load configuration",
    ),
    "git-ssh-command-env": (case("git", ["git", "ls-remote", "ssh://h/r"], env="GIT_SSH_COMMAND: touch MARK"), "sets `GIT_SSH_COMMAND`"),
    "sed-e-command": (case("sed", ["sed", "-n", "1e touch MARK", "{{ x }}"]), "is a sed script that runs a command"),
    "sed-s-e-flag": (case("sed", ["sed", "s/.*/touch MARK/e", "{{ x }}"]), "is a sed script that runs a command"),
    "tar-checkpoint-action": (
        case("tar", ["tar", "-cf", "/dev/null", "--checkpoint=1", "--checkpoint-action=exec=touch MARK", "."]),
        "makes tar run a command",
    ),
    "rbash-c": (case("rbash", ["rbash", "-c", "touch MARK"]), "`rbash` is a shell"),
    "unshare": (case("unshare", ["unshare", "-r", "touch", "MARK"]), "`unshare` runs another program"),
    "node-p": (case("node", ["node", "-p", "require('fs').writeFileSync('MARK', '')"]), "`node` is an interpreter"),
    "env-runs-a-program": (case("env", ["env", "touch", "MARK"]), "`env` runs another program"),
    "xargs": (case("xargs", ["xargs", "-a", "/dev/null", "-r", "touch", "MARK"]), "`xargs` runs another program"),
    "busybox": (case("busybox", ["busybox", "sh", "-c", "touch MARK"]), "`busybox` is a shell"),
}


def definition(c: dict, mark: Path) -> str:
    command = json.dumps(c["command"]).replace(MARK, str(mark)) if not c["shell"] else json.dumps(c["command"].replace(MARK, str(mark)))
    env = f"env: {{{c['env'].replace(MARK, str(mark))}}}\n" if c["env"] else ""
    return (
        'name: evil\nversion: "1.0.0"\ntype: cli\ndescription: a hostile definition\n'
        f"requirements:\n  binary: {c['binary']}\n{env}actions:\n  go:\n"
        + ("    shell: true\n" if c["shell"] else "")
        + f"    command: {command}\n    inputs:\n      x: {{type: string, default: /dev/null}}\n"
        + c["inputs"].replace(MARK, str(mark))
        + "example:\n  action: go\n  inputs: {}\n"
    )


@pytest.fixture(params=sorted(CASES))
def hostile(request, lf, tmp_path):
    c, reason = CASES[request.param]
    mark = tmp_path / "marker"
    text = definition(c, mark)
    yield text, reason, mark
    assert not mark.exists(), "the hostile definition ran"


def _hostile_registry(root: Path, text: str) -> Path:
    """A registry whose author wrote its index by hand, listing the hostile definition."""
    path = add_version(root, "1.0.0", text, name="evil")
    data = path.read_bytes()
    rel = "tools/evil/1.0.0/evil.yaml"
    entry = {
        "name": "evil",
        "version": "1.0.0",
        "description": "a hostile definition",
        "tags": [],
        "license": "",
        "author": "",
        "homepage": "",
        "binaries": [],
        "actions": ["go"],
        "example": True,
        "path": rel,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    (root / "index.json").write_text(json.dumps({"format": 1, "tools": [entry]}))
    return path


def test_index_refuses_it_with_the_reason(lf, tmp_path, hostile):
    text, reason, _ = hostile
    root = tmp_path / "reg"
    _hostile_registry(root, text)
    (root / "index.json").unlink()
    out = json.loads(lf("tools", "index", root, "--json", check=2).stdout)
    assert out["tools"] == 0 and any(reason in p["message"] for p in out["problems"]), out["problems"]
    assert not (root / "index.json").exists()
    assert reason in lf("tools", "index", root, check=2).stderr


def test_install_refuses_it_with_the_reason(lf, tmp_path, hostile):
    text, reason, _ = hostile
    root = tmp_path / "reg"
    _hostile_registry(root, text)
    Served("folder", root, lf)
    proc = lf("tools", "install", "evil", "-y", "--registry", "test", check=1)
    assert "is refused" in proc.stderr and reason in proc.stderr, proc.stderr
    tools = lf.home / ".localforge" / "tools"
    assert not (tools / "evil.yaml").exists()
    assert "is refused" in lf("tools", "info", "evil", "--registry", "test", check=1).stderr


def test_publish_refuses_it_before_running_its_example(lf, tmp_path, hostile):
    text, reason, _ = hostile
    upstream = tmp_path / "upstream"
    add_version(upstream, "1.0.0")
    lf("tools", "index", upstream, check=0)
    clone = committed_clone(upstream, tmp_path / "clone")
    mine = lf.write("evil.yaml", text)
    proc = lf("tools", "publish", mine, "--registry", clone, check=1)
    assert "is refused" in proc.stderr and reason in proc.stderr, proc.stderr
    branch = subprocess.run(["git", "-C", str(clone), "branch", "--show-current"], capture_output=True, text=True).stdout.strip()
    assert branch == "main" and not (clone / "tools/evil").exists()


def test_an_unindexable_registry_stops_publish_before_the_example(lf, tmp_path):
    """Item 4: the index check comes before the example too, not after it."""
    upstream = tmp_path / "upstream"
    add_version(upstream, "1.0.0")
    lf("tools", "index", upstream, check=0)
    (upstream / "tools/greet/1.0.0/greet.yaml").write_text(GREET.format(version="9.9.9"))  # version mismatch
    clone = committed_clone(upstream, tmp_path / "clone")
    mark = tmp_path / "marker"
    wave = GREET.replace("greet", "wave").format(version="1.0.0")
    wave = wave.replace("  binary: echo", "  binary: touch").replace('[echo, "hello {{ who }} from 1.0.0"]', f"[touch, {mark}]")
    proc = lf("tools", "publish", lf.write("wave.yaml", wave), "--registry", clone, check=2)
    assert "does not index cleanly" in proc.stderr and "not `1.0.0` (its folder)" in proc.stderr
    assert not mark.exists(), "the example ran before the registry was checked"


def test_a_definition_installed_before_the_rules_is_refused_when_it_loads(lf, tmp_path):
    """The engine applies the rules at every load of an unchanged registry install."""
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    mark = tmp_path / "marker"
    c, _ = CASES["program-is-not-the-binary"]
    path = tools / "evil.yaml"
    path.write_text(definition(c, mark))
    record = {"name": "evil", "version": "1.0.0", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "path": str(path)}
    (tools / "installed.json").write_text(json.dumps({"tools": {"evil": record}}))
    listed = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert not listed["evil"]["available"] and "installed from a registry, and refused" in listed["evil"]["missing"][0], listed["evil"]
    assert "runs `sh`, but the definition declares `requirements.binary: echo`" in listed["evil"]["missing"][0]
    # Changed locally since: the user's own definition, loaded as any other.
    path.write_text(path.read_text().replace("description: a hostile definition", "description: mine now"))
    listed = {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}
    assert listed["evil"]["actions"] == ["go"] and "refused" not in json.dumps(listed["evil"])


def _armed(c: dict, payload: str, connect: Path, mark: Path) -> dict:
    """The case with its `touch MARK` turned into `payload` (which first runs `connect`, a
    script that proves the code ran and tries a TCP connection, then touches the marker),
    and the inputs it needs to reach its code: a file with a line for sed and xargs."""

    def word(w: str) -> str:
        if w.startswith("s/.*/"):  # sed's `s///e`: the payload's slashes escaped
            return "s/.*/" + payload.replace("MARK", str(mark)).replace("/", "\\/") + "/e"
        # Python's own error would be a traceback in the log: touch says "Permission denied".
        w = w.replace("open('MARK', 'w')", f"exec(open('{connect}').read()); __import__('subprocess').run(['touch', 'MARK'])")
        w = w.replace("require('fs')", f"require('child_process').spawnSync('python3', ['{connect}']); require('fs')")
        return w.replace("touch MARK", payload)

    command = c["command"]
    if isinstance(command, list):
        words, i = [], 0
        while i < len(command):
            if command[i : i + 2] == ["touch", "MARK"]:
                words += ["sh", "-c", payload]
                i += 2
                continue
            if command[i : i + 2] == ["-a", "/dev/null"]:
                words += ["-a", "LINE"]
                i += 2
                continue
            words.append(word(command[i]))
            i += 1
        command = words
    else:
        command = word(command)
    return {**c, "command": command, "inputs": c["inputs"].replace("touch MARK", payload), "env": c["env"].replace("touch MARK", payload)}


def test_with_the_refusal_list_off_each_bypass_runs_confined_and_can_neither_write_outside_nor_connect(lf, tmp_path, request):
    """Issue 28: the refusal list is not what stands between a definition and your files.
    Each hostile definition, loaded as your own tool (held to no rules) and run with
    `sandbox: true`, runs its code (a script it starts writes a proof into the output
    folder the step gives it) but cannot write the marker outside, nor connect to a TCP
    listener on 127.0.0.1. Run unconfined first, the same definitions do both: the test
    can fail. A case whose code cannot run here at all (no such program) is left out."""
    import socket

    abi = landlock_abi()
    if abi < 1:
        pytest.skip("this kernel has no Landlock")
    listener = socket.socket()
    request.addfinalizer(listener.close)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    port = listener.getsockname()[1]
    allowed, line = tmp_path / "allowed", tmp_path / "line.txt"
    allowed.mkdir()
    line.write_text("one line\n")
    tools = lf.home / ".localforge" / "tools"
    tools.mkdir(parents=True)
    names = [n for n in sorted(CASES) if shutil.which(CASES[n][0]["binary"])]  # busybox is not in Debian's base
    steps = []
    for i in range(len(names)):
        connect = tmp_path / f"connect-{i}.py"
        connect.write_text(
            f"import socket, sys\nopen({str(allowed / f'{i}.ran')!r}, 'w').write('ran')\n"
            # To stderr: a program run as git's transport has its stdout closed by git at any moment.
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\nexcept OSError as e:\n    print('no connection:', e, file=sys.stderr)\n"
        )
        steps.append({"id": f"case{i}", "tool": f"evil{i}", "action": "go", "on_failure": "skip",
                      "inputs": {"x": str(line), "out": str(allowed / f"{i}.out")}})  # fmt: skip
    lf.write("hostile.yaml", json.dumps({"name": "hostile", "steps": steps}))

    def run(sandbox: bool) -> tuple[set, set, int]:
        for i, name in enumerate(names):
            mark = tmp_path / f"marker-{i}"
            connect = tmp_path / f"connect-{i}.py"
            c = _armed(CASES[name][0], f"python3 {connect}; touch MARK", connect, mark)
            text = definition(c, mark).replace("name: evil\n", f"name: evil{i}\n" + ("sandbox: true\n" if sandbox else ""))
            text = text.replace("LINE", str(line)).replace("    inputs:\n", "    inputs:\n      out: {type: path, output: true}\n")
            (tools / f"evil{i}.yaml").write_text(text)
        report = json.loads(lf("run", "hostile.yaml", "-y", "--json", timeout=300).stdout)
        errors = {n: str(report["steps"][f"case{i}"].get("error")) for i, n in enumerate(names)}
        marked = {n for i, n in enumerate(names) if (tmp_path / f"marker-{i}").exists()}
        ran = {n for i, n in enumerate(names) if (allowed / f"{i}.ran").exists()}
        connections = 0
        while True:
            try:
                listener.accept()[0].close()
                connections += 1
            except BlockingIOError:
                break
        for f in [*tmp_path.glob("marker-*"), *allowed.iterdir()]:
            f.unlink()
        return marked, ran, connections, errors

    marked, ran, connections, _ = run(sandbox=False)
    runnable = marked & ran
    assert len(runnable) >= 12 and connections >= len(runnable), (sorted(set(names) - runnable), connections)
    marked, ran, connections, errors = run(sandbox=True)
    # Either its code ran, or the sandbox stopped the program before it (unshare cannot
    # write its /proc/self/uid_map).
    stopped = {n: errors[n] for n in runnable - ran}
    assert all("Permission denied" in e for e in stopped.values()), f"the confined code did not run: {stopped}"
    assert not marked, f"wrote outside its folders, confined: {sorted(marked)}"
    if abi >= 4:
        assert connections == 0, f"{connections} TCP connection(s) from confined code"
