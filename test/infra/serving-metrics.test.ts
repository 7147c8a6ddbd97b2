/**
 * The serving metric contract (issue 11, item 6): what the inference functions emit (the recorders
 * of lambdas/shared/metrics.ts, EMF printed to stdout) is what InferenceApi's `metricXxx()` methods
 * read — namespace, name, unit and every dimension with its value — so alarms and dashboards never
 * watch an empty metric. test/unit/serving-metrics.test.ts holds the recorders to SERVING_METRICS.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { beforeAll, describe, expect, it } from 'vitest';
import { SERVICES, SERVING_METRICS, type ServingMetric } from '../../lambdas/shared/metric-names.js';
import {
  createMetrics,
  recordCapture,
  recordColdStart,
  recordFeedback,
  recordIntegrityFailure,
  recordPredictError,
  recordPrediction,
  recordSigningKeyFailure,
} from '../../lambdas/shared/metrics.js';
import { buildApp, cdkJsonContext } from '../../lib/app.js';
import type { InferenceApi } from '../../lib/inference-api.js';
import { emittedSync } from '../support/emf.js';
import { NO_BUNDLING } from '../support/no-bundling.js';

const NAMESPACE = 'TestServingMetrics';
const MODEL = 'churn';

/** Every dimension set a metric is emitted under (EMF: its own set and each rollup). */
function emittedSets(key: ServingMetric): string[] {
  const spec = SERVING_METRICS[key];
  return [spec.dimensions, ...('rollups' in spec ? spec.rollups : [])].map((s) => [...s].sort().join());
}

/** One emitted metric as CloudWatch identifies it: namespace, name, unit, dimensions with values. */
function identity(
  namespace: string,
  name: string,
  unit: string | undefined,
  dimensions: Record<string, string>,
) {
  const sorted = Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b));
  return JSON.stringify([namespace, name, unit, sorted]);
}

/** Everything the serving recorders emit for model MODEL (version 4, variant default), as identities. */
function emittedByRecorders(): Set<string> {
  const { docs } = emittedSync(() => {
    const metrics = createMetrics({ namespace: NAMESPACE, serviceName: SERVICES.inference });
    const by = { model: MODEL, version: 4, variant: 'default' };
    recordPrediction(metrics, by, { instances: 5, latencyMs: 3, modelLatencyMs: 1 });
    recordPredictError(metrics, by, { code: 'InternalError', status: 500, latencyMs: 2 });
    recordColdStart(metrics, by, 120);
    recordIntegrityFailure(metrics, MODEL);
    recordSigningKeyFailure(metrics, MODEL);
    recordCapture(metrics, MODEL, 3, 1);
    recordFeedback(metrics, MODEL);
  });
  const found = new Set<string>();
  for (const doc of docs) {
    for (const directive of doc._aws.CloudWatchMetrics)
      for (const set of directive.Dimensions)
        for (const metric of directive.Metrics)
          found.add(
            identity(
              directive.Namespace,
              metric.Name,
              metric.Unit,
              Object.fromEntries(set.map((d) => [d, String(doc[d])])),
            ),
          );
  }
  return found;
}

const methods: [string, ServingMetric, (api: InferenceApi) => cloudwatch.Metric][] = [
  ['metricLatency', 'latency', (api) => api.metricLatency(MODEL)],
  ['metricModelLatency', 'modelLatency', (api) => api.metricModelLatency(MODEL)],
  ['metricPredictions', 'predictions', (api) => api.metricPredictions(MODEL)],
  ['metricRequests', 'requests', (api) => api.metricRequests(MODEL)],
  ['metricErrors', 'errors', (api) => api.metricErrors(MODEL)],
  ['metricServerErrors', 'serverErrors', (api) => api.metricServerErrors(MODEL)],
  ['metricColdStarts', 'coldStarts', (api) => api.metricColdStarts(MODEL)],
  ['metricInitDuration', 'initDuration', (api) => api.metricInitDuration(MODEL)],
  ['metricIntegrityFailures', 'integrityFailures', (api) => api.metricIntegrityFailures(MODEL)],
  ['metricSigningKeyFailures', 'signingKeyFailures', (api) => api.metricSigningKeyFailures(MODEL)],
  ['metricCaptured', 'captured', (api) => api.metricCaptured(MODEL)],
  ['metricCaptureFailures', 'captureFailures', (api) => api.metricCaptureFailures(MODEL)],
  ['metricFeedback', 'feedback', (api) => api.metricFeedback(MODEL)],
];

