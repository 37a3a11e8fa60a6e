"""What `localforge run` writes on stderr, byte for byte: the progress lines of the
shipped recipes that need no services, a failing run, a preflight refusal, an
approval gate taken by default and one asked on a terminal; and every refusal
before a run (inputs, recipe, preflight, resume, registry). Each case is
compared with its golden file in `tests/snapshots/cli/` (`golden.py` says how to
accept new output).
"""

import os
import select
import subprocess
import sys
import time

import pytest

from conftest import REPO
from golden import matches_golden, normalised

RECIPES = REPO / "recipes"
TEMPLATE = RECIPES / "TEMPLATE.yaml"

FAILING = """\
name: failing
steps:
  - id: prepare
    tool: file_ops
    action: mkdir
    inputs: {path: "{{ temp_dir }}/work"}
  - id: flaky
    tool: script
    action: run
    on_failure: retry
    retry_count: 1
    retry_delay: 0
    inputs: {command: "echo boom >&2; exit 3"}
  - id: after
    tool: file_ops
    action: write
    inputs: {path: "{{ temp_dir }}/after.txt", content: "{{ steps.flaky.outputs.stdout }}"}
"""

NEEDS_OLLAMA = """\
name: needs-ollama
steps:
  - id: ask
    tool: ollama
    action: generate
    inputs: {prompt: hello}
"""


def images(lf, n):
    from PIL import Image

    folder = lf.work / "photos"
    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (32, 16), (i * 60, 0, 0)).save(folder / f"p{i}.png")
    return folder


def source(lf):
    return lf.write("notes.txt", "one\ntwo\nthree\n")


def test_hello_localforge(lf):
    proc = lf("run", "hello-localforge", "-i", "languages=en", check=0)
    matches_golden("hello-localforge", normalised(proc.stderr, lf))


def test_batch_resize(lf):
    pytest.importorskip("PIL")
    proc = lf("run", "examples/batch-resize", "-i", f"source={images(lf, 1)}", "-i", "width=8", check=0)
    matches_golden("batch-resize", normalised(proc.stderr, lf))


def test_template_without_a_terminal_takes_the_default(lf):
    proc = lf("run", TEMPLATE, "-i", f"source={source(lf)}", check=0)
    matches_golden("template-no-terminal", normalised(proc.stderr, lf))


def test_template_auto_approved(lf):
    proc = lf("run", TEMPLATE, "-i", f"source={source(lf)}", "-i", "mode=thorough", "-y", check=0)
    matches_golden("template-auto-approve", normalised(proc.stderr, lf))


def test_failing_run(lf):
    proc = lf("run", lf.write("failing.yaml", FAILING), check=1)
    matches_golden("failing-run", normalised(proc.stderr, lf))


def test_preflight_refusal(lf, tmp_path):
    lf.write("localforge.yaml", "services:\n  ollama: {host: 'http://127.0.0.1:9'}\n")
    # Ollama installed but not running, whatever this machine has: a stand-in `ollama` on PATH.
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "ollama").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "ollama").chmod(0o755)
    lf.env["PATH"] = f"{tmp_path / 'bin'}:{lf.env['PATH']}"
    proc = lf("run", lf.write("needs-ollama.yaml", NEEDS_OLLAMA), check=2)
    matches_golden("preflight-refusal", normalised(proc.stderr, lf))


def test_approval_prompt_on_a_terminal(lf):
    """Standard input is a terminal: the gate asks, refuses an answer that is no option, takes `2`."""
    primary, secondary = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "localforge", "run", str(TEMPLATE), "-i", f"source={source(lf)}"],
        cwd=lf.work,
        env=lf.env,
        stdin=secondary,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    err = b""
    try:
        for answer in (b"maybe\n", b"2\n"):
            deadline = time.time() + 60
            while err.count(b"choose [approve]: ") < (2 if answer == b"2\n" else 1):
                assert time.time() < deadline, err.decode()
                if select.select([proc.stderr], [], [], 0.5)[0]:
                    err += os.read(proc.stderr.fileno(), 65536)
            os.write(primary, answer)
        out, rest = proc.communicate(timeout=60)
    finally:
        proc.kill()
        os.close(primary)
    assert proc.returncode == 1, (out, err + rest)
    matches_golden("approval-prompt", normalised((err + rest).decode(), lf))


TYPED = """\
name: typed
inputs:
  - {name: n, type: integer, required: true}
  - {name: mode, choices: [a, b], default: a}
steps:
  - {id: s, tool: file_ops, action: mkdir, inputs: {path: '{{ temp_dir }}/{{ inputs.n }}'}}
"""

