"""Quality gates for images: transparency, size, file size, seamless tiles (Pillow + numpy)."""

from pathlib import Path

from localforge.errors import InvalidValue

from . import _imaging

TOOL_NAME = "validator"
# Same inputs and files, same result: the step cache may serve its calls.
TOOL_DETERMINISTIC = True
# Rendered by the engine (native values), as the step cache needs to key its calls.
TOOL_NATIVE_VALUES = True
TOOL_ACTIONS = ["check_image", "check_tileset", "check_sprites"]

SEAMLESS = {"low": (40, 0.5), "medium": (30, 0.65), "high": (20, 0.8)}

_CHECKS = {
    "type": "object",
    "description": "The checks: `has_transparency`, `not_blank`, `size`, `square`, `max_file_size_kb`, `seamless`, `seamless_threshold` (low/medium/high), ...",
}
# check_sprites also takes a list of names (0.x): any value, checked by `_known`.
_CHECK_LIST = {"description": "The checks, as for check_image; or a list of the names of those that are true/false checks."}
# What each action reads (`list-tools --schema`, the recipe schema for this machine).
TOOL_INPUTS = {
    "check_image": {"image": {"type": "path", "required": True, "description": "The image to check."}, "checks": _CHECKS},
    "check_tileset": {"image": {"type": "path", "required": True, "description": "The tile to check."}, "checks": _CHECKS},
    "check_sprites": {
        "images_dir": {"type": "path", "required": True, "description": "The folder of sprites."},
        "pattern": {"type": "string", "default": "*.png", "description": "Which files, as a glob."},
        "checks": _CHECK_LIST,
    },
}


# The checks each action knows; any other name is refused (a misspelled gate must not pass).
IMAGE_CHECKS = ("has_transparency", "not_blank", "min_width", "min_height", "max_width", "max_height", "size", "square",
                "max_file_size_kb")  # fmt: skip
TILESET_CHECKS = ("seamless", "seamless_threshold", "min_size", "square", "size")


def _known(action: str, checks: dict) -> dict:
    """`checks`, once each name is one the action knows (and `seamless_threshold` a level)."""
    from localforge._suggest import did_you_mean

    if not isinstance(checks, dict):
        raise InvalidValue(f"validator.{action}: `checks` must be a mapping of check names to values, got {checks!r}")
    known = TILESET_CHECKS if action == "check_tileset" else IMAGE_CHECKS
    for name in checks:
        if name not in known:
            hint = did_you_mean(str(name), known) or f"the checks are {', '.join(known)}"
            raise InvalidValue(f"validator.{action} has no check `{name}`; {hint}")
    level = checks.get("seamless_threshold", "medium")
    if level not in SEAMLESS:
        raise InvalidValue(f"validator.{action}: `seamless_threshold` is `{level}`; use one of {', '.join(SEAMLESS)}")
    return checks


def TOOL_MISSING():
    return _imaging.missing()


def check_image(path, checks: dict) -> dict:
    import numpy as np

    p = Path(path)
    image = _imaging.open_rgba(p)
    arr = np.array(image)
    failures = []
    w, h = image.size
    if checks.get("has_transparency") and not (arr[:, :, 3] < 255).any():
        failures.append("no transparent pixels")
    if checks.get("not_blank") and (arr[:, :, 3] == 0).all():
        failures.append("image is fully transparent")
    for key, value, op, label in (
        ("min_width", w, "<", "width"),
        ("min_height", h, "<", "height"),
        ("max_width", w, ">", "width"),
        ("max_height", h, ">", "height"),
    ):
        if key in checks and (value < checks[key] if op == "<" else value > checks[key]):
            failures.append(f"{label} {value} {op} {checks[key]}")
    if "size" in checks:
        want = _imaging.parse_size({"size": checks["size"]})
        if (w, h) != want:
            failures.append(f"size {w}x{h} is not {want[0]}x{want[1]}")
    if checks.get("square") and w != h:
        failures.append(f"not square: {w}x{h}")
    if "max_file_size_kb" in checks:
        kb = p.stat().st_size / 1024
        if kb > checks["max_file_size_kb"]:
            failures.append(f"file {kb:.1f} KB > {checks['max_file_size_kb']} KB")
    return {"passed": not failures, "failures": failures, "width": w, "height": h}


def handle(action: str, inputs: dict, ctx) -> dict:
    import numpy as np

    if action == "check_image":
        return check_image(inputs["image"], _known(action, inputs.get("checks") or {}))

    if action == "check_tileset":
        # 0.x's checks, order and wording: seamless, min_size, square (then the new `size`).
        checks = _known(action, inputs.get("checks") or {})
        image = _imaging.open_rgba(inputs["image"])
        level = checks.get("seamless_threshold", "medium")
        max_diff, min_score = SEAMLESS[level]
        score = _imaging.edge_match_score(np.array(image)[:, :, :3], max_diff)
        failures = []
        if checks.get("seamless") and score < min_score:
            failures.append(f"Seamless score {score:.2f} < {min_score} (threshold: {level})")
        if "min_size" in checks and min(image.size) < checks["min_size"]:
            failures.append(f"Size {image.width}x{image.height} < {checks['min_size']}")
        if checks.get("square") and image.width != image.height:
            failures.append(f"Not square: {image.width}x{image.height}")
        if "size" in checks:
            failures += check_image(inputs["image"], {"size": checks["size"]})["failures"]
        return {"passed": not failures, "failures": failures, "scores": {"seamless": score}, "width": image.width, "height": image.height}

    if action == "check_sprites":
        folder = Path(inputs["images_dir"])
        checks = inputs.get("checks") or {}
        if isinstance(checks, list):
            checks = {c: True for c in checks}
        checks = _known(action, checks)
        valid, scores, failures = [], {}, []
        for path in sorted(folder.glob(inputs.get("pattern", "*.png"))):
            r = check_image(path, checks)
            scores[str(path)] = 1.0 if r["passed"] else 0.0
            if r["passed"]:
                valid.append(str(path))
            else:
                failures.append(f"{path.name}: {'; '.join(r['failures'])}")
        if not scores:
            failures.append(f"no images matching {inputs.get('pattern', '*.png')} in {folder}")
        return {"passed": not failures, "failures": failures, "valid_images": valid, "quality_scores": scores}

    raise InvalidValue(f"Unknown validator action: {action}")
