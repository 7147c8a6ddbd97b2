/**
 * Training sets end to end: `getHistoricalFeatures` over 10M feature rows in the offline store (on
 * the emulator) vs DuckDB reading the same Parquet files from disk, ASOF-joining and writing
 * Parquet. Answers the "at least 10 million feature rows within a 10 GB Lambda".
 *
 * Sizes (env or `--name value`): BENCH_LABELS / --labels (1M entity rows), BENCH_FEATURES /
 * --features (10M feature rows), BENCH_ENTITIES / --entities (100k), BENCH_DAYS / --days (10 date
 * partitions), BENCH_BATCHES / --batches (2 ingestion batches per day; many small batches show how
 * memory grows with the number of files). Feature files are written by the ingestion's own encoder
 * (sorted, row groups of 64k); event times are unique within an entity, so every label has one
 * right answer; ~5% of labels name entities with no rows, ~5% of values are null; TTL 2 days.
 *
 * Timed, ours: the `getHistoricalFeatures` call in a fresh process (list + GET every reachable file
 * from the emulator, hash, merge, join, write Parquet + manifest back); its peak RSS (VmHWM) covers
 * the labels, the files and everything else. Peer: DuckDB (`.venv`, all cores) from
 * `read_parquet` on local disk to `COPY … TO` Parquet, same TTL rule; its peak RSS likewise.
 * Outputs are compared value by value. Ratio = ours / peer for rows/s (> 1: ours faster) and for
 * memory (< 1: ours smaller).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { defineFeatureView, viewTtlMs } from '../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../lambdas/feature-store/historical.js';
import { commitBatch } from '../lambdas/feature-store/ingest.js';
import { decodeFeatureColumns, encodeFeatureRows } from '../lambdas/feature-store/parquet-codec.js';
import type { TypedRow } from '../lambdas/feature-store/row-validation.js';
import { clients } from '../lambdas/shared/clients.js';
import { S3ObjectStore } from '../lambdas/shared/object-store.js';
import { startEmulator } from '../local/emulator.js';
import { arg, mulberry32, peakRssMiB } from './support.js';

const LABELS = arg('labels', 1_000_000);
const FEATURES = arg('features', 10_000_000);
const ENTITIES = arg('entities', 100_000);
const DAYS = arg('days', 10);
const BATCHES = arg('batches', 2);
const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const BUCKET = 'bench-offline';
const SEGMENTS = ['new', 'active', 'lapsed', 'vip'];

const view = defineFeatureView({
  name: 'customer',
  owner: 'bench',
  entities: [{ name: 'customer_id', type: 'string' }],
  ttlSeconds: 2 * 86_400,
  features: [
    { name: 'spend', type: 'float64', nullable: true },
    { name: 'orders', type: 'int64' },
    { name: 'segment', type: 'string', nullable: true },
  ],
});
const views = new Map([[view.name, view]]);

/** Label rows, deterministic: entity ids up to 5% past the known ones, times over every day. */
function labels(): { ids: Int32Array; times: Float64Array } {
  const random = mulberry32(42);
  const ids = new Int32Array(LABELS);
  const times = new Float64Array(LABELS);
  for (let i = 0; i < LABELS; i++) {
    ids[i] = Math.floor(random() * ENTITIES * 1.05);
    times[i] = T0 + Math.floor(random() * DAYS * DAY);
  }
  return { ids, times };
}

if (process.argv.includes('--child')) {
  // Ours, in a process of its own: what a build-training-set Lambda holds.
  const { ids, times } = labels();
  const entityRows = Array.from(ids, (id, i) => ({ customer_id: `c${id}`, event_time: times[i] as number }));
  const store = new S3ObjectStore(clients.s3(), BUCKET);
  const start = performance.now();
  const manifest = await getHistoricalFeatures(
    { entityRows, featureRefs: ['customer:spend', 'customer:orders', 'customer:segment'], name: 'bench' },
    { store, views },
  );
  const seconds = (performance.now() - start) / 1000;
  console.log(
    JSON.stringify({
      seconds,
      maxRssMiB: peakRssMiB(),
      dataKey: manifest.dataKey,
      inputs: manifest.inputs.length,
    }),
  );
  process.exit(0);
}

const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
if (!existsSync(python) || spawnSync(python, ['-c', 'import duckdb, numpy']).status !== 0) {
  console.error('historical: the DuckDB peer is missing; install it with: bash bench/setup-peers.sh');
  process.exit(1);
}

