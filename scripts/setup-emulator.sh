#!/usr/bin/env bash
# Installs the AWS API emulator the integration tests use (moto server, pinned) into .venv/.
#
# The test harness (local/emulator.ts) runs this itself when no Python on the machine has moto's
# server, so a fresh checkout needs no manual step. Safe to run again: it does nothing when .venv/
# already has the pinned version. PYTHON=/path/to/python3 picks the interpreter for the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.1 # keep in step with PINNED_MOTO_VERSION in local/emulator.ts
say() { echo "setup-emulator: $*" >&2; }
# shellcheck source=scripts/venv.sh
. scripts/venv.sh

if .venv/bin/python - "$MOTO_VERSION" >/dev/null 2>&1 <<'EOF'; then
import sys, moto, moto.server, flask_cors
sys.exit(0 if moto.__version__ == sys.argv[1] else 1)
EOF
  say "moto $MOTO_VERSION is already installed in .venv/; nothing to do"
  exit 0
fi

AGAIN="bash scripts/setup-emulator.sh"
if ! venv_create "$AGAIN"; then
  say "  or point the tests at a running emulator: export AWS_ENDPOINT_URL=http://localhost:4566"
  exit 1
fi
if ! venv_install "$AGAIN" "moto[server]==$MOTO_VERSION"; then
  say "  or install it into the python3 on your PATH: python3 -m pip install 'moto[server]==$MOTO_VERSION'"
  say "  or point the tests at a running emulator: export AWS_ENDPOINT_URL=http://localhost:4566"
  exit 1
fi

.venv/bin/python -c 'import moto.server'
say "moto $MOTO_VERSION is ready in .venv/ (.venv/bin/python)"
