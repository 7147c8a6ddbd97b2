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
import { ConflictError, DependencyError, NotFoundError, ValidationError } from '../shared/errors.js';
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
  type FeedbackRequest,
  type FeedbackResponse,
  type HealthResponse,
  MIXED_VARIANT,
  type PredictInstance,
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
import { type ExperimentRouter, type ServingExperiment, unitOf, variantOfUnit } from './experiments.js';
import { type FeatureRule, featureRules, prepareInstances, type ServingRow } from './instances.js';
import type { CaptureSink, LoadedModel, OnlineFeatureSource } from './ports.js';
import { parseFeedbackRequest, parsePredictRequest } from './request.js';
import {
  experimentDigest,
  type IssuedRequest,
  MAX_SIGNED_INSTANCES,
  type RequestIds,
  requestRef,
  type ServedVariant,
} from './request-ids.js';
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
  /**
   * Issues the `requestId` a predict answers and verifies the one a feedback names (signed:
   * ./request-ids.ts); feedback for a request it did not issue is refused, 404 UnknownRequest.
   */
  readonly requestIds: RequestIds;
  /** Powertools Metrics (lambdas/shared/metrics.ts); the handler flushes it. */
  readonly metrics: ProjectMetrics;
  readonly maxBatchInstances: number;
  /** Share of predict requests captured, 0 to 1 (feedback is always captured). */
  readonly captureSampleRate: number;
  /** Longest a prediction waits for its capture, ms. @default 200 */
  readonly captureBudgetMs?: number;
  /** @default DEFAULT_VARIANT */
  readonly variant?: string;
  /**
   * The model's A/B experiments (./experiments.ts). Absent, or no experiment running: every
   * instance scores with `model` as `variant`, the path unchanged.
   */
  readonly experiments?: ExperimentRouter;
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
      const fresh = deps.requestIds.fresh?.();
      if (fresh !== undefined) await fresh;
      const experiment = deps.experiments?.current();
      if (experiment !== undefined)
        return await predictInExperiment(experiment, model, instances, requestId, timeMs, started);
      // Signed before any work: without a key nothing is scored, captured or counted.
      const issued = deps.requestIds.issue(requestId, timeMs, instances.length);
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
        requestId: issued,
        predictions,
      };
      const ref = requestRef(issued);
      if (sampleRequest(ref, deps.captureSampleRate)) {
        const records: CaptureRecord[] = predictions.map((prediction, instance) => ({
          kind: 'prediction',
          requestId: ref,
          instance,
          timeMs,
          model: deps.modelName,
          version: model.version,
          variant,
          features: rows[instance] ?? {},
          prediction,
        }));
        await captureWithinBudget(records, ref);
      }
      const latencyMs = performance.now() - started;
      safely(() => recordPrediction(deps.metrics, by, { instances: rows.length, latencyMs, modelLatencyMs }));
      return respond(200, body, issued);
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

  /**
   * A predict while an experiment runs: each instance's unit picks its variant (sticky hash); each
   * variant's instances are prepared and scored by that variant's model (control: the function's);
   * an instance without a unit is outside the experiment (`default`, scored by control). Every
   * prediction names its variant and version; the response's variant is theirs, or `mixed`.
   */
  async function predictInExperiment(
    served: ServingExperiment,
    control: LoadedModel,
    instances: readonly PredictInstance[],
    requestId: string,
    timeMs: number,
    started: number,
  ): Promise<ProxyResult> {
    const groups = new Map<string, number[]>();
    const assigned = instances.map((instance, i): ServedVariant => {
      const unit = unitOf(instance, served.experiment.unitKey);
      const variant = unit === undefined ? DEFAULT_VARIANT : variantOfUnit(served, unit);
      const group = groups.get(variant);
      if (group === undefined) groups.set(variant, [i]);
      else group.push(i);
      return variant as ServedVariant;
    });
    // Signed with the experiment and each instance's variant before any work: a feedback counts in
    // the variant the instance was served, and nothing is scored or counted without a key.
    const issued = deps.requestIds.issue(requestId, timeMs, instances.length, {
      experimentId: served.experiment.id,
      variants: assigned,
    });
    const predictions = new Array<Prediction>(instances.length);
    const rows = new Array<ServingRow>(instances.length);
    const servedGroups: { variant: string; model: LoadedModel; n: number }[] = [];
    let modelLatencyMs = 0;
    for (const [variant, indices] of groups) {
      const model = variant === 'treatment' ? served.treatment : control;
      let prepared: Awaited<ReturnType<typeof prepareInstances>>;
      try {
        prepared = await prepareInstances(
          indices.map((i) => instances[i] as PredictInstance),
          rulesOf(model),
          deps.features,
          timeMs,
        );
      } catch (error) {
        // Name the instance by its index in the request, not in its variant's group.
        if (error instanceof RequestError && error.where.instance !== undefined)
          throw new RequestError(error.code, error.message, {
            ...error.where,
            instance: indices[error.where.instance] ?? error.where.instance,
          });
        throw error;
      }
      const scoring = performance.now();
      const scored = await scoreRows(model, prepared.rows);
      modelLatencyMs += performance.now() - scoring;
      if (scored.length !== prepared.rows.length)
        throw new ModelOutputError(
          `the model answered ${scored.length} of ${prepared.rows.length} instances`,
        );
      indices.forEach((i, k) => {
        const ages = prepared.featureAges[k];
        predictions[i] = {
          ...(scored[k] as Prediction),
          ...(ages === undefined ? {} : { featureAges: ages }),
          variant,
          version: model.version,
        };
        rows[i] = prepared.rows[k] ?? {};
      });
      servedGroups.push({ variant, model, n: indices.length });
    }
    // Counted once every instance is answered (a request that fails part-way counts for none).
    for (const group of servedGroups)
      if (group.variant !== DEFAULT_VARIANT)
        deps.experiments?.served(group.variant as 'control' | 'treatment', group.n);
    const only = servedGroups.length === 1 ? servedGroups[0] : undefined;
    const body: PredictResponse = {
      model: deps.modelName,
      version: only?.model.version ?? control.version,
      variant: only?.variant ?? MIXED_VARIANT,
      requestId: issued,
      predictions,
    };
    const ref = requestRef(issued);
    if (sampleRequest(ref, deps.captureSampleRate)) {
      const records: CaptureRecord[] = predictions.map((prediction, instance) => ({
        kind: 'prediction',
        requestId: ref,
        instance,
        timeMs,
        model: deps.modelName,
        version: prediction.version ?? control.version,
        variant: prediction.variant ?? DEFAULT_VARIANT,
        features: rows[instance] ?? {},
        prediction,
      }));
      await captureWithinBudget(records, ref);
    }
    const latencyMs = performance.now() - started;
    for (const group of servedGroups)
      safely(() =>
        recordPrediction(
          deps.metrics,
          { model: deps.modelName, version: group.model.version, variant: group.variant },
          { instances: group.n, latencyMs, modelLatencyMs },
        ),
      );
    return respond(200, body, issued);
  }

  /** Counts a feedback's outcome in its experiment; API errors naming the field when refused. */
  async function countOutcome(
    request: FeedbackRequest,
    served: IssuedRequest,
    instance: number,
  ): Promise<{ counted: boolean; variant: string }> {
    const { experimentId, unitId } = request;
    if (experimentId === undefined || unitId === undefined) throw new Error('unreachable: no experiment');
    const assignment = served.experiment;
    if (assignment === undefined || assignment.digest !== experimentDigest(experimentId))
      throw new RequestError(
        'ExperimentConflict',
        `the request was not served in experiment ${JSON.stringify(experimentId.slice(0, 128))}${assignment === undefined ? ' (no experiment ran on it when it was served)' : ' (another experiment served it)'}`,
        { field: 'experimentId' },
      );
    const servedVariant = assignment.variants[instance];
    if (servedVariant === undefined || servedVariant === DEFAULT_VARIANT)
      throw new RequestError(
        'ExperimentConflict',
        `instance ${instance} of the request was served outside experiment ${experimentId.slice(0, 128)} (it had no unit)`,
        { field: 'instance' },
      );
    if (deps.experiments === undefined)
      throw new RequestError('UnknownExperiment', `no experiments run on model ${deps.modelName} here`, {
        field: 'experimentId',
      });
    if (typeof request.outcome === 'string')
      throw new RequestError('InvalidRequest', 'outcome must be a boolean or a number for an experiment', {
        field: 'outcome',
      });
    try {
      return await deps.experiments.recordOutcome({
        experimentId,
        unitId,
        outcome: request.outcome,
        // The served instance is the key, whatever the client's idempotencyKey: one outcome per
        // instance served, however often its feedback is sent (the ref is the verified id's).
        idempotencyKey: `${served.ref}#${instance}`,
        model: deps.modelName,
        servedVariant,
      });
    } catch (error) {
      const field = (error as { field?: string }).field ?? 'experimentId';
      if (error instanceof NotFoundError)
        throw new RequestError('UnknownExperiment', error.message.slice(0, 300), { field });
      if (error instanceof ConflictError)
        throw new RequestError('ExperimentConflict', error.message.slice(0, 300), { field });
      if (error instanceof ValidationError)
        throw new RequestError('InvalidRequest', error.message.slice(0, 300), { field: error.field });
      throw new DependencyError('experiments', error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
  }

  async function feedback(event: ProxyEvent, requestId: string): Promise<ProxyResult> {
    // The instance bound is the request's own (its signed count), checked below: not today's limit.
    const request = parseFeedbackRequest(event, MAX_SIGNED_INSTANCES);
    const fresh = deps.requestIds.fresh?.();
    if (fresh !== undefined) await fresh;
    let served = deps.requestIds.verify(request.requestId);
    if (served === undefined) {
      // Signed with a key this instance has not read yet (a rotation moments ago)? Read and try once more.
      const recheck = deps.requestIds.recheck?.();
      if (recheck !== undefined) {
        await recheck;
        served = deps.requestIds.verify(request.requestId);
      }
    }
    if (served === undefined)
      throw new RequestError(
        'UnknownRequest',
        `requestId ${JSON.stringify(request.requestId.slice(0, 100))} was not answered by model ${deps.modelName}'s predict (send back the requestId a prediction answered, unchanged)`,
        { field: 'requestId' },
      );
    const instance = request.instance ?? 0;
    if (instance >= served.instances)
      throw new RequestError(
        'InvalidRequest',
        `instance ${instance} is past the request's ${served.instances} instance${served.instances === 1 ? '' : 's'} (indexes from 0)`,
        { field: 'instance' },
      );
    const counted =
      request.experimentId === undefined ? undefined : await countOutcome(request, served, instance);
    const record: CaptureRecord = {
      kind: 'feedback',
      requestId: served.ref,
      instance,
      timeMs: now(),
      model: deps.modelName,
      outcome: request.outcome,
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey }),
      ...(counted === undefined
        ? {}
        : { experimentId: request.experimentId, unitId: request.unitId, variant: counted.variant }),
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
    const body: FeedbackResponse = { accepted: true, requestId, ...(counted ?? {}) };
    return respond(202, body, requestId);
  }

  function health(requestId: string): ProxyResult {
    deps.model();
    // Serving needs its signing key too: a version without one fails the deploy's health check.
    deps.requestIds.issue(requestId, now(), 1);
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
