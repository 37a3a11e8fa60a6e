"""`musicgen` and `acestep` drive a model's own Python environment. The models
need weights, so each test builds a stand-in install: a `venv/bin/python` (this
interpreter) and a generation script with the real script's command line that
writes a real WAV (a tone) of the asked duration and records its arguments."""

import json
import os
import sys
import wave

import pytest

from programs import real as real_program

STAND_IN = r"""
import json, math, struct, sys, wave
argv = sys.argv[1:]
opt = {argv[i][2:]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("--") and not argv[i + 1].startswith("--")}
json.dump({"argv": argv}, open(__file__ + ".args.json", "w"))
if argv[0] == "fail":
    print("CUDA out of memory", file=sys.stderr)
    sys.exit(2)
out = opt["output"] if "name" not in opt else opt["output"] + "/" + opt["name"] + ".wav"
rate, seconds = 8000, int(opt["duration"])
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(rate * seconds)))
"""


def _install(root, script):
    (root / "venv" / "bin").mkdir(parents=True)
    os.symlink(sys.executable, root / "venv" / "bin" / "python")
    (root / script).write_text(STAND_IN)
    return root


def _seconds(path):
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def test_musicgen_runs_its_environment_and_returns_the_wav(lf, tmp_path):
    mg = _install(tmp_path / "musicgen", "generate_music.py")
    (lf.work / "localforge.yaml").write_text(f"services:\n  musicgen:\n    venv_dir: {mg}\n")
    rec = lf.write(
        "m.yaml",
        f"name: m\nsteps:\n  - {{id: g, tool: musicgen, action: generate, inputs: {{prompt: 'lofi beat', duration: 2, output: '{lf.work}/beat.wav'}}}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    out = doc["steps"]["g"]["outputs"]
    assert out["output"] == str(lf.work / "beat.wav") and _seconds(out["output"]) == 2
    args = json.loads((mg / "generate_music.py.args.json").read_text())["argv"]
    assert args == ["lofi beat", "--duration", "2", "--model", "small", "--output", str(lf.work), "--name", "beat"]


def test_acestep_passes_lyrics_and_failures_are_clear(lf, tmp_path):
    ace = _install(tmp_path / "ace", "generate.py")
    (lf.work / "localforge.yaml").write_text(f"services:\n  acestep:\n    venv_dir: {ace}\n")
    rec = lf.write(
        "a.yaml",
        f"name: a\nsteps:\n  - {{id: g, tool: acestep, action: generate, inputs: {{prompt: 'folk', lyrics: 'la la', duration: 1, output: '{lf.work}/song.wav'}}}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    assert _seconds(doc["steps"]["g"]["outputs"]["output"]) == 1
    assert json.loads((ace / "generate.py.args.json").read_text())["argv"][-2:] == ["--lyrics", "la la"]
    bad = lf.write("b.yaml", "name: b\nsteps:\n  - {id: g, tool: acestep, action: generate, inputs: {prompt: fail, duration: 1}}\n")
    doc = json.loads(lf("run", bad, "--json", "-q", check=1).stdout)
    assert doc["steps"]["g"]["error"] == "acestep failed (exit code 2): CUDA out of memory"


def test_unconfigured_music_tools_fail_validation_with_the_setting_to_add(lf):
    rec = lf.write("u.yaml", "name: u\nsteps:\n  - {id: g, tool: musicgen, action: generate, inputs: {prompt: x}}\n")
    proc = lf("run", rec, check=2)
    assert "uses tool `musicgen`, which cannot be used here: missing `services.musicgen.venv_dir`" in proc.stderr


@pytest.mark.skipif(not real_program("ffmpeg"), reason="ffmpeg is not installed")
def test_music_track_recipe(lf, tmp_path):
    from conftest import REPO

    mg = _install(tmp_path / "musicgen", "generate_music.py")
    (lf.work / "localforge.yaml").write_text(f"services:\n  musicgen:\n    venv_dir: {mg}\n")
    rec = REPO / "recipes" / "domains" / "game-dev" / "music-track.yaml"
    doc = json.loads(lf("run", rec, "-i", "seconds=2", "-i", "loops=3", "--json", "-q", check=0, timeout=120).stdout)
    assert doc["outputs"]["seconds"] == pytest.approx(6.0, abs=0.1)
    assert (lf.runs / doc["run_id"] / "track.wav").exists()
