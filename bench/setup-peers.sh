#!/usr/bin/env bash
# Installs the Python peers the benchmarks compare against into .venv/ (benchmark-only; never a
# runtime dependency): pyarrow and duckdb for the feature store, lightgbm and scikit-learn for the
# built-in gradient-boosted trees.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check pyarrow duckdb numpy lightgbm scikit-learn threadpoolctl
.venv/bin/python -c "import pyarrow, duckdb, numpy, lightgbm, sklearn; print('peers ready: pyarrow', pyarrow.__version__, 'duckdb', duckdb.__version__, 'lightgbm', lightgbm.__version__, 'scikit-learn', sklearn.__version__)"
