/**
 * Serving (issue 11, item 10): the inference function's request path against onnxruntime in Python
 * and the seeds' FastAPI + ONNX Runtime pattern, on the same model.onnx, same machine, same run.
 *
 * Models: a logistic regression and a 200-tree GBDT (31 leaves), trained in memory with
 * `trainModel` on seeded synthetic credit-like rows — 8 float64, 1 int64 and 1 categorical feature
 * (5 declared categories), a binary label from a logistic model with an interaction — and exported
 * to ONNX. Every model is loaded by the function's own loader (bench/serving-init.ts: SHA-256
 * check, contract, session with Lambda's thread settings for SERVING_MEMORY_MB, warm-up); the
 * Python peers get the same intra-op thread count.
 *
 * (a) `serving-warm <model> batch <n>`: p50/p99 of the handler `createInferenceApp` returns, called
 *     in process with API Gateway proxy events (parse, validate against the signature, encode,
 *     one ORT run, answer JSON; capture off; metrics emitted as on Lambda, their EMF bytes counted
 *     instead of printed), batch 1 and 100; the onnxruntime-node run alone is shown beside it. Peer: onnxruntime Python `InferenceSession.run` alone on the
 *     same encoded rows, same batch. Ratio = ours / peer (it includes everything the peer skips).
 * (b) `serving-http <model>`: autocannon (programmatic, BENCH_CONNECTIONS connections for
 *     BENCH_DURATION s per side) against our HTTP path and FastAPI + onnxruntime under uvicorn
 *     (1 worker, bench/peers/fastapi_onnx.py), each in its own process, loaded one after the other,
 *     both sent the same batch-1 bodies (raw features, the same JSON in and out; the first body's
 *     score checked equal first), plus each server's CPU time per request. Ours is
 *     `createInferenceApp` behind a plain node:http server building the proxy event API Gateway
 *     builds — not the full local stack, as the line says. `serving-http-local-stack`: the full
 *     local stack — `npm start` (emulator, provisioned stack, the demo model trained, promoted and
 *     pinned to its function's `live` alias; the local HTTP adapter invoking the bundled handler,
 *     capture at the configured sample rate into the emulator's Firehose) — against FastAPI on the
 *     same registered model.onnx, with the body npm start prints (BENCH_LOCAL_STACK=0 skips it;
 *     BENCH_LOCAL_STACK=only runs the local-stack lines alone). It runs twice: at the configured
 *     capture sample rate (the demo's 1), and `serving-http-local-stack-capture-off` with
 *     `npm start --capture-sample-rate 0`, like for like with the peer, which captures nothing.
 *     Targets: p99 ≤ 0.5× and throughput ≥ 3× FastAPI's.
 * (c) `serving-cold-init <model>`: a fresh Node.js process importing an esbuild bundle of the
 *     serving path (bench/serving-init.ts, the function's bundling options), then loading the model
 *     from disk through the function's loader with warm-up; the first request is timed apart.
 *     Target import + load + warm-up ≤ 250 ms. Peer: a fresh Python process importing onnxruntime,
 *     creating the session and running once. `serving-cold-init-handler`: the predict function's
 *     own bundle in a fresh process against npm start's emulator (registry read and S3 download
 *     included). Medians of BENCH_COLD rounds.
 * (d) `bundle predict`: lambdas/predict/handler.ts bundled with the function's options (and its
 *     baked feature views), target ≤ 1 MB; `layer onnxruntime arm64`: the layer as
 *     lib/onnxruntime-layer.ts assembles it, unzipped, target ≤ 40 MB.
 * (e) `serving-cost`: a million predictions at the measured warm batch-1 durations (each billed
 *     rounded up to the ms, as Lambda bills) and SERVING_MEMORY_MB on Lambda arm64 + API Gateway
 *     REST + CloudWatch Logs for the EMF bytes the handler printed per request + Firehose for the
 *     capture records at the configured sample rate, beside an always-on
 *     SageMaker real-time endpoint's month (prices below, us-east-1).
 *
 * Quick mode: BENCH_QUICK=1 (fewer rows, iterations, rounds and seconds). Each size also takes
 * `--name value` / BENCH_NAME (support.ts `arg`).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  GetAliasCommand,
  GetFunctionConfigurationCommand,
  ListFunctionsCommand,
} from '@aws-sdk/client-lambda';
import { GetObjectCommand, ListBucketsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import autocannon from 'autocannon';
import { type BuildOptions, build } from 'esbuild';
import type { LoadedModel } from '../lambdas/serving/ports.js';
import { clients, createS3Client } from '../lambdas/shared/clients.js';
import { API_ROUTES, ENV, FEATURE_VIEWS_DEFINE, SERVING_ALIAS } from '../lambdas/shared/layout.js';
import { encodeRows, type FeatureInput, type RawRow, rowsToFrame } from '../lambdas/training/encoding.js';
import { runOnnx } from '../lambdas/training/onnx-scores.js';
import { type TrainerInput, trainModel } from '../lambdas/training/train-model.js';
import { ESBUILD_OPTIONS, externalModules, REQUIRE_BANNER } from '../lib/function-bundling.js';
import { PREDICT_BUNDLE } from '../lib/inference-api.js';
import { PROJECT_ROOT } from '../lib/mlops-function.js';
import { assembleOnnxRuntimeLayer } from '../lib/onnxruntime-layer.js';
import { resolveConfig } from '../lib/project-config.js';
import { inferenceHandler, loadModelFile, predictEvent, registryRecord } from './serving-init.js';
import { arg, mulberry32 } from './support.js';

const QUICK = process.env.BENCH_QUICK === '1';
/** BENCH_LOCAL_STACK=only: the local-stack lines alone (no warm, plain-HTTP or cold-init lines). */
const ONLY_LOCAL_STACK = process.env.BENCH_LOCAL_STACK === 'only';
/** The project's configuration (mlops.config.ts): the inference functions' memory, capture rate, views. */
const config = resolveConfig();
const SERVING_MEMORY_MB = config.serving.memoryMb;
const ROWS = arg('rows', QUICK ? 4_000 : 20_000);
const ITERATIONS = arg('iterations', QUICK ? 300 : 2_000);
const DURATION = arg('duration', QUICK ? 3 : 10);
const CONNECTIONS = arg('connections', 10);
const COLD = arg('cold', QUICK ? 3 : 7);
const GBDT_ROUNDS = arg('trees', 200);

