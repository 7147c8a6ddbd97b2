/**
 * Point-in-time join: ours vs DuckDB's `ASOF LEFT JOIN` (plus the same TTL filter), same data, one run.
 *
 * Sizes (env or `--name value`): BENCH_LABELS / --labels (default 1M label rows), BENCH_FEATURES /
 * --features (10M feature rows), BENCH_ENTITIES / --entities (100k), BENCH_BATCH / --batch (131072
 * rows per batch, about one Parquet row group). Data is generated deterministically (seeded PRNG);
 * event times are unique within an entity, so every label has exactly one right answer, and ~5%
 * of labels name entities with no feature rows, ~5% of values are null.
 *
 * What is timed: only the join. DuckDB gets its tables loaded in memory first (not timed), then
 * the ASOF query with `ORDER BY` label id, materialized to numpy. Ours gets its batches built in
 * memory first (not timed), then `joinPointInTime` (label sort, one pass over the stream, output
 * in label order). Figures:
 * - `sorted stream, dictionary keys`: batches as Parquet row groups give them (key codes + dictionary);
 * - `sorted stream, string keys`: one string per row;
 * - `unsorted frame`: a shuffled in-memory frame with string keys, our sort included — the same
 *   work DuckDB does, since it sorts both sides itself.
 * Peak RSS is measured in a child process that streams the batches as they are generated, the way
 * a Lambda reading row groups would: labels + outputs + one batch + the runtime.
 * Outputs are compared in full (value and used event time of every label). Ratio = peer seconds /
 * our seconds (> 1: ours is faster). DuckDB runs on one thread (as ours) and on every core.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type FeatureBatch,
  joinPointInTime,
  sortFeatureBatch,
  type ViewResult,
} from '../lambdas/feature-store/point-in-time-join.js';
import { arg, mulberry32, peakRssMiB } from './support.js';

const LABELS = arg('labels', 1_000_000);
const FEATURES = arg('features', 10_000_000);
const ENTITIES = arg('entities', 100_000);
const BATCH = arg('batch', 131_072);
const TTL = 30 * 86_400_000;
const T0 = Date.parse('2026-01-01T00:00:00Z');
const SPAN = 365 * 86_400_000;

const names = Array.from({ length: Math.ceil(ENTITIES * 1.05) + 1 }, (_, e) => `e${e}`);

/** Feature rows sorted by (entity, time), cut into batches wherever BATCH rows are reached. */
function* featureBatches(): Generator<FeatureBatch & { entities: Int32Array }> {
  const random = mulberry32(11);
  const base = Math.floor(FEATURES / ENTITIES);
  let left = FEATURES;
  let codes = new Int32Array(BATCH);
  let entities = new Int32Array(BATCH);
  let times = new Float64Array(BATCH);
  let values = new Float64Array(BATCH);
  let fill = 0;
  let firstEntity = 0;
  const flush = () => {
    const batch = {
      keys: {
        codes: codes.subarray(0, fill),
        dictionary: names.slice(firstEntity, (entities[fill - 1] ?? 0) + 1),
      },
      eventTimes: times.subarray(0, fill),
      columns: { x: values.subarray(0, fill) },
      entities: entities.subarray(0, fill),
    };
    codes = new Int32Array(BATCH);
    entities = new Int32Array(BATCH);
    times = new Float64Array(BATCH);
    values = new Float64Array(BATCH);
    fill = 0;
    return batch;
  };
  for (let e = 0; e < ENTITIES && left > 0; e++) {
    // Sizes vary (0.5–1.5 × average); the last entity takes what is left.
    const count = e === ENTITIES - 1 ? left : Math.min(left, Math.round(base * (0.5 + random())));
    left -= count;
    const step = Math.max(2, Math.floor((2 * SPAN) / Math.max(count, 1)));
    let t = T0 - 60 * 86_400_000 + Math.floor(random() * step);
    for (let r = 0; r < count; r++) {
      if (fill === 0) firstEntity = e;
      codes[fill] = e - firstEntity;
      entities[fill] = e;
      times[fill] = t;
      values[fill] = random() < 0.05 ? Number.NaN : Math.round(random() * 1e6) / 100;
      fill++;
      t += 1 + Math.floor(random() * step); // strictly increasing: one right answer per label
      if (fill === BATCH) yield flush();
    }
  }
  if (fill > 0) yield flush();
}

