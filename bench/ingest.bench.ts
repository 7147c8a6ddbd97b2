/**
 * Ingestion's CPU path (parse JSON lines, validate every row, encode Parquet) against pyarrow
 * parsing the same file and writing the same Parquet, on the same 1M rows, in one run. Storage I/O
 * is left out of both. Prints `ingest <figure>: ours …, peer …, ratio …` (ratio = ours / peer in
 * rows/s: above 1 is faster than the peer).
 */

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { prepareBatch } from '../lambdas/feature-store/ingest.js';
import { encodeFeatureRows } from '../lambdas/feature-store/parquet-codec.js';
import { compileRowValidator, type TypedRow } from '../lambdas/feature-store/row-validation.js';
import { customerView } from './support.js';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
if (!existsSync(python) || spawnSync(python, ['-c', 'import pyarrow']).status !== 0) {
  console.error('ingest: the pyarrow peer is missing; run bash bench/setup-peers.sh');
  process.exit(1);
}

const view = customerView;

// Deterministic data, all within one UTC day so both sides write one file.
const day = Date.parse('2026-11-01T00:00:00Z');
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const lines: string[] = new Array(ROWS);
for (let i = 0; i < ROWS; i++) {
  const spend = random() < 0.1 ? null : Math.round(random() * 100_000) / 100;
  lines[i] = JSON.stringify({
    customer_id: `c${Math.floor(random() * 100_000)}`,
    event_time: day + Math.floor(random() * 86_399_000),
    orders: Math.floor(random() * 50),
    spend,
  });
}
const dir = mkdtempSync(path.join(tmpdir(), 'bench-ingest-'));
const source = path.join(dir, 'batch.jsonl');
writeFileSync(source, `${lines.join('\n')}\n`);
const body = new Uint8Array(readFileSync(source));

// Ours: whole CPU path, then encode alone from already-typed rows.
const t0 = performance.now();
const prepared = await prepareBatch(view, 'jsonl', body, Date.now());
const oursTotal = (performance.now() - t0) / 1000;
if (prepared.accepted !== ROWS) throw new Error(`expected ${ROWS} accepted rows, got ${prepared.accepted}`);
const validate = compileRowValidator(view, 'typed');
const typed = lines.map((l) => (validate(JSON.parse(l)) as { row: TypedRow }).row);
const t1 = performance.now();
encodeFeatureRows(view, typed, Date.now());
const oursWrite = (performance.now() - t1) / 1000;
const rss = process.memoryUsage().rss / 2 ** 20;

const peerRun = spawnSync(
  python,
  [path.join(import.meta.dirname, 'peers', 'ingest_pyarrow.py'), source, path.join(dir, 'peer.parquet')],
  {
    encoding: 'utf8',
  },
);
if (peerRun.status !== 0) throw new Error(peerRun.stderr);
const peer = JSON.parse(peerRun.stdout) as { rows: number; write: number; total: number };
if (peer.rows !== ROWS) throw new Error(`peer read ${peer.rows} rows`);

const rate = (seconds: number) => ROWS / seconds;
const fmt = (x: number) => x.toExponential(2);
console.log(
  `ingest parse+validate+write rows/s: ours ${fmt(rate(oursTotal))}, peer ${fmt(rate(peer.total))}, ratio ${(peer.total / oursTotal).toFixed(2)}`,
);
console.log(
  `ingest write-only rows/s: ours ${fmt(rate(oursWrite))}, peer ${fmt(rate(peer.write))}, ratio ${(peer.write / oursWrite).toFixed(2)}`,
);
console.log(
  `ingest note: ${ROWS} rows, ours peak RSS ${rss.toFixed(0)} MiB (peer parses without validating)`,
);
