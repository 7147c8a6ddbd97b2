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
      const mine = docs.filter((d) => d._aws.CloudWatchMetrics[0]?.Metrics[0]?.Name === spec.name);
      const sets = [spec.dimensions, ...(spec.rollups ?? [])];
      // Latency and requests are emitted by both the prediction and the error: each set once per call.
      const distinct = [...new Set(mine.map((d) => JSON.stringify(d._aws.CloudWatchMetrics[0]?.Dimensions)))];
      expect(distinct, key).toEqual(sets.map((set) => JSON.stringify([[...set]])));
      expect(mine.length % sets.length, key).toBe(0);
      for (const doc of mine) {
        expect(doc._aws.CloudWatchMetrics[0]?.Metrics).toEqual([{ Name: spec.name, Unit: spec.unit }]);
        expect(doc._aws.CloudWatchMetrics[0]?.Namespace).toBe('ContractTest');
        for (const name of doc._aws.CloudWatchMetrics[0]?.Dimensions[0] ?? [])
          expect(doc[name], `${key}.${name}`).toBe(values[name]);
      }
    }
    const value = (name: string) =>
      docs.find((d) => d._aws.CloudWatchMetrics[0]?.Metrics[0]?.Name === name)?.[name];
    expect(value(SERVING_METRICS.predictions.name)).toBe(5);
    expect(value(SERVING_METRICS.initDuration.name)).toBe(120);
    expect(value(SERVING_METRICS.captured.name)).toBe(3);
    expect(value(SERVING_METRICS.captureFailures.name)).toBe(1);
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
