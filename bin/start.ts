/**
 * `npm start`: the whole lifecycle on this machine, from a fresh clone. Starts the AWS API emulator
 * (moto; or the one in AWS_ENDPOINT_URL), synthesizes the project's app with its functions bundled
 * (in a child process: what `cdk deploy` would deploy), provisions it on the emulator, generates the
 * credit-default demo data (local/demo/credit.ts), ingests it into the offline store and
 * materializes the online views, runs each trained model's training workflow from its synthesized
 * state machine, deploys the registered version through the model's canary deployment workflow
 * (lib/deployment-workflow.ts, run from its synthesized definition; the first deployment promotes
 * at once: Production, `champion`, the function's `live` alias), and serves the inference API at
 * http://localhost:3000 (the handler behind the local HTTP adapter), printing what to try. Each
 * step prints its timing. Ctrl-C stops everything it started. The functions' embedded-metric-format
 * metrics reach the emulator's CloudWatch (local/emf-metrics.ts).
 *
 * `--scenario canary` then shows a canary deployment with real traffic: two more versions of the
 * model are registered — a faulty one (the same model with its scores shifted:
 * local/demo/shifted-model.ts) and a good one (the same artifact) — and, while a traffic generator
 * sends predict requests through the HTTP API (their EMF metrics and capture are what the analysis
 * reads), the faulty one is deployed and rolled back step by step with the reason, then the good
 * one promoted. Its deployment settings (short bakes, {@link CANARY_SCENARIO_DEPLOYMENT}) override
 * mlops.config.ts's through the same context overrides as --capture-sample-rate.
 *
 *   npm start                       serve until Ctrl-C
 *   npm start -- --once             run the flow, make two predictions (raw features, entity key), exit
 *   npm start -- --scenario canary  the flow, then a faulty candidate rolled back and a good one promoted
 *   npm start -- --port 0           any free port (the URL is printed)
 *   npm start -- --customers 500    a smaller data set
 *
 * Exit codes: 0 done (or stopped by Ctrl-C while serving), 1 a step failed (its error printed).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { DeploymentRequest } from '../lambdas/deployment/contract.js';
import { checkIntervalMinutes, RETRAINING_CHECKS, windowMinutesOf } from '../lambdas/drift/config.js';
import type { DriftCheckEvent } from '../lambdas/drift/job.js';
import type { checkDrift } from '../lambdas/drift-check/handler.js';
import { defineFeatureView, type FeatureView } from '../lambdas/feature-store/feature-view.js';
import { ingestBatch } from '../lambdas/feature-store/ingest.js';
import { materializeView } from '../lambdas/feature-store/materialize.js';
import { OnlineStore } from '../lambdas/feature-store/online-store.js';
import { putModelArtifact } from '../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../lambdas/registry/stage-store.js';
import { TrackingStore } from '../lambdas/registry/tracking-store.js';
import type {
  FeedbackRequest,
  PredictInstance,
  PredictRequest,
  PredictResponse,
} from '../lambdas/serving/contract.js';
import { clients } from '../lambdas/shared/clients.js';
import {
  API_ROUTES,
  CHAMPION_ALIAS,
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  retrainingAlarmName,
} from '../lambdas/shared/layout.js';
import { S3ObjectStore } from '../lambdas/shared/object-store.js';
import { isTrained, type TrainedModelConfig } from '../lambdas/training/model-config.js';
import type { TrainingPipelineInput } from '../lambdas/training/pipeline/contract.js';
import type { MlopsConfig } from '../lib/config.js';
import { resolveConfig } from '../lib/project-config.js';
import { STACK_JSON_OUTPUTS } from '../lib/stack-outputs.js';
import { evaluateAlarmsOnce } from '../local/alarm-evaluator.js';
import { loadAssembly, synthesizeInChild } from '../local/assembly.js';
import {
  CREDIT_EFFECTS,
  CREDIT_VIEWS,
  type CreditDemoData,
  type DemoRow,
  DOWNTURN,
  generateCreditDemo,
  latestFeatures,
  toJsonLines,
} from '../local/demo/credit.js';
import { shiftedScoresModel } from '../local/demo/shifted-model.js';
import { forwardEmf } from '../local/emf-metrics.js';
import { type Emulator, startEmulator } from '../local/emulator.js';
import { routeEvent } from '../local/event-router.js';
import {
  ALIAS_CACHE_MS,
  DEFAULT_SERVE_PORT,
  servingFunctionsOf,
  startHttpAdapter,
} from '../local/http-adapter.js';
import { type LocalStack, startLocalStack } from '../local/local-stack.js';
import {
  inspectLocalStack,
  localStackState,
  localStateDir,
  localStateFile,
  recordInferenceApiUrl,
  writeLocalState,
} from '../local/local-state.js';
import type { StateMachineRunner } from '../local/state-machine-runner.js';
import {
  type DeploymentOutcome,
  deploymentOutcome,
  deploymentProgress,
  runDeploymentLocally,
} from './cli/deployments.js';
import { stateMachineByArn } from './cli/local-runner.js';
import { runTrainingLocally } from './cli/local-training.js';
import { outcomeFailed, summarizeOutcome } from './cli/training-executions.js';

/** Who the registry records as having promoted (the CLI's principal against a local stack). */
const PRINCIPAL = 'local';

export interface StartOptions {
  readonly once: boolean;
  readonly port: number;
  readonly host: string;
  readonly customers: number;
  readonly seed: number;
  /** A cloud assembly of this project's app already synthesized with bundling (tests). */
  readonly assembly?: string;
  /** Overrides mlops.config.ts's serving.captureSampleRate (e.g. 0 to benchmark without capture). */
  readonly captureSampleRate?: number;
  /**
   * After serving starts, show a scenario: `canary` (a faulty candidate rolled back, a good one
   * promoted) or `drift` (drift detected → alarm → retraining → gate → canary → promotion).
   */
  readonly scenario?: (typeof SCENARIOS)[number];
}

/** The scenarios `--scenario` runs. */
export const SCENARIOS = ['canary', 'drift'] as const;

/**
 * The drift scenario's monitoring (over mlops.config.ts's): a check window of 5 minutes (the alarms'
 * period), verdicts from 300 values per feature; every request captured.
 */
