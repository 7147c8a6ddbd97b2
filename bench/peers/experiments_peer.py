"""Peer for bench/experiments.bench.ts (benchmark-only).

assign N: GrowthBook's Python SDK assignment formula, written out here (FNV-1a 32, hash version 2:
  n = fnv1a32(str(fnv1a32(seed + value))); bucket = (n % 10000) / 10000; then the variant whose
  bucket range [start, start + weight) holds it), over ids u0..u{N-1}, experiment seed 'exp-bench',
  50/50. Prints {"seconds", "cpuSeconds", "perCallMicros", "treatment"}.
analyze DIR: reads arm.u8, converted.u8, value.f64 written by the bench; pandas groupby aggregation,
  statsmodels proportions_ztest + confint_proportions_2indep (wald diff), scipy ttest_ind_from_stats
  (Welch), and the mSPRT formula in numpy. Prints timings and the results for the agreement check.
"""
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def fnv1a32(s: str) -> int:
    h = 0x811C9DC5
    for c in s:
        h ^= ord(c)
        h = (h * 0x01000193) % 4294967296
    return h


def gb_hash(seed: str, value: str, version: int = 2):
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000
    return (fnv1a32(value + seed) % 1000) / 1000


def bucket_ranges(weights, coverage=1.0):
    cumulative, ranges = 0.0, []
    for w in weights:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_variant(n, ranges):
    for i, (lo, hi) in enumerate(ranges):
        if lo <= n < hi:
            return i
    return -1


def assign(n):
    ids = [f"u{i}" for i in range(n)]
    ranges = bucket_ranges([0.5, 0.5])
    best, best_cpu, treatment = math.inf, math.inf, 0
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        treatment = 0
        for u in ids:
            treatment += choose_variant(gb_hash("exp-bench", u, 2), ranges)
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    print(json.dumps({"seconds": best, "cpuSeconds": best_cpu, "perCallMicros": best / n * 1e6, "treatment": treatment}))


def analyze(folder, tau2, alpha):
    import numpy as np
    import pandas as pd
    from scipy import stats
    from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

    arm = np.fromfile(os.path.join(folder, "arm.u8"), dtype=np.uint8)
    converted = np.fromfile(os.path.join(folder, "converted.u8"), dtype=np.uint8)
    value = np.fromfile(os.path.join(folder, "value.f64"), dtype=np.float64)
    best, best_cpu, out = math.inf, math.inf, None
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        df = pd.DataFrame({"arm": arm, "converted": converted, "value": value})
        g = df.groupby("arm").agg(n=("converted", "size"), x=("converted", "sum"), mean=("value", "mean"), var=("value", "var"))
        nc, nt = int(g.loc[0, "n"]), int(g.loc[1, "n"])
        xc, xt = int(g.loc[0, "x"]), int(g.loc[1, "x"])
        z, p = proportions_ztest([xt, xc], [nt, nc])
        lo, hi = confint_proportions_2indep(xt, nt, xc, nc, method="wald", compare="diff", alpha=alpha)
        w = stats.ttest_ind_from_stats(g.loc[1, "mean"], math.sqrt(g.loc[1, "var"]), nt, g.loc[0, "mean"], math.sqrt(g.loc[0, "var"]), nc, equal_var=False)
        pc, pt = xc / nc, xt / nt
        v = pt * (1 - pt) / nt + pc * (1 - pc) / nc
        theta = pt - pc
        lam = math.sqrt(v / (v + tau2)) * math.exp(theta * theta * tau2 / (2 * v * (v + tau2)))
        out = {"z": float(z), "p": float(p), "ci": [float(lo), float(hi)], "welchT": float(w.statistic), "welchP": float(w.pvalue),
               "msprtP": min(1.0, 1 / lam), "meanC": float(g.loc[0, "mean"]), "varT": float(g.loc[1, "var"])}
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    out.update({"seconds": best, "cpuSeconds": best_cpu})
    print(json.dumps(out))


if __name__ == "__main__":
    if sys.argv[1] == "assign":
        assign(int(sys.argv[2]))
    else:
        analyze(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
