#!/usr/bin/env bash
# Installs the reference ONNX checker (Python `onnx`, pinned) into .venv/, beside the emulator's moto.
#
# test/support/onnx-checker.ts runs this itself when .venv/ has no `onnx` of the pinned version, so a
# fresh checkout's `npm test` needs no manual step. Safe to run again: it does nothing when .venv/
# already has it. PYTHON=/path/to/python3 picks the interpreter for the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

ONNX_VERSION=1.23.1 # keep in step with PINNED_ONNX_VERSION in test/support/onnx-checker.ts
PYTHON=${PYTHON:-python3}

say() { echo "setup-onnx-checker: $*" >&2; }

if .venv/bin/python - "$ONNX_VERSION" >/dev/null 2>&1 <<'PY'; then
import sys, onnx, onnx.checker
sys.exit(0 if onnx.__version__ == sys.argv[1] else 1)
PY
  say "onnx $ONNX_VERSION is already installed in .venv/; nothing to do"
  exit 0
fi

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  say "error: '$PYTHON' not found. Install Python 3.9 or newer with venv support (Debian/Ubuntu:"
  say "  apt-get install python3 python3-venv), then run: bash scripts/setup-onnx-checker.sh"
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv/ with $PYTHON -m venv"
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    say "error: could not create .venv/ (Debian/Ubuntu: apt-get install python3-venv), then run this again"
    exit 1
  fi
fi

say "installing onnx==$ONNX_VERSION into .venv/ with pip"
if ! .venv/bin/python -m pip install --disable-pip-version-check --retries 2 --timeout 30 \
  "onnx==$ONNX_VERSION"; then
  say "error: pip could not install onnx==$ONNX_VERSION into .venv/."
  say "  Check that your package index is reachable (pip config list), then run: bash scripts/setup-onnx-checker.sh"
  exit 1
fi

.venv/bin/python -c 'import onnx.checker'
say "onnx $ONNX_VERSION is ready in .venv/ (.venv/bin/python)"
