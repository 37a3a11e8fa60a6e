"""Image processing: background removal, resizing, seamless tiles, sprite sheets (Pillow + numpy)."""

import math
from pathlib import Path

from localforge.errors import InvalidValue

from . import _imaging

TOOL_NAME = "image_processor"
# Same inputs and files, same result: the step cache may serve its calls.
TOOL_DETERMINISTIC = True
# Rendered by the engine (native values), as the step cache needs to key its calls.
TOOL_NATIVE_VALUES = True
TOOL_ACTIONS = [
    "remove_bg",
    "resize",
    "batch_remove_bg",
    "make_seamless",
    "tile_preview",
    "create_idle_animation",
    "create_directional_sheet",
    "assemble_sheet",
]

_IMAGE = {"type": "path", "required": True, "description": "The image (PNG, JPEG, ...)."}
_OUTPUT = {"type": "path", "description": "The file to write (default: in the run's temp folder)."}
_BG = {
    "method": {
        "type": "string",
        "default": "auto",
        "choices": ["auto", "color", "flood", "ai", "rembg"],
        "description": "How the background is found.",
    },
    "tolerance": {"type": "integer", "default": 30, "description": "How far a colour may be from the background's and still count as it."},
    "bg_color": {"type": "string", "description": "The background colour (`#ffffff`); default: the corners'."},
}
_FRAMES = {"type": "integer", "default": 4, "description": "Frames per animation."}
_BOB = {"type": "integer", "default": 2, "description": "Pixels the sprite bobs up and down."}
# What each action reads (`list-tools --schema`, the recipe schema for this machine).
TOOL_INPUTS = {
    "remove_bg": {"input": _IMAGE, "output": _OUTPUT, **_BG},
    "resize": {
        "input": _IMAGE,
        "output": _OUTPUT,
        "size": {"description": "`WxH`, `[W, H]` or one number for a square (instead of width and height)."},
        "width": {"type": "integer", "default": 64, "description": "Width in pixels."},
        "height": {"type": "integer", "description": "Height in pixels (default: the width)."},
        "method": {
            "type": "string",
            "default": "lanczos",
            "choices": ["lanczos", "bilinear", "nearest"],
            "description": "How pixels are resampled.",
        },
    },
    "batch_remove_bg": {
        "input_dir": {"type": "path", "required": True, "description": "The folder of images."},
        "output_dir": {"type": "path", "description": "Where the results go (default: the run's temp folder)."},
        "pattern": {"type": "string", "default": "*.png", "description": "Which files, as a glob."},
        **_BG,
    },
    "make_seamless": {
        "input": _IMAGE,
        "output": _OUTPUT,
        "blend_width": {"type": "integer", "default": 8, "description": "Pixels blended at each edge."},
    },
    "tile_preview": {"input": _IMAGE, "output": _OUTPUT, "grid_size": {"type": "integer", "default": 3, "description": "Tiles per side."}},
    "create_idle_animation": {"input": _IMAGE, "output": _OUTPUT, "frames": _FRAMES, "bob_pixels": _BOB},
    "create_directional_sheet": {
        "input": _IMAGE,
        "output": _OUTPUT,
        "directions": {
            "type": "integer",
            "default": 4,
            "choices": [2, 4],
            "description": "Rows: 2 (right, left) or 4 (down, left, right, up).",
        },
        "frames": _FRAMES,
        "bob_pixels": _BOB,
    },
    "assemble_sheet": {
        "inputs": {"type": "list", "required": True, "description": "The images, in order."},
        "output": _OUTPUT,
        "columns": {"type": "integer", "description": "Images per row (default: all in one row)."},
    },
}


def TOOL_MISSING():
    return _imaging.missing()


def _similar(arr, color, tolerance):
    import numpy as np

    return (np.abs(arr[:, :, :3].astype(int) - np.array(color[:3], dtype=int)) <= tolerance).all(axis=-1)