/**
 * Published prices, us-east-1, on-demand, as of 2026-12-03 (the values issue 11's benchmark brief
 * states; this run does not fetch them): https://aws.amazon.com/lambda/pricing/ (Arm),
 * https://aws.amazon.com/api-gateway/pricing/ (REST APIs, first 333 million),
 * https://aws.amazon.com/cloudwatch/pricing/ (Logs ingestion, standard),
 * https://aws.amazon.com/firehose/pricing/ (Direct PUT, first 500 TB) and
 * https://aws.amazon.com/sagemaker/pricing/ (real-time inference; 730 hours a month).
 */
const PRICES = {
  /** Lambda, Arm, first 6 billion GB-seconds a month. */
  lambdaArmPerGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  /** API Gateway REST API, first 333 million requests a month. */
  apiGatewayRestPerMillion: 3.5,
  /** CloudWatch Logs ingestion (standard), where the EMF metric documents go. */
  cloudWatchLogsPerGb: 0.5,
  /** Amazon Data Firehose Direct PUT ingestion, each record rounded up to 5 KB (the capture path). */
  firehosePerGb: 0.029,
  firehoseRecordRoundingBytes: 5 * 1024,
  sageMakerHourly: { 'ml.t3.medium': 0.05, 'ml.m5.large': 0.115 },
  hoursPerMonth: 730,
} as const;

const MODEL_NAME = 'bench-credit';
const SEGMENTS = ['new', 'regular', 'gold', 'business', 'student'];
const FEATURES: readonly FeatureInput[] = [
  ...Array.from({ length: 8 }, (_, j) => ({ name: `x${j}`, type: 'float64' as const })),
  { name: 'accounts', type: 'int64' },
  { name: 'segment', type: 'string', categories: SEGMENTS },
];

/** ms quantile of sorted `values`. */
const quantile = (sorted: readonly number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const median = (values: readonly number[]) =>
  quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(0));

/** Seeded rows: features and a binary label from a logistic model with an interaction. */
function generate(n: number, seed: number): RawRow[] {
  const random = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const rows: RawRow[] = [];
  for (let i = 0; i < n; i++) {
    const row: Record<string, number | string> = {};
    for (let j = 0; j < 8; j++) row[`x${j}`] = Math.round(gauss() * (1 + j) * 1000) / 1000;
    row.accounts = Math.floor(random() * 12);
    const segment = Math.floor(random() * SEGMENTS.length);
    row.segment = SEGMENTS[segment] as string;
    const x = (j: number) => row[`x${j}`] as number;
    const eta =
      0.8 * x(0) -
      0.3 * x(1) +
      0.2 * x(2) -
      0.1 * x(5) +
      0.15 * (row.accounts as number) -
      0.4 * segment +
      0.3 * x(0) * x(3);
    row.label = random() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
    rows.push(row);
  }
  return rows;
}

/** Request features of a row (everything but the label). */
function featuresOf(row: RawRow): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const f of FEATURES) out[f.name] = row[f.name] as number | string;
  return out;
}

