"""Runs the reference ONNX checker on model files; prints one JSON line per file.

Usage: .venv/bin/python scripts/onnx_check.py model.onnx [...]
Each line: {"file": ..., "ok": true} or {"file": ..., "ok": false, "error": "..."}.
Exit code 0 when every file passes, 1 otherwise. Called by test/support/onnx-checker.ts.
"""
import json
import sys

import onnx
import onnx.checker

failed = False
for path in sys.argv[1:]:
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        print(json.dumps({"file": path, "ok": True}))
    except Exception as error:  # the checker raises several types; report them all the same way
        failed = True
        print(json.dumps({"file": path, "ok": False, "error": f"{type(error).__name__}: {error}"}))
sys.exit(1 if failed else 0)
