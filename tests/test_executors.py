"""Executors without a cluster: choosing one, what happens without Ray, and how a step's
files travel to a node and back (`localforge.executors.files`)."""

import json
import os
from pathlib import Path

import pytest

from localforge import errors, executors
from localforge.executors import files, worker


def test_settings_from_text_and_mapping():
    assert executors.settings("ray:10.0.0.5:6379") == {"kind": "ray", "address": "10.0.0.5:6379", "shared_dir": False, "inline_mb": 64}
    assert executors.settings({"kind": "ray", "shared_dir": True, "inline_mb": 8})["shared_dir"] is True
    assert executors.settings(None)["kind"] == "local"
    assert executors.resolve("local") is None


@pytest.mark.parametrize(
    "spec, message",
    [("rey", "unknown executor `rey`"), ({"kind": "ray", "adress": "x"}, "unknown executor setting `adress`"),
     ({"kind": "ray", "inline_mb": 0}, "inline_mb` must be a number of MB above 0"), (3, "must be text or a mapping")],
)  # fmt: skip
def test_bad_settings_say_what_is_wrong(spec, message):
    with pytest.raises(errors.ConfigError, match=message):
        executors.settings(spec)


def test_without_ray_the_cli_says_how_to_install_it_exit_2(lf, tmp_path):
    # A `ray` that cannot be imported, first on the path: as on a machine without Ray.
    (tmp_path / "noray" / "ray").mkdir(parents=True)
    (tmp_path / "noray" / "ray" / "__init__.py").write_text("raise ImportError('No module named ray')\n")
    lf.env["PYTHONPATH"] = str(tmp_path / "noray")
    r = lf.write("one.yaml", "name: one\nsteps:\n  - {id: a, tool: file_ops, action: list}\n")
    proc = lf("run", r, "--executor", "ray", check=2)
    assert "`--executor ray` needs Ray, which is not installed" in proc.stderr
    assert "pip install 'ray>=2.52'" in proc.stderr
    # The configuration's `executor` is used when --executor is not given.
    lf.write("localforge.yaml", "executor: ray\n")
    assert "needs Ray" in lf("run", r, check=2).stderr
    lf.write("localforge.yaml", "executor: [ray]\n")
    assert "configuration key `executor` must be" in lf("run", r, check=2).stderr


def test_files_travel_to_the_node_and_back(tmp_path):
    driver = tmp_path / "driver"
    run_dir, cwd = driver / "runs" / "r1", driver / "work"
    (run_dir / "temp").mkdir(parents=True)
    cwd.mkdir()
    (run_dir / "a.txt").write_text("alpha")
    (cwd / "rel.txt").write_text("relative")
    (cwd / "folder").mkdir()
    (cwd / "folder" / "x.bin").write_bytes(b"\0\1")
    inputs = {
        "source": str(run_dir / "a.txt"),
        "output": str(run_dir / "sub" / "new.txt"),  # its folder does not exist: not carried
        "out2": str(run_dir / "b.txt"),
        "relative": "rel.txt",
        "folder": "folder",
        "command": f"cat {run_dir}/a.txt > {run_dir}/c.txt; ls /usr/bin/env",
        "words": "not a path",
        "nested": [{"p": str(run_dir / "a.txt")}],
    }
    roots = [str(run_dir), str(run_dir / "temp"), str(cwd)]
    shipment = files.pack(inputs, str(cwd), roots, limit_mb=1)
    assert set(shipment["files"]) == {str(run_dir / "a.txt"), str(cwd / "rel.txt"), str(cwd / "folder" / "x.bin")}
    assert str(run_dir / "sub" / "new.txt") not in shipment["paths"]
    shipment = json.loads(json.dumps({**shipment, "files": {}})) | {"files": shipment["files"]}  # as Ray would carry it

    node = tmp_path / "node"
    node.mkdir()
    scratch = files.Scratch(str(node), shipment)
    local = scratch.inward(inputs)
    assert local["source"] == f"{node}{run_dir}/a.txt" and Path(local["source"]).read_text() == "alpha"
    assert local["command"] == f"cat {node}{run_dir}/a.txt > {node}{run_dir}/c.txt; ls /usr/bin/env"
    assert local["relative"] == "rel.txt" and local["words"] == "not a path"
    assert local["nested"][0]["p"] == local["source"]
    # The step runs there: writes two files and changes none of those it was given.
    with open(local["out2"], "w") as f:
        f.write("beta")
    os.makedirs(f"{node}{cwd}", exist_ok=True)
    with open(f"{node}{run_dir}/c.txt", "w") as f:
        f.write("gamma")
    outputs = scratch.outward({"path": local["out2"], "log": f"wrote {local['out2']}"})
    assert outputs == {"path": str(run_dir / "b.txt"), "log": f"wrote {run_dir / 'b.txt'}"}
    made = scratch.changed(limit_mb=1)
    assert made["files"] == {str(run_dir / "b.txt"): b"beta", str(run_dir / "c.txt"): b"gamma"}
    assert made["dirs"] == [] and made["removed"] == []
    files.land(made)
    assert (run_dir / "b.txt").read_text() == "beta" and (run_dir / "c.txt").read_text() == "gamma"