const emulator = await startEmulator();
process.env.AWS_ENDPOINT_URL = emulator.endpoint;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-historical-'));
try {
  await clients.s3().send(new CreateBucketCommand({ Bucket: BUCKET }));
  const store = new S3ObjectStore(clients.s3(), BUCKET);
  // Feature rows: per day, each entity gets slots of 8.64M ms / (rows per entity per day) with one
  // row at a random instant in its slot, so event times never tie within an entity.
  const random = mulberry32(7);
  const perDay = Math.floor(FEATURES / DAYS);
  const slots = Math.ceil(perDay / ENTITIES);
  mkdirSync(path.join(dir, 'features'));
  for (let d = 0; d < DAYS; d++) {
    const date = new Date(T0 + d * DAY).toISOString().slice(0, 10);
    for (let b = 0; b < BATCHES; b++) {
      const batch = `b${b}`;
      const rows: TypedRow[] = [];
      for (let j = b; j < perDay; j += BATCHES) {
        const slot = Math.floor(j / ENTITIES);
        rows.push({
          eventTimeMs:
            T0 + d * DAY + slot * Math.floor(DAY / slots) + Math.floor(random() * Math.floor(DAY / slots)),
          values: {
            customer_id: `c${j % ENTITIES}`,
            spend: random() < 0.05 ? null : Math.round(random() * 100_000) / 100,
            orders: Math.floor(random() * 500),
            segment: random() < 0.05 ? null : (SEGMENTS[Math.floor(random() * 4)] as string),
          },
        });
      }
      // Committed as ingestion commits a batch (files, manifest, log entry), without re-validating.
      const bytes = encodeFeatureRows(view, rows, T0 + DAYS * DAY);
      const prepared = {
        received: rows.length,
        accepted: rows.length,
        files: new Map([[date, bytes]]),
        quarantine: [],
      };
      await commitBatch(view, `${date}-${batch}`, prepared, T0 + DAYS * DAY, { store });
      writeFileSync(path.join(dir, 'features', `${date}-${batch}.parquet`), bytes);
    }
  }
  const l = labels();
  writeFileSync(path.join(dir, 'l_id.i32'), l.ids);
  writeFileSync(path.join(dir, 'l_time.f64'), l.times);

  const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--child'], {
    encoding: 'utf8',
    env: {
      ...process.env,
      BENCH_LABELS: String(LABELS),
      BENCH_ENTITIES: String(ENTITIES),
      BENCH_DAYS: String(DAYS),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`ours failed (exit ${child.status})`);
  const ours = JSON.parse(child.stdout) as {
    seconds: number;
    maxRssMiB: number;
    dataKey: string;
    inputs: number;
  };

  const run = spawnSync(
    python,
    [path.join(import.meta.dirname, 'peers', 'historical_duckdb.py'), dir, String(viewTtlMs(view))],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  );
  if (run.status !== 0) throw new Error(`DuckDB peer failed (exit ${run.status})`);
  const peer = JSON.parse(run.stdout) as { seconds: number; maxRssMiB: number; rows: number };

  // Compare every label's values.
  const ourBytes = (await store.get(ours.dataKey)) as Uint8Array;
  const got = await decodeFeatureColumns(
    ourBytes.buffer.slice(ourBytes.byteOffset, ourBytes.byteOffset + ourBytes.byteLength) as ArrayBuffer,
    ['customer__spend', 'customer__orders', 'customer__segment'],
  );
  const peerSpend = new Float64Array(readFileSync(path.join(dir, 'peer_spend.f64')).buffer.slice(0));
  const peerOrders = new Float64Array(readFileSync(path.join(dir, 'peer_orders.f64')).buffer.slice(0));
  const peerSegment = readFileSync(path.join(dir, 'peer_segment.txt'), 'utf8').split('\n');
  let mismatches = 0;
  let found = 0;
  for (let i = 0; i < LABELS; i++) {
    const spend = got.customer__spend?.[i] ?? null;
    const orders = got.customer__orders?.[i] ?? null;
    const segment = got.customer__segment?.[i] ?? null;
    if (orders !== null) found++;
    const ps = peerSpend[i] as number;
    const po = peerOrders[i] as number;
    const pg = peerSegment[i] === '\u0000' ? null : peerSegment[i];
    if (
      (spend === null ? !Number.isNaN(ps) : spend !== ps) ||
      (orders === null ? !Number.isNaN(po) : orders !== po) ||
      segment !== pg
    )
      mismatches++;
  }
  console.log(
    `historical peak RSS MiB: ours ${ours.maxRssMiB.toFixed(0)}, peer duckdb ${peer.maxRssMiB.toFixed(0)}, ratio ${(ours.maxRssMiB / peer.maxRssMiB).toFixed(2)}`,
  );
  console.log(
    `historical label rows/s (${FEATURES.toExponential(0)} feature rows): ours ${(LABELS / ours.seconds).toExponential(2)}, peer duckdb ${(LABELS / peer.seconds).toExponential(2)}, ratio ${(peer.seconds / ours.seconds).toFixed(2)}`,
  );
  console.log(
    `historical check: ours ${ours.seconds.toFixed(2)} s, duckdb ${peer.seconds.toFixed(2)} s, ${ours.inputs} input files, ${found} labels with a value, ${mismatches} mismatches against duckdb over ${LABELS} rows`,
  );
  if (mismatches > 0) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
  await emulator.stop();
}