// ---- child: our HTTP server (createInferenceApp behind node:http) ----------------------------------
if (process.argv[2] === '--serve') {
  const [file, port] = [process.argv[3] as string, Number(process.argv[4])];
  const model = await loadModelFile(file, await registryRecord(file, MODEL_NAME), SERVING_MEMORY_MB);
  const handler = inferenceHandler(model);
  const predictPath = API_ROUTES.predict.replace('{model}', MODEL_NAME);
  let requests = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url !== predictPath) {
        response.writeHead(request.url === API_ROUTES.health ? 200 : 404).end('{"status":"ok"}');
        return;
      }
      const event = predictEvent(MODEL_NAME, Buffer.concat(chunks).toString('utf8'), `r${++requests}`);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(request.headers))
        if (typeof value === 'string') headers[name] = value;
      handler({ ...event, headers }).then(
        (result) => {
          response.writeHead(result.statusCode, { 'content-type': 'application/json', ...result.headers });
          response.end(result.body);
        },
        (error: unknown) => {
          response.writeHead(500).end(String(error));
        },
      );
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1');
  await new Promise(() => {});
}

// ---- main --------------------------------------------------------------------------------------------
const python = path.resolve(import.meta.dirname, '..', '.venv', 'bin', 'python');
const peerScript = path.join(import.meta.dirname, 'peers', 'fastapi_onnx.py');
if (
  !existsSync(python) ||
  spawnSync(python, ['-c', 'import onnxruntime, fastapi, uvicorn, numpy']).status !== 0
) {
  console.error(
    'serving: the onnxruntime / FastAPI peers are missing; install them with: bash bench/setup-peers.sh',
  );
  process.exit(1);
}
const threads = (await import('../lambdas/serving/model-loader.js')).lambdaVcpus(SERVING_MEMORY_MB);
const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-serving-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const say = (line: string) => process.stdout.write(`${line}\n`);

const trainRows = generate(ROWS, 1);
const requestRows = generate(1_000, 2);
const frame = rowsToFrame([...FEATURES, { name: 'label', type: 'int64' }], trainRows);
const trainers: Record<'logreg' | 'gbdt', TrainerInput> = {
  logreg: { algorithm: 'linear' },
  gbdt: { algorithm: 'gbdt', params: { numRounds: GBDT_ROUNDS, numLeaves: 31 } },
};
const models: Record<string, { file: string; model: LoadedModel }> = {};
for (const [kind, trainer] of Object.entries(trainers)) {
  const trained = await trainModel({
    task: 'binary',
    frame,
    label: 'label',
    features: FEATURES,
    trainer,
    split: { testFraction: 0.2, validationFraction: 0, seed: 7 },
    latencyRows: 10,
  });
  const file = path.join(dir, `${kind}.onnx`);
  writeFileSync(file, trained.onnx);
  models[kind] = {
    file,
    model: await loadModelFile(file, await registryRecord(file, MODEL_NAME), SERVING_MEMORY_MB),
  };
  say(
    `# ${kind}: ${(trained.onnx.length / 1024).toFixed(0)} KB ONNX, test AUC ${(trained.evaluation.metrics as { rocAuc: number }).rocAuc.toFixed(3)}, ${threads} intra-op thread(s)`,
  );
}

const body = (rows: readonly RawRow[]) =>
  rows.length === 1
    ? JSON.stringify({ features: featuresOf(rows[0] as RawRow) })
    : JSON.stringify({ instances: rows.map((r) => ({ features: featuresOf(r) })) });

// (a) warm handler latency, in process, against onnxruntime Python's session.run.
/** Per model, batch 1: the mean billed duration and the log bytes (EMF) per request. */
const warm: Record<string, { billedMs: number; logBytesPerRequest: number }> = {};

