#!/usr/bin/env bash
# Installs the AWS API emulator (moto server, pinned) into the project's .venv/.
# The test harness runs this itself when no Python on the machine has moto's server; it is safe to
# run again (it does nothing when the pinned version is already there).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.2.1
PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "setup-emulator: $PYTHON not found. Install Python 3.9 or newer (e.g. apt-get install python3 python3-venv), then run: bash scripts/setup-emulator.sh" >&2
  exit 1
fi

if .venv/bin/python -c "import moto, moto.server, flask_cors; assert moto.__version__ == '$MOTO_VERSION'" >/dev/null 2>&1; then
  echo "setup-emulator: moto $MOTO_VERSION already in .venv/"
  exit 0
fi

echo "setup-emulator: creating .venv/ and installing moto[server]==$MOTO_VERSION"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || {
    echo "setup-emulator: could not create .venv/ (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  }
fi
if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"; then
  echo "setup-emulator: pip could not install moto[server]==$MOTO_VERSION into .venv/. Check that PyPI (or your index) is reachable, or install it into your system Python: python3 -m pip install 'moto[server]==$MOTO_VERSION'" >&2
  exit 1
fi
.venv/bin/python -c "import moto.server" >/dev/null
echo "setup-emulator: moto $MOTO_VERSION ready in .venv/"
