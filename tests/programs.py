"""Is a program on PATH really the program the tests drive? Known by what it
says it is (`convert -version` names ImageMagick), not by its name: some
machines ship a stand-in `convert`. scripts/test.sh uses the same check to
decide what to install (`python -m programs NAME` exits 0 for the real one)."""

import functools
import re
import shutil
import subprocess
import sys

# program -> (version flag, what its first lines say)
SIGNATURES = {
    "ffmpeg": ("-version", r"^ffmpeg version"),
    "ffprobe": ("-version", r"^ffprobe version"),
    "pandoc": ("--version", r"^pandoc"),
    "tesseract": ("--version", r"^tesseract"),
    "convert": ("-version", r"ImageMagick"),
    "magick": ("-version", r"ImageMagick"),
    "espeak-ng": ("--version", r"eSpeak NG"),
    "sox": ("--version", r"SoX"),
    "yt-dlp": ("--version", r"^\d{4}\.\d"),
    "blender": ("--version", r"^Blender \d"),
    # The registry's examples (tests/test_registry.py), git, and the dashboard's browser.
    "optipng": ("--version", r"^OptiPNG"),
    "pngquant": ("--version", r"^\d+\.\d+"),
    "cwebp": ("-version", r"^\d+\.\d+"),
    "rsvg-convert": ("--version", r"^rsvg-convert"),
    "exiftool": ("-ver", r"^\d+\.\d+"),
    "dot": ("-V", r"graphviz"),
    "qpdf": ("--version", r"^qpdf version"),
    "pdftotext": ("-v", r"^pdftotext version"),
    "gs": ("--version", r"^\d+\.\d+"),
    "flac": ("--version", r"^flac \d"),
    "lame": ("--version", r"^LAME"),
    "opusenc": ("--version", r"^opusenc opus-tools"),
    "jq": ("--version", r"^jq-\d"),
    "mediainfo": ("--version", r"^MediaInfo"),
    "html2text": ("-version", r"html2text"),
    "git": ("--version", r"^git version"),
    "chromium": ("--version", r"^Chromium \d"),
    # The Ray tests read which ports a node listens on (tests/test_ray.py).
    "ss": ("--version", r"iproute2"),
}


# What a stand-in says instead of a version (src/system/binaries.rs, DISOWNING): an
# answer with one of these is not the program, whatever name it prints beside it.
DISOWNING = re.compile(
    r"not installed|not found|no such|not available|cannot find|can't find|could not find|unable to find"
    r"|unable to locate|is missing|stand-in|stands in for",
    re.IGNORECASE,
)


@functools.cache
def real(program: str) -> bool:
    """True when `program` is on PATH and says it is what its name promises."""
    path = shutil.which(program)
    if path is None:
        return False
    if program not in SIGNATURES:
        return True  # nothing known to ask it (soxi has no version flag): found is enough
    flag, pattern = SIGNATURES[program]
    try:
        proc = subprocess.run([path, flag], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    head = "\n".join([line for line in (proc.stdout + "\n" + proc.stderr).splitlines() if line.strip()][:5])
    return proc.returncode == 0 and re.search(pattern, head, re.MULTILINE) is not None and not DISOWNING.search(head)


if __name__ == "__main__":
    sys.exit(0 if all(real(p) for p in sys.argv[1:]) else 1)


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 without one (landlock_create_ruleset with
    LANDLOCK_CREATE_RULESET_VERSION, as src/tools/process.rs asks it)."""
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "aarch64"):
        return 0
    libc = ctypes.CDLL(None, use_errno=True)
    return max(0, libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))
