import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ERROR_STATUS,
  type ErrorBody,
  type ErrorCode,
  type PredictResponse,
} from '../../lambdas/serving/contract.js';
import { createInferenceApp, type ProxyEvent } from '../../lambdas/serving/http.js';
import { API_ROUTES } from '../../lambdas/shared/layout.js';
import { createMetrics } from '../../lambdas/shared/metrics.js';
import { type FuzzSchema, fuzzBodies } from '../support/fuzz-bodies.js';
import { issuedRequestId, testRequestIds } from '../support/request-ids.js';
import { MemoryCapture, MemoryFeatureSource } from '../support/serving-fakes.js';
import { SERVING_ENTITY, servedModel, servingView, servingViews } from '../support/serving-model.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const BODIES = 10_000;
const MAX_BATCH = 20;

const schema: FuzzSchema = {
  features: servingView.features.map((f) => ({
    name: f.name,
    type: f.type,
    ...(f.categories === undefined ? {} : { categories: f.categories }),
  })),
  entity: { name: SERVING_ENTITY, ids: ['c-1', 'c-2', 'c-stale'] },
  maxBatchInstances: MAX_BATCH,
  // Ids the app answered for 4-instance predicts (the bodies' instances are 0 to 3 or out of range).
  requestIds: Array.from({ length: 20 }, (_, k) => issuedRequestId('churn', `p-${k}`, NOW, 4)),
};

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => process.on('unhandledRejection', onUnhandled));
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('inference API fuzz', () => {
  it(`answers ${BODIES} random and malformed bodies with 2xx or 4xx only: no 5xx, no throw, no unhandled rejection`, async () => {
    const { model } = await servedModel('binary', 'gbdt', 'churn');
    const capture = new MemoryCapture();
    const features = new MemoryFeatureSource({
      entity: SERVING_ENTITY,
      features: schema.features.map((f) => f.name),
      ttlMs: 86_400_000,
      entities: {
        'c-1': { eventMs: NOW - 1000, values: { x1: 0.5, x2: 7, visits: 2n, segment: 'b', vip: true } },
        'c-2': { eventMs: NOW - 5000, values: { x1: -1, x2: 1, visits: null, segment: 'c', vip: false } },
        'c-stale': { eventMs: NOW - 1000, values: { x2: 3 } },
      },
    });
    const handle = createInferenceApp({
      modelName: 'churn',
      model: () => model,
      features,
      capture,
      requestIds: testRequestIds('churn'),
      metrics: createMetrics({ namespace: 'FuzzTest', serviceName: 'inference' }),
      maxBatchInstances: MAX_BATCH,
      captureSampleRate: 0.2,
      views: servingViews,
      now: () => NOW,
    });
    // Thousands of EMF documents: kept out of the test output.
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const byStatus = new Map<number, number>();
    const byKind = new Map<string, Set<number>>();
    const codes = new Set<ErrorCode>();
    let i = 0;
    try {
      for (const fuzz of fuzzBodies(20261203, BODIES, schema)) {
        const event: ProxyEvent = {
          resource: API_ROUTES[fuzz.route],
          path: API_ROUTES[fuzz.route].replace('{model}', 'churn'),
          httpMethod: 'POST',
          pathParameters: { model: 'churn' },
          headers: fuzz.contentType === undefined ? {} : { 'Content-Type': fuzz.contentType },
          body: fuzz.body,
          isBase64Encoded: fuzz.isBase64Encoded,
        };
        const result = await handle(event, { awsRequestId: `fuzz-${i}` });
        const what = `body ${i} (${fuzz.kind}): ${String(fuzz.body).slice(0, 300)}`;
        expect(result.statusCode, `${what} → ${result.body.slice(0, 300)}`).toBeGreaterThanOrEqual(200);
        expect(result.statusCode, `${what} → ${result.body.slice(0, 300)}`).toBeLessThan(500);
        const body = JSON.parse(result.body) as ErrorBody | PredictResponse;
        if (result.statusCode >= 400) {
          const { error } = body as ErrorBody;
          expect(ERROR_STATUS[error.code], what).toBe(result.statusCode);
          expect(error.message.length, what).toBeGreaterThan(0);
          codes.add(error.code);
        } else if (fuzz.route === 'predict') {
          const answer = body as PredictResponse;
          expect(answer.predictions.length, what).toBeGreaterThan(0);
          for (const p of answer.predictions) expect(Number.isFinite(p.score), what).toBe(true);
        }
        byStatus.set(result.statusCode, (byStatus.get(result.statusCode) ?? 0) + 1);
        const statuses = byKind.get(fuzz.kind) ?? new Set();
        statuses.add(result.statusCode);
        byKind.set(fuzz.kind, statuses);
        // Let the worker's own I/O through now and then (most answers resolve in microtasks).
        if (++i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      vi.restoreAllMocks();
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(i).toBe(BODIES);
    expect(unhandled).toEqual([]);
    // The run reached past the checks: real predictions and feedback, and the refusals' range.
    expect(byStatus.get(200) ?? 0).toBeGreaterThan(200);
    expect(byStatus.get(202) ?? 0).toBeGreaterThan(50);
    for (const code of [
      'UnsupportedMediaType',
      'InvalidJson',
      'InvalidRequest',
      'BatchTooLarge',
      'PayloadTooLarge',
      'MissingFeature',
      'UnknownFeature',
      'InvalidFeatureType',
      'InvalidFeatureValue',
      'UnknownCategory',
      'InvalidEntity',
      'UnknownEntity',
      'UnknownRequest',
    ] as const)
      expect(codes, code).toContain(code);
    expect(capture.records.length).toBeGreaterThan(0);
  }, 120_000);
});
