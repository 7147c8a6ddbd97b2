"""Peers for bench/gbdt.bench.ts: LightGBM and scikit-learn's HistGradientBoosting on the same data
(raw little-endian float64 files the bench wrote, NaN = missing), single-threaded, with the bench's
hyperparameters mapped to each library's names.

Timed: building each library's dataset (binning) and training, as ours is timed (binning included).
Not timed: loading the files, predicting. Also scores our test predictions (ours_test.f64) with the
same metric code, so every figure comes from one implementation. Prints JSON.

argv: dir task rows features test_rows rounds leaves learning_rate max_bins min_child_samples"""
import json
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error, roc_auc_score

import lightgbm as lgb

d, task = sys.argv[1], sys.argv[2]
rows, features, test_rows, rounds, leaves = (int(v) for v in sys.argv[3:8])
learning_rate, max_bins, min_child = float(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])

x_train = np.fromfile(f"{d}/x_train.f64", dtype="<f8").reshape(rows, features)
y_train = np.fromfile(f"{d}/y_train.f64", dtype="<f8")
x_test = np.fromfile(f"{d}/x_test.f64", dtype="<f8").reshape(test_rows, features)
y_test = np.fromfile(f"{d}/y_test.f64", dtype="<f8")
ours = np.fromfile(f"{d}/ours_test.f64", dtype="<f8")


def metric(pred):
    if task == "binary":
        return float(roc_auc_score(y_test, pred))
    return float(np.sqrt(mean_squared_error(y_test, pred)))


def timed(fit):
    wall, cpu = time.perf_counter(), time.process_time()
    model = fit()
    return model, time.perf_counter() - wall, time.process_time() - cpu


def lightgbm():
    params = {
        "objective": "binary" if task == "binary" else "regression",
        "num_leaves": leaves,
        "learning_rate": learning_rate,
        "max_bin": max_bins,
        "min_data_in_leaf": min_child,
        "min_sum_hessian_in_leaf": 1e-3,
        "lambda_l2": 0.0,
        "num_threads": 1,
        "deterministic": True,
        "verbose": -1,
    }
    dataset = lgb.Dataset(x_train, y_train, params={"max_bin": max_bins, "verbose": -1})
    return lgb.train(params, dataset, num_boost_round=rounds)


def sklearn():
    common = {
        "max_iter": rounds,
        "learning_rate": learning_rate,
        "max_leaf_nodes": leaves,
        "max_bins": max_bins,
        "min_samples_leaf": min_child,
        "l2_regularization": 0.0,
        "early_stopping": False,
    }
    model = HistGradientBoostingClassifier(**common) if task == "binary" else HistGradientBoostingRegressor(**common)
    return model.fit(x_train, y_train)


out = {"ours": metric(ours)}
model, wall, cpu = timed(lightgbm)
out["lightgbm"] = {"metric": metric(model.predict(x_test)), "seconds": wall, "cpuSeconds": cpu}
model, wall, cpu = timed(sklearn)
pred = model.predict_proba(x_test)[:, 1] if task == "binary" else model.predict(x_test)
out["sklearn"] = {"metric": metric(pred), "seconds": wall, "cpuSeconds": cpu}
out["versions"] = {"lightgbm": lgb.__version__, "sklearn": __import__("sklearn").__version__}
print(json.dumps(out))
