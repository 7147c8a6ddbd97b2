"""Peer for bench/historical.bench.ts: DuckDB builds the same training set from the same Parquet
files on local disk: read_parquet over every file, ASOF LEFT JOIN on (customer_id, event time) with
the same inclusive TTL rule, written as Parquet. Timed: the whole COPY (read, join, write), all cores.
Then (not timed) writes each label's spend/orders (NaN when null) and segment (NUL when null) in
label order for the comparison. Prints JSON with seconds and peak RSS."""
import json
import resource
import sys
import time

import duckdb
import numpy as np

d, ttl_ms = sys.argv[1], int(sys.argv[2])
ids = np.fromfile(f"{d}/l_id.i32", dtype="<i4")
times = np.fromfile(f"{d}/l_time.f64", dtype="<f8").astype("<i8")

con = duckdb.connect()
con.register("l_np", {"id": np.arange(len(ids)), "customer_id": ("c" + np.char.mod("%d", ids)).astype(object), "ms": times})
con.execute("CREATE TABLE l AS SELECT id, customer_id, epoch_ms(ms) AS event_time FROM l_np")

start = time.perf_counter()
con.execute(
    f"""COPY (
          SELECT l.id, l.customer_id, l.event_time,
                 CASE WHEN ok THEN f.spend END AS customer__spend,
                 CASE WHEN ok THEN f.orders END AS customer__orders,
                 CASE WHEN ok THEN f.segment END AS customer__segment
          FROM (SELECT * FROM l) l
          ASOF LEFT JOIN (SELECT *, TRUE AS present FROM read_parquet('{d}/features/*.parquet')) f
            ON l.customer_id = f.customer_id AND l.event_time >= f.event_time,
          LATERAL (SELECT f.present AND l.event_time - f.event_time <= INTERVAL '{ttl_ms} milliseconds' AS ok)
          ORDER BY l.id
        ) TO '{d}/peer.parquet' (FORMAT parquet)"""
)
elapsed = time.perf_counter() - start
rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

out = con.execute(f"SELECT customer__spend, customer__orders, customer__segment FROM '{d}/peer.parquet' ORDER BY id").fetchnumpy()


def dense(column):
    return np.where(np.ma.getmaskarray(column), np.nan, np.ma.getdata(column).astype("<f8")).astype("<f8")


dense(out["customer__spend"]).tofile(f"{d}/peer_spend.f64")
dense(out["customer__orders"]).tofile(f"{d}/peer_orders.f64")
segments = out["customer__segment"]
with open(f"{d}/peer_segment.txt", "w") as fh:
    fh.write("\n".join("\0" if s is None or s is np.ma.masked else str(s) for s in segments))
print(json.dumps({"seconds": elapsed, "maxRssMiB": rss_mib, "rows": int(len(ids))}))
