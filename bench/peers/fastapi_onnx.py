"""Serving peer for bench/serving.bench.ts: onnxruntime (Python) on the same model.onnx.

Benchmark-only (installed into .venv/ by bench/setup-peers.sh). Three modes:

  run   <model.onnx> <x.f64> <cols> <batch> <iterations> <threads>
        InferenceSession.run latency on the already encoded rows in x.f64 (row-major float64),
        `batch` rows per run, cycling through the file: prints {"p50": ms, "p99": ms}.
  serve <model.onnx> <port> <model name> <threads>
        The seeds' FastAPI + ONNX Runtime pattern under uvicorn (1 worker): POST
        /v1/models/{model}/predict with the same JSON in and out as the project's API (one instance
        `{"features": {...}}` or `{"instances": [...]}`; answers model, version, variant, requestId
        and per instance label, score and probabilities), encoding raw features with the encoding
        spec the model carries in its metadata (numeric: the value, missing -> mean or NaN;
        categorical: one-hot over its categories, unknown -> zeros or a trailing <other> column).
  cold  <model.onnx> <threads>
        Fresh-process cold start: import onnxruntime, create the session, one run. Prints
        {"importMs", "loadMs", "firstRunMs"}.
"""

import json
import sys
import time

T0 = time.perf_counter()


def session_options(ort, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def contract_of(session):
    meta = session.get_modelmeta().custom_metadata_map
    return {
        "encoding": json.loads(meta["mlops.encoding"]),
        "output": json.loads(meta["mlops.output"]),
        "classes": json.loads(meta["mlops.classes"]),
    }


def run_mode(model, x_file, cols, batch, iterations, threads):
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(model, session_options(ort, threads), providers=["CPUExecutionProvider"])
    x = np.fromfile(x_file, dtype=np.float64).reshape(-1, cols)
    n = x.shape[0]
    batches = [x[(i * batch) % n:(i * batch) % n + batch] for i in range(max(1, n // batch))]
    batches = [b for b in batches if b.shape[0] == batch]
    for b in batches[:20]:
        session.run(["probabilities"], {"features": b})
    times = []
    for i in range(iterations):
        b = batches[i % len(batches)]
        t = time.perf_counter()
        session.run(["probabilities"], {"features": b})
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(p * len(times)))]  # noqa: E731
    print(json.dumps({"p50": q(0.5), "p99": q(0.99)}))


def cold_mode(model, threads):
    t0 = time.perf_counter()
    import numpy as np
    import onnxruntime as ort

    t1 = time.perf_counter()
    session = ort.InferenceSession(model, session_options(ort, threads), providers=["CPUExecutionProvider"])
    contract = contract_of(session)
    t2 = time.perf_counter()
    width = sum(
        1 if f["kind"] == "numeric" else len(f["categories"]) + (1 if f["unknown"] == "other" else 0)
        for f in contract["encoding"]["features"]
    )
    session.run(["probabilities"], {"features": np.zeros((1, width), dtype=np.float64)})
    t3 = time.perf_counter()
    print(json.dumps({"importMs": (t1 - t0) * 1000, "loadMs": (t2 - t1) * 1000, "firstRunMs": (t3 - t2) * 1000}))


def serve_mode(model, port, model_name, threads):
    import math
    import uuid
    from typing import Optional, Union

    import numpy as np
    import onnxruntime as ort
    import uvicorn
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel

    session = ort.InferenceSession(model, session_options(ort, threads), providers=["CPUExecutionProvider"])
    contract = contract_of(session)
    spec = contract["encoding"]["features"]
    names = {f["name"] for f in spec}
    width = sum(
        1 if f["kind"] == "numeric" else len(f["categories"]) + (1 if f["unknown"] == "other" else 0)
        for f in spec
    )
    classes = contract["classes"]
    threshold = contract["output"].get("threshold", 0.5)
    Value = Optional[Union[bool, int, float, str]]

    class Instance(BaseModel):
        features: Optional[dict[str, Value]] = None

    class PredictBody(BaseModel):
        features: Optional[dict[str, Value]] = None
        instances: Optional[list[Instance]] = None

    def encode(rows):
        x = np.zeros((len(rows), width), dtype=np.float64)
        for i, row in enumerate(rows):
            unknown = set(row) - names
            if unknown:
                raise HTTPException(400, f"instance {i}: unknown feature {sorted(unknown)[0]}")
            c = 0
            for f in spec:
                v = row.get(f["name"])
                if f["kind"] == "numeric":
                    if v is None:
                        x[i, c] = f["mean"] if f["missing"] == "mean" else math.nan
                    elif isinstance(v, str) or not math.isfinite(v):
                        raise HTTPException(400, f"instance {i}: {f['name']} must be a finite number")
                    else:
                        x[i, c] = float(v)
                    c += 1
                else:
                    k = len(f["categories"])
                    if isinstance(v, str) and v in f["categories"]:
                        x[i, c + f["categories"].index(v)] = 1.0
                    elif f["unknown"] == "other":
                        x[i, c + k] = 1.0
                    c += k + (1 if f["unknown"] == "other" else 0)
        return x

    app = FastAPI()

    @app.get("/v1/health")
    def health():
        return {"status": "ok"}

    @app.post("/v1/models/{model}/predict")
    def predict(model: str, body: PredictBody):
        if model != model_name:
            raise HTTPException(404, f"no model {model}")
        instances = body.instances if body.instances is not None else [Instance(features=body.features)]
        if not instances:
            raise HTTPException(400, "instances must not be empty")
        p = session.run(["probabilities"], {"features": encode([inst.features or {} for inst in instances])})[0]
        keys = [str(c) for c in classes]
        predictions = []
        for row in p:
            score = float(row[1])
            predictions.append(
                {
                    "label": classes[1] if score >= threshold else classes[0],
                    "score": score,
                    "probabilities": {keys[j]: float(row[j]) for j in range(len(keys))},
                }
            )
        return {
            "model": model_name,
            "version": 1,
            "variant": "default",
            "requestId": str(uuid.uuid4()),
            "predictions": predictions,
        }

    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "run":
        run_mode(args[0], args[1], int(args[2]), int(args[3]), int(args[4]), int(args[5]))
    elif mode == "cold":
        cold_mode(args[0], int(args[1]))
    elif mode == "serve":
        serve_mode(args[0], int(args[1]), args[2], int(args[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")