/** Runs `work` with process.stdout.write counting bytes instead of writing; returns the count. */
async function countingStdout(work: () => Promise<void>): Promise<number> {
  const write = process.stdout.write;
  let bytes = 0;
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  try {
    await work();
  } finally {
    process.stdout.write = write;
  }
  return bytes;
}
for (const [kind, { file, model }] of ONLY_LOCAL_STACK ? [] : Object.entries(models)) {
  const handler = inferenceHandler(model);
  for (const batch of [1, 100]) {
    const iterations = batch === 1 ? ITERATIONS : Math.max(50, Math.floor(ITERATIONS / 4));
    const pool = Math.floor(requestRows.length / batch);
    const events = Array.from({ length: pool }, (_, i) =>
      predictEvent(MODEL_NAME, body(requestRows.slice(i * batch, (i + 1) * batch))),
    );
    const eventAt = (i: number) => {
      const event = events[i % pool];
      if (event === undefined) throw new Error('no event');
      return event;
    };
    const times: number[] = [];
    // The EMF documents the handler prints (its metrics, as on Lambda) are counted, not shown.
    const logBytes = await countingStdout(async () => {
      for (let i = 0; i < Math.min(50, iterations); i++) await handler(eventAt(i));
      for (let i = 0; i < iterations; i++) {
        const event = eventAt(i);
        const t = performance.now();
        const result = await handler(event);
        times.push(performance.now() - t);
        if (result.statusCode !== 200)
          throw new Error(`the handler answered ${result.statusCode}: ${result.body}`);
      }
    });
    // Lambda bills each invocation rounded up to the millisecond.
    const billedMs = times.reduce((sum, t) => sum + Math.ceil(t), 0) / times.length;
    const meanMs = times.reduce((sum, t) => sum + t, 0) / times.length;
    times.sort((a, b) => a - b);
    // onnxruntime-node's run alone on one encoded batch: what of ours is the binding, not the request path.
    const xBatch = encodeRows(model.contract.encoding, requestRows.slice(0, batch));
    const runTimes: number[] = [];
    for (let i = 0; i < iterations; i++) {
      const t = performance.now();
      await runOnnx(model.session, xBatch, 'binary');
      runTimes.push(performance.now() - t);
    }
    runTimes.sort((a, b) => a - b);
    const x = encodeRows(model.contract.encoding, requestRows.slice(0, pool * batch));
    const xFile = path.join(dir, `${kind}-x.f64`);
    writeFileSync(xFile, new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength));
    const peerRun = spawnSync(
      python,
      [peerScript, 'run', file, xFile, String(x.cols), String(batch), String(iterations), String(threads)],
      { encoding: 'utf8' },
    );
    if (peerRun.status !== 0) throw new Error(`peer run failed: ${peerRun.stderr}`);
    const peer = JSON.parse(peerRun.stdout.trim().split('\n').at(-1) ?? '{}') as { p50: number; p99: number };
    const [p50, p99] = [quantile(times, 0.5), quantile(times, 0.99)];
    if (batch === 1)
      warm[kind] = { billedMs, logBytesPerRequest: logBytes / (iterations + Math.min(50, iterations)) };
    say(
      `serving-warm ${kind} batch ${batch} (handler in process, ${iterations} calls): ours p50 ${ms(p50)} ms p99 ${ms(p99)} ms mean ${ms(meanMs)} ms (onnxruntime-node run alone p50 ${ms(quantile(runTimes, 0.5))} ms), peer (onnxruntime Python session.run only) p50 ${ms(peer.p50)} ms p99 ${ms(peer.p99)} ms, ratio p50 ${(p50 / peer.p50).toFixed(2)} p99 ${(p99 / peer.p99).toFixed(2)}`,
    );
  }
}

// Bundles with the function's bundling options (lib/mlops-function.ts `bundling`, as esbuild takes them).
/** The predict function's bundling (lib/function-bundling.ts, as lib/inference-api.ts asks for it). */
const functionBundling = (entry: string, outdir: string): BuildOptions => ({
  ...ESBUILD_OPTIONS,
  mainFields: [...ESBUILD_OPTIONS.mainFields],
  entryPoints: [entry],
  outfile: path.join(outdir, 'index.mjs'),
  bundle: true,
  external: externalModules(PREDICT_BUNDLE),
  banner: { js: REQUIRE_BANNER },
  logLevel: 'warning',
  // The feature views the construct bakes into the predict function (lib/inference-api.ts).
  define: { [FEATURE_VIEWS_DEFINE]: JSON.stringify(config.featureViews) },
});
// Under the project, so the bundle's external onnxruntime-node resolves from node_modules as it
// resolves from the layer's /opt/nodejs/node_modules on Lambda.
mkdirSync(path.join(PROJECT_ROOT, 'cdk.out'), { recursive: true });
const bundleDir = mkdtempSync(path.join(PROJECT_ROOT, 'cdk.out', 'bench-serving-'));
process.on('exit', () => rmSync(bundleDir, { recursive: true, force: true }));
const handlerEntry = path.join(PROJECT_ROOT, 'lambdas', 'predict', 'handler.ts');
const predictBundle = path.join(bundleDir, 'predict', 'index.mjs');
await build(functionBundling(handlerEntry, path.dirname(predictBundle)));

// (b) HTTP under autocannon: ours (createInferenceApp behind node:http) vs FastAPI + onnxruntime.
async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${url}: the server exited (${child.exitCode})`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url}: not ready in 60 s`);
}

