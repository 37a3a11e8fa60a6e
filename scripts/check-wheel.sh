#!/usr/bin/env bash
# Install a built wheel into a fresh virtual environment, with no Rust toolchain
# on PATH, and run the recipe that needs no services: what a `pip install
# localforge` user gets. Usage: bash scripts/check-wheel.sh [WHEEL] (default: the
# x86_64 wheel in dist/, from scripts/build-wheels.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
wheel="${1:-$(ls dist/localforge-*manylinux*x86_64.whl | head -n 1)}"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q --disable-pip-version-check --no-index "$wheel"
# A PATH with Python and the usual system folders, and no cargo/rustc anywhere on it.
clean_path="$scratch/venv/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"
if PATH="$clean_path" command -v cargo >/dev/null || PATH="$clean_path" command -v rustc >/dev/null; then
    echo "error: a Rust toolchain is on the clean PATH; the check would prove nothing" >&2
    exit 1
fi
cd "$scratch"
report=$(env -i HOME="$scratch/home" PATH="$clean_path" LANG=C.UTF-8 \
    "$scratch/venv/bin/python" -m localforge run hello-localforge --json -q)
echo "$report" | "$PYTHON" -c 'import json, sys; r = json.load(sys.stdin); assert r["status"] == "completed", r; print("wheel OK:", r["recipe"], r["status"], r["run_dir"])'
