import { afterEach, describe, expect, it, vi } from 'vitest';
import { type MetricSpec, SERVING_METRICS, type ServingMetric } from '../../lambdas/shared/metric-names.js';
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
import { type EmfDoc, emittedSync } from '../support/emf.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** EMF documents printed by `run`, which must warn nothing. */
function emitted(run: () => void): EmfDoc[] {
  const { docs, warnings } = emittedSync(run);
  expect(warnings).toEqual([]);
  return docs;
}

describe('serving metrics', () => {
  it('emits every SERVING_METRICS spec under exactly its dimensions and rollups, with its unit', () => {
    const metrics = createMetrics({ namespace: 'ContractTest', serviceName: 'inference' });
    const by = { model: 'churn', version: 4, variant: 'default' };
    const docs = emitted(() => {
      recordPrediction(metrics, by, { instances: 5, latencyMs: 3, modelLatencyMs: 1 });
      recordPredictError(metrics, by, { code: 'InternalError', status: 500, latencyMs: 2 });
      recordColdStart(metrics, by, 120);
      recordIntegrityFailure(metrics, 'churn');
      recordSigningKeyFailure(metrics, 'churn');
      recordCapture(metrics, 'churn', 3, 1);
      recordFeedback(metrics, 'churn');
    });
    const values: Record<string, string> = {
      service: 'inference',
      model: 'churn',
      version: '4',
      variant: 'default',
      errorType: 'InternalError',
    };
    for (const [key, spec] of Object.entries(SERVING_METRICS) as [ServingMetric, MetricSpec][]) {
      const directives = docs.flatMap((doc) =>
        doc._aws.CloudWatchMetrics.filter((d) => d.Metrics.some((m) => m.Name === spec.name)).map((d) => ({
          doc,
          directive: d,
        })),
      );
      expect(directives.length, key).toBeGreaterThan(0);
      const sets = [spec.dimensions, ...(spec.rollups ?? [])].map((set) => [...set]);
      for (const { doc, directive } of directives) {
        // Exactly its own dimension sets, in one directive, with its unit, once per document.
        expect(directive.Dimensions, key).toEqual(sets);
        expect(
          directive.Metrics.filter((m) => m.Name === spec.name),
          key,
        ).toEqual([{ Name: spec.name, Unit: spec.unit }]);
        expect(directive.Namespace).toBe('ContractTest');
        for (const name of sets.flat()) expect(doc[name], `${key}.${name}`).toBe(values[name]);
        expect(typeof doc[spec.name], key).toBe('number');
      }
    }
    const value = (name: string) => docs.find((d) => typeof d[name] === 'number')?.[name];
    expect(value(SERVING_METRICS.predictions.name)).toBe(5);
    expect(value(SERVING_METRICS.initDuration.name)).toBe(120);
    expect(value(SERVING_METRICS.captured.name)).toBe(3);
    expect(value(SERVING_METRICS.captureFailures.name)).toBe(1);
  });

  it('writes one document per recorded event: a prediction is one line, not one per metric and set', () => {
    const metrics = createMetrics({ namespace: 'ContractTest', serviceName: 'inference' });
    const by = { model: 'churn', version: 4, variant: 'b' };
    const docs = emitted(() => {
      recordPrediction(metrics, by, { instances: 2, latencyMs: 1.5, modelLatencyMs: 0.25 });
      recordPrediction(metrics, by, { instances: 7, latencyMs: 2.5, modelLatencyMs: 0.5 });
    });
    expect(docs).toHaveLength(2);
    expect(docs[1]).toMatchObject({
      service: 'inference',
      model: 'churn',
      version: '4',
      variant: 'b',
      [SERVING_METRICS.requests.name]: 1,
      [SERVING_METRICS.predictions.name]: 7,
      [SERVING_METRICS.latency.name]: 2.5,
      [SERVING_METRICS.modelLatency.name]: 0.5,
    });
    expect(typeof docs[1]?._aws.Timestamp).toBe('number');
  });

  it('leaves out a non-finite value and keeps the others (EMF takes numbers only)', () => {
    const metrics = createMetrics({ namespace: 'ContractTest', serviceName: 'inference' });
    const docs = emitted(() =>
      recordPrediction(
        metrics,
        { model: 'churn', version: 1, variant: 'default' },
        { instances: 1, latencyMs: Number.NaN, modelLatencyMs: 0.5 },
      ),
    );
    expect(docs).toHaveLength(1);
    const names = docs[0]?._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => m.Name));
    expect(names).not.toContain(SERVING_METRICS.latency.name);
    expect(names).toContain(SERVING_METRICS.modelLatency.name);
    expect(docs[0]?.[SERVING_METRICS.latency.name]).toBeUndefined();
  });

  it('writes nothing when Powertools metrics are disabled (POWERTOOLS_METRICS_DISABLED)', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    try {
      const metrics = createMetrics({ namespace: 'ContractTest', serviceName: 'inference' });
      expect(
        emitted(() =>
          recordPrediction(
            metrics,
            { model: 'm', version: 1, variant: 'default' },
            {
              instances: 1,
              latencyMs: 1,
              modelLatencyMs: 1,
            },
          ),
        ),
      ).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('leaves the Metrics instance’s own stored metrics and dimensions alone', () => {
    const metrics = createMetrics({ namespace: 'ContractTest', serviceName: 'inference' });
    metrics.addDimension('view', 'v');
    metrics.addMetric('Other', 'Count', 1);
    emitted(() => recordFeedback(metrics, 'churn'));
    const docs = emitted(() => metrics.publishStoredMetrics());
    expect(docs).toHaveLength(1);
    expect(docs[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service', 'view']]);
    expect(docs[0]?.model).toBeUndefined();
  });

  it('emits nothing for zero capture counts', () => {
    const metrics = createMetrics({ namespace: 'ContractTest', serviceName: 'inference' });
    expect(emitted(() => recordCapture(metrics, 'churn', 0, 0))).toEqual([]);
  });
});
