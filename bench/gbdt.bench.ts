/**
 * Built-in gradient-boosted trees vs LightGBM and scikit-learn's HistGradientBoosting: same data,
 * same hyperparameters as far as they map, all single-threaded.
 *
 * Data (seeded): BENCH_ROWS / --rows (default 100k) training rows × 30 features — uniform, normal,
 * integer-valued, and 5 columns with ~5% missing values — and BENCH_TEST / --test (50k) test rows. The
 * binary label draws from a logistic model with interactions (x0·x1, x2>0 ∧ x3>0, sin, x12·x13) and a
 * missing-means-something effect; the regression target is the same signal plus Gaussian noise.
 * Hyperparameters: BENCH_ROUNDS / --rounds (200) trees, 31 leaves, learning rate 0.1, 255 bins,
 * 20 rows per leaf, no L2 — LightGBM `num_leaves`, `max_bin`, `min_data_in_leaf`; scikit-learn
 * `max_leaf_nodes`, `max_bins`, `min_samples_leaf`, no early stopping.
 *
 * Timed: binning plus training, for every library (Python: building the Dataset, `fit`). Quality:
 * test AUC (binary) and RMSE (regression), all computed by the same scikit-learn code. Figures:
 * `ratio` = peer seconds / our seconds (> 1: ours is faster; the target ≥ 0.5 is "at most 2× LightGBM")
 * and, for quality, ours − peer. CPU seconds are printed too: on a shared machine they are steadier
 * than wall time.
 *
 * Scale: a child process trains the binary task at BENCH_SCALE / --scale rows (default 300k) and
 * reports time and peak RSS (VmHWM); with the 100k run this gives per-row cost, extrapolated
 * linearly (training is linear in rows × features × rounds) to one Lambda's 15 minutes and 10 GB.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  type GbdtData,
  type GbdtTask,
  predictProbabilities,
  predictScores,
  trainGbdt,
} from '../lambdas/training/gbdt.js';
import { arg, mulberry32, peakRssMiB } from './support.js';

const ROWS = arg('rows', 100_000);
const TEST = arg('test', 50_000);
const ROUNDS = arg('rounds', 200);
const SCALE = arg('scale', 300_000);
const F = 30;
const PARAMS = { numRounds: ROUNDS, numLeaves: 31, learningRate: 0.1, maxBins: 255, minChildSamples: 20 };

/** Seeded rows: features column-major, the binary label and the regression target. */
function generate(
  n: number,
  seed: number,
): { features: Float64Array[]; binary: Float64Array; regression: Float64Array } {
  const random = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const features = Array.from({ length: F }, () => new Float64Array(n));
  const binary = new Float64Array(n);
  const regression = new Float64Array(n);
  const x = (f: number, i: number) => (features[f] as Float64Array)[i] as number;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < F; f++) {
      const v = f < 10 ? 2 * random() - 1 : f < 20 ? normal() : f < 25 ? Math.floor(10 * random()) : normal();
      (features[f] as Float64Array)[i] = f >= 25 && random() < 0.05 ? Number.NaN : v;
    }
    const signal =
      1.5 * x(0, i) * x(1, i) +
      (x(2, i) > 0 && x(3, i) > 0 ? 1.2 : -0.4) +
      0.8 * Math.sin(3 * x(4, i)) +
      0.5 * x(10, i) -
      0.5 * x(11, i) ** 2 +
      0.4 * x(12, i) * x(13, i) +
      (0.3 * x(20, i)) / 9 +
      (Number.isNaN(x(25, i)) ? 0.7 : 0.6 * x(25, i));
    binary[i] = random() < 1 / (1 + Math.exp(-signal)) ? 1 : 0;
    regression[i] = signal + 0.5 * normal();
  }
  return { features, binary, regression };
}

function timedTrain(data: GbdtData, task: GbdtTask) {
  const cpu = process.cpuUsage();
  const wall = performance.now();
  const result = trainGbdt(data, { task, ...PARAMS });
  return { result, seconds: (performance.now() - wall) / 1000, cpuSeconds: process.cpuUsage(cpu).user / 1e6 };
}

if (process.argv.includes('--memory')) {
  const rows = Number(process.argv[process.argv.indexOf('--memory') + 1]);
  const { features, binary } = generate(rows, 1);
  const run = timedTrain({ features, label: binary }, 'binary');
  console.log(
    JSON.stringify({ rows, seconds: run.seconds, cpuSeconds: run.cpuSeconds, maxRssMiB: peakRssMiB() }),
  );
  process.exit(0);
}

const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
if (!existsSync(python) || spawnSync(python, ['-c', 'import lightgbm, sklearn']).status !== 0) {
  console.error(
    'gbdt: the LightGBM / scikit-learn peers are missing; install them with: bash bench/setup-peers.sh',
  );
  process.exit(1);
}

