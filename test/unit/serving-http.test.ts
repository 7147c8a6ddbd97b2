import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { noCapture, sampleRequest } from '../../lambdas/serving/capture.js';
import type { ErrorBody, FeedbackResponse, PredictResponse } from '../../lambdas/serving/contract.js';
import { ModelIntegrityError, ModelNotDeployedError } from '../../lambdas/serving/errors.js';
import { createInferenceApp, type InferenceDeps, type ProxyEvent } from '../../lambdas/serving/http.js';
import type { LoadedModel } from '../../lambdas/serving/ports.js';
import { requestRef } from '../../lambdas/serving/request-ids.js';
import { scoreRows } from '../../lambdas/serving/scorer.js';
import { DependencyError } from '../../lambdas/shared/errors.js';
import { API_ROUTES } from '../../lambdas/shared/layout.js';
import { logger } from '../../lambdas/shared/logger.js';
import { SERVING_METRICS } from '../../lambdas/shared/metric-names.js';
import { createMetrics } from '../../lambdas/shared/metrics.js';
import { type EmfDoc, emitted } from '../support/emf.js';
import { issuedRequestId, testRequestIds } from '../support/request-ids.js';
import { MemoryCapture, MemoryFeatureSource } from '../support/serving-fakes.js';
import { SERVING_ENTITY, servedModel, servingViews } from '../support/serving-model.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const HOUR = 3_600_000;
const MODEL = 'churn';
const raw = { x1: 1.5, x2: 2, visits: 3, segment: 'a', vip: false };

let model: LoadedModel;
beforeAll(async () => {
  ({ model } = await servedModel('binary', 'linear', MODEL));
});

afterEach(() => {
  vi.restoreAllMocks();
});

function source() {
  return new MemoryFeatureSource({
    entity: SERVING_ENTITY,
    features: ['x1', 'x2', 'visits', 'segment', 'vip'],
    ttlMs: 24 * HOUR,
    entities: {
      'c-1': { eventMs: NOW - HOUR, values: { x1: 0.5, x2: 7, visits: 2, segment: 'b', vip: true } },
    },
  });
}

function app(overrides: Partial<InferenceDeps> = {}) {
  const capture = new MemoryCapture();
  const features = source();
  const deps: InferenceDeps = {
    modelName: MODEL,
    model: () => model,
    features,
    capture,
    requestIds: testRequestIds(MODEL),
    metrics: createMetrics({ namespace: 'ServingTest', serviceName: 'inference' }),
    maxBatchInstances: 5,
    captureSampleRate: 1,
    captureBudgetMs: 50,
    views: servingViews,
    now: () => NOW,
    ...overrides,
  };
  return { handle: createInferenceApp(deps), capture, features, deps };
}