export const DRIFT_SCENARIO_MONITORING = { schedule: 'rate(5 minutes)', minSamples: 300 } as const;

/**
 * The drift scenario's canary does not judge the prediction PSI between the candidate and the
 * stable version: a model retrained because the population shifted predicts differently from the
 * one it replaces by design (measured: PSI 0.30 on the shifted traffic, over the 0.25 that
 * rolls back a faulty candidate in the canary scenario): the bound is lifted to 1 (a candidate with
 * inverted or constant scores still rolls back, e.g. PSI 1.8 for the canary scenario's faulty one).
 * Errors and latency still gate it. A team deploying drift retrains sets this per model the same way
 * (deployment.thresholds.predictionPsi).
 */
export const DRIFT_SCENARIO_THRESHOLDS = { predictionPsi: 1 } as const;

/** How far the scenario's faulty candidate moves every score, in log-odds. */
const FAULTY_LOGIT_SHIFT = 2.5;

/**
 * The canary scenario's deployment settings (over mlops.config.ts's): three steps with 3 s bakes;
 * 20 requests per version before a step is judged (of 20 instances each: 400 predictions, enough
 * for the PSI of two samples of the same model to stay near 0); latency judged only beyond +100 %
 * and 50 ms (every function runs in this one process, so a version's p99 is mostly its
 * neighbours' noise).
 */
export const CANARY_SCENARIO_DEPLOYMENT = {
  steps: [20, 50, 100],
  bakeSeconds: 3,
  minRequests: 20,
  maxInsufficientChecks: 8,
  thresholds: { p99IncreasePercent: 100, latencyNoiseFloorMs: 50 },
} as const;

/**
 * The `mlops` context overrides npm start's options imply (given to the synthesis and to
 * resolveConfig alike, so both see the same configuration); `{}` when none.
 */
export function configOverrides(
  options: Pick<StartOptions, 'captureSampleRate' | 'scenario'>,
): Record<string, unknown> {
  const overrides: Record<string, unknown> = {};
  const resolved = resolveConfig();
  if (options.captureSampleRate !== undefined)
    overrides.serving = { ...resolved.serving, captureSampleRate: options.captureSampleRate };
  if (options.scenario === 'drift') {
    overrides.monitoring = {
      ...resolved.monitoring,
      schedule: DRIFT_SCENARIO_MONITORING.schedule,
      thresholds: { ...resolved.monitoring.thresholds, minSamples: DRIFT_SCENARIO_MONITORING.minSamples },
    };
    if (options.captureSampleRate === undefined)
      overrides.serving = { ...resolved.serving, captureSampleRate: 1 };
  }
  if (options.scenario !== undefined)
    overrides.deployment = {
      ...resolved.deployment,
      ...CANARY_SCENARIO_DEPLOYMENT,
      steps: [...CANARY_SCENARIO_DEPLOYMENT.steps],
      thresholds: {
        ...resolved.deployment.thresholds,
        ...CANARY_SCENARIO_DEPLOYMENT.thresholds,
        ...(options.scenario === 'drift' ? DRIFT_SCENARIO_THRESHOLDS : {}),
      },
    };
  return overrides;
}

/** Says what happens, with timings: `[3/9] Ingesting …` then `      done in 1.2 s: …`. */
class Steps {
  private index = 0;
  private readonly started = Date.now();
  constructor(
    private readonly total: number,
    private readonly write: (line: string) => void,
  ) {}

  async run<T>(title: string, work: () => Promise<T>, done?: (value: T) => string): Promise<T> {
    this.index++;
    this.write(`[${this.index}/${this.total}] ${title}…`);
    const t0 = Date.now();
    const value = await work();
    const detail = done?.(value);
    this.write(`      done in ${seconds(Date.now() - t0)}${detail ? `: ${detail}` : ''}`);
    return value;
  }

  elapsed(): string {
    return seconds(Date.now() - this.started);
  }
}

/**
 * Sends what else writes to stdout (the functions' structured logs and metrics, run in this
 * process) to `file`, so the terminal shows the steps; returns the writer of the terminal's lines.
 */
