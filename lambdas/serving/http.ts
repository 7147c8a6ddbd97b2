/**
 * The inference function's request path over API Gateway (REST API, v1 proxy events):
 * `POST /v1/models/{model}/predict`, `POST /v1/models/{model}/feedback` and `GET /v1/health`
 * (API_ROUTES). Routed by the event's `resource` (what API Gateway sends), else by its `path` (what
 * a hand-built event, e.g. the local adapter's, may carry), so the same app serves both.
 *
 * A predict: model → body (request.ts) → online features and checks (instances.ts) → one batched
 * score (scorer.ts) → response, in request order → capture of a sampled request, awaited at most
 * `captureBudgetMs` (a slow or failing capture never fails or delays the answer beyond it) →
 * metrics. Every refusal answers ErrorBody JSON with ERROR_STATUS; an unexpected failure answers
 * 500 InternalError with a generic message and is logged; the returned promise never rejects.
 *
 * No AWS SDK here: the model, the online store and the capture stream arrive as InferenceDeps
 * (ports.ts); lambdas/predict/handler.ts wires the real ones.
 */
import { randomUUID } from 'node:crypto';
import type { FeatureView } from '../feature-store/feature-view.js';
import { DependencyError } from '../shared/errors.js';
import { API_ROUTES } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import {
  NO_VERSION,
  type ProjectMetrics,
  recordCapture,
  recordFeedback,
  recordPredictError,
  recordPrediction,
  recordRequestError,
  type ServedBy,
} from '../shared/metrics.js';
import type { ProxyEvent as ApiGatewayEvent, ProxyResult as ApiGatewayResult } from './api-gateway.js';
import { sampleRequest } from './capture.js';
import {
  type CaptureRecord,
  DEFAULT_VARIANT,
  ERROR_STATUS,
  type ErrorBody,
  type ErrorCode,
  type FeedbackResponse,
  type HealthResponse,
  type Prediction,
  type PredictResponse,
  RequestError,
} from './contract.js';
import {
  ModelIntegrityError,
  ModelNotDeployedError,
  ModelOutputError,
  ModelUnsupportedError,
} from './errors.js';
import { type FeatureRule, featureRules, prepareInstances } from './instances.js';
import type { CaptureSink, LoadedModel, OnlineFeatureSource } from './ports.js';
import { parseFeedbackRequest, parsePredictRequest } from './request.js';
import { scoreRows } from './scorer.js';

/**
 * What the app reads of an API Gateway REST (v1) proxy event (./api-gateway.ts): method and body
 * required, the rest optional, so API Gateway's full event and a hand-built one both fit.
 */
export type ProxyEvent = Pick<ApiGatewayEvent, 'httpMethod' | 'body'> &
  Partial<Pick<ApiGatewayEvent, 'resource' | 'path' | 'pathParameters' | 'headers' | 'isBase64Encoded'>>;

/** What the app answers (./api-gateway.ts's ProxyResult, headers always set). */
export type ProxyResult = ApiGatewayResult & { readonly headers: Readonly<Record<string, string>> };

export interface InferenceDeps {
  /** The model this function serves (ENV.modelName). */
  readonly modelName: string;
  /** The loaded model; throws ModelNotDeployedError / ModelIntegrityError / ModelUnsupportedError → 503 with that code. */
  readonly model: () => LoadedModel;
  readonly features: OnlineFeatureSource;
  readonly capture: CaptureSink;
  /** Powertools Metrics (lambdas/shared/metrics.ts); the handler flushes it. */
  readonly metrics: ProjectMetrics;
  readonly maxBatchInstances: number;
  /** Share of predict requests captured, 0 to 1 (feedback is always captured). */
  readonly captureSampleRate: number;
  /** Longest a prediction waits for its capture, ms. @default 200 */
  readonly captureBudgetMs?: number;
  /** @default DEFAULT_VARIANT */
  readonly variant?: string;
  /** Epoch milliseconds (record times, online-store ages). @default Date.now */
  readonly now?: () => number;
  /**
   * Definitions of the feature views the model's inputs come from (nullable, min/max, declared
   * categories: instances.ts). Without one, an input is checked by type alone and required.
   */
  readonly views?: ReadonlyMap<string, FeatureView>;
}

