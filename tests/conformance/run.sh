#!/usr/bin/env bash
# The official MCP conformance suite (@modelcontextprotocol/conformance, server mode) against
# `localforge mcp --http`. Passes when exactly the scenarios in expected-failures.yml fail: a
# new failure fails the run, and so does a listed scenario that starts passing (stale baseline).
#
# The suite cannot send a bearer token, so the server runs with --no-auth, which it allows only
# on a loopback address; tests/test_mcp.py checks the token itself.
#
# usage: tests/conformance/run.sh [PYTHON]   (default .venv/bin/python; needs node >= 20 and npm)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python="${1:-$repo/.venv/bin/python}"

cd "$here"
[ -d node_modules/@modelcontextprotocol/conformance ] || npm ci --no-audit --no-fund --loglevel=error

scratch="$(mktemp -d)"
log="$scratch/server.log"
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$scratch"' EXIT
# A scratch HOME: its history and run folders are thrown away with it.
(cd "$scratch" && HOME="$scratch" exec "$python" -m localforge mcp --http --no-auth --port 0) 2>"$log" &
server=$!
url=""
for _ in $(seq 300); do
    url="$(sed -n 's/.*serving \(http:[^ ]*\/mcp\).*/\1/p' "$log")"
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$log" >&2; echo "the server did not start" >&2; exit 1; }
    sleep 0.1
done
[ -n "$url" ] || { cat "$log" >&2; echo "the server did not say where it serves" >&2; exit 1; }

# Node 20 lacks fs.globSync, which the suite imports (it uses it only in `tier-check`):
# register.mjs gives it a stub. Harmless on Node >= 22.
rm -rf "$here/results"
status=0
NODE_OPTIONS="--import $here/register.mjs ${NODE_OPTIONS:-}" \
    npx --no-install conformance server --url "$url" --expected-failures "$here/expected-failures.yml" -o "$here/results" || status=$?
if grep -q Traceback "$log"; then cat "$log" >&2; echo "the server logged a traceback" >&2; exit 1; fi
exit $status