export function divertStdout(file: string): { readonly line: (text: string) => void; restore(): void } {
  mkdirSync(path.dirname(file), { recursive: true });
  const log = createWriteStream(file, { flags: 'w' });
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const callback = rest.find((r): r is () => void => typeof r === 'function');
    return log.write(chunk, callback);
  }) as typeof process.stdout.write;
  return {
    line: (text) => void original(`${text}\n`),
    restore: () => {
      process.stdout.write = original;
      log.end();
    },
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Things to undo, last first: the HTTP server, the synthesized assembly, the emulator. */
class Cleanup {
  private readonly undo: { what: string; run: () => Promise<void> | void }[] = [];
  private running: Promise<void> | undefined;

  add(what: string, run: () => Promise<void> | void): void {
    this.undo.push({ what, run });
  }

  /** Runs every undo once (a second call waits for the first); failures are printed, not thrown. */
  all(log: (line: string) => void): Promise<void> {
    this.running ??= (async () => {
      for (const { what, run } of this.undo.reverse()) {
        try {
          await run();
        } catch (error) {
          log(`warning: could not stop ${what}: ${(error as Error).message}`);
        }
      }
    })();
    return this.running;
  }
}

/** Where the functions' logs go (in the local state directory). */
export const FUNCTIONS_LOG = 'start-functions.log';

/**
 * Writes the local stack state file (local/local-state.ts) for this run's emulator, so `mlops`
 * commands in another terminal find the stack while `npm start` runs; removed again on the way
 * out. Not when another local stack runs (`mlops local up`) or the emulator is not ours.
 */
async function recordForCli(local: LocalStack, emulator: Emulator, cleanup: Cleanup): Promise<boolean> {
  const pid = emulator.pid;
  if (emulator.kind !== 'moto' || pid === undefined) return false;
  if ((await inspectLocalStack()).status === 'running') return false;
  writeLocalState(
    localStackState(local.stack, local.provisioned, {
      endpoint: emulator.endpoint,
      pid,
      logFile: path.join(localStateDir(), FUNCTIONS_LOG),
      region: process.env.AWS_REGION ?? 'us-east-1',
    }),
  );
  cleanup.add('the local stack state file', async () => {
    const found = await inspectLocalStack();
    if (found.status !== 'absent' && found.state?.pid === pid) rmSync(localStateFile(), { force: true });
  });
  return true;
}

/** The demo's views from the configuration; a clear error when mlops.config.ts no longer has them. */
function demoViews(config: MlopsConfig): Map<string, FeatureView> {
  const views = new Map(config.featureViews.map((v) => [v.name, defineFeatureView(v)]));
  const missing = Object.values(CREDIT_VIEWS).filter((name) => !views.has(name));
  if (missing.length > 0)
    throw new Error(
      `npm start ingests the credit-default demo, but mlops.config.ts has no view ${missing.join(', ')} ` +
        '(restore the demo views, or use the mlops CLI with your own data)',
    );
  return views;
}

/** The trained models whose label and features all come from the demo's views. */
function demoModels(config: MlopsConfig): TrainedModelConfig[] {
  const demo = new Set<string>(Object.values(CREDIT_VIEWS));
  const models = config.models
    .filter(isTrained)
    .filter((m) => [m.label, ...m.features].every((ref) => demo.has(ref.split(':')[0] as string)));
  if (models.length === 0)
    throw new Error('mlops.config.ts trains no model on the demo views (credit-default is the example)');
  return models;
}

async function ingest(
  local: LocalStack,
  views: ReadonlyMap<string, FeatureView>,
  data: CreditDemoData,
): Promise<string> {
  const store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  const counts: string[] = [];
  for (const [name, rows] of Object.entries(data.rows)) {
    const body = toJsonLines(rows);
    const batchId = `demo-${createHash('sha256').update(body).digest('hex').slice(0, 16)}`;
    const result = await ingestBatch({ view: name, batchId, format: 'jsonl' }, body, { store, views });
    if (result.rejected > 0)
      throw new Error(`${result.rejected} of ${result.received} demo rows of ${name} were rejected`);
    counts.push(`${name} ${result.accepted}`);
  }
  return counts.join(', ');
}

async function materialize(local: LocalStack, views: ReadonlyMap<string, FeatureView>): Promise<string> {
  const store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  const online = new OnlineStore(clients.documents(), local.resourceName('FeatureStoreOnline'));
  const written: string[] = [];
  for (const view of views.values()) {
    if (!view.online) continue;
    let result = await materializeView(view, { store, online });
    let records = result.written;
    while (result.more) {
      result = await materializeView(view, { store, online });
      records += result.written;
    }
    written.push(`${view.name} ${records} entities`);
  }
  return written.join(', ');
}

interface Trained {
  readonly model: string;
  readonly version: number;
  readonly rocAuc: number | undefined;
}

/** Runs `model`'s training workflow locally and reads how it ended (outcome, version, reasons). */
async function runTraining(
  local: LocalStack,
  model: TrainedModelConfig,
  log: (line: string) => void,
  started: { readonly runner: StateMachineRunner; readonly input: TrainingPipelineInput },
) {
  const record = await runTrainingLocally(started.runner, {
    model: model.name,
    input: started.input,
    bucket: local.resourceName('ModelRegistryArtifacts'),
    onStep: (step) => {
      if (step.type === 'entered') log(`        ${step.state}`);
      if (step.type === 'failed') log(`        ${step.state} failed: ${step.error} ${step.cause ?? ''}`);
    },
  });
  const run = await trackingOf(local)
    .getRun(record.runId)
    .catch(() => undefined);
  return { record, ...summarizeOutcome(record, run) };
}

async function train(
  local: LocalStack,
  model: TrainedModelConfig,
  log: (line: string) => void,
): Promise<Trained> {
  const {
    record,
    outcome,
    version: registered,
    reasons,
  } = await runTraining(local, model, log, {
    runner: local.stateMachine(`Training/Pipeline-${model.name}/StateMachine`),
    input: { asOf: new Date().toISOString(), trigger: { kind: 'manual', reason: 'npm start' } },
  });
  if (record.status !== 'SUCCEEDED' || outcomeFailed(outcome) || registered === undefined)
    throw new Error(
      `training ${model.name} ended ${outcome ?? record.status}` +
        `${record.error ? `: ${record.error} ${record.cause ?? ''}` : ''}` +
        `${reasons?.length ? `: ${reasons.join('; ')}` : ''}`,
    );
  const version = await registryOf(local).getModelVersion(model.name, registered);
  return { model: model.name, version: version.version, rocAuc: version.metrics.rocAuc };
}

function trackingOf(local: LocalStack): TrackingStore {
  return new TrackingStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: local.resourceName('ModelRegistryTrackingTable'),
    artifactBucket: local.resourceName('ModelRegistryArtifacts'),
  });
}

function registryOf(local: LocalStack): ModelRegistryStore {
  return new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: local.resourceName('ModelRegistryTable'),
    artifactBucket: local.resourceName('ModelRegistryArtifacts'),
    trackingTable: local.resourceName('ModelRegistryTrackingTable'),
  });
}

function stagesOf(local: LocalStack): ModelStageStore {
  return new ModelStageStore({
    documents: clients.documents(),
    tableName: local.resourceName('ModelRegistryTable'),
  });
}

/** The project's event bus (the registry's events) as provisioned locally. */
function projectBusOf(local: LocalStack): string {
  const bus = Object.values(local.provisioned.context.resources).find((r) =>
    String(r.attributes.Arn ?? '').includes(':event-bus/'),
  );
  if (bus === undefined) throw new Error('the synthesized stack has no event bus');
  return bus.ref;
}

/** The local runner of `model`'s deployment workflow (the stack's DeploymentWorkflowArns output). */
function deploymentWorkflowOf(local: LocalStack, model: string) {
  const outputs = (local.stack.template as { Outputs?: Record<string, { Value: unknown }> }).Outputs ?? {};
  const key = STACK_JSON_OUTPUTS.deploymentWorkflows;
  const output = outputs[key];
  const arns =
    output === undefined
      ? {}
      : (JSON.parse(String(local.provisioned.resolve(output.Value, `Outputs.${key}`))) as Record<
          string,
          string
        >);
  const arn = arns[model];
  const runner = arn === undefined ? undefined : stateMachineByArn(local, arn);
  if (runner === undefined) throw new Error(`the synthesized stack has no deployment workflow for ${model}`);
  return runner;
}

