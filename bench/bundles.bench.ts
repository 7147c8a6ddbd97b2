/**
 * Lambda bundle sizes and cold init. Synthesizes the project's stack (the bundles that deploy),
 * prints `bundle <fn>: ours N KB` for every function, then measures cold init — import of the
 * bundle plus its first invocation, in a fresh Node.js process each time, against the emulator
 * with the stack provisioned — for the lightest and the heaviest bundle:
 * `cold-init <fn>: ours import X ms + first call Y ms = Z ms (median of R)`.
 *
 * The first call is a real one: get-model-version reads an absent version (DynamoDB GetItem →
 * NotFoundError), build-training-set names an absent landing object (S3 GetObject →
 * ValidationError); either way the SDK client is built, credentials resolved and one request made.
 * Process start-up itself is not counted (it is the same for every function). The peer of the
 * import is a fresh process importing only the SDK packages the bundle leaves to the runtime: the
 * floor a bundle cannot go under, so the ratio shows what the bundle's own code adds.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../lib/mlops-function.js';
import { stackOf, synthesize } from '../local/assembly.js';
import { startEmulator } from '../local/emulator.js';
import { startLocalStack } from '../local/local-stack.js';
import { testFeatureViews } from '../test/fixtures/feature-views.js';
import { type LambdaBundle, lambdaBundles } from '../test/support/bundles.js';
import { arg } from './support.js';

const ROUNDS = arg('rounds', 5);

/** A first event for each function: valid enough to reach the store, cheap to answer. */
const FIRST_EVENTS: Record<string, unknown> = {
  'get-model-version': { modelName: 'bench-absent', version: 1 },
  'register-model-version': {},
  'build-training-set': { entityRowsKey: 'landing/bench-absent.jsonl', featureRefs: [] },
  'ingest-features': {
    view: testFeatureViews[0]?.name,
    batchId: 'bench1',
    format: 'jsonl',
    sourceKey: 'landing/bench-absent.jsonl',
  },
  'materialize-features': { view: 'bench-absent' },
};

/** Runs in the fresh process: import the bundle, invoke the handler once, report the timings. */
const CHILD = `
const t0 = performance.now();
const module = await import(process.env.BENCH_BUNDLE_URL);
const t1 = performance.now();
let outcome = 'ok';
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:bench', memoryLimitInMB: '512',
  awsRequestId: 'bench', logGroupName: '/aws/lambda/bench', logStreamName: 'bench',
  callbackWaitsForEmptyEventLoop: true, getRemainingTimeInMillis: () => 30000,
};
try { await module.handler(JSON.parse(process.env.BENCH_EVENT), context); }
catch (error) { outcome = error.name; }
const t2 = performance.now();
process.stdout.write(JSON.stringify({ importMs: t1 - t0, callMs: t2 - t1, outcome }) + '\\n');
process.exit(0);
`;

/** The peer: a fresh process that imports only the external packages the bundle imports (its SDK clients). */
const PEER = `
const t0 = performance.now();
for (const specifier of JSON.parse(process.env.BENCH_EXTERNALS)) await import(specifier);
process.stdout.write(JSON.stringify({ importMs: performance.now() - t0, callMs: 0, outcome: 'ok' }) + '\\n');
`;

/** Packages a bundle leaves to the runtime (`@aws-sdk/*`), as its import statements name them. */
function externalsOf(bundle: LambdaBundle): string[] {
  const text = readFileSync(bundle.file, 'utf8');
  return [...new Set([...text.matchAll(/from\s*"(@aws-sdk\/[^"]+)"/g)].map((m) => m[1] as string))].sort();
}

interface ColdInit {
  readonly importMs: number;
  readonly callMs: number;
  readonly outcome: string;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

function coldInit(bundle: LambdaBundle, environment: Record<string, string>, code = CHILD): ColdInit {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    cwd: PROJECT_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      ...environment,
      AWS_LAMBDA_FUNCTION_NAME: bundle.name,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      BENCH_BUNDLE_URL: pathToFileURL(bundle.file).href,
      BENCH_EVENT: JSON.stringify(FIRST_EVENTS[bundle.name] ?? {}),
      BENCH_EXTERNALS: JSON.stringify(externalsOf(bundle)),
    },
  });
  const line = result.stdout.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0 || !line.startsWith('{'))
    throw new Error(`cold init of ${bundle.name} failed: ${result.stderr || result.stdout}`);
  return JSON.parse(line) as ColdInit;
}

// The assembly sits under the project so a bundle's external imports (@aws-sdk/*, which the Lambda
// runtime provides) resolve from the project's node_modules, as they do from the runtime's.
mkdirSync(path.join(PROJECT_ROOT, 'cdk.out'), { recursive: true });
const outdir = mkdtempSync(path.join(PROJECT_ROOT, 'cdk.out', 'bench-bundles-'));
const assembly = synthesize(undefined, {
  outdir,
  context: { mlops: { featureViews: testFeatureViews } },
});
const stack = stackOf(assembly);
const bundles = lambdaBundles(assembly, stack);
for (const bundle of bundles)
  process.stdout.write(`bundle ${bundle.name}: ours ${(bundle.bytes / 1024).toFixed(1)} KB\n`);

const emulator = await startEmulator();
process.env.AWS_ENDPOINT_URL = emulator.endpoint;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
try {
  const local = await startLocalStack(assembly, { prefix: 'bench-' });
  const lightest = bundles[0];
  const heaviest = bundles.at(-1);
  for (const [label, bundle] of [
    ['lightest', lightest],
    ['heaviest', heaviest],
  ] as const) {
    if (bundle === undefined) continue;
    const properties = stack.template.Resources[bundle.logicalId]?.Properties ?? {};
    const { Environment } = local.provisioned.resolve(properties, bundle.logicalId) as {
      Environment?: { Variables?: Record<string, string> };
    };
    const environment = { ...Environment?.Variables };
    delete environment.NODE_OPTIONS;
    const runs: ColdInit[] = [];
    const peers: ColdInit[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      runs.push(coldInit(bundle, environment));
      peers.push(coldInit(bundle, environment, PEER));
    }
    const importMs = median(runs.map((r) => r.importMs));
    const peerMs = median(peers.map((r) => r.importMs));
    const callMs = median(runs.map((r) => r.callMs));
    const total = median(runs.map((r) => r.importMs + r.callMs));
    process.stdout.write(
      `cold-init import ${bundle.name}: ours ${importMs.toFixed(0)} ms, peer ${peerMs.toFixed(0)} ms (${externalsOf(bundle).join(' + ')} alone), ratio ${(importMs / peerMs).toFixed(2)}\n`,
    );
    process.stdout.write(
      `cold-init ${bundle.name} (${label}, ${(bundle.bytes / 1024).toFixed(1)} KB): ours import ${importMs.toFixed(0)} ms + first call ${callMs.toFixed(0)} ms = ${total.toFixed(0)} ms (median of ${ROUNDS}; first call ended ${runs[0]?.outcome})\n`,
    );
  }
} finally {
  await emulator.stop();
  rmSync(outdir, { recursive: true, force: true });
}
