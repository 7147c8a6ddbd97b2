/**
 * Logistic regression: ours (Newton/IRLS to a 1e-10 gradient tolerance) vs scikit-learn's
 * LogisticRegression at tol 1e-10 (newton-cholesky and lbfgs), on the same data in one run, all
 * single-threaded (the peer under threadpoolctl's one-thread limit).
 *
 * Data (seeded): BENCH_ROWS / --rows (default 100k) × BENCH_COLS / --cols (30) float64 features on
 * scales from 0.1 to 10, label drawn from a logistic model with an interaction term (so the linear
 * model is not exactly right, as in practice). Penalty: scikit-learn's default C = 1, i.e. our
 * l2 = 1/n.
 *
 * Timed (best of BENCH_REPEATS / --repeats, default 3): ours through `trainLinearModel` from the
 * training set's columns (as the point-in-time join returns them: fit the encoding spec, build the
 * standardized design, Newton, unfold the scaling into raw weights); the peer: StandardScaler +
 * LogisticRegression fit on a numpy array. Coefficients are compared in raw-feature space, with
 * the intercept. Ratio = peer seconds / our seconds (> 1: ours is faster; the target is ≥ 1). CPU
 * seconds (user + system, best of the repeats) are printed too: on a shared machine they are
 * steadier than wall time.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { trainLinearModel } from '../lambdas/training/linear/linear-model.js';
import { arg, mulberry32 } from './support.js';

const N = arg('rows', 100_000);
const F = arg('cols', 30);
const REPEATS = arg('repeats', 3);
const TOL = 1e-10;

const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
if (!existsSync(python) || spawnSync(python, ['-c', 'import sklearn, threadpoolctl, numpy']).status !== 0) {
  console.error('linear: the scikit-learn peer is missing; install it with: bash bench/setup-peers.sh');
  process.exit(1);
}

// Data: x[i, j] = scale_j · (standard normal-ish), y ~ Bernoulli(σ(x·β + 0.5·x0·x1 − 0.2)).
const random = mulberry32(42);
const gauss = () => {
  const u = random() || 1e-12;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
};
const scales = Float64Array.from({ length: F }, (_, j) => 0.1 * 100 ** (j / Math.max(1, F - 1)));
const beta = Float64Array.from({ length: F }, (_, j) => (gauss() * 0.8) / (scales[j] as number));
const x = new Float64Array(N * F);
const y = new Int32Array(N);
for (let i = 0; i < N; i++) {
  let eta = -0.2;
  for (let j = 0; j < F; j++) {
    const v = (scales[j] as number) * gauss();
    x[i * F + j] = v;
    eta += v * (beta[j] as number);
  }
  eta +=
    (0.5 * (x[i * F] as number) * (x[i * F + 1] as number)) / ((scales[0] as number) * (scales[1] as number));
  y[i] = random() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
}
const names = Array.from({ length: F }, (_, j) => `x${j}`);
// Columns as the point-in-time join hands them to the trainer.
const columns: Record<string, Float64Array> = { y: Float64Array.from(y) };
names.forEach((name, j) => {
  columns[name] = Float64Array.from({ length: N }, (_, i) => x[i * F + j] as number);
});
const frame = { rows: N, columns };
const features = names.map((name) => ({ name, type: 'float64' as const }));

let best = Number.POSITIVE_INFINITY;
let bestCpu = Number.POSITIVE_INFINITY;
let model: ReturnType<typeof trainLinearModel> | undefined;
for (let r = 0; r < REPEATS; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  model = trainLinearModel({
    task: 'binary',
    frame,
    label: 'y',
    features,
    params: { l2: 1 / N, gradientTolerance: TOL },
  });
  best = Math.min(best, (performance.now() - t0) / 1000);
  const cpu = process.cpuUsage(c0);
  bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6);
}
if (!model?.converged) throw new Error('ours did not converge');

const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-linear-'));
writeFileSync(path.join(dir, 'x.f64'), new Uint8Array(x.buffer));
writeFileSync(path.join(dir, 'y.i32'), new Uint8Array(y.buffer));
const env = { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
const peer = (solver: string) => {
  const run = spawnSync(
    python,
    [
      path.join(import.meta.dirname, 'peers', 'logreg_sklearn.py'),
      dir,
      String(N),
      String(F),
      '1',
      solver,
      String(TOL),
      String(REPEATS),
    ],
    { encoding: 'utf8', env },
  );
  if (run.status !== 0) throw new Error(run.stderr);
  return JSON.parse(run.stdout) as {
    seconds: number;
    cpuSeconds: number;
    iterations: number;
    coefficients: number[];
    intercept: number;
  };
};
const newton = peer('newton-cholesky');
const lbfgs = peer('lbfgs');
rmSync(dir, { recursive: true, force: true });

const fitted = model;
const coefDiff = (p: { coefficients: number[]; intercept: number }) =>
  Math.max(
    Math.abs((fitted.intercepts[0] as number) - p.intercept),
    ...p.coefficients.map((c, j) => Math.abs(c - (fitted.coefficients[j] as number))),
  );

console.log(
  `linear-logreg fit (${N} x ${F}, tol ${TOL}): ours ${model.iterations} Newton iterations, ${model.hessians} Hessians`,
);
for (const [label, p] of [
  ['newton-cholesky', newton],
  ['lbfgs', lbfgs],
] as const) {
  console.log(
    `linear-logreg seconds vs sklearn ${label}: ours ${best.toFixed(3)}, peer ${p.seconds.toFixed(3)}, ratio ${(p.seconds / best).toFixed(2)}`,
  );
  console.log(
    `linear-logreg cpu seconds vs sklearn ${label}: ours ${bestCpu.toFixed(3)}, peer ${p.cpuSeconds.toFixed(3)}, ratio ${(p.cpuSeconds / bestCpu).toFixed(2)}`,
  );
  console.log(
    `linear-logreg max |coef diff| vs sklearn ${label} (${p.iterations} iterations): ours 0, peer ${coefDiff(p).toExponential(2)}, ratio n/a (target ≤ 1e-4)`,
  );
}
