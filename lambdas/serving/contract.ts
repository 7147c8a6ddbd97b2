/**
 * The inference API's wire contract, in one place: what a client sends to
 * `POST /v1/models/{model}/predict` and `…/feedback`, what it gets back, and the stable error codes
 * with their HTTP statuses. The handler (lambdas/predict/handler.ts), the local HTTP adapter
 * (local/http-adapter.ts), `mlops predict`, `npm start` and the benchmarks all read these types.
 *
 * Change rule: a deployed API's clients parse these shapes and switch on these codes. Add fields
 * and codes; never rename or repurpose one.
 *
 * Changes made against that rule, each recorded here with what it broke:
 * - 2026-12-03, `requestId` (issue 12: feedback for an unknown request is refused). It was the
 *   Lambda request id, a UUID, and feedback took any string; it is now a signed, opaque token of up
 *   to MAX_REQUEST_ID_LENGTH characters (./request-ids.ts) that feedback verifies. Still the
 *   request's id (it begins with the Lambda request id), but feedback naming an id answered before
 *   the change, or by a version deployed before it, is refused (404 UnknownRequest). Error bodies
 *   still carry the Lambda request id, which feedback does not take. Capture records name the
 *   request by its short reference (`<Lambda request id>.<mac>`), not the whole id.
 * - 2026-12-03, `idempotencyKey` (issue 12: counters never double-count). It chose an experiment
 *   outcome's count key; now the served instance is the key and the client's is only kept with the
 *   record: a feedback sent again with another key no longer counts again (`counted: false`), and
 *   with another outcome answers 409 ExperimentConflict (field `outcome`).
 *
 * Predict request (JSON, `content-type: application/json`), one instance or a batch:
 *
 *   { "features": { "age": 41, "segment": "new" } }
 *   { "entity": { "customer_id": "c-17" }, "features": { "age": 41 } }
 *   { "instances": [ { "features": {…} }, { "entity": {…} } ] }
 *
 * An instance gives raw features, an entity key (its features are read from the online store;
 * values in `features` override stored ones), or both. Response (always a `predictions` array, in
 * request order):
 *
 *   { "model": "churn", "version": 3, "variant": "default", "requestId": "…",
 *     "predictions": [ { "label": 1, "score": 0.83, "probabilities": { "0": 0.17, "1": 0.83 },
 *                        "featureAges": { "orders_7d": 3600 } } ] }
 *
 * Errors: `{ "error": { "code", "message", "instance"?, "field"? }, "requestId" }` with the status
 * {@link ERROR_STATUS} gives. A batch answers every instance or fails as a whole.
 */
import type { ClassLabel } from '../training/model-contract.js';

/** A raw feature value in a request (JSON has no bigint; null means missing). */
export type RequestValue = number | string | boolean | null;

/** One instance of a predict request. */
export interface PredictInstance {
  readonly features?: Readonly<Record<string, RequestValue>>;
  /** Entity key values by entity name (the views' `entities`), e.g. `{ customer_id: 'c-17' }`. */
  readonly entity?: Readonly<Record<string, string | number>>;
  /**
   * The A/B unit (e.g. a user id) when an experiment runs on the model; absent, the entity key named
   * by the experiment's unit key. Without either, the instance is outside the experiment.
   */
  readonly unitId?: string;
}

/** A predict request body: one instance, or `instances`. */
export type PredictRequest = PredictInstance | { readonly instances: readonly PredictInstance[] };

/** The answer for one instance. */
export interface Prediction {
  /** Predicted class (classifiers). */
  readonly label?: ClassLabel;
  /** Binary classifiers: the probability of the positive class. */
  readonly score?: number;
  /** Classifiers: probability by class label (JSON object keys are the labels as strings). */
  readonly probabilities?: Readonly<Record<string, number>>;
  /** Regressors: the predicted value. */
  readonly prediction?: number;
  /**
   * Seconds since each online-store value's event time, for features read from the online store
   * (absent when the instance gave only raw features). A feature with no unexpired value: null.
   */
  readonly featureAges?: Readonly<Record<string, number | null>>;
  /** While an A/B experiment runs: the instance's variant and the version that scored it. */
  readonly variant?: string;
  readonly version?: number;
}