/** CPU milliseconds (user + system) a child has used so far, from /proc (NaN elsewhere). */
function cpuMs(child: ChildProcess): number {
  try {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    // Fields 14 and 15 of stat (utime, stime), in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const stop = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

interface Server {
  readonly url: string;
  readonly process: ChildProcess;
}

/**
 * Loads `ours` and the FastAPI `peer` in turn (never both at once: 2 shared cores) with the same
 * bodies, after checking both score the first body the same, and prints p99, throughput and the
 * server's CPU per request (steadier than wall time on a shared machine).
 */
async function versus(
  name: string,
  modelName: string,
  bodies: readonly string[],
  ours: Server,
  peer: Server,
) {
  const predictPath = API_ROUTES.predict.replace('{model}', modelName);
  const answers = await Promise.all(
    [ours, peer].map(async ({ url }) => {
      const response = await fetch(`${url}${predictPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: bodies[0] as string,
      });
      if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { predictions: { score: number }[] }).predictions[0]?.score ?? NaN;
    }),
  );
  if (!(Math.abs((answers[0] as number) - (answers[1] as number)) < 1e-9))
    throw new Error(`${name}: the two servers score the same body differently: ${answers.join(' vs ')}`);
  type Measured = {
    p99: number;
    p50: number;
    rps: number;
    cpuMsPerRequest: number;
    clientCpuMsPerRequest: number;
  };
  const measure = async ({ url, process: server }: Server): Promise<Measured> => {
    await autocannon({ url: `${url}/v1/health`, connections: 2, amount: 200 });
    const cpu0 = cpuMs(server);
    const client0 = process.cpuUsage(); // autocannon runs in this process, on the same 2 cores
    const result = await autocannon({
      url,
      connections: CONNECTIONS,
      duration: DURATION,
      requests: bodies.map((b) => ({
        method: 'POST' as const,
        path: predictPath,
        headers: { 'content-type': 'application/json' },
        body: b,
      })),
    });
    if (result.non2xx > 0 || result.errors > 0)
      throw new Error(`${url}: ${result.non2xx} non-2xx answers, ${result.errors} errors under load`);
    return {
      p99: result.latency.p99,
      p50: result.latency.p50,
      rps: result.requests.average,
      cpuMsPerRequest: (cpuMs(server) - cpu0) / result.requests.total,
      clientCpuMsPerRequest: (() => {
        const used = process.cpuUsage(client0);
        return (used.user + used.system) / 1000 / result.requests.total;
      })(),
    };
  };
  const o = await measure(ours);
  const p = await measure(peer);
  const label = `${name}; autocannon ${CONNECTIONS} connections × ${DURATION} s)`;
  say(
    `${label} p99: ours ${o.p99} ms (p50 ${o.p50}), peer (FastAPI + onnxruntime, uvicorn 1 worker) ${p.p99} ms (p50 ${p.p50}), ratio ${(o.p99 / p.p99).toFixed(2)} (target ≤ 0.5: ${o.p99 <= 0.5 * p.p99 ? 'met' : 'NOT met'})`,
  );
  say(
    `${label} throughput: ours ${o.rps.toFixed(0)} req/s, peer ${p.rps.toFixed(0)} req/s, ratio ${(o.rps / p.rps).toFixed(2)} (target ≥ 3: ${o.rps >= 3 * p.rps ? 'met' : 'NOT met'})`,
  );
  say(
    `${label} server CPU per request: ours ${o.cpuMsPerRequest.toFixed(3)} ms, peer ${p.cpuMsPerRequest.toFixed(3)} ms, ratio ${(o.cpuMsPerRequest / p.cpuMsPerRequest).toFixed(2)}; the load generator's own CPU per request (autocannon, in the bench process, sharing the cores): against ours ${o.clientCpuMsPerRequest.toFixed(3)} ms (${((o.clientCpuMsPerRequest * o.rps) / 1000).toFixed(2)} cores), against the peer ${p.clientCpuMsPerRequest.toFixed(3)} ms (${((p.clientCpuMsPerRequest * p.rps) / 1000).toFixed(2)} cores)`,
  );
}

const fastApi = (file: string, port: number, modelName: string): Server => ({
  url: `http://127.0.0.1:${port}`,
  process: spawn(python, [peerScript, 'serve', file, String(port), modelName, String(threads)], {
    stdio: ['ignore', 'ignore', 'inherit'],
  }),
});

/** A port nothing listens on now (the machine is shared: fixed ports collide). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = createNetServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });

const httpBodies = Array.from({ length: 50 }, (_, i) => body([requestRows[i] as RawRow]));
for (const [kind, { file }] of ONLY_LOCAL_STACK ? [] : Object.entries(models)) {
  const oursPort = await freePort();
  const ours: Server = {
    url: `http://127.0.0.1:${oursPort}`,
    // EMF printed as on Lambda (here to /dev/null).
    process: spawn(
      process.execPath,
      ['--import', 'tsx', import.meta.filename, '--serve', file, String(oursPort)],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    ),
  };
  const peer = fastApi(file, await freePort(), MODEL_NAME);
  try {
    await Promise.all([ours, peer].map((s) => waitReady(`${s.url}/v1/health`, s.process)));
    await versus(
      `serving-http ${kind} batch 1 (createInferenceApp behind node:http with the adapter's proxy event, not the full local stack`,
      MODEL_NAME,
      httpBodies,
      ours,
      peer,
    );
  } finally {
    await Promise.all([stop(ours.process), stop(peer.process)]);
  }
}

/** Runs in a fresh process: import the predict bundle (its init loads the model), answer one request. */
const HANDLER_CHILD = `
const t0 = performance.now();
const module = await import(process.env.BENCH_BUNDLE_URL);
const t1 = performance.now();
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench', memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  awsRequestId: 'bench-cold', logGroupName: '/aws/lambda/bench', logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 10000,
};
const result = await module.handler(JSON.parse(process.env.BENCH_EVENT), context);
const t2 = performance.now();
process.stdout.write('BENCH ' + JSON.stringify({ initMs: t1 - t0, firstCallMs: t2 - t1, status: result.statusCode }) + '\\n');
process.exit(0);
`;

/**
 * (c) the predict handler's own cold init, in a fresh process, against the emulator npm start runs:
 * the bundle's import with its module-scope init (registry read, artifact download from S3, SHA-256
 * check, session, warm-up), under the configuration of the version the model's `live` alias names.
 */
async function handlerColdInit(modelName: string, requestBody: string): Promise<void> {
  const lambda = clients.lambda();
  let functionName: string | undefined;
  for (const fn of (await lambda.send(new ListFunctionsCommand({}))).Functions ?? [])
    if (fn.Environment?.Variables?.[ENV.modelName] === modelName) functionName = fn.FunctionName;
  if (functionName === undefined) throw new Error(`no function serves ${modelName} on the emulator`);
  const alias = await lambda.send(new GetAliasCommand({ FunctionName: functionName, Name: SERVING_ALIAS }));
  const version = await lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: functionName, Qualifier: alias.FunctionVersion }),
  );
  const variables = { ...version.Environment?.Variables };
  delete variables.NODE_OPTIONS;
  const runs: { initMs: number; loadMs: number; firstCallMs: number; status: number }[] = [];
  for (let round = 0; round < COLD; round++) {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', HANDLER_CHILD], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        ...variables,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_LAMBDA_FUNCTION_VERSION: alias.FunctionVersion ?? '$LATEST',
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(version.MemorySize ?? SERVING_MEMORY_MB),
        BENCH_BUNDLE_URL: pathToFileURL(predictBundle).href,
        BENCH_EVENT: JSON.stringify(predictEvent(modelName, requestBody)),
      },
    });
    const line = child.stdout.split('\n').find((l) => l.startsWith('BENCH '));
    if (child.status !== 0 || line === undefined)
      throw new Error(`the predict handler's cold init failed: ${child.stderr || child.stdout.slice(-2000)}`);
    // The handler logs the model's own init time (registry read to warm-up) when it starts serving.
    const served = child.stdout
      .split('\n')
      .map((l) => /"message":"serving model".*"initMs":(\d+)/.exec(l)?.[1])
      .find((v) => v !== undefined);
    runs.push({ ...JSON.parse(line.slice(6)), loadMs: served === undefined ? Number.NaN : Number(served) });
  }
  if (runs.some((r) => r.status !== 200))
    throw new Error(`a cold first call answered ${runs.map((r) => r.status)}`);
  const init = median(runs.map((r) => r.initMs));
  say(
    `serving-cold-init-handler ${modelName} (fresh process: the predict bundle's import with its init — registry read and artifact download from the emulator, SHA-256, session, warm-up — as the live version is configured; median of ${COLD}): ours ${ms(init)} ms (of which the model's load, registry read to warm-up, ${ms(median(runs.map((r) => r.loadMs)))} ms; first request ${ms(median(runs.map((r) => r.firstCallMs)))} ms more) (target ≤ 250 ms: ${init <= 250 ? 'met' : 'NOT met'})`,
  );
}

