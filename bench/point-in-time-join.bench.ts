/**
 * Point-in-time join: ours vs DuckDB's ASOF LEFT JOIN, same data, same TTL rule, in one run.
 * Default 1M label rows × 10M feature rows over 100k entities (BENCH_LABELS, BENCH_FEATURES,
 * BENCH_ENTITIES). Event times are unique per entity so both sides have one right answer, and the
 * outputs are compared in full. DuckDB runs once on one thread (as ours) and once on all cores;
 * loading is not timed on either side.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pointInTimeJoin } from '../lambdas/feature-store/point-in-time-join.js';

const LABELS = Number(process.env.BENCH_LABELS ?? 1_000_000);
const FEATURES = Number(process.env.BENCH_FEATURES ?? 10_000_000);
const ENTITIES = Number(process.env.BENCH_ENTITIES ?? 100_000);
const TTL = 30 * 86_400_000;
const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
if (!existsSync(python) || spawnSync(python, ['-c', 'import duckdb, numpy']).status !== 0) {
  console.error('point-in-time-join: the DuckDB peer is missing; run bash bench/setup-peers.sh');
  process.exit(1);
}

let seed = 7;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
  return seed / 2 ** 31;
};
const t0 = Date.parse('2026-01-01T00:00:00Z');
const span = 365 * 86_400_000;
// Feature rows: entity e, time = a distinct slot per (entity, row) so no two rows of an entity tie.
const fEntity = new Int32Array(FEATURES);
const fTime = new Float64Array(FEATURES);
const fValue = new Float64Array(FEATURES);
const perEntity = Math.ceil(FEATURES / ENTITIES);
for (let i = 0; i < FEATURES; i++) {
  const e = Math.floor(random() * ENTITIES);
  fEntity[i] = e;
  fTime[i] =
    t0 +
    Math.floor(random() * (span / 1000 / perEntity)) * perEntity * 1000 +
    (i % perEntity) * 1000 +
    (e % 1000);
  fValue[i] = random() < 0.05 ? Number.NaN : Math.round(random() * 1e6) / 100;
}
const lEntity = new Int32Array(LABELS);
const lTime = new Float64Array(LABELS);
for (let i = 0; i < LABELS; i++) {
  lEntity[i] = Math.floor(random() * ENTITIES);
  lTime[i] = t0 + Math.floor(random() * span) + 0.5; // never equal to a feature time
}
const dir = mkdtempSync(path.join(tmpdir(), 'bench-pit-'));
const write = (name: string, array: Int32Array | Float64Array) =>
  writeFileSync(path.join(dir, name), new Uint8Array(array.buffer));
write('f_entity.i32', fEntity);
write('f_time.f64', fTime);
write('f_value.f64', fValue);
write('l_entity.i32', lEntity);
write('l_time.f64', lTime);

// Ours gets string keys, as the offline store holds them (interned: one string per entity).
const names = Array.from({ length: ENTITIES }, (_, e) => `e${e}`);
const fKeys = Array.from(fEntity, (e) => names[e] as string);
const lKeys = Array.from(lEntity, (e) => names[e] as string);
const frame = {
  keys: fKeys,
  eventTimes: fTime,
  ingestedAt: new Float64Array(FEATURES),
  columns: { x: fValue },
};

const start = performance.now();
const result = pointInTimeJoin({ keys: lKeys, times: lTime }, [
  { view: 'v', ttlMs: TTL, features: ['x'], frame },
]);
const oursSeconds = (performance.now() - start) / 1000;
const rssMiB = process.memoryUsage().rss / 2 ** 20;

const runPeer = (threads: number) => {
  const run = spawnSync(
    python,
    [path.join(import.meta.dirname, 'peers', 'asof_duckdb.py'), dir, String(TTL), String(threads)],
    {
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(run.stderr);
  const answer = JSON.parse(run.stdout) as { seconds: number };
  const peerX = new Float64Array(new Uint8Array(readFileSync(path.join(dir, 'peer_x.f64'))).buffer);
  const ours = result.columns.v__x ?? [];
  let mismatches = 0;
  for (let i = 0; i < LABELS; i++) {
    const a = ours[i] ?? null;
    const b = Number.isNaN(peerX[i]) ? null : (peerX[i] as number);
    if (a !== b) mismatches++;
  }
  return { seconds: answer.seconds, mismatches };
};
const peer = runPeer(1);
const peerAllCores = runPeer(os.cpus().length);
const mismatches = peer.mismatches + peerAllCores.mismatches;

const rate = (s: number) => (LABELS / s).toExponential(2);
console.log(
  `pit-join label rows/s vs DuckDB on one thread: ours ${rate(oursSeconds)}, peer ${rate(peer.seconds)}, ratio ${(peer.seconds / oursSeconds).toFixed(2)}`,
);
console.log(
  `pit-join seconds: ours ${oursSeconds.toFixed(2)}, peer ${peer.seconds.toFixed(2)}, ratio ${(oursSeconds / peer.seconds).toFixed(2)}`,
);
console.log(
  `pit-join label rows/s vs DuckDB on all ${os.cpus().length} cores: ours ${rate(oursSeconds)}, peer ${rate(peerAllCores.seconds)}, ratio ${(peerAllCores.seconds / oursSeconds).toFixed(2)}`,
);
console.log(
  `pit-join note: ${LABELS} labels x ${FEATURES} feature rows, ${ENTITIES} entities; ours on one thread; ${mismatches} mismatching rows; ours peak RSS ${rssMiB.toFixed(0)} MiB`,
);
if (mismatches > 0) process.exit(1);