def _flood_from_border(similar):
    """Pixels similar to the background and connected to the image border (4-neighbour)."""
    import numpy as np

    region = np.zeros_like(similar)
    region[0, :], region[-1, :], region[:, 0], region[:, -1] = similar[0, :], similar[-1, :], similar[:, 0], similar[:, -1]
    while True:
        grown = region.copy()
        grown[1:, :] |= region[:-1, :]
        grown[:-1, :] |= region[1:, :]
        grown[:, 1:] |= region[:, :-1]
        grown[:, :-1] |= region[:, 1:]
        grown &= similar
        if (grown == region).all():
            return region
        region = grown


def _remove_bg(image, method, tolerance, bg_color, ctx):
    import numpy as np
    from PIL import Image

    if method in ("ai", "rembg"):
        # Whether rembg is installed (and which) decides the image: not in the step's key.
        ctx._read("whether rembg is installed")
        try:
            from rembg import remove
        except ImportError:
            ctx.log("rembg is not installed (pip install rembg); using the flood-fill method", "WARNING")
        else:
            return remove(image).convert("RGBA"), "rembg"
    arr = np.array(image)
    if method == "color":
        color = bg_color if bg_color is not None else tuple(arr[0, 0, :3])
        mask = _similar(arr, color, tolerance)
    elif method in ("auto", "flood", "ai", "rembg"):
        corners = [arr[0, 0], arr[0, -1], arr[-1, 0], arr[-1, -1]]
        color = bg_color if bg_color is not None else tuple(int(np.median([c[i] for c in corners])) for i in range(3))
        mask = _flood_from_border(_similar(arr, color, tolerance))
        method = "flood"
    else:
        raise InvalidValue(f"unknown remove_bg method `{method}` (auto, flood, color, rembg)")
    arr[mask, 3] = 0
    return Image.fromarray(arr, "RGBA"), method


def _bob_frames(image, frames, bob_pixels):
    from PIL import Image

    out = []
    for i in range(frames):
        dy = round(math.sin(2 * math.pi * i / frames) * bob_pixels)
        frame = Image.new("RGBA", image.size, (0, 0, 0, 0))
        frame.paste(image, (0, dy), image)
        out.append(frame)
    return out


def _sheet(rows):
    """Frames (a list of rows of equal-size frames) pasted into one image."""
    from PIL import Image

    fw, fh = rows[0][0].size
    cols = max(len(r) for r in rows)
    sheet = Image.new("RGBA", (fw * cols, fh * len(rows)), (0, 0, 0, 0))
    for y, row in enumerate(rows):
        for x, frame in enumerate(row):
            sheet.paste(frame, (x * fw, y * fh))
    return sheet


