"""The blender tool on the real Blender (Debian's package; scripts/test.sh
installs it), rendering small images with Cycles on the CPU. Checks look at
the pictures: sizes, and that the object is where and what colour it should be."""

import json
import os

import pytest

from programs import real as real_program

Image = pytest.importorskip("PIL.Image")

if not real_program("blender"):
    if os.environ.get("LOCALFORGE_REQUIRE_TOOLS") == "1":
        raise RuntimeError("blender is required (LOCALFORGE_REQUIRE_TOOLS=1) but not on PATH")
    pytest.skip("blender is not installed", allow_module_level=True)

SIZE = "width: 64, height: 64, samples: 4"


def _img(path):
    with Image.open(path) as im:
        return im.copy()


def _rgb(path, xy):
    return _img(path).convert("RGB").getpixel(xy)


def test_every_action_renders(lf):
    w = lf.work
    rec = lf.write(
        "b.yaml",
        f"""\
name: blender-all
steps:
  - {{id: ball, tool: blender, action: create_primitive, inputs: {{shape: sphere, color: '#dd2222', {SIZE}, output: '{w}/ball.png', save_blend: '{w}/ball.blend'}}}}
  - {{id: again, tool: blender, action: render, inputs: {{input: '{{{{ steps.ball.outputs.blend }}}}', output: '{w}/again.png', {SIZE}}}}}
  - {{id: frames, tool: blender, action: render_animation, inputs: {{input: '{w}/ball.blend', start: 1, end: 2, output_dir: '{w}/frames', {SIZE}}}}}
  - {{id: iso, tool: blender, action: render_isometric, inputs: {{shape: cube, color: [0.1, 0.3, 0.9], {SIZE}, transparent: true, output: '{w}/iso.png'}}}}
  - {{id: title, tool: blender, action: create_text_3d, inputs: {{text: 'LF', {SIZE}, output: '{w}/title.png'}}}}
  - {{id: tex, tool: blender, action: generate_texture, inputs: {{pattern: checker, scale: 4, color_a: '#000000', color_b: '#ffffff', {SIZE}, output: '{w}/tex.png'}}}}
  - {{id: die, tool: blender, action: create_dice, inputs: {{{SIZE}, output: '{w}/die.png'}}}}
  - {{id: dice, tool: blender, action: create_dice_set, inputs: {{count: 3, width: 96, height: 48, samples: 4, output: '{w}/dice.png'}}}}
""",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=0, timeout=600).stdout)
    out = {k: v["outputs"] for k, v in doc["steps"].items()}
    for name in ("ball", "again", "iso", "title", "tex", "die"):
        assert _img(out[name]["output"]).size == (64, 64), name
    r, g, b = _rgb(w / "ball.png", (32, 32))
    assert r > g + 50 and r > b + 50, "the sphere in the middle is red"
    assert max(_rgb(w / "ball.png", (1, 1))) < 100, "the background is dark grey"
    assert _rgb(w / "again.png", (32, 32)) == pytest.approx(_rgb(w / "ball.png", (32, 32)), abs=40), (
        "the saved .blend renders the same scene"
    )
    assert [os.path.basename(f) for f in out["frames"]["frames"]] == ["frame_0001.png", "frame_0002.png"]
    assert all(os.path.exists(f) for f in out["frames"]["frames"])
    iso = _img(w / "iso.png")
    assert iso.mode == "RGBA" and iso.getpixel((1, 1))[3] == 0 and iso.getpixel((32, 32))[3] == 255, "transparent around an opaque cube"
    cr, cg, cb = iso.convert("RGB").getpixel((32, 32))
    assert cb > cr, "the cube is blue"
    tex = _img(w / "tex.png").convert("L")
    values = [tex.getpixel((x, 32)) for x in range(0, 64, 2)]
    assert min(values) < 40 and max(values) > 200, "a black and white checker"
    assert out["die"]["pips"] == 21, "1+2+3+4+5+6 pips"
    assert out["dice"]["dice"] == 3 and out["dice"]["pips"] == 63
    assert _img(w / "dice.png").size == (96, 48)
    title = _img(w / "title.png").convert("RGB")
    import numpy as np

    px = np.array(title).astype(int)
    assert ((px[:, :, 0] > 100) & (px[:, :, 2] < px[:, :, 0])).any(), "golden text is visible"