const train = generate(ROWS, 1);
const test = generate(TEST, 2);
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-gbdt-'));
const rowMajor = (columns: Float64Array[], n: number) => {
  const out = new Float64Array(n * F);
  for (let f = 0; f < F; f++)
    for (let i = 0; i < n; i++) out[i * F + f] = (columns[f] as Float64Array)[i] as number;
  return out;
};
const write = (name: string, array: Float64Array) =>
  writeFileSync(path.join(dir, name), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
write('x_train.f64', rowMajor(train.features, ROWS));
write('x_test.f64', rowMajor(test.features, TEST));

const fmt = (v: number, digits = 2) => v.toFixed(digits);
for (const task of ['binary', 'regression'] as const) {
  const run = timedTrain({ features: train.features, label: train[task] }, task);
  const model = run.result.model;
  const ours =
    task === 'binary'
      ? predictProbabilities(model, test.features).filter((_, i) => i % 2 === 1)
      : predictScores(model, test.features);
  write('y_train.f64', train[task]);
  write('y_test.f64', test[task]);
  write('ours_test.f64', ours);
  const peer = spawnSync(
    python,
    [
      path.join(import.meta.dirname, 'peers', 'gbdt_peers.py'),
      dir,
      task,
      ...[
        ROWS,
        F,
        TEST,
        ROUNDS,
        PARAMS.numLeaves,
        PARAMS.learningRate,
        PARAMS.maxBins,
        PARAMS.minChildSamples,
      ].map(String),
    ],
    { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } },
  );
  if (peer.status !== 0) throw new Error(peer.stderr);
  type Peer = { metric: number; seconds: number; cpuSeconds: number };
  const answer = JSON.parse(peer.stdout) as { ours: number; lightgbm: Peer; sklearn: Peer };
  const metric = task === 'binary' ? 'AUC' : 'RMSE';
  const name = `gbdt ${task} ${ROWS / 1000}k×${F} ${ROUNDS} trees`;
  for (const [peerName, p] of [
    ['lightgbm', answer.lightgbm],
    ['sklearn-hgb', answer.sklearn],
  ] as const) {
    console.log(
      `${name} test ${metric} vs ${peerName}: ours ${fmt(answer.ours, 4)}, peer ${fmt(p.metric, 4)}, ratio ${fmt(answer.ours / p.metric, 4)} (ours − peer ${(answer.ours - p.metric).toFixed(4)})`,
    );
    console.log(
      `${name} train seconds vs ${peerName}: ours ${fmt(run.seconds)}, peer ${fmt(p.seconds)}, ratio ${fmt(p.seconds / run.seconds)}`,
    );
    console.log(
      `${name} train cpu seconds vs ${peerName}: ours ${fmt(run.cpuSeconds)}, peer ${fmt(p.cpuSeconds)}, ratio ${fmt(p.cpuSeconds / run.cpuSeconds)}`,
    );
  }
}
rmSync(dir, { recursive: true, force: true });

// Scale: measured at ROWS (this process's peak includes the test set and peers' files; so a child
// for each size) and SCALE rows, extrapolated to one Lambda (15 minutes, 10 GB).
const measure = (rows: number) => {
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, import.meta.filename, '--memory', String(rows)],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return JSON.parse(child.stdout) as { rows: number; seconds: number; cpuSeconds: number; maxRssMiB: number };
};
const small = measure(ROWS);
const large = measure(SCALE);
const secondsPerRow = (large.cpuSeconds - small.cpuSeconds) / (large.rows - small.rows);
const mibPerRow = (large.maxRssMiB - small.maxRssMiB) / (large.rows - small.rows);
const baseMiB = small.maxRssMiB - mibPerRow * small.rows;
const byTime = Math.floor(900 / Math.max(secondsPerRow, 1e-12));
const byMemory = Math.floor((10_240 - baseMiB) / Math.max(mibPerRow, 1e-12));
for (const m of [small, large]) {
  console.log(
    `gbdt binary scale ${m.rows / 1000}k×${F} ${ROUNDS} trees: ours ${fmt(m.seconds)} s wall, ${fmt(m.cpuSeconds)} s cpu, peak RSS ${fmt(m.maxRssMiB, 0)} MiB`,
  );
}
console.log(
  `gbdt binary largest in one Lambda (15 min, 10 GB) at ${F} features, ${ROUNDS} trees, extrapolated linearly from ${small.rows / 1000}k and ${large.rows / 1000}k rows (one core's CPU time): ~${(Math.min(byTime, byMemory) / 1e6).toFixed(1)}M rows (time allows ${(byTime / 1e6).toFixed(1)}M at ${(secondsPerRow * 1e6).toFixed(1)} cpu-µs/row, memory ${(byMemory / 1e6).toFixed(1)}M at ${(mibPerRow * 1024 * 1024).toFixed(0)} B/row) = ${((Math.min(byTime, byMemory) * F) / 1e6).toFixed(0)}M cells`,
);