def handle(action: str, inputs: dict, ctx) -> dict:
    from PIL import Image

    out = lambda default: inputs.get("output") or str(ctx.temp_dir / default)  # noqa: E731
    tolerance = int(inputs.get("tolerance", 30))
    bg_color = inputs.get("bg_color")

    if action == "remove_bg":
        image = _imaging.open_rgba(inputs["input"])
        result, used = _remove_bg(image, inputs.get("method", "auto"), tolerance, bg_color, ctx)
        import numpy as np

        removed = int((np.array(result.getchannel("A")) == 0).sum())
        return {"output": _imaging.save_png(result, out("processed.png")), "method": used, "transparent_pixels": removed}

    if action == "batch_remove_bg":
        src = Path(inputs["input_dir"])
        dst = Path(inputs.get("output_dir") or ctx.temp_dir / "processed")
        done = []
        for path in sorted(src.glob(inputs.get("pattern", "*.png"))):
            result, _ = _remove_bg(_imaging.open_rgba(path), inputs.get("method", "auto"), tolerance, bg_color, ctx)
            done.append(_imaging.save_png(result, dst / path.name))
        return {"processed_images": done, "output_dir": str(dst), "count": len(done)}

    if action == "resize":
        w, h = _imaging.parse_size(inputs)
        resample = {"lanczos": Image.Resampling.LANCZOS, "bilinear": Image.Resampling.BILINEAR, "nearest": Image.Resampling.NEAREST}
        method = inputs.get("method", "lanczos")
        if method not in resample:
            raise InvalidValue(f"unknown resize method `{method}` (lanczos, bilinear, nearest)")
        image = _imaging.open_rgba(inputs["input"]).resize((w, h), resample[method])
        return {"output": _imaging.save_png(image, out("resized.png")), "width": w, "height": h}

    if action == "make_seamless":
        import numpy as np

        image = _imaging.open_rgba(inputs["input"])
        arr = np.array(image).astype(float)
        blend = int(inputs.get("blend_width", 8))
        h, w = arr.shape[:2]
        if not 0 < blend <= min(w, h) // 2:
            raise InvalidValue(f"blend_width must be between 1 and {min(w, h) // 2} for a {w}x{h} image")
        for i in range(blend):
            t = 0.5 * (1 - i / blend)  # weight of the opposite edge: 0.5 at the seam, fading inwards
            arr[:, i], arr[:, w - 1 - i] = (1 - t) * arr[:, i] + t * arr[:, w - 1 - i], (1 - t) * arr[:, w - 1 - i] + t * arr[:, i]
        for i in range(blend):
            t = 0.5 * (1 - i / blend)
            arr[i], arr[h - 1 - i] = (1 - t) * arr[i] + t * arr[h - 1 - i], (1 - t) * arr[h - 1 - i] + t * arr[i]
        result = Image.fromarray(np.clip(arr.round(), 0, 255).astype(np.uint8), "RGBA")
        score = _imaging.edge_match_score(np.array(result)[:, :, :3])
        return {"output": _imaging.save_png(result, out("seamless.png")), "seamless_score": score}

    if action == "tile_preview":
        image = _imaging.open_rgba(inputs["input"])
        n = int(inputs.get("grid_size", 3))
        preview = _sheet([[image] * n for _ in range(n)])
        return {"output": _imaging.save_png(preview, out("preview.png")), "width": preview.width, "height": preview.height}

    if action == "create_idle_animation":
        image = _imaging.open_rgba(inputs["input"])
        frames = int(inputs.get("frames", 4))
        sheet = _sheet([_bob_frames(image, frames, int(inputs.get("bob_pixels", 2)))])
        return {
            "output": _imaging.save_png(sheet, out("idle_sheet.png")),
            "frame_count": frames,
            "frame_width": image.width,
            "frame_height": image.height,
        }

    if action == "create_directional_sheet":
        image = _imaging.open_rgba(inputs["input"])
        directions = int(inputs.get("directions", 4))
        if directions not in (2, 4):
            raise InvalidValue("directions must be 2 (right, left) or 4 (down, left, right, up)")
        frames = int(inputs.get("frames", 4))
        right = _bob_frames(image, frames, int(inputs.get("bob_pixels", 2)))
        left = [f.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for f in right]
        rows = [right, left] if directions == 2 else [right, left, right, [f.transpose(Image.Transpose.FLIP_TOP_BOTTOM) for f in right]]
        sheet = _sheet(rows)
        return {"output": _imaging.save_png(sheet, out("directional_sheet.png")), "directions": directions, "frames_per_direction": frames}

    if action == "assemble_sheet":
        paths = inputs.get("inputs") or []
        if not paths:
            raise InvalidValue("assemble_sheet needs `inputs`: a list of image paths")
        frames = [_imaging.open_rgba(p) for p in paths]
        size = frames[0].size
        frames = [f if f.size == size else f.resize(size) for f in frames]
        cols = int(inputs.get("columns") or len(frames))
        rows = [frames[i : i + cols] for i in range(0, len(frames), cols)]
        return {"output": _imaging.save_png(_sheet(rows), out("sheet.png")), "frame_count": len(frames), "columns": cols, "rows": len(rows)}

    raise InvalidValue(f"Unknown image_processor action: {action}")
