import { beforeAll, describe, expect, it, vi } from 'vitest';
import { assignVariant } from '../../lambdas/experiments/assignment.js';
import type { Experiment, RecordOutcomeInput } from '../../lambdas/experiments/experiment-store.js';
import type { PredictResponse } from '../../lambdas/serving/contract.js';
import { experimentRouter } from '../../lambdas/serving/experiments.js';
import { createInferenceApp, type ProxyEvent } from '../../lambdas/serving/http.js';
import type { LoadedModel } from '../../lambdas/serving/ports.js';
import { type RequestIds, requestRef } from '../../lambdas/serving/request-ids.js';
import { scoreRows } from '../../lambdas/serving/scorer.js';
import { ConflictError, DependencyError, NotFoundError } from '../../lambdas/shared/errors.js';
import { API_ROUTES } from '../../lambdas/shared/layout.js';
import { createMetrics } from '../../lambdas/shared/metrics.js';
import { issuedRequestId, testRequestIds } from '../support/request-ids.js';
import { MemoryCapture, MemoryFeatureSource } from '../support/serving-fakes.js';
import { SERVING_ENTITY, servedModel, servingViews } from '../support/serving-model.js';

const MODEL = 'churn';
const NOW = Date.parse('2026-12-02T09:30:00Z');
const raw = { x1: 1.5, x2: 2, visits: 3, segment: 'a', vip: false };
let control: LoadedModel;
let treatment: LoadedModel;

beforeAll(async () => {
  control = (await servedModel('binary', 'linear', MODEL)).model;
  treatment = { ...(await servedModel('binary', 'gbdt', MODEL)).model, version: control.version + 1 };
});

const experiment = (extra: Partial<Experiment> = {}): Experiment => ({
  id: 'churn-ab',
  model: MODEL,
  control: control.version,
  treatment: control.version + 1,
  allocation: 50,
  unitKey: SERVING_ENTITY,
  primaryMetric: 'conversion',
  guardrails: [],
  minimumDetectableEffect: 0.02,
  baselineRate: 0.1,
  alpha: 0.05,
  power: 0.8,
  maxDurationDays: 14,
  requiredSample: { control: 100, treatment: 100, total: 200 },
  status: 'running',
  createdAt: '2026-12-01T00:00:00Z',
  createdBy: 'alice',
  ...extra,
});

function setup(running: () => Promise<Experiment[]>, requestIds: RequestIds = testRequestIds(MODEL)) {
  const counted = new Set<string>();
  const outcomes: RecordOutcomeInput[] = [];
  let reads = 0;
  const assignments: Record<string, number> = {};
  const router = experimentRouter({
    controlVersion: () => control.version,
    running: async () => {
      reads++;
      return running();
    },
    load: async () => treatment,
    recordOutcome: async (input: RecordOutcomeInput) => {
      outcomes.push(input);
      if (input.experimentId !== 'churn-ab') throw new NotFoundError('experiment', { field: 'experimentId' });
      const e = (await running())[0];
      if (e === undefined) throw new ConflictError('experimentId: stopped');
      const variant = assignVariant({ id: e.id, treatmentShare: e.allocation }, input.unitId) as 'control';
      if (counted.has(input.idempotencyKey)) return { counted: false, variant };
      counted.add(input.idempotencyKey);
      return { counted: true, variant };
    },
    recordAssignments: async (_id, counts) => {
      for (const [v, n] of Object.entries(counts)) assignments[v] = (assignments[v] ?? 0) + (n ?? 0);
    },
  });
  const capture = new MemoryCapture();
  const handle = createInferenceApp({
    modelName: MODEL,
    model: () => control,
    features: new MemoryFeatureSource({ entity: SERVING_ENTITY, features: [], ttlMs: 1, entities: {} }),
    capture,
    requestIds,
    metrics: createMetrics({ namespace: 'ServingTest', serviceName: 'inference' }),
    maxBatchInstances: 50,
    captureSampleRate: 1,
    captureBudgetMs: 50,
    views: servingViews,
    experiments: router,
    now: () => NOW,
  });
  return { router, handle, capture, reads: () => reads, assignments, outcomes };
}

