#!/usr/bin/env bash
# Release artifacts in dist/: abi3 manylinux wheels (one per Linux target whose
# Rust standard library is installed; x86_64 and aarch64 on the release forge)
# and the sdist. Linking goes through zig (the `ziglang` package from PyPI), so
# the wheels run on glibc 2.17 and later without a manylinux container; release
# builds are stripped (Cargo.toml), which keeps a wheel under 10 MB. Each wheel
# is checked with `auditwheel show` and for its size.
#
# Usage: bash scripts/build-wheels.sh [TARGET...]   (default: every Linux target installed)
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localforge/target}"
PYTHON="${PYTHON:-python3}"
MAX_MB=10
OUT=dist

step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*" >&2; }

step "build tools (.venv-build: maturin with zig, auditwheel)"
[ -x .venv-build/bin/python ] || "$PYTHON" -m venv .venv-build
.venv-build/bin/python -m pip install -q --disable-pip-version-check "maturin[zig]>=1.9.4,<2" "auditwheel>=6"

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    installed=$(rustup target list --installed 2>/dev/null || true)
    for t in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu; do
        if grep -qx "$t" <<<"$installed"; then
            targets+=("$t")
        else
            echo "skipping $t: its Rust standard library is not installed (rustup target add $t)" >&2
        fi
    done
fi
[ ${#targets[@]} -gt 0 ] || { echo "error: no target to build a wheel for" >&2; exit 1; }

# This version's artifacts only: anything else the user keeps in dist/ stays.
mkdir -p "$OUT"
rm -f "$OUT"/localforge-*.whl "$OUT"/localforge-*.tar.gz
# maturin finds zig as `python3 -m ziglang`: the build venv's python3 must come first.
export PATH="$PWD/.venv-build/bin:$PATH"
for target in "${targets[@]}"; do
    step "wheel for $target (release, zig linker, manylinux2014; several minutes on 2 cores the first time)"
    .venv-build/bin/maturin build --release --zig --compatibility manylinux2014 --target "$target" --out "$OUT"
done

step "sdist"
.venv-build/bin/maturin sdist --out "$OUT"

step "check the wheels"
status=0
for wheel in "$OUT"/localforge-*.whl; do
    size=$(stat -c %s "$wheel")
    awk -v s="$size" -v w="$(basename "$wheel")" 'BEGIN { printf "%s: %.1f MB\n", w, s / 1048576 }'
    # auditwheel wraps its report at the terminal width: read it as one line.
    if ! report=$(.venv-build/bin/auditwheel show "$wheel" 2>&1 | tr -s ' \n' ' '); then
        echo "error: auditwheel could not read $wheel: $report" >&2
        status=1
        continue
    fi
    echo "$report" >&2
    grep -q 'is consistent with the following platform tag: "manylinux' <<<"$report" \
        || { echo "error: $wheel has no manylinux tag" >&2; status=1; }
    [ "$size" -lt $((MAX_MB * 1048576)) ] || { echo "error: $wheel is over $MAX_MB MB" >&2; status=1; }
done
exit $status