TWO_SD = """\
name: two-sd
steps:
  - {id: a, tool: sd_client, action: txt2img, inputs: {prompt: a cat, output_dir: out}}
  - {id: b, tool: sd_client, action: txt2img, inputs: {prompt: a dog, output_dir: out}}
"""

DOWN = "services:\n  ollama: {host: 'http://127.0.0.1:9'}\n  sd: {host: 'http://127.0.0.1:9'}\n"
GPU = "resources: {vram_gb: 12}\n"  # the same on every machine: a 12 GB GPU to plan with

# name: (files to write, arguments, exit code). Every refusal the CLI makes before a run starts.
REFUSALS = {
    "input-not-key-value": ({"typed.yaml": TYPED}, ["run", "typed.yaml", "-i", "n"], 2),
    "input-values": ({"typed.yaml": TYPED}, ["run", "typed.yaml", "-i", "n=abc", "-i", "mode=c", "-i", "nn=1"], 2),
    "input-missing": ({"typed.yaml": TYPED}, ["run", "typed.yaml"], 2),
    "refresh-unknown-step": ({"typed.yaml": TYPED}, ["run", "typed.yaml", "-i", "n=1", "--refresh", "t"], 2),
    "recipe-not-found": ({}, ["run", "no-such-recipe"], 2),
    "preflight-two-steps-one-service": ({"localforge.yaml": DOWN + GPU, "two.yaml": TWO_SD}, ["run", "two.yaml"], 2),
    "resume-unknown-run": ({}, ["resume", "20260101-000000-abcdef"], 2),
    "registry-unknown-tool": ({}, ["tools", "info", "no-such-tool"], 2),
    "registry-unknown-command": ({}, ["tools", "frobnicate"], 2),
    "registry-install-unknown": ({}, ["tools", "install", "no-such-tool", "-y"], 2),
    "registry-remove-not-installed": ({}, ["tools", "remove", "no-such-tool"], 2),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_refusal(lf, name):
    files, args, code = REFUSALS[name]
    for path, text in files.items():
        lf.write(path, text)
    proc = lf(*args, check=code)
    matches_golden(f"refusals/{name}", normalised(proc.stderr, lf))


def test_preflight_notes_then_refusal_without_a_gpu(lf):
    """No GPU: preflight notes that image steps will be slow on the CPU, before it refuses."""
    import json

    if json.loads(lf("system", "--json", check=0).stdout)["hardware"]["gpus"]:
        pytest.skip("this machine has a GPU: no note to show")
    lf.write("localforge.yaml", DOWN)
    proc = lf("run", lf.write("two.yaml", TWO_SD), check=2)
    matches_golden("preflight-notes", normalised(proc.stderr, lf))


def _command_paths() -> list:
    """Every command path of the CLI's groups and two-word commands, as the modules list them."""
    from localforge.frontends.cli import agent_config, cache, seed, tools

    paths = [["history", "show"], ["mcp", "config"]]
    for group, module in (("tools", tools), ("seed", seed), ("cache", cache), ("agent-config", agent_config)):
        paths += [[group, name] for name in module.COMMANDS]
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=" ".join)
def test_every_usage_error_names_its_full_command_path(lf, path):
    """Issue 31, item 3: a usage error's hint is a command that exists (it used to say
    `localforge show --help` for `history show`), and that command prints its help."""
    proc = lf(*path, "--no-such-option", check=2)
    hint = f"  hint: run `localforge {' '.join(path)} --help` for usage\n"
    assert proc.stderr.endswith(hint), proc.stderr
    helped = lf(*path, "--help", check=0)
    assert helped.stdout.startswith(f"usage: localforge {' '.join(path)} "), helped.stdout


def test_two_word_commands_say_their_whole_name(lf):
    """Issue 31, item 3, the exact texts."""
    assert lf("history", "show", check=2).stderr == (
        "error: the following arguments are required: run_id\n  hint: run `localforge history show --help` for usage\n"
    )
    assert lf("mcp", "config", check=2).stderr == (
        "error: the following arguments are required: --client\n  hint: run `localforge mcp config --help` for usage\n"
    )
    assert lf("seed", check=2).stderr == (
        "error: `localforge seed` needs a command\n"
        "  hint: run `localforge seed --help` for its commands (list, show, check, verify, export)\n"
    )
    assert lf("cache", "clera", check=2).stderr == (
        "error: unknown command `localforge cache clera`\n  hint: did you mean `localforge cache clear`?\n"
    )
    for group in ("tools", "seed", "cache", "agent-config"):
        out = lf(group, "--help", check=0).stdout
        assert out.startswith(f"usage: localforge {group} COMMAND [options]\n"), out