// (b) through the full local stack: `npm start` (emulator, provisioned stack, the demo model trained
// and pinned to its function's live alias, the local HTTP adapter invoking the bundled handler) vs
// FastAPI serving the same model.onnx, read from the emulator's registry bucket.
// Twice: at the configured capture sample rate (the demo's 1: every request captured), and with
// capture off (--capture-sample-rate 0), like for like with the peer, which captures nothing.
async function localStackVersus(captureOff: boolean): Promise<void> {
  // Each run's npm start starts its own emulator: it must not inherit the previous run's endpoint.
  const endpointBefore = process.env.AWS_ENDPOINT_URL;
  const stack = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(PROJECT_ROOT, 'bin', 'start.ts'),
      '--port',
      '0',
      ...(captureOff ? ['--capture-sample-rate', '0'] : []),
    ],
    { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let peer: Server | undefined;
  try {
    const seen = { endpoint: '', url: '', body: '', model: '' };
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`npm start not serving after 600 s:\n${output}`)),
        600_000,
      );
      stack.once('exit', (code) => reject(new Error(`npm start exited (${code}):\n${output}`)));
      stack.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
        output += chunk;
        seen.endpoint ||= /\) at (http:\/\/\S+)\s*$/m.exec(output)?.[1] ?? '';
        seen.url ||= /The inference API is at (http:\/\/\S+)\. Try/.exec(output)?.[1] ?? '';
        const curl = /\/v1\/models\/([^/]+)\/predict .* -d '(\{"features".*\})'/.exec(output);
        if (curl !== null) [seen.model, seen.body] = [curl[1] as string, curl[2] as string];
        if (seen.url && seen.body) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    if (!seen.endpoint) throw new Error(`npm start did not say where its emulator is:\n${output}`);
    process.env.AWS_ENDPOINT_URL = seen.endpoint;
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    const s3 = createS3Client(); // this run's emulator (clients.s3() would keep the first one's)
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    const registry = buckets.find((b) => /modelregistryartifacts/i.test(b.Name ?? ''))?.Name;
    const listed = await s3.send(
      new ListObjectsV2Command({ Bucket: registry, Prefix: `models/${seen.model}/` }),
    );
    const key = listed.Contents?.find((o) => o.Key?.endsWith('/model.onnx'))?.Key;
    if (registry === undefined || key === undefined)
      throw new Error(`no registered model.onnx of ${seen.model} in the emulator`);
    const object = await s3.send(new GetObjectCommand({ Bucket: registry, Key: key }));
    const file = path.join(dir, 'local-stack.onnx');
    writeFileSync(
      file,
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    peer = fastApi(file, await freePort(), seen.model);
    await waitReady(`${peer.url}/v1/health`, peer.process);
    await versus(
      captureOff
        ? `serving-http-local-stack-capture-off ${seen.model} batch 1 (npm start --capture-sample-rate 0: local HTTP adapter, live alias, the bundled handler, capture OFF like the peer; the body npm start prints`
        : `serving-http-local-stack ${seen.model} batch 1 (npm start: local HTTP adapter, live alias, the bundled handler, capture at the configured sample rate ${config.serving.captureSampleRate} into the emulator's Firehose; the body npm start prints`,
      seen.model,
      [seen.body],
      { url: seen.url, process: stack },
      peer,
    );
    if (!captureOff) await handlerColdInit(seen.model, seen.body);
  } finally {
    if (peer !== undefined) await stop(peer.process);
    await new Promise<void>((resolve) => {
      if (stack.exitCode !== null) return resolve();
      stack.once('exit', () => resolve());
      stack.kill('SIGINT'); // npm start's Ctrl-C: stops the adapter and the emulator
    });
    if (endpointBefore === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = endpointBefore;
  }
}
if (process.env.BENCH_LOCAL_STACK !== '0') {
  await localStackVersus(false);
  await localStackVersus(true);
}

