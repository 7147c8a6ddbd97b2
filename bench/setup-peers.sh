#!/usr/bin/env bash
# Installs the Python peers the benchmarks compare against into .venv/ (benchmark-only; never a
# runtime dependency): pyarrow and duckdb for the feature store, lightgbm and scikit-learn for the
# built-in gradient-boosted trees, fastapi + uvicorn + onnxruntime for serving,
# statsmodels (with pandas and scipy) for the experiment statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "setup-peers: $*" >&2; }
# shellcheck source=scripts/venv.sh
. scripts/venv.sh
AGAIN="bash bench/setup-peers.sh"
venv_create "$AGAIN" || exit 1
venv_install "$AGAIN" pyarrow duckdb numpy lightgbm scikit-learn threadpoolctl fastapi uvicorn onnxruntime statsmodels pandas scipy || exit 1
.venv/bin/python -c "import pyarrow, duckdb, numpy, lightgbm, sklearn, fastapi, uvicorn, onnxruntime, statsmodels, pandas; print('peers ready: pyarrow', pyarrow.__version__, 'duckdb', duckdb.__version__, 'lightgbm', lightgbm.__version__, 'scikit-learn', sklearn.__version__, 'fastapi', fastapi.__version__, 'uvicorn', uvicorn.__version__, 'onnxruntime', onnxruntime.__version__, 'statsmodels', statsmodels.__version__, 'pandas', pandas.__version__)"