/** The default of {@link InferenceDeps.captureBudgetMs}. */
export const DEFAULT_CAPTURE_BUDGET_MS = 200;

type Route = keyof typeof API_ROUTES;
const ROUTE_METHODS: Readonly<Record<Route, string>> = { predict: 'POST', feedback: 'POST', health: 'GET' };
const MODEL_PATH = /^\/v1\/models\/([^/]+)\/(predict|feedback)\/?$/;
const HEALTH_PATH = /^\/v1\/health\/?$/;

/** The route of an event and its `{model}`, or undefined for a path the API does not have. */
function routeOf(event: ProxyEvent): { route: Route; model?: string } | undefined {
  const resource = event.resource;
  for (const [route, path] of Object.entries(API_ROUTES) as [Route, string][]) {
    if (resource === path) {
      const model = event.pathParameters?.model;
      return route === 'health' ? { route } : { route, ...(model === undefined ? {} : { model }) };
    }
  }
  // Deployed, each model has literal resources (`/v1/models/churn/predict`, no pathParameters):
  // read the resource first, as `path` carries a custom domain's base path as well.
  const literal = typeof event.resource === 'string' ? event.resource : undefined;
  const path =
    literal !== undefined && (HEALTH_PATH.test(literal) || MODEL_PATH.test(literal))
      ? literal
      : typeof event.path === 'string'
        ? event.path
        : '';
  if (HEALTH_PATH.test(path)) return { route: 'health' };
  const match = MODEL_PATH.exec(path);
  if (match === null) return undefined;
  let model: string;
  try {
    model = decodeURIComponent(match[1] as string);
  } catch {
    return undefined;
  }
  return { route: match[2] as Route, model };
}

/** What an absent event is read as (no route). */
const NO_EVENT: ProxyEvent = { httpMethod: '', body: null };

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function respond(statusCode: number, body: unknown, requestId: string, headers: Record<string, string> = {}) {
  return {
    statusCode,
    headers: { ...JSON_HEADERS, 'x-request-id': requestId, ...headers },
    body: JSON.stringify(body),
  } satisfies ProxyResult;
}

interface Refusal {
  readonly code: ErrorCode;
  readonly status: number;
  readonly message: string;
  readonly instance?: number;
  readonly field?: string;
  /** What the log and the errors metric call it, when not `code` (a 500's own type). */
  readonly errorType?: string;
}

/** What an error answers: its own code for the ones the API knows, InternalError (logged) else. */
function refusalOf(error: unknown, requestId: string): Refusal {
  if (error instanceof RequestError)
    return { code: error.code, status: error.status, message: error.message, ...error.where };
  if (
    error instanceof ModelNotDeployedError ||
    error instanceof ModelIntegrityError ||
    error instanceof ModelUnsupportedError
  )
    return { code: error.code, status: ERROR_STATUS[error.code], message: error.message };
  if (error instanceof DependencyError) {
    logger.error('a dependency failed', { requestId, error });
    return {
      code: 'DependencyError',
      status: ERROR_STATUS.DependencyError,
      message: `a dependency failed (${error.dependency}); retry`,
    };
  }
  if (error instanceof ModelOutputError) {
    logger.error('the model answered the wrong shape', { requestId, errorType: error.code, error });
    return {
      code: 'InternalError',
      status: ERROR_STATUS.InternalError,
      message: 'internal error',
      errorType: error.code,
    };
  }
  logger.error('unexpected failure answering a request', { requestId, error });
  return { code: 'InternalError', status: ERROR_STATUS.InternalError, message: 'internal error' };
}

function errorResult(refusal: Refusal, requestId: string, headers?: Record<string, string>): ProxyResult {
  const body: ErrorBody = {
    error: {
      code: refusal.code,
      message: refusal.message,
      ...(refusal.instance === undefined ? {} : { instance: refusal.instance }),
      ...(refusal.field === undefined ? {} : { field: refusal.field }),
    },
    requestId,
  };
  return respond(refusal.status, body, requestId, headers);
}

