"""Peer for bench/ingest.bench.ts: pyarrow parses the same JSON lines and writes the same Parquet
(Snappy). Prints JSON timings in seconds: parse (read_json), write (write_table), total."""
import json
import sys
import time

import pyarrow.json as pj
import pyarrow.parquet as pq

source, target = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
table = pj.read_json(source)
t1 = time.perf_counter()
pq.write_table(table, target, compression="snappy", row_group_size=100_000)
t2 = time.perf_counter()
print(json.dumps({"rows": table.num_rows, "parse": t1 - t0, "write": t2 - t1, "total": t2 - t0}))