export interface PredictResponse {
  readonly model: string;
  readonly version: number;
  /**
   * The A/B variant that answered (issue 12); `default` outside experiments; `mixed` when the
   * instances of a batch fell in several (each prediction then names its own).
   */
  readonly variant: string;
  /**
   * The request's id, opaque and signed (./request-ids.ts): the feedback for these predictions
   * sends it back unchanged. Error bodies carry the Lambda request id, which feedback does not take.
   */
  readonly requestId: string;
  readonly predictions: readonly Prediction[];
}

/** `POST /v1/models/{model}/feedback`: the observed outcome of an earlier prediction. */
export interface FeedbackRequest {
  /**
   * The `requestId` the prediction answered, as it was answered (verified: feedback for a request
   * this model's predict did not answer is refused, 404 UnknownRequest).
   */
  readonly requestId: string;
  /** Index of the instance in that request (below its number of instances). @default 0 */
  readonly instance?: number;
  /** The observed label or value. */
  readonly outcome: ClassLabel | boolean;
  /**
   * The client's key for this feedback, kept with its captured record. An experiment counts one
   * outcome per served instance (`requestId` + `instance`) whatever the key: a retried or repeated
   * feedback never counts twice.
   */
  readonly idempotencyKey?: string;
  /**
   * The A/B experiment the outcome counts for (with `unitId`). The requestId says which experiment
   * served each instance and in which variant: another experiment, an instance served outside it,
   * or a unit of another variant answers 409 ExperimentConflict naming the field.
   */
  readonly experimentId?: string;
  readonly unitId?: string;
}

export interface FeedbackResponse {
  readonly accepted: true;
  readonly requestId: string;
  /** With `experimentId`: whether this outcome was counted (false: its served instance was counted before). */
  readonly counted?: boolean;
  readonly variant?: string;
}

export interface HealthResponse {
  readonly status: 'ok';
}

/** Default most instances per request (configuration `serving.maxBatchInstances`). */
export const DEFAULT_MAX_BATCH_INSTANCES = 1000;
/**
 * Lambda's limit on a synchronous invocation's payload: the whole proxy event API Gateway builds
 * (headers, request context, the body as a JSON string with its escapes), not the body alone.
 * API Gateway answers an event over it with a 413 (REQUEST_TOO_LARGE) without invoking anything.
 */
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
/**
 * Most bytes of a request body the function takes (PayloadTooLarge above it). 1 MiB under
 * {@link LAMBDA_SYNC_PAYLOAD_BYTES}, so the event of a body just over it (envelope and ordinary
 * escaping included) still reaches the function, which answers the refusal itself.
 */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** The variant outside A/B experiments. */
export const DEFAULT_VARIANT = 'default';
/** The response-level variant of a batch whose instances fell in several variants. */
export const MIXED_VARIANT = 'mixed';

