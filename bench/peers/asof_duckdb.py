"""Peer for bench/point-in-time-join.bench.ts: DuckDB's ASOF LEFT JOIN with the same TTL rule
(inclusive: l.t - f.t <= ttl), on the same data (raw little-endian files the bench wrote).

Loading is NOT timed (numpy arrays -> DuckDB tables with string entity keys 'e<n>', as ours gets
string keys). The join IS timed: the ASOF query, ordered by label id, materialized as numpy arrays
(as ours materializes its columns in label order). Writes peer_x.f64 (value, NaN when none or
null) and peer_t.f64 (event time used, NaN when none); prints JSON with the seconds."""
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
con.register(
    "l_np",
    {"id": np.arange(len(l_entity)), "entity": ("e" + np.char.mod("%d", l_entity)).astype(object), "t": l_time},
)
con.execute("CREATE TABLE f AS SELECT * FROM f_np")
con.execute("CREATE TABLE l AS SELECT * FROM l_np")

start = time.perf_counter()
result = con.execute(
    f"""SELECT l.id,
               CASE WHEN l.t - f.t <= {ttl} THEN f.x END AS x,
               CASE WHEN l.t - f.t <= {ttl} THEN f.t END AS ft
        FROM l ASOF LEFT JOIN f ON l.entity = f.entity AND l.t >= f.t
        ORDER BY l.id"""
).fetchnumpy()
elapsed = time.perf_counter() - start


def dense(column):
    return np.where(np.ma.getmaskarray(column), np.nan, np.ma.getdata(column)).astype("<f8")


dense(result["x"]).tofile(f"{d}/peer_x.f64")
dense(result["ft"]).tofile(f"{d}/peer_t.f64")
print(json.dumps({"seconds": elapsed, "rows": int(len(result["id"])), "threads": threads}))