function labels(): { entities: Int32Array; keys: string[]; times: Float64Array } {
  const random = mulberry32(23);
  const entities = new Int32Array(LABELS);
  const times = new Float64Array(LABELS);
  for (let i = 0; i < LABELS; i++) {
    entities[i] = Math.floor(random() * ENTITIES * 1.05); // ~5% name entities with no rows
    times[i] = T0 + Math.floor(random() * SPAN);
  }
  return { entities, keys: Array.from(entities, (e) => names[e] as string), times };
}

const request = (keys: string[], batches: Iterable<FeatureBatch>) => ({
  name: 'v',
  ttlMs: TTL,
  features: { x: 'numeric' as const },
  labelKeys: keys,
  batches,
});

if (process.argv.includes('--memory')) {
  // Child: stream generated batches; report peak RSS and a checksum of the answer.
  const l = labels();
  const start = performance.now();
  const result = await joinPointInTime(l.times, [request(l.keys, featureBatches())], { eventTimes: true });
  const seconds = (performance.now() - start) / 1000;
  const v = result.v as ViewResult;
  let checksum = 0;
  for (let i = 0; i < LABELS; i++)
    if (v.found[i] === 1) checksum += ((v.eventTimes?.[i] as number) % 1e6) * (i % 7);
  const maxRssMiB = peakRssMiB();
  console.log(JSON.stringify({ maxRssMiB, seconds, checksum }));
  process.exit(0);
}

const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
if (!existsSync(python) || spawnSync(python, ['-c', 'import duckdb, numpy']).status !== 0) {
  console.error('point-in-time-join: the DuckDB peer is missing; install it with: bash bench/setup-peers.sh');
  process.exit(1);
}

