"""Shared image helpers for the built-in image tools (Pillow + numpy, imported lazily)."""

from pathlib import Path

from localforge._project import install
from localforge.errors import MissingFile


def missing() -> list:
    """What the image tools need that is not installed."""
    import importlib.util

    # The hint only when they are missing: reading the package metadata costs ~25 ms.
    return [] if all(importlib.util.find_spec(m) for m in ("PIL", "numpy")) else [f"Pillow and numpy: {install('image')}"]


def open_rgba(path):
    from PIL import Image

    p = Path(path)
    if not p.is_file():
        raise MissingFile(f"image not found: {p}")
    with Image.open(p) as im:
        return im.convert("RGBA")


def save_png(image, path) -> str:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    image.save(p, "PNG")
    return str(p)


def parse_size(inputs, default=64):
    """(width, height) from `size` ("64x32" or [64, 32]) or `width`/`height`."""
    size = inputs.get("size")
    if size is not None:
        if isinstance(size, str):
            w, _, h = size.lower().partition("x")
            return int(w), int(h or w)
        if isinstance(size, (int, float)):
            return int(size), int(size)
        w, h = size
        return int(w), int(h)
    w = int(inputs.get("width", default))
    return w, int(inputs.get("height", w))


def edge_match_score(rgb, max_diff: int = 30) -> float:
    """Share of colour values along opposite edges that match within `max_diff` (0..1),
    each channel of each pixel counted on its own, as 0.x scored it: 1.0 means the tile
    wraps without visible seams."""
    import numpy as np

    arr = rgb.astype(int)
    lr = np.abs(arr[:, 0, :] - arr[:, -1, :]) < max_diff
    tb = np.abs(arr[0, :, :] - arr[-1, :, :]) < max_diff
    return float((lr.mean() + tb.mean()) / 2)
