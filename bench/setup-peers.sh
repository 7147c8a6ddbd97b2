#!/usr/bin/env bash
# Installs the Python peers the benchmarks compare against into .venv/ (benchmark-only; never a
# runtime dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check pyarrow duckdb numpy scikit-learn threadpoolctl
.venv/bin/python -c "import pyarrow, duckdb, numpy, sklearn; print('peers ready: pyarrow', pyarrow.__version__, 'duckdb', duckdb.__version__, 'scikit-learn', sklearn.__version__)"