try {
  // (c) cold init in a fresh process.
  const coldDir = path.join(bundleDir, 'cold');
  await build(functionBundling(path.join(import.meta.dirname, 'serving-init.ts'), coldDir));
  const CHILD = `
const t0 = performance.now();
await import('onnxruntime-node');
const tOrt = performance.now();
const { coldStart } = await import(process.env.BENCH_BUNDLE_URL);
const t1 = performance.now();
const r = await coldStart(process.env.BENCH_MODEL, JSON.parse(process.env.BENCH_RECORD), ${SERVING_MEMORY_MB}, process.env.BENCH_BODY);
process.stdout.write('BENCH ' + JSON.stringify({ importMs: t1 - t0, ortImportMs: tOrt - t0, ...r }) + '\\n');
process.exit(0);
`;
  for (const [kind, { file }] of ONLY_LOCAL_STACK ? [] : Object.entries(models)) {
    const record = JSON.stringify(await registryRecord(file, MODEL_NAME));
    const runs: {
      importMs: number;
      ortImportMs: number;
      loadMs: number;
      firstCallMs: number;
      status: number;
      processMs: number;
    }[] = [];
    const peers: { importMs: number; loadMs: number; firstRunMs: number; processMs: number }[] = [];
    for (let round = 0; round < COLD; round++) {
      let t = performance.now();
      const child = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          POWERTOOLS_METRICS_DISABLED: 'false',
          BENCH_BUNDLE_URL: pathToFileURL(path.join(coldDir, 'index.mjs')).href,
          BENCH_MODEL: file,
          BENCH_RECORD: record,
          BENCH_BODY: httpBodies[0] as string,
        },
      });
      const line = child.stdout.split('\n').find((l) => l.startsWith('BENCH '));
      if (child.status !== 0 || line === undefined) throw new Error(`cold init failed: ${child.stderr}`);
      runs.push({ ...JSON.parse(line.slice(6)), processMs: performance.now() - t });
      t = performance.now();
      const peer = spawnSync(python, [peerScript, 'cold', file, String(threads)], { encoding: 'utf8' });
      if (peer.status !== 0) throw new Error(`peer cold init failed: ${peer.stderr}`);
      peers.push({
        ...JSON.parse(peer.stdout.trim().split('\n').at(-1) ?? '{}'),
        processMs: performance.now() - t,
      });
    }
    if (runs.some((r) => r.status !== 200))
      throw new Error(`a cold first call answered ${runs.map((r) => r.status)}`);
    const init = median(runs.map((r) => r.importMs + r.loadMs));
    const peerInit = median(peers.map((r) => r.importMs + r.loadMs + r.firstRunMs));
    say(
      `serving-cold-init ${kind} (fresh process: bundle import + loader + warm-up; median of ${COLD}): ours ${ms(init)} ms (import ${ms(median(runs.map((r) => r.importMs)))}, of which onnxruntime-node ${ms(median(runs.map((r) => r.ortImportMs)))}, + load & warm-up ${ms(median(runs.map((r) => r.loadMs)))}; first request ${ms(median(runs.map((r) => r.firstCallMs)))} ms more; whole process ${ms(median(runs.map((r) => r.processMs)))} ms), peer (Python: import onnxruntime ${ms(median(peers.map((r) => r.importMs)))} + session + one run) ${ms(peerInit)} ms (whole process ${ms(median(peers.map((r) => r.processMs)))} ms), ratio ${(init / peerInit).toFixed(2)} (target ≤ 250 ms: ${init <= 250 ? 'met' : 'NOT met'})`,
    );
  }

  // (d) bundle and layer sizes.
  const bytes = statSync(predictBundle).size;
  say(
    `bundle predict (lambdas/predict/handler.ts, esbuild with the function's options; source map apart): ours ${(bytes / 1024).toFixed(1)} KB (target ≤ 1024 KB: ${bytes <= 1024 * 1024 ? 'met' : 'NOT met'})`,
  );
  const layerDir = path.join(bundleDir, 'layer');
  assembleOnnxRuntimeLayer(layerDir, 'arm64');
  const sizeOf = (p: string): number =>
    statSync(p).isDirectory()
      ? readdirSync(p).reduce((sum, f) => sum + sizeOf(path.join(p, f)), 0)
      : statSync(p).size;
  const layerBytes = sizeOf(layerDir);
  say(
    `layer onnxruntime arm64 (unzipped): ours ${(layerBytes / 1024 / 1024).toFixed(1)} MB (target ≤ 40 MB: ${layerBytes <= 40 * 1024 * 1024 ? 'met' : 'NOT met'})`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// (e) cost of a million predictions.
const gb = SERVING_MEMORY_MB / 1024;
for (const [kind, { billedMs, logBytesPerRequest }] of Object.entries(warm)) {
  const compute = 1e6 * (billedMs / 1000) * gb * PRICES.lambdaArmPerGbSecond;
  const lambda = compute + PRICES.lambdaPerMillionRequests;
  const logs = ((1e6 * logBytesPerRequest) / 1024 ** 3) * PRICES.cloudWatchLogsPerGb;
  // One capture record per captured instance (batch 1: per request), at the configured sample rate.
  const capture =
    ((1e6 * config.serving.captureSampleRate * PRICES.firehoseRecordRoundingBytes) / 1024 ** 3) *
    PRICES.firehosePerGb;
  const total = lambda + PRICES.apiGatewayRestPerMillion + logs + capture;
  const sagemaker = Object.entries(PRICES.sageMakerHourly)
    .map(([type, hourly]) => {
      const month = hourly * PRICES.hoursPerMonth;
      return `${type} $${month.toFixed(2)}/month (break-even ${((month / total) * 1e6).toLocaleString('en-US', { maximumFractionDigits: 0 })} predictions/month)`;
    })
    .join(', ');
  say(
    `serving-cost ${kind} per 1M predictions (batch 1, mean ${billedMs.toFixed(2)} ms billed at ${SERVING_MEMORY_MB} MB arm64, duration measured on this machine with capture off, not on Lambda, where a captured request also waits for its Firehose put): ours $${total.toFixed(2)} (Lambda compute $${compute.toFixed(2)} + requests $${PRICES.lambdaPerMillionRequests.toFixed(2)} + API Gateway REST $${PRICES.apiGatewayRestPerMillion.toFixed(2)} + CloudWatch Logs for ${logBytesPerRequest.toFixed(0)} B of EMF a request $${logs.toFixed(2)} + Firehose capture at sample rate ${config.serving.captureSampleRate} $${capture.toFixed(2)}), peer always-on SageMaker real-time endpoint ${sagemaker}`,
  );
}
