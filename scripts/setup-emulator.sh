#!/usr/bin/env bash
# Installs the AWS API emulator the integration tests use (moto server, pinned) into .venv/.
#
# The test harness (local/emulator.ts) runs this itself when no Python on the machine has moto's
# server, so a fresh checkout needs no manual step. Safe to run again: it does nothing when .venv/
# already has the pinned version. PYTHON=/path/to/python3 picks the interpreter for the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.1 # keep in step with PINNED_MOTO_VERSION in local/emulator.ts
PYTHON=${PYTHON:-python3}

say() { echo "setup-emulator: $*" >&2; }

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  say "error: '$PYTHON' not found. Install Python 3.9 or newer with venv support (Debian/Ubuntu:"
  say "  apt-get install python3 python3-venv), then run: bash scripts/setup-emulator.sh"
  say "  or point the tests at a running emulator: export AWS_ENDPOINT_URL=http://localhost:4566"
  exit 1
fi

if .venv/bin/python - "$MOTO_VERSION" >/dev/null 2>&1 <<'EOF'; then
import sys, moto, moto.server, flask_cors
sys.exit(0 if moto.__version__ == sys.argv[1] else 1)
EOF
  say "moto $MOTO_VERSION is already installed in .venv/; nothing to do"
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv/ with $PYTHON -m venv"
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    say "error: could not create .venv/ (Debian/Ubuntu: apt-get install python3-venv), then run this again"
    exit 1
  fi
fi

say "installing moto[server]==$MOTO_VERSION into .venv/ with pip"
if ! .venv/bin/python -m pip install --disable-pip-version-check --retries 2 --timeout 30 \
  "moto[server]==$MOTO_VERSION"; then
  say "error: pip could not install moto[server]==$MOTO_VERSION into .venv/."
  say "  Check that your package index is reachable (pip config list), then run: bash scripts/setup-emulator.sh"
  say "  or install it into the python3 on your PATH: python3 -m pip install 'moto[server]==$MOTO_VERSION'"
  say "  or point the tests at a running emulator: export AWS_ENDPOINT_URL=http://localhost:4566"
  exit 1
fi

.venv/bin/python -c 'import moto.server'
say "moto $MOTO_VERSION is ready in .venv/ (.venv/bin/python)"
