#!/usr/bin/env bash
# Fuzz the recipe loader and the template renderer with cargo-fuzz (libFuzzer, nightly).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60: the CI smoke)
#
# Seeds: every shipped recipe and the bad-recipe corpus (loader), template snippets
# (renderer). Each target runs with a 10 s per-input timeout (a hang fails) and a
# 2 GB memory limit; a crash or hang leaves its input under fuzz/artifacts/ and fails.
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); without
# them it says so and exits 0, so a machine without nightly still runs the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: no nightly toolchain; skipped (rustup toolchain install nightly)" >&2
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked -q
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/localforge/target}-fuzz"
corpus="$(mktemp -d)"
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/recipe_loader" "$corpus/template_render"
find python/localforge/recipes tests/fixtures/recipes -name '*.yaml' -exec cp {} "$corpus/recipe_loader/" \; 2>/dev/null || true
i=0
for t in '{{ inputs.name | upper }}' '{% for f in steps.list.outputs.files %}{{ f | basename }}{% endfor %}' \
         '{{ inputs.items | map("string") | join(",") }}' '{% if inputs.n > 2 %}{{ templates.hello }}{% endif %}' \
         '{{ steps.list.outputs.text.split("\n") | length }}' '{% set x = range(10) %}{{ x | sum }}' \
         '{{ inputs.m.k ~ "-" ~ workflow.run_id }}' '{{ inputs.nope | default("d") }}'; do
    printf '%s' "$t" > "$corpus/template_render/seed$i"; i=$((i + 1))
done
for target in recipe_loader template_render; do
    echo "== fuzz $target for ${secs}s" >&2
    log="$corpus/$target.log"
    status=0
    cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$corpus/$target" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|Done )' "$log" >&2 || true
    if [ "$status" -ne 0 ]; then
        tail -60 "$log" >&2
        echo "fuzz: $target failed (exit $status); the input is under fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
done
