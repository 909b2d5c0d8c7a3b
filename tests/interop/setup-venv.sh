#!/usr/bin/env bash
# Makes the Python virtual environment the interop tests (tests/interop.rs, tests/nats.rs,
# tests/interop_completion.rs) run their scripts in.
#
# usage: tests/interop/setup-venv.sh [VENV_DIR]      default VENV_DIR: target/interop-venv
#
# The venv is rebuilt from nothing when it is missing, when requirements.txt changed or when the
# interpreter changed; otherwise the script returns at once. A stamp file inside the venv records
# what it was built from, and is written only after pip succeeded, so an interrupted install is
# redone next time. PYTHON selects the interpreter (default python3). Quiet on success; on
# failure pip's own messages go to stderr and the exit code is non-zero.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
requirements="$here/requirements.txt"
venv="${1:-$root/target/interop-venv}"
python="${PYTHON:-python3}"
stamp="$venv/stella-interop.stamp"

# What the venv must have been built from: the requirements' digest and the interpreter.
fingerprint() {
    "$python" - "$requirements" <<'PY'
import hashlib
import sys

with open(sys.argv[1], "rb") as f:
    digest = hashlib.sha256(f.read()).hexdigest()
print(f"requirements-sha256 {digest}")
print(f"python {sys.version.split()[0]} {sys.executable}")
PY
}

# Two test processes may start at once; the second waits for the first to finish.
mkdir -p "$(dirname "$venv")"
if command -v flock >/dev/null 2>&1; then
    exec 9>"$venv.lock"
    flock 9
fi

wanted="$(fingerprint)"
if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    exit 0
fi

if [[ -e "$venv" && ! -f "$venv/pyvenv.cfg" ]]; then
    echo "setup-venv.sh: $venv exists and is not a Python venv; refusing to replace it" >&2
    exit 2
fi
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    --requirement "$requirements"
printf '%s\n' "$wanted" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
