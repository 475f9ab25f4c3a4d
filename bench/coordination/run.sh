#!/usr/bin/env bash
# Builds and runs the coordination benchmark: Concord vs redis-server vs etcd, one Rust client for all three.
#   bench/coordination/run.sh            full run (~7 minutes)
#   bench/coordination/run.sh --quick    short windows and fewer keys (~1-2 minutes)
#   bench/coordination/run.sh --only lock,hot,cas,lease,put,watch,mem
# CONCORD_BIN overrides the server binary (default: target/release/concord of this repo, built if missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

export CONCORD_BIN=${CONCORD_BIN:-$repo/target/release/concord}
if [ ! -x "$CONCORD_BIN" ]; then
  echo "building $CONCORD_BIN" >&2
  (cd "$repo" && env -u CARGO_TARGET_DIR cargo build --release)
fi

# redis-server, etcd and protoc (etcd-client compiles etcd's .proto files) come from Debian's packages.
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v etcd >/dev/null || need+=(etcd-server)
command -v protoc >/dev/null || need+=(protobuf-compiler)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]}" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# Debian's redis-server package starts a system instance on 6379; the benchmark starts its own on a free port.

# The crate is standalone (its own [workspace]), so the main crate and CI never build it.
(cd "$here" && env -u CARGO_TARGET_DIR cargo build --release --quiet)
exec "$here/target/release/coordination-bench" "$@"
