"""Peer for bench/point-in-time-join.bench.ts: DuckDB's ASOF LEFT JOIN with the same TTL rule, on
the same data (raw little-endian files the bench wrote). Loading is not timed; the join is (result
materialized as a numpy array, as ours materializes its columns). Prints JSON."""
import json
import sys
import time

import duckdb
import numpy as np

d, ttl, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
f_entity = np.fromfile(f"{d}/f_entity.i32", dtype="<i4")
f_time = np.fromfile(f"{d}/f_time.f64", dtype="<f8")
f_value = np.fromfile(f"{d}/f_value.f64", dtype="<f8")
l_entity = np.fromfile(f"{d}/l_entity.i32", dtype="<i4")
l_time = np.fromfile(f"{d}/l_time.f64", dtype="<f8")

con = duckdb.connect()
con.execute(f"SET threads TO {threads}")
con.register("f_np", {"entity": ("e" + np.char.mod("%d", f_entity)).astype(object), "t": f_time, "x": f_value})
con.register("l_np", {"id": np.arange(len(l_entity)), "entity": ("e" + np.char.mod("%d", l_entity)).astype(object), "t": l_time})
con.execute("CREATE TABLE f AS SELECT * FROM f_np")
con.execute("CREATE TABLE l AS SELECT * FROM l_np")

start = time.perf_counter()
result = con.execute(
    f"""SELECT l.id, CASE WHEN l.t - f.t <= {ttl} THEN f.x END AS x
        FROM l ASOF LEFT JOIN f ON l.entity = f.entity AND l.t >= f.t
        ORDER BY l.id"""
).fetchnumpy()
elapsed = time.perf_counter() - start
x = result["x"]
values = np.where(np.ma.getmaskarray(x), np.nan, np.ma.getdata(x)).astype("<f8")
values.tofile(f"{d}/peer_x.f64")
print(json.dumps({"seconds": elapsed, "rows": int(len(values)), "threads": threads}))
