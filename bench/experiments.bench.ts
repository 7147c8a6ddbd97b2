/**
 * Experiments: sticky assignment per call, and the analysis of 10M outcome events.
 *
 * Assignment (BENCH_IDS / --ids, default 1M ids u0..u{n-1}, best of 3): ours `variantOf` with a
 * compiled allocation (MurmurHash3 over UTF-8, what the serving handler calls per request) and
 * `assignVariant` (validates the allocation on every call); the peer is GrowthBook's Python SDK
 * formula (FNV-1a 32, hash version 2, chooseVariant) written out in bench/peers/experiments_peer.py,
 * run from .venv. Target ≤ 5 µs per call.
 *
 * Routing overhead per request (BENCH_REQUESTS / --requests, default 20,000 one-instance requests,
 * best of BENCH_REPEATS): (a) what lambdas/serving/http.ts's predictInExperiment does per request
 * before scoring, in isolation — the unit id from the instance (`unitOf`), the sticky assignment
 * (`variantOfUnit`), grouping the instances by variant, counting the served variant — the loop
 * written out here as http.ts has it; the peer is GrowthBook's assignment alone in Python; (b) the
 * whole in-process inference app (createInferenceApp: parse, prepare, score with onnxruntime,
 * respond; capture off, metrics disabled) answering the same predict request with an experiment
 * running (control and treatment both loaded) and without one, interleaved; the overhead is the
 * difference. Target ≤ 5 µs.
 *
 * Analysis (BENCH_EVENTS / --events, default 10M, best of 3): seeded columns (arm 50/50, conversion
 * 10% vs 10.2%, a lognormal-ish value) are generated here and written once to binary files the peer
 * reads with numpy. Ours: `summarizeOutcomes` (one pass: counts, conversions, Welford per arm) then
 * the z-test, Welch and one mSPRT update. Peer: pandas groupby aggregation, statsmodels
 * proportions_ztest + confint_proportions_2indep, scipy ttest_ind_from_stats and the mSPRT formula.
 * Both from in-memory arrays (file reads untimed). Ratio = peer / ours (> 1: ours is faster).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { assignVariant, compileAllocation, variantOf } from '../lambdas/experiments/assignment.js';
import { summarizeOutcomes } from '../lambdas/experiments/outcomes.js';
import { SequentialTest } from '../lambdas/experiments/sequential.js';
import { twoProportionZTest, welchTTest } from '../lambdas/experiments/statistics.js';
import { noCapture } from '../lambdas/serving/capture.js';
import { type ServingExperiment, unitOf, variantOfUnit } from '../lambdas/serving/experiments.js';
import { createInferenceApp, type ProxyEvent } from '../lambdas/serving/http.js';
import { API_ROUTES } from '../lambdas/shared/layout.js';
import { createMetrics } from '../lambdas/shared/metrics.js';
import { testRequestIds } from '../test/support/request-ids.js';
import { MemoryFeatureSource } from '../test/support/serving-fakes.js';
import { SERVING_ENTITY, servedModel, servingViews } from '../test/support/serving-model.js';
import { arg, mulberry32 } from './support.js';

const IDS = arg('ids', 1_000_000);
const EVENTS = arg('events', 10_000_000);
const REPEATS = arg('repeats', 3);
const REQUESTS = arg('requests', 20_000);
const TAU2 = 1e-4;
const ALPHA = 0.05;

const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
const peerScript = path.resolve(import.meta.dirname, 'peers', 'experiments_peer.py');
const peerReady =
  existsSync(python) && spawnSync(python, ['-c', 'import numpy, pandas, scipy, statsmodels']).status === 0;
if (!peerReady)
  console.error('experiments: the Python peer is missing; install it with: bash bench/setup-peers.sh');

function peer(args: string[]): Record<string, number> | undefined {
  if (!peerReady) return undefined;
  const run = spawnSync(python, [peerScript, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.status !== 0) {
    console.error(run.stderr);
    return undefined;
  }
  return JSON.parse(run.stdout.trim().split('\n').pop() as string);
}

function best<T>(fn: () => T): { seconds: number; cpuSeconds: number; value: T } {
  let seconds = Number.POSITIVE_INFINITY;
  let cpuSeconds = Number.POSITIVE_INFINITY;
  let value: T | undefined;
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    value = fn();
    seconds = Math.min(seconds, (performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpuSeconds = Math.min(cpuSeconds, (c.user + c.system) / 1e6);
  }
  return { seconds, cpuSeconds, value: value as T };
}

const line = (name: string, ours: number, theirs: number | undefined, unit: string, digits = 3) =>
  console.log(
    `${name}: ours ${ours.toFixed(digits)} ${unit}, peer ${theirs === undefined ? 'absent' : `${theirs.toFixed(digits)} ${unit}`}, ratio ${theirs === undefined ? 'n/a' : (theirs / ours).toFixed(2)}`,
  );

// --- Assignment ---
const ids = Array.from({ length: IDS }, (_, i) => `u${i}`);
const experiment = { id: 'exp-bench', treatmentShare: 50 };
const compiled = compileAllocation(experiment);
const compiledRun = best(() => {
  let treatment = 0;
  for (const id of ids) if (variantOf('exp-bench', compiled, id) === 'treatment') treatment++;
  return treatment;
});
const validatingRun = best(() => {
  let treatment = 0;
  for (const id of ids) if (assignVariant(experiment, id) === 'treatment') treatment++;
  return treatment;
});
const assignPeer = peer(['assign', String(IDS)]);
const perCall = (s: number) => (s / IDS) * 1e6;
line(
  `assignment per call (µs, ${IDS} ids, compiled allocation) vs GrowthBook FNV-1a v2 in Python`,
  perCall(compiledRun.seconds),
  assignPeer?.perCallMicros,
  'µs',
);
line(
  `assignment per call (µs, ${IDS} ids, allocation validated per call) vs GrowthBook FNV-1a v2 in Python`,
  perCall(validatingRun.seconds),
  assignPeer?.perCallMicros,
  'µs',
);
console.log(
  `assignment treatment share (${IDS} ids, 50/50): ours ${(compiledRun.value / IDS).toFixed(4)}, peer ${assignPeer === undefined ? 'absent' : (1 - (assignPeer.treatment as number) / IDS).toFixed(4)}, ratio n/a`,
);

// --- Routing overhead per request ---
{
  // Metrics are recorded the same way on both paths; disabled, nothing is printed.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  const { model: control, rows } = await servedModel('binary', 'linear', 'churn');
  const { model: treatment } = await servedModel('binary', 'linear', 'churn-treatment');
  const definition = {
    id: 'exp-bench',
    model: 'churn',
    control: control.version,
    treatment: treatment.version,
    allocation: 50,
    unitKey: 'userId',
  } as ServingExperiment['experiment'];
  const served: ServingExperiment = {
    experiment: definition,
    allocation: compileAllocation({ id: definition.id, treatmentShare: 50 }),
    treatment,
  };
  const units = Array.from({ length: REQUESTS }, (_, i) => `user-${i}`);
  const counts = { control: 0, treatment: 0 };

  // (a) The per-request routing of http.ts's predictInExperiment, in isolation (one instance).
  const { label: _label, ...features } = rows[0] as Record<string, unknown>;
  const routed = best(() => {
    let treated = 0;
    for (const unitId of units) {
      const instances = [{ unitId, features }];
      const groups = new Map<string, number[]>();
      instances.forEach((instance, i) => {
        const unit = unitOf(instance, served.experiment.unitKey);
        const variant = unit === undefined ? 'default' : variantOfUnit(served, unit);
        const group = groups.get(variant);
        if (group === undefined) groups.set(variant, [i]);
        else group.push(i);
      });
      for (const [variant, indices] of groups) {
        counts[variant as 'control' | 'treatment'] += indices.length;
        if (variant === 'treatment') treated++;
      }
    }
    return treated;
  });
  const routingPeer = peer(['assign', String(REQUESTS)]);
  line(
    `experiment routing per request (µs, ${REQUESTS} one-instance requests: unit id + assignment + grouping by variant + served count) vs GrowthBook FNV-1a v2 assignment alone in Python`,
    (routed.seconds / REQUESTS) * 1e6,
    routingPeer?.perCallMicros,
    'µs',
  );

  // (b) The whole in-process app, the same request with and without an experiment.
  const app = (withExperiment: boolean) =>
    createInferenceApp({
      modelName: 'churn',
      model: () => control,
      features: new MemoryFeatureSource({
        entity: SERVING_ENTITY,
        features: [],
        ttlMs: 3_600_000,
        entities: {},
      }),
      capture: noCapture,
      requestIds: testRequestIds('churn'),
      metrics: createMetrics({ namespace: 'Bench', serviceName: 'inference' }),
      maxBatchInstances: 10,
      captureSampleRate: 0,
      views: servingViews,
      ...(withExperiment
        ? {
            experiments: {
              current: () => served,
              ready: async () => {},
              served: (variant: 'control' | 'treatment', n: number) => {
                counts[variant] += n;
              },
              recordOutcome: async () => ({ counted: false, variant: 'control' as const }),
            },
          }
        : {}),
    });
  const events: ProxyEvent[] = units.map((unitId) => ({
    resource: API_ROUTES.predict,
    path: API_ROUTES.predict.replace('{model}', 'churn'),
    httpMethod: 'POST',
    pathParameters: { model: 'churn' },
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ instances: [{ unitId, features }] }),
    isBase64Encoded: false,
  }));
  const plain = app(false);
  const experimenting = app(true);
  const context = { awsRequestId: 'bench' };
  const timeApp = async (handle: typeof plain): Promise<number> => {
    const t0 = performance.now();
    for (const event of events) {
      const result = await handle(event, context);
      if (result.statusCode !== 200) throw new Error(`predict answered ${result.statusCode}: ${result.body}`);
    }
    return ((performance.now() - t0) / 1000 / REQUESTS) * 1e6;
  };
  await timeApp(plain); // warm-up
  await timeApp(experimenting);
  // Paired rounds, alternating which path goes first; the overhead is best minus best, with the
  // median and range of the rounds' differences shown (on a shared machine a round's noise is of
  // the order of the overhead itself).
  let without = Number.POSITIVE_INFINITY;
  let within = Number.POSITIVE_INFINITY;
  const differences: number[] = [];
  for (let r = 0; r < Math.max(REPEATS, 11); r++) {
    const [a, b] = r % 2 === 0 ? [await timeApp(plain), await timeApp(experimenting)] : [0, 0];
    const [d, c] = r % 2 === 1 ? [await timeApp(experimenting), await timeApp(plain)] : [b, a];
    without = Math.min(without, c);
    within = Math.min(within, d);
    differences.push(d - c);
  }
  differences.sort((x, y) => x - y);
  const median = differences[Math.floor(differences.length / 2)] as number;
  line(
    `predict per request with an experiment running vs the same request without one (µs, best of ${differences.length} rounds of ${REQUESTS} one-instance requests, in-process app, onnxruntime scoring)`,
    within,
    without,
    'µs',
  );
  console.log(
    `experiment routing overhead per request (µs, in-process app, best with minus best without; the median of ${differences.length} paired rounds' differences ${median.toFixed(2)}, range ${(differences[0] as number).toFixed(2)}…${(differences.at(-1) as number).toFixed(2)}; target ≤ 5): ours ${(within - without).toFixed(3)} µs, peer absent, ratio n/a`,
  );
  if (counts.control + counts.treatment === 0) throw new Error('no request was routed');
}

// --- Analysis over outcome events ---
const random = mulberry32(12);
const arm = new Uint8Array(EVENTS);
const converted = new Uint8Array(EVENTS);
const value = new Float64Array(EVENTS);
for (let i = 0; i < EVENTS; i++) {
  const a = random() < 0.5 ? 0 : 1;
  arm[i] = a;
  converted[i] = random() < (a === 0 ? 0.1 : 0.102) ? 1 : 0;
  value[i] =
    Math.exp(0.8 * Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random())) *
    (1 + 0.01 * a);
}
const folder = mkdtempSync(path.join(os.tmpdir(), 'experiments-bench-'));
writeFileSync(path.join(folder, 'arm.u8'), arm);
writeFileSync(path.join(folder, 'converted.u8'), converted);
writeFileSync(path.join(folder, 'value.f64'), new Uint8Array(value.buffer));

const analysis = best(() => {
  const [c, t] = summarizeOutcomes({ arm, converted, value }, 2) as [
    ReturnType<typeof summarizeOutcomes>[0],
    ReturnType<typeof summarizeOutcomes>[0],
  ];
  const counts = {
    controlSuccesses: c.successes,
    controlTotal: c.total,
    treatmentSuccesses: t.successes,
    treatmentTotal: t.total,
  };
  const z = twoProportionZTest(counts, ALPHA);
  const welch = welchTTest(c.value.summary(), t.value.summary(), ALPHA);
  const sequential = new SequentialTest({ alpha: ALPHA, tau2: TAU2 }).updateProportions(counts);
  return { z, welch, sequential, meanC: c.value.mean, varT: t.value.variance };
});
const analysisPeer = peer(['analyze', folder, String(TAU2), String(ALPHA)]);
rmSync(folder, { recursive: true, force: true });
line(
  `analysis seconds (${EVENTS} events: one pass + z-test + Welch + mSPRT) vs pandas+statsmodels+scipy`,
  analysis.seconds,
  analysisPeer?.seconds,
  's',
);
line(
  `analysis cpu seconds (${EVENTS} events) vs pandas+statsmodels+scipy`,
  analysis.cpuSeconds,
  analysisPeer?.cpuSeconds,
  's',
);
if (analysisPeer !== undefined) {
  const r = analysis.value;
  const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
  const diffs = {
    z: rel(r.z.z, analysisPeer.z as number),
    p: rel(r.z.pValue, analysisPeer.p as number),
    welchT: rel(r.welch.t, analysisPeer.welchT as number),
    welchP: rel(r.welch.pValue, analysisPeer.welchP as number),
    msprtP: rel(r.sequential.pValue, analysisPeer.msprtP as number),
    mean: rel(r.meanC, analysisPeer.meanC as number),
    variance: rel(r.varT, analysisPeer.varT as number),
  };
  const worst = Math.max(...Object.values(diffs));
  if (process.env.BENCH_VERBOSE) console.error(diffs);
  console.log(
    `analysis agreement (max relative difference of z, p, Welch t and p, mSPRT p, mean, variance; Welch t alone ${diffs.welchT.toExponential(1)}): ours 0, peer ${worst.toExponential(2)}, ratio n/a (target ≤ 1e-7: a tail p at |t| ≈ 18 magnifies t's summation-order difference by t²)`,
  );
  console.log(
    `analysis results: z ${r.z.z.toFixed(3)} p ${r.z.pValue.toExponential(3)}, Welch t ${r.welch.t.toFixed(3)} p ${r.welch.pValue.toExponential(3)}, mSPRT p ${r.sequential.pValue.toExponential(3)}`,
  );
}