/** An API Gateway event for `route` (by resource, as API Gateway sends it). */
function event(
  route: keyof typeof API_ROUTES,
  body: unknown,
  options: { method?: string; model?: string; headers?: Record<string, string> } = {},
): ProxyEvent {
  const model = options.model ?? MODEL;
  return {
    resource: API_ROUTES[route],
    path: API_ROUTES[route].replace('{model}', encodeURIComponent(model)),
    httpMethod: options.method ?? (route === 'health' ? 'GET' : 'POST'),
    pathParameters: route === 'health' ? null : { model },
    headers: options.headers ?? { 'Content-Type': 'application/json' },
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const context = (id = 'req-1') => ({ awsRequestId: id });
/** The requestId the app answers for Lambda request `id` (a predict of `instances` at NOW). */
const rid = (id: string, instances = 1) => issuedRequestId(MODEL, id, NOW, instances);
/** The reference capture names that request by (`<id>.<mac>`). */
const ref = (id: string, instances = 1) => requestRef(rid(id, instances));

/** The dimension sets and values `name` was emitted with. */
/** Each dimension set `name` is emitted under, one entry per set (a document holds several). */
function metric(docs: EmfDoc[], name: string) {
  return docs.flatMap((doc) =>
    doc._aws.CloudWatchMetrics.filter((d) => d.Metrics.some((m) => m.Name === name)).flatMap((d) =>
      d.Dimensions.map((set) => ({ dimensions: [set], value: doc[name], doc })),
    ),
  );
}

const parse = <T>(result: { body: string }) => JSON.parse(result.body) as T;

describe('createInferenceApp: predict', () => {
  it('answers one instance: model, version, variant, request id and the scorer’s prediction', async () => {
    const { handle } = app();
    const result = await handle(event('predict', { features: raw }), context('req-7'));
    expect(result.statusCode).toBe(200);
    expect(result.headers['content-type']).toBe('application/json');
    const body = parse<PredictResponse>(result);
    expect(body).toMatchObject({ model: MODEL, version: 3, variant: 'default', requestId: rid('req-7') });
    expect(result.headers['x-request-id']).toBe(rid('req-7'));
    expect(body.predictions).toEqual(await scoreRows(model, [raw]));
  });

  it('answers a batch in order, entity instances with their online features and ages, one store read', async () => {
    const { handle, features } = app();
    const instances = [
      { features: raw },
      { entity: { customer_id: 'c-1' } },
      { features: { ...raw, x1: -3 } },
      { entity: { customer_id: 'c-1' }, features: { x1: 4 } },
    ];
    const body = parse<PredictResponse>(await handle(event('predict', { instances }), context()));
    const expected = await scoreRows(model, [
      raw,
      { x1: 0.5, x2: 7, visits: 2, segment: 'b', vip: true },
      { ...raw, x1: -3 },
      { x1: 4, x2: 7, visits: 2, segment: 'b', vip: true },
    ]);
    expect(body.predictions.map(({ featureAges: _, ...p }) => p)).toEqual(expected);
    expect(body.predictions.map((p) => p.featureAges)).toEqual([
      undefined,
      { x1: 3600, x2: 3600, visits: 3600, segment: 3600, vip: 3600 },
      undefined,
      { x2: 3600, visits: 3600, segment: 3600, vip: 3600 },
    ]);
    expect(features.calls).toHaveLength(1);
  });

  it('refuses bad requests with the contract’s code and status, naming instance and field', async () => {
    const { handle } = app();
    const cases: [ProxyEvent, number, string, Partial<ErrorBody['error']>][] = [
      [
        event('predict', { features: raw }, { headers: { 'content-type': 'text/csv' } }),
        415,
        'UnsupportedMediaType',
        {},
      ],
      [event('predict', '{"features":'), 400, 'InvalidJson', {}],
      [event('predict', { instances: [] }), 400, 'InvalidRequest', { field: 'instances' }],
      [event('predict', { instances: Array(6).fill({ features: raw }) }), 413, 'BatchTooLarge', {}],
      [
        event('predict', { instances: [{ features: raw }, { features: { ...raw, age: 1 } }] }),
        400,
        'UnknownFeature',
        { instance: 1, field: 'age' },
      ],
      [
        event('predict', { features: { ...raw, segment: 'z' } }),
        400,
        'UnknownCategory',
        { instance: 0, field: 'segment' },
      ],
      [
        event('predict', '{"features":{"x1":1e999,"x2":1,"visits":1,"segment":"a","vip":true}}'),
        400,
        'InvalidFeatureValue',
        { field: 'x1' },
      ],
      [event('predict', { entity: { customer_id: 'c-404' } }), 404, 'UnknownEntity', { instance: 0 }],
      [event('predict', { features: raw }, { model: 'other' }), 404, 'UnknownModel', { field: 'model' }],
    ];
    for (const [e, status, code, where] of cases) {
      const result = await handle(e, context('req-x'));
      expect(result.statusCode, code).toBe(status);
      const body = parse<ErrorBody>(result);
      expect(body.requestId).toBe('req-x');
      expect(body.error).toMatchObject({ code, ...where });
      expect(body.error.message.length).toBeGreaterThan(0);
    }
  });

  it('answers 503 with the loader’s code when the model cannot serve, on predict and on health', async () => {
    for (const error of [
      new ModelNotDeployedError('no champion for churn'),
      new ModelIntegrityError('sha256 mismatch'),
    ]) {
      const { handle } = app({
        model: () => {
          throw error;
        },
      });
      for (const e of [event('predict', { features: raw }), event('health', undefined)]) {
        const result = await handle(e, context());
        expect(result.statusCode).toBe(503);
        expect(parse<ErrorBody>(result).error).toMatchObject({ code: error.code, message: error.message });
      }
    }
  });

  it('answers 502 for a failed dependency and 500 with a generic message for anything else, never rejecting', async () => {
    const failing = (error: Error) =>
      app({
        features: {
          read: async () => {
            throw error;
          },
        },
      }).handle;
    const entity = event('predict', { entity: { customer_id: 'c-1' } });
    const dependency = await failing(new DependencyError('dynamodb', 'throttled'))(entity, context());
    expect(dependency.statusCode).toBe(502);
    expect(parse<ErrorBody>(dependency).error.code).toBe('DependencyError');
    const internal = await failing(new TypeError('secret detail'))(entity, context());
    expect(internal.statusCode).toBe(500);
    expect(parse<ErrorBody>(internal).error).toEqual({ code: 'InternalError', message: 'internal error' });
    // A model whose session breaks.
    const broken = {
      ...model,
      session: { run: () => Promise.reject(new Error('ort exploded')) },
    } as unknown as LoadedModel;
    const result = await app({ model: () => broken }).handle(event('predict', { features: raw }), context());
    expect(result.statusCode).toBe(500);
  });
});

describe('createInferenceApp: routes', () => {
  it('routes by resource, and by path when there is no resource', async () => {
    const { handle } = app();
    const { resource: _r, pathParameters: _p, ...byPath } = event('predict', { features: raw });
    expect((await handle(byPath, context())).statusCode).toBe(200);
    expect((await handle({ ...byPath, path: '/v1/models/other/predict' }, context())).statusCode).toBe(404);
    expect(await handle(event('health', undefined), context())).toMatchObject({
      statusCode: 200,
      body: JSON.stringify({ status: 'ok' }),
    });
    expect((await handle({ httpMethod: 'GET', path: '/v1/health', body: null }, context())).statusCode).toBe(
      200,
    );
  });

  it('serves the event form deployed: a literal resource per model and no path parameters', async () => {
    const { handle } = app();
    // lib/inference-api.ts gives each model literal resources, so API Gateway sends the model's
    // name in `resource` and no `pathParameters`; behind a custom domain's base path mapping,
    // `path` carries the base path too, while `resource` does not.
    const deployed = (route: 'predict' | 'feedback', path: string, body: unknown): ProxyEvent => ({
      ...event(route, body),
      resource: API_ROUTES[route].replace('{model}', MODEL),
      path,
      pathParameters: null,
    });
    const predicted = await handle(
      deployed('predict', `/v1/models/${MODEL}/predict`, { features: raw }),
      context(),
    );
    expect(predicted.statusCode, predicted.body).toBe(200);
    expect(parse<PredictResponse>(predicted)).toMatchObject({ model: MODEL, requestId: rid('req-1') });
    const mapped = await handle(
      deployed('predict', `/serving/v1/models/${MODEL}/predict`, { features: raw }),
      context(),
    );
    expect(mapped.statusCode, mapped.body).toBe(200);
    const feedback = await handle(
      deployed('feedback', `/v1/models/${MODEL}/feedback`, { requestId: rid('req-1'), outcome: 1 }),
      context(),
    );
    expect(feedback.statusCode, feedback.body).toBe(202);
    const health = await handle({ ...event('health', undefined), pathParameters: null }, context());
    expect(health.statusCode).toBe(200);
  });

  it('answers 404 NotFound for an unknown route and 405 with Allow for a wrong method', async () => {
    const { handle } = app();
    for (const path of ['/v2/models/churn/predict', '/v1/models/churn', '/', '/v1/models/%E0%A4%A/predict']) {
      const result = await handle({ httpMethod: 'POST', path, body: null }, context());
      expect(result.statusCode, path).toBe(404);
      expect(parse<ErrorBody>(result).error.code).toBe('NotFound');
    }
    const get = await handle(event('predict', undefined, { method: 'GET' }), context());
    expect(get.statusCode).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(parse<ErrorBody>(get).error.code).toBe('MethodNotAllowed');
    expect((await handle(event('health', undefined, { method: 'DELETE' }), context())).headers.allow).toBe(
      'GET',
    );
  });
});

describe('createInferenceApp: capture', () => {
  it('captures every instance of a sampled request with its features, prediction and version', async () => {
    const { handle, capture } = app();
    const body = parse<PredictResponse>(
      await handle(
        event('predict', { instances: [{ features: raw }, { entity: { customer_id: 'c-1' } }] }),
        context('req-c'),
      ),
    );
    expect(capture.records).toEqual([
      {
        kind: 'prediction',
        requestId: ref('req-c', 2),
        instance: 0,
        timeMs: NOW,
        model: MODEL,
        version: 3,
        variant: 'default',
        features: raw,
        prediction: body.predictions[0],
      },
      expect.objectContaining({
        instance: 1,
        features: { x1: 0.5, x2: 7, visits: 2, segment: 'b', vip: true },
        prediction: body.predictions[1],
      }),
    ]);
  });

  it('samples by the request id (io’s sampleRequest): none at 0, the same ids at 0.3', async () => {
    const none = app({ captureSampleRate: 0 });
    await none.handle(event('predict', { features: raw }), context());
    expect(none.capture.records).toEqual([]);
    const some = app({ captureSampleRate: 0.3 });
    const ids = Array.from({ length: 40 }, (_, i) => `req-${i}`);
    for (const id of ids) await some.handle(event('predict', { features: raw }), context(id));
    const captured = some.capture.records.map((r) => r.requestId);
    expect(captured).toEqual(ids.map((id) => ref(id)).filter((id) => sampleRequest(id, 0.3)));
    expect(captured.length).toBeGreaterThan(0);
    expect(captured.length).toBeLessThan(40);
  });

  it('waits for a slow capture no longer than the budget, and counts it when it lands', async () => {
    const { handle, capture, deps } = app({ captureBudgetMs: 30 });
    capture.delayMs = 400;
    const { result, docs } = await emitted(async () => {
      const started = performance.now();
      const result = await handle(event('predict', { features: raw }), context());
      return { result, ms: performance.now() - started };
    });
    expect(result.result.statusCode).toBe(200);
    expect(result.ms).toBeLessThan(300);
    expect(capture.settled).toBe(0);
    expect(metric(docs, SERVING_METRICS.captured.name)).toEqual([]);
    const late = await emitted(() => vi.waitFor(() => expect(capture.settled).toBe(1), { timeout: 2000 }));
    expect(metric(late.docs, SERVING_METRICS.captured.name)[0]?.value).toBe(1);
    expect(deps.captureSampleRate).toBe(1);
  });

  it('answers despite a failing or throwing capture, and counts the failures', async () => {
    for (const mode of ['count', 'throw'] as const) {
      const { handle, capture } = app();
      capture.fail = mode;
      const { result, docs } = await emitted(() =>
        handle(event('predict', { instances: [{ features: raw }, { features: raw }] }), context()),
      );
      expect(result.statusCode, mode).toBe(200);
      const failures = metric(docs, SERVING_METRICS.captureFailures.name);
      expect(failures.map((f) => f.value)).toEqual([2]);
      expect(failures[0]?.dimensions).toEqual([['service', 'model']]);
      expect(failures[0]?.doc).toMatchObject({ service: 'inference', model: MODEL });
    }
  });
});

describe('createInferenceApp: feedback', () => {
  it('records every feedback (not sampled) and answers 202', async () => {
    const { handle, capture } = app({ captureSampleRate: 0 });
    const { result, docs } = await emitted(() =>
      handle(
        event('feedback', { requestId: rid('req-1', 3), instance: 2, outcome: true, idempotencyKey: 'k-1' }),
        context('req-f'),
      ),
    );
    expect(result.statusCode).toBe(202);
    expect(parse<FeedbackResponse>(result)).toEqual({ accepted: true, requestId: 'req-f' });
    expect(capture.records).toEqual([
      {
        kind: 'feedback',
        requestId: ref('req-1', 3),
        instance: 2,
        timeMs: NOW,
        model: MODEL,
        outcome: true,
        idempotencyKey: 'k-1',
      },
    ]);
    expect(metric(docs, SERVING_METRICS.feedback.name).map((m) => m.value)).toEqual([1]);
  });

  it('refuses bad feedback with 400 and answers 502 when the record could not be kept', async () => {
    const { handle, capture } = app();
    const bad = await handle(event('feedback', { requestId: 'r' }), context());
    expect(bad.statusCode).toBe(400);
    expect(parse<ErrorBody>(bad).error).toMatchObject({ code: 'InvalidRequest', field: 'outcome' });
    capture.fail = 'count';
    const lost = await handle(event('feedback', { requestId: rid('r'), outcome: 1 }), context());
    expect(lost.statusCode).toBe(502);
    expect(parse<ErrorBody>(lost).error.code).toBe('DependencyError');
  });

  it('refuses feedback for a request its predict did not answer: 404 UnknownRequest, nothing recorded', async () => {
    const { handle, capture } = app({ captureSampleRate: 0 });
    const predicted = parse<PredictResponse>(
      await handle(event('predict', { instances: [{ features: raw }, { features: raw }] }), context('req-p')),
    );
    const answered = predicted.requestId;
    const [id, issued, n, mac] = answered.split('.') as [string, string, string, string];
    const flipped = (text: string) => `${text.slice(0, -1)}${text.endsWith('A') ? 'B' : 'A'}`;
    const unknown = [
      'req-p', // the Lambda request id alone (what an error body carries)
      'made-up-id',
      `other.${issued}.${n}.${mac}`, // another request's id with this one's signature
      `${id}.${(Number.parseInt(issued, 36) + 1).toString(36)}.${n}.${mac}`, // another time
      `${id}.${issued}.9.${mac}`, // more instances than it had
      `${id}.${issued}.${n}.${flipped(mac)}`,
      issuedRequestId('fraud', 'req-p', NOW, 2), // another model's
      `${answered}.x`,
    ];
    for (const requestId of unknown) {
      const { result, docs } = await emitted(() =>
        handle(event('feedback', { requestId, outcome: 1 }), context('req-fb')),
      );
      expect(result.statusCode, requestId).toBe(404);
      expect(parse<ErrorBody>(result).error, requestId).toMatchObject({
        code: 'UnknownRequest',
        field: 'requestId',
      });
      expect(metric(docs, SERVING_METRICS.feedback.name)).toEqual([]);
    }
    const past = await handle(
      event('feedback', { requestId: answered, instance: 2, outcome: 1 }),
      context('req-fb'),
    );
    expect(past.statusCode).toBe(400);
    expect(parse<ErrorBody>(past).error).toMatchObject({ code: 'InvalidRequest', field: 'instance' });
    expect(capture.records).toEqual([]);
    // The id as answered, for its last instance: recorded.
    const ok = await handle(event('feedback', { requestId: answered, instance: 1, outcome: 1 }), context());
    expect(ok.statusCode, ok.body).toBe(202);
    expect(capture.records).toMatchObject([
      { kind: 'feedback', requestId: requestRef(answered), instance: 1 },
    ]);
  });

  it('answers 502 while the request-signing key cannot be read: predict and feedback, nothing served unsigned', async () => {
    const failing = {
      issue: () => {
        throw new DependencyError('request-signing-key', 'AccessDeniedException');
      },
      verify: () => {
        throw new DependencyError('request-signing-key', 'AccessDeniedException');
      },
    };
    const { handle, capture } = app({ requestIds: failing });
    const predicted = await handle(event('predict', { features: raw }), context());
    expect(predicted.statusCode).toBe(502);
    expect(parse<ErrorBody>(predicted).error.code).toBe('DependencyError');
    const feedback = await handle(event('feedback', { requestId: rid('req-1'), outcome: 1 }), context());
    expect(feedback.statusCode).toBe(502);
    expect(capture.records).toEqual([]);
  });

  it('answers 503 FeedbackNotEnabled, never 202, when capture is off (the record would be dropped)', async () => {
    const { handle } = app({ capture: noCapture });
    const { result, docs } = await emitted(() =>
      handle(event('feedback', { requestId: rid('r'), outcome: 1 }), context()),
    );
    expect(result.statusCode).toBe(503);
    expect(parse<ErrorBody>(result).error.code).toBe('FeedbackNotEnabled');
    expect(metric(docs, SERVING_METRICS.feedback.name)).toEqual([]);
    expect(metric(docs, SERVING_METRICS.errors.name)[0]?.doc).toMatchObject({
      errorType: 'FeedbackNotEnabled',
    });
    expect(metric(docs, SERVING_METRICS.serverErrors.name).length).toBeGreaterThan(0);
  });
});

describe('createInferenceApp: metrics', () => {
  it('emits requests, predictions, latency and model latency per version, variant and model rollups', async () => {
    const { handle } = app({ variant: 'b' });
    const { docs } = await emitted(() =>
      handle(
        event('predict', { instances: [{ features: raw }, { features: raw }, { features: raw }] }),
        context(),
      ),
    );
    const predictions = metric(docs, SERVING_METRICS.predictions.name);
    expect(predictions.map((p) => p.dimensions)).toEqual([
      [['service', 'model', 'version', 'variant']],
      [['service', 'model']],
      [['service', 'model', 'version']],
    ]);
    expect(predictions.map((p) => p.value)).toEqual([3, 3, 3]);
    expect(predictions[0]?.doc).toMatchObject({
      service: 'inference',
      model: MODEL,
      version: '3',
      variant: 'b',
    });
    expect(predictions[0]?.doc._aws.CloudWatchMetrics[0]?.Namespace).toBe('ServingTest');
    for (const spec of [SERVING_METRICS.requests, SERVING_METRICS.latency, SERVING_METRICS.modelLatency]) {
      const emittedSpec = metric(docs, spec.name);
      expect(
        emittedSpec.map((m) => m.dimensions),
        spec.name,
      ).toEqual([[['service', 'model', 'version']], [['service', 'model']]]);
      expect(typeof emittedSpec[0]?.value).toBe('number');
    }
    expect(metric(docs, SERVING_METRICS.errors.name)).toEqual([]);
  });

  it('emits errors by code, server errors for 5xx only, with version none when no model loaded', async () => {
    const { handle } = app();
    const client = await emitted(() =>
      handle(event('predict', { features: { ...raw, vip: 'no' } }), context()),
    );
    const errors = metric(client.docs, SERVING_METRICS.errors.name);
    expect(errors.map((e) => e.dimensions)).toEqual([
      [['service', 'model', 'version', 'errorType']],
      [['service', 'model']],
      [['service', 'model', 'version']],
    ]);
    expect(errors[0]?.doc).toMatchObject({ errorType: 'InvalidFeatureType', version: '3' });
    expect(metric(client.docs, SERVING_METRICS.serverErrors.name)).toEqual([]);
    expect(metric(client.docs, SERVING_METRICS.requests.name).map((m) => m.value)).toEqual([1, 1]);
    const down = app({
      model: () => {
        throw new ModelNotDeployedError('none');
      },
    });
    const server = await emitted(() => down.handle(event('predict', { features: raw }), context()));
    const serverErrors = metric(server.docs, SERVING_METRICS.serverErrors.name);
    expect(serverErrors.map((m) => m.dimensions)).toEqual([
      [['service', 'model', 'version']],
      [['service', 'model']],
    ]);
    expect(serverErrors[0]?.doc).toMatchObject({ version: 'none' });
    expect(metric(server.docs, SERVING_METRICS.errors.name)[0]?.doc).toMatchObject({
      errorType: 'ModelNotDeployed',
    });
  });

  it('counts every error answer outside predict by its code (feedback, routes, methods), predict errors once', async () => {
    const { handle, capture } = app();
    /** The errorType of each `errors` document at its most detailed dimension set, and 5xx ones. */
    const counted = async (send: ProxyEvent) => {
      const { result, docs } = await emitted(() => handle(send, context()));
      return {
        status: result.statusCode,
        errors: metric(docs, SERVING_METRICS.errors.name)
          .filter((m) => m.dimensions[0]?.includes('errorType'))
          .map((m) => m.doc.errorType),
        // serverErrors has no errorType dimension: its documents at service/model/version.
        serverErrors: metric(docs, SERVING_METRICS.serverErrors.name)
          .filter((m) => m.dimensions[0]?.length === 3)
          .map((m) => m.value),
      };
    };
    expect(await counted(event('feedback', { requestId: 'r' }))).toEqual({
      status: 400,
      errors: ['InvalidRequest'],
      serverErrors: [],
    });
    capture.fail = 'count';
    expect(await counted(event('feedback', { requestId: rid('r'), outcome: 1 }))).toEqual({
      status: 502,
      errors: ['DependencyError'],
      serverErrors: [1],
    });
    expect(await counted(event('predict', { features: raw }, { model: 'other' }))).toEqual({
      status: 404,
      errors: ['UnknownModel'],
      serverErrors: [],
    });
    expect(await counted({ httpMethod: 'GET', path: '/nowhere', body: null })).toEqual({
      status: 404,
      errors: ['NotFound'],
      serverErrors: [],
    });
    expect(await counted(event('predict', { features: raw }, { method: 'GET' }))).toEqual({
      status: 405,
      errors: ['MethodNotAllowed'],
      serverErrors: [],
    });
    // A predict error is counted by predict alone: one errors document per dimension set.
    expect(await counted(event('predict', { features: { ...raw, vip: 'no' } }))).toEqual({
      status: 400,
      errors: ['InvalidFeatureType'],
      serverErrors: [],
    });
  });

  it('answers a model output of the wrong shape 500 InternalError, logged and counted as ModelOutputError', async () => {
    const ort = await import('onnxruntime-node');
    // Two probabilities for a batch of two rows of two classes: half the output is missing.
    const short = {
      ...model,
      session: {
        run: async () => ({
          probabilities: new ort.Tensor('float64', Float64Array.from([0.4, 0.6]), [1, 2]),
        }),
      },
    } as unknown as LoadedModel;
    const errors = vi.spyOn(logger, 'error').mockImplementation(() => {});
    const { handle } = app({ model: () => short });
    const { result, docs } = await emitted(() =>
      handle(event('predict', { instances: [{ features: raw }, { features: raw }] }), context()),
    );
    expect(result.statusCode).toBe(500);
    expect(parse<ErrorBody>(result).error).toEqual({ code: 'InternalError', message: 'internal error' });
    expect(metric(docs, SERVING_METRICS.errors.name)[0]?.doc).toMatchObject({
      errorType: 'ModelOutputError',
    });
    expect(JSON.stringify(errors.mock.calls)).toContain('ModelOutputError');
  });
});
