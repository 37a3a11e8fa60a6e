"""Tools defined in YAML, through the CLI: shipped definitions, user folders,
broken definitions, missing programs, and a real run of the shipped ffprobe."""

import json
import shutil
import subprocess

import pytest


def _tools(lf):
    return {t["name"]: t for t in json.loads(lf("list-tools", "--json", check=0).stdout)}


def test_list_tools_shows_every_kind(lf):
    tools = _tools(lf)
    assert {"file_ops", "ollama"} <= {n for n, t in tools.items() if t["kind"] == "native"}
    assert {"image_processor", "validator"} <= {n for n, t in tools.items() if t["kind"] == "python"}
    yaml_tools = {n: t for n, t in tools.items() if t["kind"] == "yaml"}
    assert {
        "whisper",
        "faster-whisper",
        "yt-dlp",
        "pandoc",
        "imagemagick",
        "imagemagick6",
        "tesseract",
        "ffprobe",
        "espeak-ng",
        "sox",
    } <= set(yaml_tools)
    assert yaml_tools["ffprobe"]["available"] == bool(shutil.which("ffprobe"))
    assert yaml_tools["pandoc"]["actions"] == ["convert"]
    if not shutil.which("pandoc"):
        assert yaml_tools["pandoc"]["missing"] == ["`pandoc` (apt install pandoc)"]


def test_user_yaml_tools_and_a_broken_one(lf):
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    (folder / "shout.yaml").write_text(
        "name: shout\ntype: cli\nactions:\n  say:\n    command: [printf, '%s!', '{{ text }}']\n    inputs:\n      text: {required: true}\n"
    )
    (folder / "broken.yaml").write_text("name: broken\nactions:\n  go:\n    comand: [ls]\n")
    tools = _tools(lf)
    assert tools["shout"]["kind"] == "yaml" and tools["shout"]["available"]
    assert tools["broken"]["available"] is False
    assert "broken.yaml:4:5: unknown key `comand`" in tools["broken"]["missing"][0]
    rec = lf.write("s.yaml", "name: s\nsteps:\n  - {id: s, tool: shout, action: say, inputs: {text: 'x; touch PWNED'}}\n")
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert doc["steps"]["s"]["outputs"]["stdout"] == "x; touch PWNED!"
    assert not list(lf.runs.rglob("PWNED"))


def test_a_missing_program_fails_before_the_run_with_the_install_hint(lf):
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    (folder / "ghost.yaml").write_text(
        "name: ghost\nrequirements:\n  binary: ghost-binary-xyz\n  install_hint: pip install ghost\nactions:\n  go: {command: [ghost-binary-xyz]}\n"
    )
    rec = lf.write("g.yaml", "name: g\nsteps:\n  - {id: g, tool: ghost, action: go}\n")
    proc = lf("run", rec, check=2)
    assert "uses tool `ghost`, which cannot be used here: missing `ghost-binary-xyz` (pip install ghost)" in proc.stderr
    assert not lf.db.exists()


@pytest.mark.skipif(not shutil.which("ffmpeg"), reason="ffmpeg is not installed")
def test_shipped_ffprobe_reads_a_real_file(lf):
    tone = lf.work / "tone.wav"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2", str(tone)], check=True)
    rec = lf.write(
        "p.yaml",
        f"name: p\nsteps:\n  - {{id: info, tool: ffprobe, action: info, inputs: {{input: '{tone}'}}}}\noutputs: {{seconds: '{{{{ steps.info.outputs.json.format.duration }}}}'}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert float(doc["outputs"]["seconds"]) == pytest.approx(2.0, abs=0.01)
    assert doc["steps"]["info"]["outputs"]["json"]["streams"][0]["codec_type"] == "audio"