def test_a_file_over_inline_mb_names_the_setting_that_fixes_it(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    with pytest.raises(files.TooLarge, match=r"big.bin is 2.0 MB, over executor.inline_mb \(1 MB\).*shared_dir: true"):
        files.pack({"input": str(tmp_path / "big.bin")}, str(tmp_path), [str(tmp_path)], limit_mb=1)


def test_a_node_with_another_localforge_version_refuses_the_step():
    payload = {"version": "0.0.0-elsewhere", "request": {}, "inputs": {}, "cwd": "/"}
    result = worker._run(payload)
    assert "this Ray node has LocalForge" in result["error"] and "install LocalForge 0.0.0-elsewhere on every node" in result["error"]


def test_a_node_with_another_version_of_a_tool_refuses_the_step(tmp_path):
    from localforge import api

    request = {"tool": "file_ops", "action": "read", "fingerprint": "file_ops@0.0.0", "run_id": "r", "run_dir": str(tmp_path),
               "temp_dir": str(tmp_path), "step_id": "s", "step": {}, "info": {}, "steps": {}}  # fmt: skip
    result = api.call_step(request, {"path": str(tmp_path)})
    assert "tool `file_ops` on this node is not the driver's" in result["error"]
    (tmp_path / "x.txt").write_text("hi")
    ok = api.call_step({**request, "fingerprint": ""}, {"path": str(tmp_path / "x.txt")})
    assert ok["outputs"]["content"] == "hi"


def test_prompts_programs_devices_and_the_root_do_not_travel(tmp_path):
    run_dir, cwd = tmp_path / "run", tmp_path / "work"
    run_dir.mkdir()
    cwd.mkdir()
    tool = tmp_path / "tool.sh"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    inputs = {"prompt": "/no_think Summarize this", "argv": ["/usr/bin/env", "python3", str(tool)], "out": "/dev/null",
              "root": "/", "here": ".", "up": "..", "url": f"see https://host{run_dir}/x and backup:{run_dir}/y"}  # fmt: skip
    assert files.named_paths(inputs, str(cwd), [str(run_dir), str(cwd)]) == set()


def test_permissions_new_folders_and_deletions_come_back(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "go.sh").write_text("#!/bin/sh\necho hi\n")
    (run_dir / "go.sh").chmod(0o750)
    (run_dir / "old.txt").write_text("x")
    inputs = {"script": str(run_dir / "go.sh"), "delete": str(run_dir / "old.txt"), "mkdir": str(run_dir / "made" / "deeper")}
    shipment = files.pack(inputs, str(tmp_path), [str(run_dir)], limit_mb=1)
    node = tmp_path / "node"
    scratch = files.Scratch(str(node), shipment)
    local = scratch.inward(inputs)
    assert os.stat(local["script"]).st_mode & 0o777 == 0o750
    os.unlink(local["delete"])
    os.makedirs(local["mkdir"])
    Path(local["script"]).write_text("#!/bin/sh\necho changed\n")  # same size? no matter: by content
    changes = scratch.changed(limit_mb=1)
    assert changes["removed"] == [str(run_dir / "old.txt")]
    assert str(run_dir / "made" / "deeper") in changes["dirs"]
    assert changes["modes"][str(run_dir / "go.sh")] == 0o750
    files.land(changes)
    assert not (run_dir / "old.txt").exists() and (run_dir / "made" / "deeper").is_dir()
    assert (run_dir / "go.sh").read_text().endswith("changed\n") and os.stat(run_dir / "go.sh").st_mode & 0o777 == 0o750
    assert sorted(p.name for p in run_dir.iterdir()) == ["go.sh", "made"], "no temporary file is left"


def test_an_edit_in_place_of_the_same_size_comes_back(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "a.txt").write_text("aaaa")
    shipment = files.pack({"p": str(run_dir / "a.txt")}, str(tmp_path), [str(run_dir)], limit_mb=1)
    scratch = files.Scratch(str(tmp_path / "node"), shipment)
    local = scratch.inward({"p": str(run_dir / "a.txt")})["p"]
    st = os.stat(local)
    Path(local).write_text("bbbb")
    os.utime(local, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same time
    assert scratch.changed(limit_mb=1)["files"] == {str(run_dir / "a.txt"): b"bbbb"}


def test_a_kept_scratch_folder_holds_nothing_of_the_step_before(tmp_path):
    """A worker keeps its scratch folder and the run's folders between steps; what one
    step made or was sent is gone before the next, and the next sees what a new folder
    would show it."""
    run_dir = tmp_path / "run"
    (run_dir / "temp").mkdir(parents=True)
    (run_dir / "in.txt").write_text("input")
    node = tmp_path / "node"
    node.mkdir()
    first = files.pack({"p": str(run_dir / "in.txt")}, str(tmp_path), [str(run_dir)], limit_mb=1)
    folders = {str(node) + d for d in first["dirs"]}
    scratch = files.Scratch(str(node), first)
    made = Path(scratch.local(str(run_dir / "made" / "out.txt")))
    made.parent.mkdir()
    made.write_text("made")
    os.symlink("/etc", scratch.local(str(run_dir / "link")))
    files.tidy(str(node), folders)
    left = sorted(str(p.relative_to(node)) for p in node.rglob("*"))
    assert all((node / p).is_dir() for p in left) and not any(p.endswith(("made", "link")) for p in left)
    assert Path("/etc").is_dir()  # the link went, not what it names
    second = files.pack({}, str(tmp_path), [str(run_dir)], limit_mb=1)
    again = files.Scratch(str(node), second)
    assert not Path(again.local(str(run_dir / "in.txt"))).exists()
    assert again.changed(limit_mb=1) == {"files": {}, "modes": {}, "dirs": [], "removed": []}
    # Another run's folders go too: only those of the step to come are kept.
    files.tidy(str(node), {str(node) + str(tmp_path / "other")})
    assert not Path(again.local(str(run_dir))).exists()


def test_all_of_a_steps_files_are_bounded_too(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(10):
        (folder / f"{i}.bin").write_bytes(b"\0" * (1024 * 1024))
    with pytest.raises(files.TooLarge, match=r"more than 8 MB \(8 × executor.inline_mb\)"):
        files.pack({"dir": str(folder)}, str(tmp_path), [str(tmp_path)], limit_mb=1)


def test_shared_dir_and_address_are_read_as_the_config_writes_them():
    assert executors.settings({"kind": "ray", "shared_dir": "no"})["shared_dir"] is False
    assert executors.settings({"kind": "ray", "shared_dir": "yes"})["shared_dir"] is True
    with pytest.raises(errors.ConfigError, match="shared_dir` must be true or false"):
        executors.settings({"kind": "ray", "shared_dir": "maybe"})
    with pytest.raises(errors.ConfigError, match="address` must be text"):
        executors.settings({"kind": "ray", "address": 6379})


def test_ray_node_says_what_it_would_start_and_refuses_negative_vram(lf):
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        lf.env.pop(name, None)
    head = json.loads(lf("ray-node", "--head", "--port", "6390", "--vram-gb", "24", "--dry-run", "--json", check=0).stdout)
    argv = head["argv"]
    assert argv[:4] == ["ray", "start", "--head", "--port"] and argv[argv.index("--resources") + 1] == '{"vram_gb":24.0}'
    token = lf.home / ".localforge" / "ray" / "auth_token"
    assert head["env"] == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
    assert not token.exists()  # a dry run makes nothing
    lf.env["RAY_AUTH_TOKEN"] = "t" * 32
    joined = json.loads(lf("ray-node", "--address", "10.0.0.5:6379", "--dry-run", "--json", "--", "--num-cpus", "8", check=0).stdout)
    assert joined["argv"][2:4] == ["--address", "10.0.0.5:6379"] and joined["argv"][-2:] == ["--num-cpus", "8"]
    assert joined["env"] == {"RAY_AUTH_MODE": "token"}  # Ray reads RAY_AUTH_TOKEN itself
    assert "--vram-gb must be 0 or more" in lf("ray-node", "--head", "--vram-gb", "-1", check=2).stderr
    assert "--head" in lf("ray-node", check=2).stderr  # one of --head / --address / --stop is required


def test_ray_node_joins_only_with_the_clusters_token_unless_insecure(lf):
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        lf.env.pop(name, None)
    no_token = lf("ray-node", "--address", "10.0.0.5:6379", "--dry-run", check=2).stderr
    assert "this machine has no token for the Ray cluster" in no_token and "~/.localforge/ray/auth_token" in no_token
    insecure = json.loads(lf("ray-node", "--address", "10.0.0.5:6379", "--insecure", "--dry-run", "--json", check=0).stdout)
    assert insecure["env"] == {"RAY_AUTH_MODE": "disabled"}
    # A token file others can read is refused, naming the fix.
    token = lf.home / ".localforge" / "ray" / "auth_token"
    token.parent.mkdir(parents=True)
    token.write_text("s" * 40)
    token.chmod(0o644)
    assert f"chmod 600 {token}" in lf("ray-node", "--address", "10.0.0.5:6379", "--dry-run", check=2).stderr
    token.chmod(0o600)
    assert f"RAY_AUTH_TOKEN_PATH={token}" in lf("ray-node", "--address", "10.0.0.5:6379", "--dry-run", check=0).stdout
    # A head is not started without authentication unless --insecure says so.
    lf.env["RAY_AUTH_MODE"] = "disabled"
    refused = lf("ray-node", "--head", "--dry-run", check=2).stderr
    assert "RAY_AUTH_MODE=disabled would start a Ray node that anyone who can reach it can run code on" in refused
    assert "--insecure" in refused


def test_a_ray_token_that_cannot_be_used_is_refused_saying_why(tmp_path, monkeypatch):
    from localforge.executors import ray_auth

    with pytest.raises(ray_auth.TokenProblem, match="the token in RAY_AUTH_TOKEN is too short: use at least 16 characters"):
        ray_auth.found({"RAY_AUTH_TOKEN": "short"})
    missing = tmp_path / "nowhere"
    with pytest.raises(ray_auth.TokenProblem, match=f"RAY_AUTH_TOKEN_PATH names {missing}, which does not exist"):
        ray_auth.found({"RAY_AUTH_TOKEN_PATH": str(missing)})
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(ray_auth.TokenProblem, match=f"the Ray token in {empty} is empty"):
        ray_auth.found({"RAY_AUTH_TOKEN_PATH": str(empty)})
    assert ray_auth.found({"RAY_AUTH_TOKEN": "t" * 16}) == ({"RAY_AUTH_MODE": "token"}, "the RAY_AUTH_TOKEN variable")


def test_ray_node_refuses_a_ray_without_token_authentication(monkeypatch):
    from importlib import metadata

    from localforge.frontends.cli import ray_node
    from localforge.frontends.cli.output import UsageError

    monkeypatch.setattr(metadata, "version", lambda name: "2.51.1")
    with pytest.raises(UsageError, match="Ray 2.51.1 has no token authentication"):
        ray_node._has_token_authentication()
    monkeypatch.setattr(metadata, "version", lambda name: "2.52.0")
    ray_node._has_token_authentication()


def test_a_worker_removes_the_scratch_folders_of_workers_that_ended(tmp_path, monkeypatch):
    """Ray ends a run's workers without their exit handlers (their scratch folders stayed
    behind, hundreds of them): a worker making its scratch folder removes those whose
    process has ended, killed -9 included, and leaves a live worker's and an older
    LocalForge's (which never held its folder) alone."""
    import subprocess
    import sys
    import tempfile

    code = "from localforge.executors import worker; print(worker._scratch_root(), flush=True); import time; time.sleep(60)"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    live, dead = (subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env) for _ in range(2))
    try:
        live_root, dead_root = live.stdout.readline().strip(), dead.stdout.readline().strip()
        dead.kill()
        dead.wait()
        older = tmp_path / "localforge-step-abc123"
        older.mkdir()
        assert os.path.isdir(dead_root) and os.path.dirname(dead_root) == str(tmp_path)
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        monkeypatch.setattr(worker, "_ROOT", None)
        monkeypatch.setattr(worker, "_HOLD", None)
        mine = worker._scratch_root()
        # Held under its own name from the start (made hidden, locked, then renamed).
        assert worker._lock(mine, wait=False) is None
        assert not [n for n in os.listdir(tmp_path) if n.startswith(".localforge-step-")]
        os.close(worker._HOLD)
        assert not os.path.exists(dead_root)
        assert os.path.isdir(live_root) and os.path.isdir(mine) and older.is_dir()
    finally:
        for p in (live, dead):
            p.kill()
            p.wait()
            p.stdout.close()


def test_a_declared_gpu_is_refused_by_a_cluster_without_one_and_an_estimated_one_is_not():
    from localforge.executors.ray import RayExecutor

    ex = RayExecutor.__new__(RayExecutor)  # placement alone: no cluster
    ex._avoid = {}
    cpu_only = [{"NodeID": "n1", "Alive": True, "Resources": {"CPU": 4.0}}]
    declared = {"step_id": "draw", "reservation": {"cpu": 1, "gpu": True, "vram_gb": 6.0, "declared_gpu": True}}
    opts, problem = ex._options(declared, cpu_only)
    assert problem.startswith("step `draw` declares a GPU in its `resources`, and no node of the Ray cluster has one"), problem
    # A tool's own estimate (an LLM step's) runs where it can, as on a machine without a GPU.
    estimated = {"step_id": "ask", "reservation": {"cpu": 1, "gpu": True, "vram_gb": 6.0, "declared_gpu": False}}
    assert ex._options(estimated, cpu_only) == ({"num_cpus": 1}, None)
    with_gpu = [{"NodeID": "n2", "Alive": True, "Resources": {"CPU": 4.0, "GPU": 1.0}}]
    assert ex._options(declared, with_gpu)[1] is None
