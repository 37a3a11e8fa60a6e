"""0.x's `localforge.clients.blender_client`, kept for plugins that import it: `BlenderClient`
with 0.x's methods, over the engine's `blender` tool (each call a one-step run, recorded in
the history). Deprecated: use a `blender` step."""

import shutil
import subprocess
from pathlib import Path
from typing import Optional

from localforge.engine._shim import call_tool, deprecated
from localforge.errors import OperationFailed

deprecated("localforge.clients.blender_client", "a `blender` step")


def _find_blender() -> Optional[str]:
    """As 0.x looked: the configured path, then `blender` on PATH."""
    from localforge.engine.config import get_config

    return get_config().blender_path or shutil.which("blender")


class BlenderClient:
    def __init__(self, blender_path: Optional[Path] = None):
        found = str(blender_path) if blender_path else _find_blender()
        if not found or not Path(found).exists() and not shutil.which(found):
            raise OperationFailed("Blender not found. Set services.blender.path in localforge.yaml")
        self.blender_path = Path(found)

    def _call(self, action: str, **inputs) -> dict:
        # Paths from the caller's folder, as 0.x read them (Blender itself runs elsewhere).
        for key in ("blend_file", "output_path", "output_dir"):
            if key in inputs:
                inputs[key] = str(Path(inputs[key]).absolute())
        return call_tool("blender", action, {"blender_path": str(self.blender_path), **inputs})

    def get_version(self) -> str:
        out = subprocess.run([str(self.blender_path), "--version"], capture_output=True, text=True, timeout=60).stdout
        return out.splitlines()[0].strip() if out else ""

    def render_scene(self, blend_file, output_path, resolution=(1920, 1080), samples=128) -> Path:
        self._call("render", blend_file=str(blend_file), output_path=str(output_path), resolution=list(resolution), samples=samples)
        return Path(output_path)

    def render_animation(self, blend_file, output_dir, frame_start=1, frame_end=24, resolution=(1920, 1080)) -> Path:
        self._call("render_animation", blend_file=str(blend_file), output_dir=str(output_dir), frame_start=frame_start,
                   frame_end=frame_end, resolution=list(resolution))  # fmt: skip
        return Path(output_dir)

    def create_primitive(self, shape, output_path, size=1.0, subdivisions=2) -> Path:
        self._call("create_primitive", shape=shape, output_path=str(output_path), size=size, subdivisions=subdivisions)
        return Path(output_path)

    def create_text_3d(self, text, output_path, font_size=1.0, extrude=0.1) -> Path:
        self._call("create_text_3d", text=text, output_path=str(output_path), font_size=font_size, extrude=extrude)
        return Path(output_path)

    def generate_procedural_texture(self, texture_type, output_path, resolution=1024) -> Path:
        self._call("generate_texture", texture_type=texture_type, output_path=str(output_path), resolution=[resolution, resolution])
        return Path(output_path)

    def render_isometric_background(self, output_path, scene_type="landscape", resolution=(1920, 1080)) -> Path:
        self._call("render_isometric", output_path=str(output_path), resolution=list(resolution))
        return Path(output_path)

    def create_dice(self, dice_type, output_path, size=1.0, texture_resolution=1024, export_uv_layout=True, export_svg=True) -> dict:
        """A die (d6 only in this version) exported to `output_path`."""
        out = self._call("create_dice", output_path=str(output_path), size=size)
        return {"model_path": Path(out.get("model_path") or out["output"])}
