#!/usr/bin/env bash
# Installs the cross-check's reference libraries, pinned by requirements.txt and
# package.json beside this script, into the directory given as $1 (under target/):
# a Python venv with `packaging`, and a node prefix with `semver`. Idempotent: a copy of
# each pin file is kept next to what it installed, and nothing is redone while they match.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: setup.sh OUTPUT_DIR}"
mkdir -p "$out"

if ! cmp -s "$here/requirements.txt" "$out/venv/requirements.txt" 2>/dev/null; then
    rm -rf "$out/venv"
    python3 -m venv "$out/venv"
    "$out/venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$out/venv/requirements.txt"
fi

if ! cmp -s "$here/package.json" "$out/node/package.json" 2>/dev/null; then
    rm -rf "$out/node"
    mkdir -p "$out/node"
    cp "$here/package.json" "$out/node/package.json"
    npm install --prefix "$out/node" --no-audit --no-fund --silent
fi
