#!/usr/bin/env bash
# scripts/run.sh — run the Concord server with sensible defaults (release build, built if needed).
#
# Usage: scripts/run.sh [config-file] [--port 7000] [other redis-server-style flags...]
#   With no arguments Concord listens on 127.0.0.1:6379. Arguments are passed to the binary
#   unchanged, so relative config paths resolve against the directory you call this from.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec cargo run --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin concord -- "$@"