/**
 * Deploys `version` of `model` through its canary workflow (the real bake waits), a line per step
 * on `log`. Returns how it ended; `expect` the outcomes that are not an error of npm start.
 */
async function deploy(
  local: LocalStack,
  config: MlopsConfig,
  model: string,
  version: number,
  log: (line: string) => void,
  options: { reason: string; expect?: readonly DeploymentOutcome[]; request?: DeploymentRequest },
): Promise<{ outcome: DeploymentOutcome; reason?: string }> {
  const { result } = await runDeploymentLocally(deploymentWorkflowOf(local, model), model, {
    request: options.request ?? { modelVersion: version, requestedBy: PRINCIPAL, reason: options.reason },
    config: config.deployment,
    onEvent: deploymentProgress((text) => log(`        ${text}`), {
      label: `${model} v${version}`,
      config: config.deployment,
    }),
  });
  const ended = deploymentOutcome(result);
  const allowed = options.expect ?? ['promoted', 'already-serving'];
  if (!allowed.includes(ended.outcome))
    throw new Error(
      `deploying ${model} v${version} ended ${ended.outcome}${ended.reason ? `: ${ended.reason}` : ''} (expected ${allowed.join(' or ')})`,
    );
  return ended;
}

/** Registers `bytes` as a new Staging version of `trained`'s model, with its signature, output and metrics. */
async function registerCandidate(
  local: LocalStack,
  config: MlopsConfig,
  trained: Trained,
  bytes: Uint8Array,
  description: string,
): Promise<number> {
  const registry = registryOf(local);
  const source = await registry.getModelVersion(trained.model, trained.version);
  const artifact = await putModelArtifact(
    clients.s3(),
    local.resourceName('ModelRegistryArtifacts'),
    trained.model,
    bytes,
  );
  const version = await registry.registerModelVersion({
    modelName: trained.model,
    artifact: { key: artifact.key, sha256: artifact.sha256 },
    ...(source.signature ? { signature: source.signature } : {}),
    ...(source.output ? { output: source.output } : {}),
    metrics: source.metrics,
    lineage: source.lineage,
    description,
    tags: { scenario: 'canary' },
  });
  await new ModelStageStore({
    documents: clients.documents(),
    tableName: local.resourceName('ModelRegistryTable'),
    principal: PRINCIPAL,
    models: config.models,
  }).transition({
    modelName: trained.model,
    version: version.version,
    expectedStage: 'None',
    toStage: 'Staging',
    reason: `npm start --scenario canary: ${description}`,
  });
  return version.version;
}

/** The scenario's traffic: requests per second, and instances per request. */
const SCENARIO_TRAFFIC = { requestsPerSecond: 20, instancesPerRequest: 20 } as const;

/**
 * Predict requests through the HTTP API until stopped, at most `requestsPerSecond` (two at a time),
 * each a batch of `instancesPerRequest` of the demo's customers' raw features in turn (what real
 * EMF metrics and capture come from). Batches keep the capture objects few: the local Firehose
 * writes one object per request, and the analysis reads every one in its window.
 */