/** Stable error codes and the HTTP status each answers with. */
export const ERROR_STATUS = {
  /** Not `application/json`. */
  UnsupportedMediaType: 415,
  /**
   * The body is not JSON (the function's code). Through the API a non-JSON body sent as
   * `application/json` is refused first by the gateway's validator as InvalidRequest.
   */
  InvalidJson: 400,
  /** The body's shape is wrong (not an object, `instances` not an array, an empty batch, …). */
  InvalidRequest: 400,
  /** More instances than the configured maximum. */
  BatchTooLarge: 413,
  /** A body over {@link MAX_BODY_BYTES}. */
  PayloadTooLarge: 413,
  /** A feature the model takes is absent (and not nullable), after online features are merged. */
  MissingFeature: 400,
  /** A feature the model does not take. */
  UnknownFeature: 400,
  /** A value of the wrong JSON type (a string for a numeric feature, …). */
  InvalidFeatureType: 400,
  /** NaN, an infinity, a non-integer for int64, or a value outside the view's min/max. */
  InvalidFeatureValue: 400,
  /** A category the feature view does not declare. */
  UnknownCategory: 400,
  /** An entity key that is malformed or names entities the model's views do not have. */
  InvalidEntity: 400,
  /** An entity the online store holds nothing (unexpired) for, in any of the model's views. */
  UnknownEntity: 404,
  /** No such model on this API. */
  UnknownModel: 404,
  /** No such route or method. */
  NotFound: 404,
  MethodNotAllowed: 405,
  /** The function has no model to serve (none deployed yet). */
  ModelNotDeployed: 503,
  /** The model artifact failed its SHA-256 check: the function refuses to serve. */
  ModelIntegrityError: 503,
  /** The model artifact matched its SHA-256 but carries no mlops model contract: not servable here. */
  ModelUnsupported: 503,
  /** Feedback sent to a function whose capture is off (no capture stream): nothing would keep it. */
  FeedbackNotEnabled: 503,
  /** Feedback names an experiment that does not exist. */
  UnknownExperiment: 404,
  /**
   * Feedback names a `requestId` this model's predict did not answer (made up, altered, or another
   * model's): nothing is recorded or counted.
   */
  UnknownRequest: 404,
  /**
   * Feedback names an experiment that is stopped, or did not serve the request or instance, or a unit
   * of another variant than the one served, or sends another outcome for an instance counted before.
   */
  ExperimentConflict: 409,
  /** A dependency (online store, registry) failed; retry. */
  DependencyError: 502,
  /** Anything else. */
  InternalError: 500,
  /**
   * Refused by the gateway before any function ran: no such route, model or method (API Gateway
   * answers those as MISSING_AUTHENTICATION_TOKEN, 403, like an unsigned request), a request
   * without valid credentials, or one its authorization denies.
   */
  Forbidden: 403,
  /** The stage's (or the usage plan's) throttle refused the request; retry later. */
  Throttled: 429,
  /** Another gateway refusal; the status is the gateway's own 4xx. */
  ClientError: 400,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * The subset of JSON Schema (draft 4) the body schemas use: `type` (object or array), `required`,
 * `properties`, `items` and `minItems`. API Gateway validates bodies with these (lib/inference-api.ts
 * models) and the local adapter with the same (local/body-schema.ts).
 */
export interface BodySchema {
  readonly type?: 'object' | 'array';
  readonly title?: string;
  readonly required?: readonly string[];
  readonly properties?: Readonly<Record<string, BodySchema>>;
  readonly items?: BodySchema;
  readonly minItems?: number;
}

/** A predict body at the gateway: shape only (field rules and the batch limit are the function's). */
export const PREDICT_BODY_SCHEMA = {
  title: 'PredictRequest',
  type: 'object',
  properties: {
    instances: { type: 'array', minItems: 1, items: { type: 'object' } },
    features: { type: 'object' },
    entity: { type: 'object' },
  },
} as const satisfies BodySchema;

/** A feedback body at the gateway: an object with the two fields it needs (their types are the function's). */
export const FEEDBACK_BODY_SCHEMA = {
  title: 'FeedbackRequest',
  type: 'object',
  required: ['requestId', 'outcome'],
} as const satisfies BodySchema;

export interface ErrorBody {
  readonly error: {
    readonly code: ErrorCode;
    readonly message: string;
    /** Index of the instance at fault, in a batch. */
    readonly instance?: number;
    /** The field at fault (a feature or entity name, or a request field). */
    readonly field?: string;
  };
  readonly requestId: string;
}

/** A request the API refuses: carries its code, and the instance and field at fault. */
export class RequestError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly where: { readonly instance?: number; readonly field?: string } = {},
  ) {
    super(message);
    this.name = 'RequestError';
    this.status = ERROR_STATUS[code];
  }
}

/**
 * A captured record (one JSON line in `capture/<model>/date=…/hour=…/`): every prediction of a
 * sampled request, and every feedback. Drift monitoring (issue 13) reads these.
 */
export type CaptureRecord =
  | {
      readonly kind: 'prediction';
      /**
       * The request's reference (./request-ids.ts requestRef): the first and last fields of the
       * requestId the predict answered, `<Lambda request id>.<mac>` (short whatever the batch).
       */
      readonly requestId: string;
      readonly instance: number;
      readonly timeMs: number;
      readonly model: string;
      readonly version: number;
      readonly variant: string;
      /** The features the model scored (request values merged over online ones). */
      readonly features: Readonly<Record<string, RequestValue>>;
      readonly prediction: Prediction;
    }
  | {
      readonly kind: 'feedback';
      /** The reference of the request it follows (as its prediction records name it). */
      readonly requestId: string;
      readonly instance: number;
      readonly timeMs: number;
      readonly model: string;
      readonly outcome: ClassLabel | boolean;
      readonly idempotencyKey?: string;
      /** With an experiment: its id, the unit, and the variant the outcome was counted in. */
      readonly experimentId?: string;
      readonly unitId?: string;
      readonly variant?: string;
    };