// Build the data once: our batches in memory, raw little-endian columns for DuckDB.
const batches = [...featureBatches()];
const l = labels();
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-pit-'));
const concat = <T extends Int32Array | Float64Array>(parts: T[], make: (n: number) => T): T => {
  const out = make(FEATURES);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
};
const fEntity = concat(
  batches.map((b) => b.entities),
  (n) => new Int32Array(n),
);
const fTime = concat(
  batches.map((b) => b.eventTimes),
  (n) => new Float64Array(n),
);
const fValue = concat(
  batches.map((b) => b.columns.x as Float64Array),
  (n) => new Float64Array(n),
);
const write = (name: string, array: Int32Array | Float64Array) =>
  writeFileSync(path.join(dir, name), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
write('f_entity.i32', fEntity);
write('f_time.f64', fTime);
write('f_value.f64', fValue);
write('l_entity.i32', l.entities);
write('l_time.f64', l.times);

const timed = async <T>(run: () => Promise<T>): Promise<{ seconds: number; value: T }> => {
  const start = performance.now();
  const value = await run();
  return { seconds: (performance.now() - start) / 1000, value };
};

const dictionaryRun = await timed(() =>
  joinPointInTime(l.times, [request(l.keys, batches)], { eventTimes: true }),
);
const stringBatches: FeatureBatch[] = batches.map((b) => {
  const keys = b.keys as { codes: Int32Array; dictionary: readonly string[] };
  return { ...b, keys: Array.from(keys.codes, (c) => keys.dictionary[c] as string) };
});
const stringRun = await timed(() =>
  joinPointInTime(l.times, [request(l.keys, stringBatches)], { eventTimes: true }),
);
stringBatches.length = 0;

// Unsorted: the same rows shuffled into one frame with string keys; our sort is timed with the join.
const shuffle = mulberry32(5);
const perm = new Uint32Array(FEATURES);
for (let i = 0; i < FEATURES; i++) perm[i] = i;
for (let i = FEATURES - 1; i > 0; i--) {
  const j = Math.floor(shuffle() * (i + 1));
  const swap = perm[i] as number;
  perm[i] = perm[j] as number;
  perm[j] = swap;
}
const frame: FeatureBatch = {
  keys: Array.from(perm, (p) => names[fEntity[p] as number] as string),
  eventTimes: Float64Array.from(perm, (p) => fTime[p] as number),
  columns: { x: Float64Array.from(perm, (p) => fValue[p] as number) },
};
const unsortedRun = await timed(async () => {
  const sorted = sortFeatureBatch(frame);
  return joinPointInTime(l.times, [request(l.keys, [sorted])], { eventTimes: true });
});

const runPeer = (threads: number) => {
  const run = spawnSync(
    python,
    [path.join(import.meta.dirname, 'peers', 'asof_duckdb.py'), dir, String(TTL), String(threads)],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(run.stderr);
  const answer = JSON.parse(run.stdout) as { seconds: number };
  const read = (name: string) => new Float64Array(new Uint8Array(readFileSync(path.join(dir, name))).buffer);
  return { seconds: answer.seconds, x: read('peer_x.f64'), t: read('peer_t.f64') };
};
const peer = runPeer(1);
const peerAllCores = runPeer(os.cpus().length);

/** Rows where ours and the peer differ in value or in the event time used (NaN = none on both). */
function mismatches(result: Record<string, ViewResult>, other: { x: Float64Array; t: Float64Array }): number {
  const v = result.v as ViewResult;
  const x = v.features.x as Float64Array;
  const t = v.eventTimes as Float64Array;
  let bad = 0;
  for (let i = 0; i < LABELS; i++) {
    const sameT = Object.is(t[i], other.t[i]) || t[i] === other.t[i];
    const sameX = Object.is(x[i], other.x[i]) || x[i] === other.x[i];
    if (!sameT || !sameX || (v.found[i] === 1) === Number.isNaN(other.t[i])) bad++;
  }
  return bad;
}
const bad =
  mismatches(dictionaryRun.value, peer) +
  mismatches(stringRun.value, peer) +
  mismatches(unsortedRun.value, peer) +
  mismatches(dictionaryRun.value, peerAllCores);

const child = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, '--memory'], {
  encoding: 'utf8',
  env: {
    ...process.env,
    BENCH_LABELS: String(LABELS),
    BENCH_FEATURES: String(FEATURES),
    BENCH_ENTITIES: String(ENTITIES),
    BENCH_BATCH: String(BATCH),
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const memory = JSON.parse(child.stdout) as { maxRssMiB: number; seconds: number; checksum: number };
const v = dictionaryRun.value.v as ViewResult;
let checksum = 0;
for (let i = 0; i < LABELS; i++)
  if (v.found[i] === 1) checksum += ((v.eventTimes?.[i] as number) % 1e6) * (i % 7);
const streamedSame = checksum === memory.checksum;
rmSync(dir, { recursive: true, force: true });

const rate = (s: number) => (LABELS / s).toExponential(2);
const line = (what: string, ours: number, theirs: number) =>
  console.log(
    `pit-join ${what} rows/s: ours ${rate(ours)}, peer ${rate(theirs)}, ratio ${(theirs / ours).toFixed(2)}`,
  );
line('label', dictionaryRun.seconds, peer.seconds);
line('label (sorted stream, string keys)', stringRun.seconds, peer.seconds);
line('label (unsorted frame, sort included)', unsortedRun.seconds, peer.seconds);
line(`label (peer on ${os.cpus().length} threads)`, dictionaryRun.seconds, peerAllCores.seconds);
console.log(
  `pit-join feature rows/s: ours ${(FEATURES / dictionaryRun.seconds).toExponential(2)}, peer ${(FEATURES / peer.seconds).toExponential(2)}, ratio ${(peer.seconds / dictionaryRun.seconds).toFixed(2)}`,
);
console.log(
  `pit-join seconds: ours ${dictionaryRun.seconds.toFixed(3)} (string keys ${stringRun.seconds.toFixed(3)}, unsorted ${unsortedRun.seconds.toFixed(3)}), peer ${peer.seconds.toFixed(3)} (${os.cpus().length} threads ${peerAllCores.seconds.toFixed(3)})`,
);
console.log(
  `pit-join note: ${LABELS} labels x ${FEATURES} feature rows, ${ENTITIES} entities, batches of ${BATCH}; ours on one thread; ` +
    `${bad} mismatching rows; streamed from a generator: ${memory.seconds.toFixed(2)} s, peak RSS ${memory.maxRssMiB.toFixed(0)} MiB, same answer: ${streamedSame}`,
);
if (bad > 0 || !streamedSame) process.exit(1);
