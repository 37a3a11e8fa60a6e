#!/usr/bin/env bash
# Install a built wheel into a fresh virtual environment, with no Rust toolchain
# on PATH, and run the recipe that needs no services: what a `pip install
# localforge` user gets. Usage: bash scripts/check-wheel.sh [WHEEL] (default: the
# wheel in dist/ for this machine's architecture, from scripts/build-wheels.sh).
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
PYTHON=$(command -v "${PYTHON:-python3}")
wheels=(dist/localforge-*manylinux*"$(uname -m)".whl)
wheel=$(realpath "${1:-${wheels[0]:-}}")
[ -f "$wheel" ] || { echo "error: no wheel to check (run scripts/build-wheels.sh first)" >&2; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

"$PYTHON" -m venv "$scratch/venv"
"$scratch/venv/bin/python" -m pip install -q --disable-pip-version-check --no-index "$wheel"
# PATH: the venv, and `sh` (the watchdog that stops step processes uses it). Nothing
# else, so no cargo or rustc can be reached, wherever this machine keeps them.
mkdir "$scratch/bin"
ln -s "$(command -v sh)" "$scratch/bin/sh"
clean_path="$scratch/venv/bin:$scratch/bin"
cd "$scratch"
if ! report=$(env -i HOME="$scratch/home" PATH="$clean_path" LANG=C.UTF-8 \
    "$scratch/venv/bin/python" -m localforge run hello-localforge --json -q); then
    echo "error: the hello recipe failed from the installed wheel: $report" >&2
    exit 1
fi
echo "$report" | "$PYTHON" -c 'import json, sys; r = json.load(sys.stdin); assert r["status"] == "completed", r; print("wheel OK:", r["recipe"], r["status"], r["run_dir"])'
