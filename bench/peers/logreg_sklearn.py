"""Peer for bench/linear.bench.ts: scikit-learn LogisticRegression on the same data, one thread.

Reads x.f64 (row-major n x f, little-endian) and y.i32 from the directory the bench wrote. Loading
is not timed. Timed: StandardScaler fit + transform and LogisticRegression(C, solver, tol) fit, the
same work ours does (standardize, fit, then unfold the scaling into raw-feature coefficients; the
unfold is a few flops and not timed). Prints JSON: seconds (best of `repeats`), cpuSeconds (best
CPU seconds, user + system of this process: on a shared machine steadier than wall time),
iterations, raw coefficients and intercept.
Usage: logreg_sklearn.py DIR N F C SOLVER TOL REPEATS
"""
import json
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

d, n, f, c, solver, tol, repeats = sys.argv[1:8]
n, f, c, tol, repeats = int(n), int(f), float(c), float(tol), int(repeats)
x = np.fromfile(f"{d}/x.f64", dtype="<f8").reshape(n, f)
y = np.fromfile(f"{d}/y.i32", dtype="<i4")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

best = float("inf")
best_cpu = float("inf")
with threadpool_limits(limits=1):
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        scaler = StandardScaler().fit(x)
        z = scaler.transform(x)
        model = LogisticRegression(C=c, solver=solver, tol=tol, max_iter=10_000).fit(z, y)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)

coef = model.coef_[0] / scaler.scale_
intercept = model.intercept_[0] - float(np.sum(model.coef_[0] * scaler.mean_ / scaler.scale_))
print(
    json.dumps(
        {
            "seconds": best,
            "cpuSeconds": best_cpu,
            "iterations": int(np.max(model.n_iter_)),
            "coefficients": coef.tolist(),
            "intercept": intercept,
        }
    )
)
