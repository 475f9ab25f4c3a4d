#!/usr/bin/env bash
# scripts/test.sh — the one command that runs every Concord test on a fresh Debian machine.
#
# Usage: scripts/test.sh            (from anywhere; it works from the repo root)
#
# What it does, in order (each step is idempotent and quiet unless it fails):
#   1. apt packages redis-server redis-tools tcl, installed only when missing (sudo if not root;
#      `apt-get update` only if the first install attempt fails). The redis-server service the
#      package starts is stopped and disabled: tests start their own servers on ephemeral ports.
#   2. Python venv in .venv with tests/python/requirements.txt, re-installed only when that file
#      changes (stamp: .venv/.requirements.sha256).
#   3. `npm ci` (or `npm install` without a lockfile) in tests/node when tests/node/package.json
#      exists, re-run only when package.json/package-lock.json change
#      (stamp: tests/node/node_modules/.deps.sha256).
#   4. cargo build --release; cargo test --release (integration tests find the binary through
#      CARGO_BIN_EXE_concord).
#   5. .venv/bin/python -m pytest -q tests/python   — only when it contains test_*.py / *_test.py.
#   6. node --test tests/node                       — only when it contains *.test.mjs files.
# Python and Node tests get CONCORD_BIN=<repo>/target/release/concord in their environment.
# Any failure exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

section() { printf '\n==> %s\n' "$*"; }
die() { printf 'test.sh: %s\n' "$*" >&2; exit 1; }

# Root runs commands directly; anyone else goes through sudo (non-interactive, so a password
# prompt fails fast instead of hanging CI).
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "not root and sudo is missing; cannot install apt packages"
    SUDO=(sudo -n)
fi

# ---------------------------------------------------------------------------------------------
section "system packages"
APT_PKGS=(redis-server redis-tools tcl)
missing=()
for pkg in "${APT_PKGS[@]}"; do
    if [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true) != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt_log="$(mktemp)"
    apt_install() {
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1
    }
    # The package lists may be absent or stale on a fresh machine; only refresh when needed.
    if ! apt_install; then
        "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$apt_log" 2>&1 || true
        apt_install || { cat "$apt_log" >&2; die "apt-get install ${missing[*]} failed"; }
    fi
    rm -f "$apt_log"
else
    echo "ok: ${APT_PKGS[*]} already installed"
fi
# The Debian package starts a redis-server service on 6379. Nothing here needs it (tests pick
# free ports), so stop it to save CPU on a 2-core machine. Failures (no systemd, no service) are fine.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    "${SUDO[@]}" systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
if [[ -e /run/redis/redis-server.pid ]] && command -v service >/dev/null 2>&1; then
    "${SUDO[@]}" service redis-server stop >/dev/null 2>&1 || true
fi

# ---------------------------------------------------------------------------------------------
section "python venv (.venv)"
REQ=tests/python/requirements.txt
if [[ -f $REQ ]]; then
    if [[ ! -x .venv/bin/python ]] || ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
        rm -rf .venv
        if ! python3 -m venv .venv >/dev/null 2>&1; then
            # Debian's system python3 ships venv support separately.
            rm -rf .venv
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -q python3-venv >/dev/null 2>&1 ||
                { "${SUDO[@]}" apt-get update -q >/dev/null 2>&1 || true
                  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                      apt-get install -y -q python3-venv >/dev/null; }
            python3 -m venv .venv
        fi
    fi
    want="$(sha256sum "$REQ" | cut -d' ' -f1)"
    stamp=.venv/.requirements.sha256
    if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
        echo "installing $REQ"
        .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQ"
        echo "$want" >"$stamp"
    else
        echo "ok: requirements unchanged"
    fi
else
    echo "skip: no $REQ"
fi

# ---------------------------------------------------------------------------------------------
if [[ -f tests/node/package.json ]]; then
    section "node deps (tests/node)"
    want="$( { cat tests/node/package.json; cat tests/node/package-lock.json 2>/dev/null || true; } |
        sha256sum | cut -d' ' -f1)"
    stamp=tests/node/node_modules/.deps.sha256
    if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
        echo "installing tests/node dependencies"
        if [[ -f tests/node/package-lock.json ]]; then
            # npm 11's `npm ci` rejects lockfiles whose optional platform packages (msgpackr-extract's
            # darwin/win32 builds, pulled in by bullmq) it did not record, even freshly generated
            # ones; `npm install` resolves the same pinned versions from the lockfile.
            (cd tests/node && { npm ci --no-audit --no-fund --loglevel=silent >/dev/null 2>&1 ||
                npm install --no-audit --no-fund --loglevel=error >/dev/null; })
        else
            (cd tests/node && npm install --no-audit --no-fund --loglevel=error >/dev/null)
        fi
        mkdir -p tests/node/node_modules
        echo "$want" >"$stamp"
    else
        echo "ok: node deps unchanged"
    fi
fi

# ---------------------------------------------------------------------------------------------
section "cargo build --release"
cargo build --release

section "cargo test --release"
cargo test --release

export CONCORD_BIN="$ROOT/target/release/concord"

# ---------------------------------------------------------------------------------------------
# pytest exits 5 when it collects nothing, so only run it when there is something to collect.
if [[ -d tests/python ]] &&
    [[ -n $(find tests/python -name 'test_*.py' -o -name '*_test.py' | head -n1) ]]; then
    section "pytest tests/python"
    .venv/bin/python -m pytest -q tests/python
else
    section "pytest: skipped (no tests in tests/python)"
fi

if [[ -d tests/node ]] &&
    [[ -n $(find tests/node -path tests/node/node_modules -prune -o -name '*.test.mjs' -print | head -n1) ]]; then
    section "node --test tests/node"
    node --test tests/node
else
    section "node: skipped (no *.test.mjs in tests/node)"
fi

section "all tests passed"