function trafficGenerator(url: string, model: string, instances: readonly PredictInstance[]) {
  const { requestsPerSecond, instancesPerRequest } = SCENARIO_TRAFFIC;
  const workers = 2;
  const intervalMs = (1000 * workers) / requestsPerSecond;
  let stopped = false;
  let next = 0;
  const counts = { sent: 0, failed: 0 };
  const worker = async () => {
    while (!stopped) {
      const t0 = Date.now();
      const batch = Array.from(
        { length: instancesPerRequest },
        () => instances[next++ % instances.length] as PredictInstance,
      );
      try {
        await predict(url, model, { instances: batch });
        counts.sent++;
      } catch {
        counts.failed++;
      }
      const wait = intervalMs - (Date.now() - t0);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  };
  const running = Array.from({ length: workers }, worker);
  return {
    counts,
    stop: async () => {
      stopped = true;
      await Promise.all(running);
    },
  };
}

/**
 * `--scenario canary`: a faulty candidate (the trained model with every score shifted up) and a
 * good one (the same artifact) registered in Staging; with traffic flowing, the faulty one is
 * deployed and rolled back, then the good one promoted. Returns the summary lines.
 */
async function canaryScenario(
  local: LocalStack,
  config: MlopsConfig,
  trained: Trained,
  url: string,
  instances: readonly PredictInstance[],
  log: (line: string) => void,
): Promise<string> {
  const source = await registryOf(local).getModelVersion(trained.model, trained.version);
  const object = await clients.s3().send(
    new GetObjectCommand({
      Bucket: local.resourceName('ModelRegistryArtifacts'),
      Key: source.artifact.key,
    }),
  );
  const bytes = await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
  const faulty = await registerCandidate(
    local,
    config,
    trained,
    shiftedScoresModel(bytes, FAULTY_LOGIT_SHIFT),
    `faulty candidate: v${trained.version} with every score shifted (+${FAULTY_LOGIT_SHIFT} log-odds)`,
  );
  const good = await registerCandidate(
    local,
    config,
    trained,
    bytes,
    `good candidate: v${trained.version}'s artifact`,
  );
  log(
    `      registered v${faulty} (faulty: v${trained.version}'s model with scores shifted up, same ranking and ROC-AUC) and v${good} (good: the same artifact), both Staging`,
  );
  const traffic = trafficGenerator(url, trained.model, instances);
  log(
    `      traffic: ${SCENARIO_TRAFFIC.requestsPerSecond} predict requests/s of ${SCENARIO_TRAFFIC.instancesPerRequest} customers each through the HTTP API, until the scenario ends`,
  );
  try {
    const rejected = await deploy(local, config, trained.model, faulty, log, {
      reason: 'npm start --scenario canary: the faulty candidate',
      expect: ['rolled-back'],
    });
    log(`      v${faulty} rolled back: ${rejected.reason}`);
    await deploy(local, config, trained.model, good, log, {
      reason: 'npm start --scenario canary: the good candidate',
      expect: ['promoted'],
    });
    log(`      v${good} promoted: Production, alias ${CHAMPION_ALIAS}, all traffic`);
  } finally {
    await traffic.stop();
  }
  return `v${faulty} rolled back, v${good} promoted; ${traffic.counts.sent} predict requests (${traffic.counts.failed} failed)`;
}

/** `n` predict requests of `perRequest` instances each (in turn), two at a time; returns how many failed. */
async function sendRequests(
  url: string,
  model: string,
  instances: readonly PredictInstance[],
  n: number,
  perRequest = SCENARIO_TRAFFIC.instancesPerRequest,
): Promise<number> {
  let next = 0;
  let failed = 0;
  const batches = Array.from({ length: n }, () =>
    Array.from({ length: perRequest }, () => instances[next++ % instances.length] as PredictInstance),
  );
  for (let i = 0; i < batches.length; i += 2)
    await Promise.all(
      batches.slice(i, i + 2).map((batch) =>
        predict(url, model, { instances: batch }).catch(() => {
          failed++;
        }),
      ),
    );
  return failed;
}

/** The drift function's answer (lambdas/drift-check/handler.ts). */
type DriftAnswer = Awaited<ReturnType<typeof checkDrift>>;

/** Runs the stack's drift function in-process over the capture of [since, now). */
async function driftCheck(
  local: LocalStack,
  config: MlopsConfig,
  model: string,
  since: number,
): Promise<DriftAnswer> {
  const fn = local.lambdas.logicalIds.find((id) => /^DriftCheck[0-9A-F]{8}$/.test(id));
  if (fn === undefined) throw new Error('the synthesized stack has no drift function');
  // What the schedule sends (lib/drift-monitor.ts), over the span since `since` instead of the last window.
  const event: DriftCheckEvent = {
    model,
    windowMinutes: windowMinutesOf(config.monitoring),
    thresholds: config.monitoring.thresholds,
    minLabelled: config.monitoring.minLabelled,
    labelLookbackHours: config.monitoring.labelLookbackHours,
    start: new Date(since).toISOString(),
    time: new Date().toISOString(),
  };
  return (await local.lambdas.invoke(fn, event)) as DriftAnswer;
}

const describeCheck = (answer: DriftAnswer) =>
  `${answer.rows} predictions of v${answer.version}: ${
    answer.drifted.length === 0 ? 'no feature drifted' : `drifted: ${answer.drifted.join(', ')}`
  }; predictions ${answer.predictionVerdict}; report ${answer.report.html}`;

/**
 * `--scenario drift`: the closed loop. Traffic like the training data → a drift check finds nothing;
 * a shifted population arrives (local/demo/credit.ts DOWNTURN: its rows ingested and materialized,
 * its requests served) → the check finds drift → its metrics reach the emulator's CloudWatch → the
 * local alarm evaluator moves the model's retraining alarms to ALARM → each state-change event goes
 * to the training pipeline's drift rule (local/event-router.ts) → the training workflow runs with
 * the drift trigger → its candidate is gated against the champion → the new version is deployed
 * through the canary workflow with the shifted traffic flowing → promoted → a last check against the
 * new champion's profile. Returns the summary.
 */
async function driftScenario(ctx: {
  local: LocalStack;
  config: MlopsConfig;
  views: ReadonlyMap<string, FeatureView>;
  model: TrainedModelConfig;
  first: Trained;
  url: string;
  data: CreditDemoData;
  options: StartOptions;
  emf: ReturnType<typeof forwardEmf>;
  log: (line: string) => void;
}): Promise<string> {
  const { local, config, views, model, first, url, data, options, emf, log } = ctx;
  const timed = async <T>(title: string, work: () => Promise<T>, done: (value: T) => string): Promise<T> => {
    const t0 = Date.now();
    log(`      ${title}…`);
    const value = await work();
    log(`        ${done(value)} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return value;
  };
  const instancesOf = (population: CreditDemoData) =>
    population.rows[CREDIT_VIEWS.profile]
      .slice(0, 300)
      .map((p) => ({ features: rawFeatureInstance(population, model, String(p.customer_id)) }));
  const requests = Math.ceil(
    (2 * DRIFT_SCENARIO_MONITORING.minSamples) / SCENARIO_TRAFFIC.instancesPerRequest,
  );

  const calmSince = Date.now();
  await timed(
    `traffic like the training data: ${requests} requests of ${SCENARIO_TRAFFIC.instancesPerRequest} customers`,
    () => sendRequests(url, model.name, instancesOf(data), requests),
    (failed) => `${requests - failed} answered`,
  );
  const calm = await timed(
    'drift check of that window',
    () => driftCheck(local, config, model.name, calmSince),
    describeCheck,
  );
  if (calm.drifted.length > 0 || calm.status !== 'checked')
    throw new Error(`the check of unshifted traffic found ${calm.status}: ${calm.drifted.join(', ')}`);

  const downturn = generateCreditDemo({
    customers: Math.max(500, Math.floor(options.customers / 2)),
    seed: options.seed + 1,
    endMs: data.endMs,
    idPrefix: 'd',
    shift: DOWNTURN,
  });
  await timed(
    `a downturn: ${downturn.rows[CREDIT_VIEWS.profile].length} new customers (utilization +${DOWNTURN.utilizationAdd}, incomes ×${DOWNTURN.incomeFactor}, utilization weighing ${DOWNTURN.utilizationEffect} instead of ${CREDIT_EFFECTS.utilization.effect}) ingested and materialized`,
    async () => `${await ingest(local, views, downturn)}; ${await materialize(local, views)}`,
    (summary) => summary,
  );
  const shiftedSince = Date.now();
  await timed(
    `traffic of the new customers: ${requests} requests`,
    () => sendRequests(url, model.name, instancesOf(downturn), requests),
    (failed) => `${requests - failed} answered`,
  );
  const drift = await timed(
    'drift check of that window',
    () => driftCheck(local, config, model.name, shiftedSince),
    describeCheck,
  );
  if (drift.drifted.length === 0) throw new Error('the check of the shifted traffic found no drift');

  await emf.flush();
  const alarmNames = Object.values(RETRAINING_CHECKS).map((check) =>
    retrainingAlarmName(config.stackName, model.name, check),
  );
  // The alarms' period is the check's window; CloudWatch judges a period once it has ended, so the
  // evaluator is asked at the end of the period the check's metrics fell in.
  const periodMs = checkIntervalMinutes(config.monitoring) * 60_000;
  const periodEnd = Math.ceil(Date.now() / periodMs) * periodMs;
  const changes = await timed(
    `the local alarm evaluator judges the retraining alarms against the metrics in the emulator, as CloudWatch would at the end of their ${periodMs / 60_000}-minute period (${new Date(periodEnd).toISOString().slice(11, 16)} UTC)`,
    () => evaluateAlarmsOnce(periodEnd, { alarmNames }),
    (changed) =>
      changed.length === 0
        ? 'no alarm changed state'
        : changed.map((c) => `${c.alarmName}: ${c.from} → ${c.to}`).join('; '),
  );
  const alarmed = changes.filter((c) => c.to === 'ALARM');
  if (alarmed.length === 0) throw new Error('no retraining alarm entered ALARM');

  const trainedVersions: number[] = [];
  for (const change of alarmed) {
    await timed(
      `${change.alarmName} → EventBridge rule → training workflow (drift trigger)`,
      () =>
        routeEvent(
          { ...change.event },
          {
            deliveries: {
              states: async (arn, input) => {
                const runner = stateMachineByArn(local, arn);
                if (runner === undefined)
                  throw new Error(`the drift rule targets ${arn}, not a state machine of the stack`);
                const trigger = JSON.parse(input) as TrainingPipelineInput;
                log(`        input: ${JSON.stringify(trigger.trigger)}`);
                const ended = await runTraining(local, model, (line) => log(`  ${line}`), {
                  runner,
                  input: trigger,
                });
                // The same model's other alarms start executions too: the pipeline reuses the run
                // that already trained on this training set (or drops a trigger while one runs).
                if (ended.outcome === 'reused' || ended.outcome === 'dropped') {
                  log(
                    `        ${ended.outcome}: ${ended.reasons?.join('; ') ?? 'an earlier run covers this training set'}`,
                  );
                  return;
                }
                if (
                  ended.record.status !== 'SUCCEEDED' ||
                  ended.version === undefined ||
                  ended.outcome !== 'succeeded'
                )
                  throw new Error(
                    `retraining ended ${ended.outcome ?? ended.record.status}${ended.reasons?.length ? `: ${ended.reasons.join('; ')}` : ''}`,
                  );
                const registered = await registryOf(local).getModelVersion(model.name, ended.version);
                log(
                  `        v${registered.version} registered (ROC-AUC ${registered.metrics.rocAuc?.toFixed(3) ?? 'n/a'}; gated against the champion v${first.version}; ${registered.stage})`,
                );
                trainedVersions.push(registered.version);
              },
            },
          },
        ),
      (delivered) => `${delivered.length} delivery: ${delivered.map((d) => d.rule).join(', ')}`,
    );
  }
  const candidate = trainedVersions.find((v) => v !== first.version);
  if (candidate === undefined) throw new Error('retraining registered no new version');

  // The registry publishes the Staging transition (the registry-events function); with
  // deployment.deployRetrained the model's OnRetrained rule starts the deployment workflow. moto does
  // not start state machines, so the harness routes the event through the rule as EventBridge would.
  const staged = (await stagesOf(local).history(model.name, candidate)).at(-1);
  if (staged === undefined || staged.to !== 'Staging') throw new Error(`v${candidate} did not reach Staging`);
  const event = {
    version: '0',
    id: randomUUID(),
    'detail-type': EVENT_DETAIL_TYPE.modelStageChanged,
    source: EVENT_SOURCE,
    account: local.provisioned.context.accountId,
    time: new Date().toISOString(),
    region: local.provisioned.context.region,
    resources: [],
    detail: { ...staged, eventId: `model/${model.name}/version/${candidate}/stage/${staged.sequence}` },
  };
  const traffic = trafficGenerator(url, model.name, instancesOf(downturn));
  try {
    const delivered = await timed(
      `v${candidate} in Staging (${staged.by}) → ModelStageChanged → the OnRetrained rule → the deployment workflow (canary)`,
      () =>
        routeEvent(event, {
          eventBusName: projectBusOf(local),
          deliveries: {
            states: async (_arn, input) => {
              const request = JSON.parse(input) as DeploymentRequest;
              await deploy(local, config, model.name, request.modelVersion, (line) => log(line), {
                reason: request.reason ?? '',
                request,
                expect: ['promoted'],
              });
            },
          },
        }),
      (routed) => `${routed.length} delivery: ${routed.map((d) => d.rule).join(', ')}`,
    );
    if (delivered.length === 0)
      throw new Error('no rule deployed the retrained version: is deployment.deployRetrained set?');
  } finally {
    await traffic.stop();
  }
  log(`      v${candidate} promoted: Production, alias ${CHAMPION_ALIAS}, all traffic`);
  await new Promise((resolve) => setTimeout(resolve, ALIAS_CACHE_MS + 100));
  const afterSince = Date.now();
  await sendRequests(url, model.name, instancesOf(downturn), requests);
  const after = await timed(
    `drift check of the new customers' traffic against v${candidate}'s profile (its reference mixes both populations, so the new one alone still differs from it)`,
    () => driftCheck(local, config, model.name, afterSince),
    describeCheck,
  );
  return `drift in ${drift.drifted.join(', ')} → ${alarmed.length} alarm(s) → retrained v${candidate} → promoted; against v${candidate}: ${after.drifted.length === 0 ? 'no drift' : `still ${after.drifted.join(', ')}`}`;
}

/** A request instance of raw features: the customer's latest values of the model's inputs. */
export function rawFeatureInstance(
  data: CreditDemoData,
  model: TrainedModelConfig,
  customerId: string,
): Record<string, DemoRow[string]> {
  const all = latestFeatures(data, customerId);
  return Object.fromEntries(
    model.features.map((ref) => {
      const name = ref.split(':')[1] as string;
      return [name, all[name] ?? null];
    }),
  );
}

/**
 * The customer the printed examples use (the 42nd, or the last of a smaller data set), and its
 * requests: its latest raw features, and its entity key.
 */
function exampleRequests(data: CreditDemoData, model: TrainedModelConfig) {
  const profiles = data.rows[CREDIT_VIEWS.profile];
  const customer = String(profiles[Math.min(41, profiles.length - 1)]?.customer_id);
  return {
    customer,
    raw: { features: rawFeatureInstance(data, model, customer) } satisfies PredictInstance,
    entity: { entity: { customer_id: customer } } satisfies PredictInstance,
  };
}

const predictUrl = (url: string, model: string) =>
  `${url}${API_ROUTES.predict.replace('{model}', encodeURIComponent(model))}`;

/** What to try, printed once the API serves: curl for both request kinds, health, the CLI. */
function tryLines(
  url: string,
  model: string,
  example: ReturnType<typeof exampleRequests>,
  cliFindsStack: boolean,
): string[] {
  const curl = (body: PredictInstance) =>
    `curl -s -X POST ${predictUrl(url, model)} -H 'content-type: application/json' -d '${JSON.stringify(body)}'`;
  const pairs = (record: Readonly<Record<string, unknown>>) =>
    Object.entries(record)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
  return [
    curl(example.raw),
    curl(example.entity),
    `curl -s -X POST ${url}${API_ROUTES.feedback.replace('{model}', encodeURIComponent(model))} -H 'content-type: application/json' -d '{"requestId":"<the requestId a prediction answered>","outcome":true}'`,
    `curl -s ${url}${API_ROUTES.health}`,
    `npx mlops predict ${model} --url ${url} --features ${pairs(example.raw.features)}`,
    `npx mlops predict ${model} --url ${url} --entity customer_id=${example.customer}`,
    ...(cliFindsStack ? [`npx mlops models versions ${model}`, `npx mlops deploy status ${model}`] : []),
  ];
}

/** One feedback request over HTTP: its status and body, whatever they are. */
async function feedback(
  url: string,
  model: string,
  body: FeedbackRequest,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}${API_ROUTES.feedback.replace('{model}', encodeURIComponent(model))}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

/** One predict request over HTTP; a non-2xx answer is an error with its body. */
async function predict(url: string, model: string, body: PredictRequest): Promise<PredictResponse> {
  const response = await fetch(predictUrl(url, model), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${predictUrl(url, model)} answered ${response.status}: ${text}`);
  return JSON.parse(text) as PredictResponse;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) throw new InvalidArgumentError('must be a port number 0-65535');
  return port;
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 200 || n > 20_000)
    throw new InvalidArgumentError(
      'must be a whole number from 200 (fewer leave too few held-out rows for the gates) to 20000',
    );
  return n;
}

