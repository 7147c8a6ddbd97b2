#!/usr/bin/env bash
# Installs the reference ONNX checker (Python `onnx`, pinned) into .venv/, beside the emulator's moto.
#
# test/support/onnx-checker.ts runs this itself when .venv/ has no `onnx` of the pinned version, so a
# fresh checkout's `npm test` needs no manual step. Safe to run again: it does nothing when .venv/
# already has it. PYTHON=/path/to/python3 picks the interpreter for the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

ONNX_VERSION=1.23.1 # keep in step with PINNED_ONNX_VERSION in test/support/onnx-checker.ts
say() { echo "setup-onnx-checker: $*" >&2; }
# shellcheck source=scripts/venv.sh
. scripts/venv.sh

if .venv/bin/python - "$ONNX_VERSION" >/dev/null 2>&1 <<'PY'; then
import sys, onnx, onnx.checker
sys.exit(0 if onnx.__version__ == sys.argv[1] else 1)
PY
  say "onnx $ONNX_VERSION is already installed in .venv/; nothing to do"
  exit 0
fi

AGAIN="bash scripts/setup-onnx-checker.sh"
venv_create "$AGAIN" || exit 1
venv_install "$AGAIN" "onnx==$ONNX_VERSION" || exit 1

.venv/bin/python -c 'import onnx.checker'
say "onnx $ONNX_VERSION is ready in .venv/ (.venv/bin/python)"