/** Runs a metrics call; a failure to record is logged, never felt by the request. */
function safely(record: () => void): void {
  try {
    record();
  } catch (error) {
    logger.warn('metrics not recorded', { error: error instanceof Error ? error.message : String(error) });
  }
}

/** The request-handling function of an inference Lambda (see the module comment). */
export function createInferenceApp(
  deps: InferenceDeps,
): (event: ProxyEvent, context: { readonly awsRequestId: string }) => Promise<ProxyResult> {
  const now = deps.now ?? Date.now;
  const variant = deps.variant ?? DEFAULT_VARIANT;
  const budgetMs = deps.captureBudgetMs ?? DEFAULT_CAPTURE_BUDGET_MS;
  const rulesByModel = new WeakMap<LoadedModel, Map<string, FeatureRule>>();

  function rulesOf(model: LoadedModel): Map<string, FeatureRule> {
    let rules = rulesByModel.get(model);
    if (rules === undefined) {
      rules = featureRules(model.signature, deps.views);
      rulesByModel.set(model, rules);
    }
    return rules;
  }

  /** Puts records, counting what was delivered and failed whenever the put settles. */
  function put(
    records: readonly CaptureRecord[],
    requestId: string,
  ): Promise<{ delivered: number; failed: number }> {
    return Promise.resolve()
      .then(() => deps.capture.put(records))
      .then(
        (result) => {
          const delivered = Number.isSafeInteger(result?.delivered) ? result.delivered : 0;
          const failed = Number.isSafeInteger(result?.failed) ? result.failed : records.length - delivered;
          safely(() => recordCapture(deps.metrics, deps.modelName, delivered, failed));
          return { delivered, failed };
        },
        (error: unknown) => {
          // A sink must not throw; one that does loses the records, never the answer.
          logger.warn('capture failed', {
            requestId,
            records: records.length,
            error: error instanceof Error ? error.message : String(error),
          });
          safely(() => recordCapture(deps.metrics, deps.modelName, 0, records.length));
          return { delivered: 0, failed: records.length };
        },
      );
  }

  /** Captures, waiting at most the budget (the put goes on, and is counted, if it is late). */
  async function captureWithinBudget(records: readonly CaptureRecord[], requestId: string): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, budgetMs);
    });
    try {
      await Promise.race([put(records, requestId), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async function predict(event: ProxyEvent, requestId: string): Promise<ProxyResult> {
    const started = performance.now();
    const timeMs = now();
    let by: ServedBy = { model: deps.modelName, version: NO_VERSION, variant };
    try {
      const model = deps.model();
      by = { ...by, version: model.version };
      const instances = parsePredictRequest(event, deps.maxBatchInstances);
      const { rows, featureAges } = await prepareInstances(instances, rulesOf(model), deps.features, timeMs);
      const scoring = performance.now();
      const scored = await scoreRows(model, rows);
      const modelLatencyMs = performance.now() - scoring;
      if (scored.length !== rows.length)
        throw new ModelOutputError(`the model answered ${scored.length} of ${rows.length} instances`);
      const predictions: Prediction[] = scored.map((prediction, i) => {
        const ages = featureAges[i];
        return ages === undefined ? prediction : { ...prediction, featureAges: ages };
      });
      const body: PredictResponse = {
        model: deps.modelName,
        version: model.version,
        variant,
        requestId,
        predictions,
      };
      if (sampleRequest(requestId, deps.captureSampleRate)) {
        const records: CaptureRecord[] = predictions.map((prediction, instance) => ({
          kind: 'prediction',
          requestId,
          instance,
          timeMs,
          model: deps.modelName,
          version: model.version,
          variant,
          features: rows[instance] ?? {},
          prediction,
        }));
        await captureWithinBudget(records, requestId);
      }
      const latencyMs = performance.now() - started;
      safely(() => recordPrediction(deps.metrics, by, { instances: rows.length, latencyMs, modelLatencyMs }));
      return respond(200, body, requestId);
    } catch (error) {
      const refusal = refusalOf(error, requestId);
      const latencyMs = performance.now() - started;
      safely(() =>
        recordPredictError(deps.metrics, by, {
          code: refusal.errorType ?? refusal.code,
          status: refusal.status,
          latencyMs,
        }),
      );
      return errorResult(refusal, requestId);
    }
  }

  async function feedback(event: ProxyEvent, requestId: string): Promise<ProxyResult> {
    const request = parseFeedbackRequest(event, deps.maxBatchInstances);
    const record: CaptureRecord = {
      kind: 'feedback',
      requestId: request.requestId,
      instance: request.instance ?? 0,
      timeMs: now(),
      model: deps.modelName,
      outcome: request.outcome,
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
    };
    // Feedback is the record itself: always captured, and awaited (a lost one is worth a retry).
    const { delivered, failed } = await put([record], requestId);
    if (failed > 0) throw new DependencyError('capture', 'the feedback was not recorded');
    // A sink that neither delivered nor failed the record took nothing: capture is off here.
    if (delivered === 0)
      throw new RequestError(
        'FeedbackNotEnabled',
        `feedback is not recorded for model ${deps.modelName}: its capture is off (no capture stream)`,
      );
    safely(() => recordFeedback(deps.metrics, deps.modelName));
    const body: FeedbackResponse = { accepted: true, requestId };
    return respond(202, body, requestId);
  }

  function health(requestId: string): ProxyResult {
    deps.model();
    const body: HealthResponse = { status: 'ok' };
    return respond(200, body, requestId);
  }

  /**
   * Counts an error answered outside predict (predict counts its own, with version and latency),
   * under the loaded model's version, else `none`.
   */
  function countError(refusal: Refusal): void {
    safely(() => {
      let version: number | string = NO_VERSION;
      try {
        version = deps.model().version;
      } catch {
        // No model loaded: the error counts under `none`.
      }
      recordRequestError(
        deps.metrics,
        { model: deps.modelName, version },
        {
          code: refusal.errorType ?? refusal.code,
          status: refusal.status,
        },
      );
    });
  }

  async function dispatch(event: ProxyEvent, requestId: string): Promise<ProxyResult> {
    const found = routeOf(event);
    if (found === undefined) {
      throw new RequestError(
        'NotFound',
        `no route ${String(event.httpMethod)} ${String(event.path ?? event.resource)}`.slice(0, 300),
      );
    }
    const allowed = ROUTE_METHODS[found.route];
    if (event.httpMethod !== allowed) {
      const refusal: Refusal = {
        code: 'MethodNotAllowed',
        status: ERROR_STATUS.MethodNotAllowed,
        message: `${API_ROUTES[found.route]} takes ${allowed}, not ${String(event.httpMethod).slice(0, 20)}`,
      };
      countError(refusal);
      return errorResult(refusal, requestId, { allow: allowed });
    }
    if (found.route === 'health') return health(requestId);
    if (found.model !== deps.modelName) {
      throw new RequestError(
        'UnknownModel',
        `no model ${JSON.stringify(String(found.model).slice(0, 100))} on this API`,
        { field: 'model' },
      );
    }
    return found.route === 'predict' ? predict(event, requestId) : feedback(event, requestId);
  }

  return async (event, context) => {
    const requestId =
      typeof context?.awsRequestId === 'string' && context.awsRequestId !== ''
        ? context.awsRequestId
        : randomUUID();
    try {
      return await dispatch(event ?? NO_EVENT, requestId);
    } catch (error) {
      try {
        // Only what dispatch throws lands here; predict answers (and counts) its own errors.
        const refusal = refusalOf(error, requestId);
        countError(refusal);
        return errorResult(refusal, requestId);
      } catch {
        return respond(
          500,
          { error: { code: 'InternalError', message: 'internal error' }, requestId },
          requestId,
        );
      }
    }
  };
}