def test_blender_errors_become_the_steps_error(lf):
    rec = lf.write(
        "e.yaml",
        "name: e\nsteps:\n  - {id: p, tool: blender, action: create_primitive, inputs: {shape: dodecahedron, width: 32, height: 32}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", "-q", check=1, timeout=120).stdout)
    err = doc["steps"]["p"]["error"]
    assert err.startswith("blender.create_primitive: Blender failed (exit code 1):")
    assert "unknown shape 'dodecahedron'" in err


def test_the_3d_model_recipe_produces_real_renders(lf):
    from conftest import REPO

    rec = REPO / "recipes" / "domains" / "game-dev" / "3d-model.yaml"
    doc = json.loads(lf("run", rec, "-i", "shape=torus", "-i", "size=64", "-i", "samples=4", "--json", "-q", check=0, timeout=600).stdout)
    outs = doc["outputs"]
    assert _img(outs["render"]).size == (64, 64)
    iso = _img(outs["isometric"])
    assert iso.mode == "RGBA" and iso.getpixel((0, 0))[3] == 0
    assert os.path.getsize(outs["blend"]) > 10_000, "the .blend was saved"


@pytest.mark.parametrize("ext, magic", [(".glb", b"glTF"), (".obj", b"# Blender")])
def test_the_0x_3d_model_recipe_writes_its_mesh(lf, ext, magic):
    """Issue 15 item 9: 0.x's own recipe, verbatim: `output_path` is the exported mesh,
    `subdivisions` smooths it (more vertices than the plain sphere)."""
    from conftest import FIXTURES

    rec = FIXTURES / "recipes" / "0x" / "3d-model.yaml"
    out = lf.work / f"sphere{ext}"
    doc = json.loads(
        lf("run", rec, "-i", "shape=sphere", "-i", f"output_path={out.name}", "--auto-approve", "--json", timeout=300, check=0).stdout
    )
    assert doc["steps"]["create"]["outputs"]["output"] == str(out) or doc["steps"]["create"]["outputs"]["output"].endswith(out.name)
    assert out.read_bytes().startswith(magic)
    flat = lf.work / f"flat{ext}"
    lf("run", rec, "-i", "shape=sphere", "-i", f"output_path={flat.name}", "-i", "subdivisions=0", "--json", timeout=300, check=0)
    assert out.stat().st_size > flat.stat().st_size * 2, "subdivisions made a smoother, bigger mesh"


def test_0x_blender_client_exports_through_the_engine(lf):
    """Issue 15 item 3: 0.x's BlenderClient, over the blender tool."""
    import subprocess
    import sys

    code = (
        "import warnings\nwarnings.simplefilter('ignore', DeprecationWarning)\n"
        "from localforge.clients.blender_client import BlenderClient\n"
        "c = BlenderClient()\nprint(c.get_version())\n"
        "print(c.create_primitive('cube', 'cube.obj', size=1.0, subdivisions=1))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=lf.work, env=lf.env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    version, path = out.stdout.splitlines()
    assert version.startswith("Blender") and path.endswith("cube.obj")
    assert (lf.work / "cube.obj").read_text().startswith("# Blender")


def test_0x_dice_types_and_the_dice_set(lf):
    """Issue 15 item 9: 0.x made d4 to d20 (`dice_type`) and a set keyed by die type."""
    rec = lf.write(
        "dice.yaml",
        "name: dice\nsteps:\n"
        "  - {id: d20, tool: blender, action: create_dice, inputs: {dice_type: d20, output_path: d20.obj}}\n"
        "  - {id: set, tool: blender, action: create_dice_set, inputs: {output_dir: set}}\n",
    )
    doc = json.loads(lf("run", rec, "--json", timeout=300, check=0).stdout)
    assert doc["status"] == "completed", doc.get("error")
    d20 = (lf.work / "d20.obj").read_text()
    assert sum(1 for line in d20.splitlines() if line.startswith("f ")) == 20, "an icosahedron: 20 faces"
    out = doc["steps"]["set"]["outputs"]
    for kind in ("d4", "d6", "d8", "d10", "d12", "d20"):
        assert (lf.work / "set" / f"{kind}.glb").read_bytes()[:4] == b"glTF"
        assert out[kind]["model_path"].endswith(f"set/{kind}.glb")
