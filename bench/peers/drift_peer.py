"""Peer for bench/drift.bench.ts (benchmark-only): what the seeds' drift loops do, on the same data.

drift_peer.py DIR FEATURES ROWS: reads DIR/current.f64 (FEATURES x ROWS float64, feature-major,
written by the bench from the same generated records its check streams) and DIR/reference.json (per
feature the profile's reference sample, its count, inner edges and counts). Per feature:
scipy.stats.ks_2samp(sample, current) (method 'auto') and a numpy PSI on the profile's bins
(searchsorted side='left' = right-closed bins, bincount, shares floored at 1e-4). Timed from
in-memory arrays, best of 3 (the file read untimed). Prints one JSON line: seconds, cpuSeconds,
maxRssMiB and the first feature's results for the agreement check.
"""
import json
import math
import os
import resource
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

EPS = 1e-4


def check(current, reference):
    out = []
    for i, ref in enumerate(reference):
        x = current[i]
        ks = stats.ks_2samp(ref["sample"], x)
        edges = np.asarray(ref["edges"], dtype=np.float64)
        counts = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
        r = np.maximum(np.asarray(ref["counts"], dtype=np.float64) / ref["count"], EPS)
        c = np.maximum(counts / x.size, EPS)
        out.append({"ks": float(ks.statistic), "p": float(ks.pvalue), "psi": float(np.sum((c - r) * np.log(c / r)))})
    return out


def main():
    folder, features, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    current = np.fromfile(os.path.join(folder, "current.f64"), dtype=np.float64).reshape(features, rows)
    with open(os.path.join(folder, "reference.json")) as f:
        reference = json.load(f)
    for ref in reference:
        ref["sample"] = np.asarray(ref["sample"], dtype=np.float64)
    best, best_cpu, result = math.inf, math.inf, None
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        result = check(current, reference)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": best, "cpuSeconds": best_cpu, "maxRssMiB": rss, "first": result[0]}))


if __name__ == "__main__":
    main()