const event = (route: 'predict' | 'feedback', body: unknown): ProxyEvent => ({
  resource: API_ROUTES[route],
  httpMethod: 'POST',
  pathParameters: { model: MODEL },
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('serving with an A/B experiment', () => {
  it('scores each unit with its sticky variant’s model and names variant and version', async () => {
    const { router, handle, capture } = setup(async () => [experiment()]);
    await router.ready();
    const units = Array.from({ length: 20 }, (_, i) => `user-${i}`);
    const result = await handle(
      event('predict', { instances: units.map((u) => ({ features: raw, unitId: u })) }),
      {
        awsRequestId: 'r-1',
      },
    );
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as PredictResponse;
    expect(body.variant).toBe('mixed');
    const [controlScore] = await scoreRows(control, [raw]);
    const [treatmentScore] = await scoreRows(treatment, [raw]);
    body.predictions.forEach((p, i) => {
      const variant = assignVariant({ id: 'churn-ab', treatmentShare: 50 }, units[i] as string);
      expect(p.variant).toBe(variant);
      expect(p.version).toBe(variant === 'treatment' ? treatment.version : control.version);
      expect(p.score).toBe(variant === 'treatment' ? treatmentScore?.score : controlScore?.score);
    });
    expect(capture.records.map((r) => (r.kind === 'prediction' ? r.variant : ''))).toEqual(
      body.predictions.map((p) => p.variant),
    );
    // Sticky: the same unit again lands in the same variant; no unit: outside the experiment.
    const again = JSON.parse(
      (await handle(event('predict', { features: raw, unitId: units[3] }), { awsRequestId: 'r-2' })).body,
    ) as PredictResponse;
    expect(again.variant).toBe(body.predictions[3]?.variant);
    const outside = JSON.parse(
      (await handle(event('predict', { features: raw }), { awsRequestId: 'r-3' })).body,
    ) as PredictResponse;
    expect(outside).toMatchObject({ variant: 'default', version: control.version });
  });

  it('reads the experiments once per refresh, not per request', async () => {
    const { router, handle, reads } = setup(async () => [experiment()]);
    await router.ready();
    for (let i = 0; i < 10; i++)
      await handle(event('predict', { features: raw, unitId: `u-${i}` }), { awsRequestId: `r${i}` });
    expect(reads()).toBe(1);
  });

  it('serves as before without a running experiment', async () => {
    const { router, handle } = setup(async () => []);
    await router.ready();
    const body = JSON.parse(
      (await handle(event('predict', { features: raw, unitId: 'u' }), { awsRequestId: 'r' })).body,
    );
    expect(body).toMatchObject({ variant: 'default', version: control.version });
    expect(body.predictions[0].variant).toBeUndefined();
  });

  it('counts feedback once per served instance (202), 409 for another experiment, 400 naming the field', async () => {
    const { router, handle, outcomes } = setup(async () => [experiment()]);
    await router.ready();
    const answered = JSON.parse(
      (await handle(event('predict', { features: raw, unitId: 'user-1' }), { awsRequestId: 'r-1' })).body,
    ) as PredictResponse;
    const fb = {
      requestId: answered.requestId,
      outcome: true,
      experimentId: 'churn-ab',
      unitId: 'user-1',
      idempotencyKey: 'k1',
    };
    const first = await handle(event('feedback', fb), { awsRequestId: 'f1' });
    expect(first.statusCode).toBe(202);
    expect(JSON.parse(first.body)).toMatchObject({ counted: true });
    // The store is told the variant the instance was served (it refuses a unit of another variant),
    // under the served instance's key, not the client's.
    expect(outcomes[0]).toEqual({
      experimentId: 'churn-ab',
      unitId: 'user-1',
      outcome: true,
      idempotencyKey: `${requestRef(answered.requestId)}#0`,
      model: MODEL,
      servedVariant: assignVariant({ id: 'churn-ab', treatmentShare: 50 }, 'user-1'),
    });
    // Sent again, with another client key: the same served instance, counted once.
    const second = await handle(event('feedback', { ...fb, idempotencyKey: 'k2' }), { awsRequestId: 'f2' });
    expect(JSON.parse(second.body)).toMatchObject({ counted: false });
    expect(outcomes[1]?.idempotencyKey).toBe(`${requestRef(answered.requestId)}#0`);
    const unknown = await handle(event('feedback', { ...fb, experimentId: 'nope' }), { awsRequestId: 'f3' });
    expect(unknown.statusCode).toBe(409);
    expect(JSON.parse(unknown.body).error).toMatchObject({
      code: 'ExperimentConflict',
      field: 'experimentId',
    });
    expect(outcomes).toHaveLength(2);
    const noUnit = await handle(
      event('feedback', { requestId: answered.requestId, outcome: true, experimentId: 'churn-ab' }),
      {
        awsRequestId: 'f4',
      },
    );
    expect(noUnit.statusCode).toBe(400);
    expect(JSON.parse(noUnit.body).error.field).toBe('unitId');
  });

  it('answers 409 for a stopped experiment', async () => {
    const { router, handle } = setup(async () => []);
    await router.ready();
    const result = await handle(
      event('feedback', {
        requestId: issuedRequestId(MODEL, 'r', NOW),
        outcome: true,
        experimentId: 'churn-ab',
        unitId: 'u',
      }),
      { awsRequestId: 'f' },
    );
    expect(result.statusCode).toBe(409);
    expect(JSON.parse(result.body).error.code).toBe('ExperimentConflict');
  });

  it('refuses an outcome for an instance served outside the experiment, or before it ran: 409, nothing counted', async () => {
    const { router, handle, outcomes } = setup(async () => [experiment()]);
    await router.ready();
    const answered = JSON.parse(
      (
        await handle(
          event('predict', { instances: [{ features: raw, unitId: 'user-1' }, { features: raw }] }),
          {
            awsRequestId: 'r-2',
          },
        )
      ).body,
    ) as PredictResponse;
    const outside = await handle(
      event('feedback', {
        requestId: answered.requestId,
        instance: 1,
        outcome: true,
        experimentId: 'churn-ab',
        unitId: 'user-1',
      }),
      { awsRequestId: 'f' },
    );
    expect(outside.statusCode).toBe(409);
    expect(JSON.parse(outside.body).error).toMatchObject({ code: 'ExperimentConflict', field: 'instance' });
    // A prediction served with no experiment running (its id carries none).
    const before = await handle(
      event('feedback', {
        requestId: issuedRequestId(MODEL, 'r-0', NOW),
        outcome: true,
        experimentId: 'churn-ab',
        unitId: 'user-1',
      }),
      { awsRequestId: 'f' },
    );
    expect(before.statusCode).toBe(409);
    expect(JSON.parse(before.body).error).toMatchObject({
      code: 'ExperimentConflict',
      field: 'experimentId',
    });
    expect(outcomes).toEqual([]);
  });

  it('answers 502 and counts no assignment while the signing key cannot be read', async () => {
    const { router, handle, assignments, capture } = setup(async () => [experiment()], {
      issue: () => {
        throw new DependencyError('request-signing-key', 'AccessDeniedException');
      },
      verify: () => undefined,
    });
    await router.ready();
    const served = vi.spyOn(router, 'served');
    const result = await handle(
      event('predict', {
        instances: [
          { features: raw, unitId: 'user-1' },
          { features: raw, unitId: 'user-2' },
        ],
      }),
      { awsRequestId: 'r-3' },
    );
    expect(result.statusCode).toBe(502);
    expect(JSON.parse(result.body).error.code).toBe('DependencyError');
    // Nothing counted for the unanswered request (the counts reach the store at the next refresh).
    expect(served).not.toHaveBeenCalled();
    expect(assignments).toEqual({});
    expect(capture.records).toEqual([]);
  });

  it('counts nothing for a made-up requestId with a real unit: 404 UnknownRequest before any count', async () => {
    const { router, handle, outcomes, capture } = setup(async () => [experiment()]);
    await router.ready();
    for (const requestId of [
      'r-1',
      issuedRequestId('fraud', 'r-1', NOW),
      `${issuedRequestId(MODEL, 'r-1', NOW)}x`,
    ]) {
      const result = await handle(
        event('feedback', { requestId, outcome: true, experimentId: 'churn-ab', unitId: 'user-1' }),
        { awsRequestId: 'f' },
      );
      expect(result.statusCode, requestId).toBe(404);
      expect(JSON.parse(result.body).error).toMatchObject({ code: 'UnknownRequest', field: 'requestId' });
    }
    expect(outcomes).toEqual([]);
    expect(capture.records).toEqual([]);
  });
});