describe('serving metric contract', () => {
  let api: InferenceApi;
  beforeAll(() => {
    const app = new App({
      outdir: mkdtempSync(path.join(tmpdir(), 'mlops-serving-metrics-')),
      context: { ...cdkJsonContext(), ...NO_BUNDLING },
    });
    const { stack } = buildApp(app, { models: [{ name: MODEL, gates: {} }], metricsNamespace: NAMESPACE });
    if (stack.inference === undefined) throw new Error('the stack serves no model');
    api = stack.inference;
  });

  it('has a construct method for every serving metric, and nothing else', () => {
    expect(methods.map(([, key]) => key).sort()).toEqual(Object.keys(SERVING_METRICS).sort());
    const declared = Object.getOwnPropertyNames(Object.getPrototypeOf(api)).filter((n) =>
      /^metric[A-Z]/.test(n),
    );
    expect(declared.sort()).toEqual(methods.map(([name]) => name).sort());
  });

  it.each(methods)(
    '%s reads the metric as emitted: namespace, name, unit, statistic, per-model dimensions',
    (_, key, method) => {
      const metric = method(api);
      const spec = SERVING_METRICS[key];
      expect(metric.namespace).toBe(NAMESPACE);
      expect(metric.metricName).toBe(spec.name);
      expect(metric.unit).toBe(spec.unit);
      expect(metric.statistic).toBe(spec.statistic);
      expect(metric.dimensions).toEqual({ service: SERVICES.inference, model: MODEL });
      // CloudWatch matches all dimensions: the per-model set must be one the function emits.
      expect(emittedSets(key)).toContain(
        Object.keys(metric.dimensions ?? {})
          .sort()
          .join(),
      );
    },
  );

  it.each(methods)('%s reads a metric the recorders emit, dimension values included', (_, _key, method) => {
    const metric = method(api);
    expect([...emittedByRecorders()]).toContain(
      identity(metric.namespace, metric.metricName, metric.unit, metric.dimensions ?? {}),
    );
  });

  it('reads per-version and per-variant metrics as the recorders emit them', () => {
    const emitted = emittedByRecorders();
    for (const metric of [
      api.metric('predictions', { model: MODEL, version: 4, variant: 'default' }),
      api.metric('latency', { model: MODEL, version: 4 }),
      api.metric('serverErrors', { model: MODEL, version: 4 }),
      api.metric('errors', { model: MODEL, version: 4, errorType: 'InternalError' }),
      api.metric('coldStarts', { model: MODEL, version: 4 }),
    ])
      expect([...emitted]).toContain(
        identity(metric.namespace, metric.metricName, metric.unit, metric.dimensions ?? {}),
      );
  });

  it('narrows to a version, variant or error type only where that set is emitted', () => {
    expect(api.metric('predictions', { model: MODEL, version: 3, variant: 'default' }).dimensions).toEqual({
      service: SERVICES.inference,
      model: MODEL,
      version: '3',
      variant: 'default',
    });
    expect(api.metric('latency', { model: MODEL, version: 3 }).dimensions).toEqual({
      service: SERVICES.inference,
      model: MODEL,
      version: '3',
    });
    expect(
      api.metric('errors', { model: MODEL, version: 3, errorType: 'MissingFeature' }).dimensions,
    ).toMatchObject({
      errorType: 'MissingFeature',
    });
    expect(() => api.metric('integrityFailures', { model: MODEL, version: 3 })).toThrow(
      /ModelIntegrityFailures is emitted with dimensions \[service, model\], not \[model, service, version\]/,
    );
    expect(() => api.metric('latency', { model: MODEL, variant: 'b' })).toThrow(/PredictLatency/);
  });
});