function parseRate(text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
}

function parseSeed(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 2 ** 31 - 1) throw new InvalidArgumentError('must be a whole number');
  return n;
}

export async function start(options: StartOptions, out: (line: string) => void): Promise<number> {
  const overrides = configOverrides(options);
  if (options.assembly !== undefined && Object.keys(overrides).length > 0) {
    out('error: --capture-sample-rate and --scenario need a fresh synthesis: leave out --assembly');
    return 1;
  }
  if (options.scenario !== undefined && options.captureSampleRate === 0) {
    out(
      `error: --scenario ${options.scenario} needs capture (${options.scenario === 'canary' ? 'the PSI of the predictions' : 'the drift check reads it'}): leave out --capture-sample-rate 0`,
    );
    return 1;
  }
  const cleanup = new Cleanup();
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    out(`\n${signal}: stopping…`);
    void cleanup.all(out).then(() => process.exit(signal === 'SIGINT' ? 0 : 143));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const config = resolveConfig(overrides);
  const views = demoViews(config);
  const models = demoModels(config);
  const steps = new Steps(options.scenario === undefined ? 9 : 10, out);
  let recorded = false;
  try {
    const emulator = await steps.run(
      'Starting the AWS API emulator',
      () => startEmulator(),
      (e) => `${e.kind === 'moto' ? `moto server (pid ${e.pid})` : 'AWS_ENDPOINT_URL'} at ${e.endpoint}`,
    );
    cleanup.add('the emulator', () => emulator.stop());
    // Every client (lambdas/shared/clients.ts) reads these when first built, i.e. from here on.
    process.env.AWS_ENDPOINT_URL = emulator.endpoint;
    process.env.AWS_REGION ??= 'us-east-1';
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    // The functions' EMF metrics (in the functions' log) reach the emulator's CloudWatch, as on AWS.
    const emf = forwardEmf();
    cleanup.add('the metrics forwarder', () => emf.stop());

    const given = options.assembly;
    const assembly = await steps.run(
      given === undefined
        ? `Synthesizing stack ${config.stackName} with its functions bundled`
        : `Reading the synthesized stack in ${given}`,
      async () =>
        given === undefined ? synthesizeInChild({ context: { mlops: overrides } }) : loadAssembly(given),
      (a) => `${Object.keys(a.stacks[0]?.template.Resources ?? {}).length} resources`,
    );
    if (given === undefined)
      cleanup.add('the synthesized assembly', () => rmSync(assembly.dir, { recursive: true, force: true }));

    const local = await steps.run(
      'Provisioning it on the emulator',
      async () => {
        const stack = await startLocalStack(assembly);
        recorded = await recordForCli(stack, emulator, cleanup);
        if (recorded)
          out(`      (the mlops CLI finds it meanwhile: ${path.relative(process.cwd(), localStateFile())})`);
        return stack;
      },
      (l) =>
        `${Object.keys(l.provisioned.buckets).length} buckets, ${Object.keys(l.provisioned.tables).length} tables, ${l.lambdas.logicalIds.length} functions`,
    );

    const data = await steps.run(
      `Generating the credit-default demo data (${options.customers} customers, 6 months, seed ${options.seed})`,
      async () => generateCreditDemo({ customers: options.customers, seed: options.seed }),
      (d) =>
        `${Object.entries(d.rows)
          .map(([view, rows]) => `${view} ${rows.length} rows`)
          .join(', ')}; default rate ${(d.defaultRate * 100).toFixed(1)} %`,
    );
    await steps.run(
      'Ingesting it into the offline store',
      () => ingest(local, views, data),
      (c) => c,
    );
    await steps.run(
      'Materializing the online views',
      () => materialize(local, views),
      (c) => c,
    );

    const trained: Trained[] = [];
    await steps.run(
      `Training ${models.map((m) => m.name).join(', ')} (the training state machine, from the template)`,
      async () => {
        for (const model of models) trained.push(await train(local, model, out));
      },
      () =>
        trained
          .map((t) => `${t.model} v${t.version} (ROC-AUC ${t.rocAuc?.toFixed(3) ?? 'n/a'}, Staging)`)
          .join(', '),
    );
    await steps.run(
      'Deploying through the canary workflow (the first deployment: nothing serves yet, so it promotes at once)',
      async () => {
        for (const t of trained)
          await deploy(local, config, t.model, t.version, out, {
            reason: 'npm start: the demo deploys what it trained',
          });
      },
      () =>
        trained.map((t) => `${t.model} v${t.version} live: Production, alias ${CHAMPION_ALIAS}`).join(', '),
    );

    const served = models[0] as TrainedModelConfig;
    const adapter = await steps.run(
      `Serving the inference API (${served.name} v${trained[0]?.version} on its function's live alias)`,
      async () => {
        const functions = servingFunctionsOf(local.stack, local.provisioned);
        return startHttpAdapter({
          lambdas: local.lambdas,
          functions,
          port: options.port,
          host: options.host,
          onFunctionError: (error, model) => out(`${model}: ${error.name}: ${error.message}`),
        }).catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EADDRINUSE'
            ? new Error(
                `port ${options.port} is in use; pick another with: npm start -- --port <port> (0: any free port)`,
              )
            : error;
        });
      },
      (a) => a.url,
    );
    cleanup.add('the inference API', () => adapter.close());
    // `mlops predict` in another terminal calls the port really bound (--port 0 too).
    if (recorded) recordInferenceApiUrl(adapter.url);

    const example = exampleRequests(data, served);
    out('');
    out(`Ready in ${steps.elapsed()}. The inference API is at ${adapter.url}. Try:`);
    for (const line of tryLines(adapter.url, served.name, example, recorded)) out(`  ${line}`);
    out('');
    if (options.scenario === 'canary') {
      const profiles = data.rows[CREDIT_VIEWS.profile];
      const instances = profiles
        .slice(0, 300)
        .map((p) => ({ features: rawFeatureInstance(data, served, String(p.customer_id)) }));
      const first = trained[0] as Trained;
      await steps.run(
        `Canary scenario: a faulty candidate of ${served.name} rolled back, a good one promoted (steps ${config.deployment.steps.join(' → ')} %, ${config.deployment.bakeSeconds} s bakes)`,
        () => canaryScenario(local, config, first, adapter.url, instances, out),
        (summary) => summary,
      );
      out('');
      // The adapter reads the alias's routing at most once per ALIAS_CACHE_MS: past that, all on the promoted one.
      await new Promise((resolve) => setTimeout(resolve, ALIAS_CACHE_MS + 100));
    }
    if (options.scenario === 'drift') {
      const first = trained[0] as Trained;
      await steps.run(
        `Drift scenario: ${served.name}'s traffic shifts; drift detected → alarm → retraining → gate against the champion → canary → promotion`,
        () =>
          driftScenario({
            local,
            config,
            views,
            model: served,
            first,
            url: adapter.url,
            data,
            options,
            emf,
            log: out,
          }),
        (summary) => summary,
      );
      out('');
      await new Promise((resolve) => setTimeout(resolve, ALIAS_CACHE_MS + 100));
    }
    if (options.once) {
      const raw = await predict(adapter.url, served.name, example.raw);
      out(`prediction (raw features of ${example.customer}): ${JSON.stringify(raw)}`);
      const byEntity = await predict(adapter.url, served.name, example.entity);
      out(
        `prediction (entity ${example.customer}, features from the online store): ${JSON.stringify(byEntity)}`,
      );
      // The outcome observed later goes back with the requestId the prediction answered (signed:
      // one the API did not answer is refused).
      const taken = await feedback(adapter.url, served.name, { requestId: raw.requestId, outcome: true });
      out(`feedback (for ${raw.requestId}): ${taken.status} ${taken.text}`);
      const refused = await feedback(adapter.url, served.name, { requestId: 'made-up-id', outcome: true });
      out(`feedback (for a made-up requestId): ${refused.status} ${refused.text}`);
      await cleanup.all(out);
      return 0;
    }
    out('Ctrl-C stops everything.');
    await new Promise<never>(() => {});
    return 0;
  } catch (error) {
    // Stopped by a signal: what failed failed because its emulator went away.
    if (stopping) {
      await cleanup.all(out);
      return 0;
    }
    out(`error: ${(error as Error).message}`);
    await cleanup.all(out);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

const program = new Command('npm start')
  .description('the whole lifecycle locally: emulator, stack, demo data, training, promotion, serving')
  .option('--once', 'run the flow, make a prediction and exit', false)
  .option('--port <port>', 'HTTP port of the inference API (0: any free port)', parsePort, DEFAULT_SERVE_PORT)
  .option('--host <host>', 'interface to listen on', '127.0.0.1')
  .option('--customers <n>', 'customers in the demo data', parseCount, 2000)
  .option('--seed <n>', 'seed of the demo data', parseSeed, 7)
  .option(
    '--capture-sample-rate <rate>',
    "share of predict requests captured, 0 to 1 (default: mlops.config.ts's serving.captureSampleRate)",
    parseRate,
  )
  .option('--assembly <dir>', "use this cloud assembly of the project's app (synthesized with bundling)")
  .addOption(
    new Option(
      '--scenario <name>',
      'after serving starts, show a scenario: canary (a faulty candidate rolled back, a good one promoted), drift (drift detected → alarm → retraining → gate → canary → promotion)',
    ).choices(SCENARIOS),
  );

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  program.parse();
  const logFile = path.join(localStateDir(), FUNCTIONS_LOG);
  const terminal = divertStdout(logFile);
  terminal.line(`(the functions' logs go to ${path.relative(process.cwd(), logFile)})`);
  const code = await start(program.opts<StartOptions>(), terminal.line);
  terminal.restore();
  process.exit(code);
}
