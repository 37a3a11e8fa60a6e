"""The `ffmpeg` tool on the real FFmpeg (Debian's package; scripts/test.sh
installs it). Without FFmpeg these tests are skipped, unless
LOCALFORGE_REQUIRE_TOOLS=1 (as in CI), where a missing program is a failure."""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from programs import real as real_program

if not real_program("ffmpeg"):
    if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        raise RuntimeError("ffmpeg is required (LOCALFORGE_REQUIRE_TOOLS=1) but not on PATH")
    pytest.skip("ffmpeg is not installed", allow_module_level=True)


@pytest.fixture
def tone(lf):
    """A 1-second 440 Hz tone at 22.05 kHz, made by FFmpeg itself."""
    path = lf.work / "tone.wav"
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=1:sample_rate=22050",
            "-af",
            "volume=0.1",
            str(path),
        ],
        check=True,
    )
    return path


def _probe(path):
    """(duration s, sample rate, channels) as ffprobe reads them."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=sample_rate,channels:format=duration", "-of", "json", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    doc = json.loads(out)
    stream = doc["streams"][0]
    return float(doc["format"]["duration"]), int(stream["sample_rate"]), int(stream["channels"])


def _max_volume_db(path):
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-i", str(path), "-af", "volumedetect", "-f", "null", "-"], capture_output=True, text=True
    ).stderr
    return float(re.search(r"max_volume: (-?[\d.]+) dB", err).group(1))


def test_every_action_on_a_real_file(lf, tone):
    w = lf.work
    rec = lf.write(
        "audio.yaml",
        f"""\
name: audio
steps:
  - {{id: length, tool: ffmpeg, action: get_duration, inputs: {{input: '{tone}'}}}}
  - {{id: stereo, tool: ffmpeg, action: convert, inputs: {{input: '{tone}', output: '{w}/stereo.wav', sample_rate: 44100, channels: 2}}}}
  - {{id: mp3, tool: ffmpeg, action: convert, inputs: {{input: '{tone}', output: '{w}/tone.mp3', codec: libmp3lame, bitrate: 96k}}}}
  - {{id: long, tool: ffmpeg, action: loop, inputs: {{input: '{tone}', output: '{w}/three.wav', count: 3, crossfade: 0}}}}
  - {{id: faded, tool: ffmpeg, action: loop, inputs: {{input: '{tone}', output: '{w}/faded.wav', count: 3}}}}
  - {{id: cut, tool: ffmpeg, action: trim, inputs: {{input: '{{{{ steps.long.outputs.output }}}}', output: '{w}/cut.wav', start: 0.5, end: 2.0}}}}
  - {{id: loud, tool: ffmpeg, action: normalize, inputs: {{input: '{tone}', output: '{w}/loud.wav', target_lufs: -14}}}}
""",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    out = {k: v["outputs"] for k, v in doc["steps"].items()}
    assert out["length"]["duration_s"] == pytest.approx(1.0, abs=0.01)
    assert _probe(w / "stereo.wav") == (pytest.approx(1.0, abs=0.01), 44100, 2)
    assert (w / "tone.mp3").read_bytes()[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    assert out["mp3"]["duration_s"] == pytest.approx(1.0, abs=0.1)
    assert _probe(w / "three.wav")[0] == pytest.approx(3.0, abs=0.02)
    assert _probe(w / "faded.wav")[0] == pytest.approx(2.0, abs=0.05), "0.x's default: 0.5 s cross-fades between the copies"
    assert _probe(w / "cut.wav")[0] == pytest.approx(1.5, abs=0.02)
    assert _max_volume_db(w / "loud.wav") > _max_volume_db(tone) + 6, "normalizing a quiet tone to -14 LUFS makes it louder"


def test_ffmpeg_errors_are_the_steps_error(lf, tmp_path):
    bad = tmp_path / "not-audio.wav"
    bad.write_text("this is not audio")
    rec = lf.write(
        "bad.yaml",
        f"name: bad\nsteps:\n  - {{id: c, tool: ffmpeg, action: convert, inputs: {{input: '{bad}', output: '{tmp_path}/x.mp3'}}}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=1).stdout)
    assert doc["steps"]["c"]["error"].startswith("ffmpeg exited with code 1:")
    assert "Invalid data found when processing input" in doc["steps"]["c"]["error"]


def test_convert_format_names_the_container_and_the_suffix(lf, tone):
    r = lf.write("fmt.yaml", f"name: fmt\nsteps:\n  - {{id: c, tool: ffmpeg, action: convert, inputs: {{input: {tone}, format: ogg}}}}\n")
    report = json.loads(lf("run", r, "--json", "-q", check=0).stdout)
    out = report["steps"]["c"]["outputs"]["output"]
    assert out.endswith(".ogg") and Path(out).read_bytes()[:4] == b"OggS"
