/**
 * Request bodies of the inference API, read and checked before anything else runs: the content
 * type, the size (before parsing; base64 bodies decoded), the JSON and the shape of a predict or
 * feedback request. Every refusal is a RequestError naming the rule and, where there is one, the
 * instance and the field (contract.ts). Nothing here knows the model: names, types and values of
 * features are instances.ts's, against the model's signature.
 *
 * Walks only the levels the contract defines (body → instances → features/entity → value), so a
 * deeply nested or huge body costs one JSON.parse and a bounded look, never a recursion.
 */
import type { ProxyEvent } from './api-gateway.js';
import {
  type FeedbackRequest,
  MAX_BODY_BYTES,
  type PredictInstance,
  RequestError,
  type RequestValue,
} from './contract.js';
import { MAX_REQUEST_ID_LENGTH } from './request-ids.js';

/** What request.ts reads of an API Gateway (REST, v1) proxy event (./api-gateway.ts): body, headers. */
export type BodyEvent = Pick<ProxyEvent, 'body'> & Partial<Pick<ProxyEvent, 'isBase64Encoded' | 'headers'>>;

const JSON_MEDIA_TYPE = 'application/json';
/** Longest request id, outcome string and idempotency key a feedback may carry. */
export const MAX_FEEDBACK_TEXT = 256;

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const kindOf = (value: unknown): string =>
  value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;

/** The value of header `name`, whatever its case (API Gateway passes clients' spelling). */
function header(event: BodyEvent, name: string): string | undefined {
  const headers = event.headers;
  if (headers === null || headers === undefined || typeof headers !== 'object') return undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}

/** Checks the content type is JSON (`application/json`, parameters allowed): else 415. */
export function checkContentType(event: BodyEvent): void {
  const contentType = header(event, 'content-type');
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase();
  if (mediaType !== JSON_MEDIA_TYPE) {
    throw new RequestError(
      'UnsupportedMediaType',
      contentType === undefined
        ? `content-type must be ${JSON_MEDIA_TYPE} (none was given)`
        : `content-type must be ${JSON_MEDIA_TYPE}, not ${JSON.stringify(contentType.slice(0, 100))}`,
      { field: 'content-type' },
    );
  }
}

function tooLarge(bytes: number): RequestError {
  return new RequestError(
    'PayloadTooLarge',
    `the body must be at most ${MAX_BODY_BYTES} bytes, not ${bytes}`,
  );
}

/** The body as text, its size checked before it is decoded or parsed. */
export function bodyText(event: BodyEvent): string {
  const body = event.body;
  if (typeof body !== 'string' || body.length === 0) {
    throw new RequestError('InvalidJson', 'the body must be JSON; it is empty');
  }
  if (event.isBase64Encoded) {
    // Decoded size from the encoded length, so an oversized body is never decoded.
    const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
    const estimate = Math.floor((body.length * 3) / 4) - padding;
    if (estimate > MAX_BODY_BYTES) throw tooLarge(estimate);
    const bytes = Buffer.from(body, 'base64');
    if (bytes.byteLength > MAX_BODY_BYTES) throw tooLarge(bytes.byteLength);
    return bytes.toString('utf8');
  }
  // UTF-8 needs at most 3 bytes per UTF-16 unit: only a long string needs counting.
  if (body.length * 3 > MAX_BODY_BYTES) {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_BODY_BYTES) throw tooLarge(bytes);
  }
  return body;
}

/** Content type, size and JSON of a body: the parsed value. */
export function readJsonBody(event: BodyEvent): unknown {
  checkContentType(event);
  const text = bodyText(event);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RequestError(
      'InvalidJson',
      `the body must be JSON: ${error instanceof Error ? error.message.slice(0, 200) : 'unparseable'}`,
    );
  }
}

/** A key of `object` outside `allowed`, if any (the first, in the body's order). */
function unknownKey(object: JsonObject, allowed: readonly string[]): string | undefined {
  for (const key of Object.keys(object)) if (!allowed.includes(key)) return key;
  return undefined;
}

const INSTANCE_KEYS = ['features', 'entity', 'unitId'] as const;

/**
 * Checks every feature value is a JSON scalar or null. The parsed object is kept as it is (no
 * copy): JSON.parse makes every key, `__proto__` included, an own data property.
 */
function checkScalars(features: JsonObject, at: number): asserts features is Record<string, RequestValue> {
  for (const name in features) {
    if (!Object.hasOwn(features, name)) continue;
    const v = features[name];
    if (v !== null && typeof v !== 'number' && typeof v !== 'string' && typeof v !== 'boolean') {
      throw new RequestError(
        'InvalidFeatureType',
        `feature ${JSON.stringify(name.slice(0, 100))} must be a number, string, boolean or null, not ${kindOf(v)}`,
        { instance: at, field: name },
      );
    }
  }
}

/** Checks an entity key: at least one name, each value a string or a finite number. */
function checkEntityKey(
  entity: JsonObject,
  at: number,
  field: string,
): asserts entity is Record<string, string | number> {
  let count = 0;
  for (const name in entity) {
    if (!Object.hasOwn(entity, name)) continue;
    const v = entity[name];
    if (typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) {
      throw new RequestError(
        'InvalidEntity',
        `entity key ${JSON.stringify(name.slice(0, 100))} must be a string or a finite number, not ${kindOf(v)}`,
        { instance: at, field: name },
      );
    }
    count++;
  }
  if (count === 0) {
    throw new RequestError('InvalidEntity', `${field} must name at least one entity key`, {
      instance: at,
      field,
    });
  }
}

/** One instance's shape: features and entity objects of scalar values; `at` is its index (0 for a single-instance body). */
function readInstance(value: unknown, at: number, path: string): PredictInstance {
  const where = { instance: at };
  if (!isObject(value)) {
    throw new RequestError('InvalidRequest', `${path} must be an object, not ${kindOf(value)}`, {
      ...where,
      field: path,
    });
  }
  const extra = unknownKey(value, INSTANCE_KEYS);
  if (extra !== undefined) {
    throw new RequestError(
      'InvalidRequest',
      `${path} has an unknown field ${JSON.stringify(extra.slice(0, 100))} (an instance takes features, entity and unitId)`,
      { ...where, field: prefixed(path, extra) },
    );
  }
  const { features, entity } = value;
  if (features === undefined && entity === undefined) {
    throw new RequestError('InvalidRequest', `${path} must give features, an entity, or both`, {
      ...where,
      field: path,
    });
  }
  const instance: {
    features?: Record<string, RequestValue>;
    entity?: Record<string, string | number>;
    unitId?: string;
  } = {};
  if (features !== undefined) {
    const field = prefixed(path, 'features');
    if (!isObject(features)) {
      throw new RequestError('InvalidRequest', `${field} must be an object, not ${kindOf(features)}`, {
        ...where,
        field,
      });
    }
    checkScalars(features, at);
    instance.features = features;
  }
  if (entity !== undefined) {
    const field = prefixed(path, 'entity');
    if (!isObject(entity)) {
      throw new RequestError('InvalidRequest', `${field} must be an object, not ${kindOf(entity)}`, {
        ...where,
        field,
      });
    }
    checkEntityKey(entity, at, field);
    instance.entity = entity;
  }
  const unitId = value.unitId;
  if (unitId !== undefined) {
    if (typeof unitId !== 'string' || unitId.length === 0 || unitId.length > MAX_FEEDBACK_TEXT) {
      const field = prefixed(path, 'unitId');
      throw new RequestError(
        'InvalidRequest',
        `${field} must be a string of 1 to ${MAX_FEEDBACK_TEXT} characters, not ${kindOf(unitId)}`,
        { ...where, field },
      );
    }
    instance.unitId = unitId;
  }
  return instance;
}

const prefixed = (path: string, key: string): string => (path === 'body' ? key : `${path}.${key}`);

/**
 * A predict body (`{ features?, entity? }` or `{ instances: [...] }`) into its instances, checking
 * content type, size, JSON, shape and batch size (at most `maxBatchInstances`).
 */
export function parsePredictRequest(event: BodyEvent, maxBatchInstances: number): PredictInstance[] {
  const body = readJsonBody(event);
  if (!isObject(body)) {
    throw new RequestError('InvalidRequest', `the body must be a JSON object, not ${kindOf(body)}`, {
      field: 'body',
    });
  }
  if (!Object.hasOwn(body, 'instances')) return [readInstance(body, 0, 'body')];
  const extra = unknownKey(body, ['instances']);
  if (extra !== undefined) {
    throw new RequestError(
      'InvalidRequest',
      `the body has an unknown field ${JSON.stringify(extra.slice(0, 100))} beside instances (a batch takes only instances)`,
      { field: extra },
    );
  }
  const instances = body.instances;
  if (!Array.isArray(instances)) {
    throw new RequestError('InvalidRequest', `instances must be an array, not ${kindOf(instances)}`, {
      field: 'instances',
    });
  }
  if (instances.length === 0) {
    throw new RequestError('InvalidRequest', 'instances must not be empty', { field: 'instances' });
  }
  if (instances.length > maxBatchInstances) {
    throw new RequestError(
      'BatchTooLarge',
      `instances must hold at most ${maxBatchInstances} instances, not ${instances.length}`,
      { field: 'instances' },
    );
  }
  return instances.map((instance, i) => readInstance(instance, i, `instances[${i}]`));
}

function text(body: JsonObject, key: string, required: boolean, max = MAX_FEEDBACK_TEXT): string | undefined {
  const value = body[key];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    throw new RequestError(
      'InvalidRequest',
      `${key} must be a string of 1 to ${max} characters${value === undefined ? ' (it is required)' : `, not ${kindOf(value)}`}`,
      { field: key },
    );
  }
  return value;
}

const FEEDBACK_KEYS = [
  'requestId',
  'instance',
  'outcome',
  'idempotencyKey',
  'experimentId',
  'unitId',
] as const;

/**
 * A feedback body: `requestId` (required), `instance` (an index below `maxBatchInstances`),
 * `outcome` (a class label, boolean or value) and `idempotencyKey`.
 */
export function parseFeedbackRequest(event: BodyEvent, maxBatchInstances: number): FeedbackRequest {
  const body = readJsonBody(event);
  if (!isObject(body)) {
    throw new RequestError('InvalidRequest', `the body must be a JSON object, not ${kindOf(body)}`, {
      field: 'body',
    });
  }
  const extra = unknownKey(body, FEEDBACK_KEYS);
  if (extra !== undefined) {
    throw new RequestError(
      'InvalidRequest',
      `the body has an unknown field ${JSON.stringify(extra.slice(0, 100))} (feedback takes ${FEEDBACK_KEYS.join(', ')})`,
      { field: extra },
    );
  }
  // A signed id carries its instances' variants under an experiment: longer than other texts.
  const requestId = text(body, 'requestId', true, MAX_REQUEST_ID_LENGTH) as string;
  const instance = body.instance;
  if (
    instance !== undefined &&
    !(
      typeof instance === 'number' &&
      Number.isInteger(instance) &&
      instance >= 0 &&
      instance < maxBatchInstances
    )
  ) {
    throw new RequestError(
      'InvalidRequest',
      `instance must be an integer from 0 to ${maxBatchInstances - 1}, not ${typeof instance === 'number' ? instance : kindOf(instance)}`,
      { field: 'instance' },
    );
  }
  const outcome = body.outcome;
  const validOutcome =
    typeof outcome === 'boolean' ||
    (typeof outcome === 'number' && Number.isFinite(outcome)) ||
    (typeof outcome === 'string' && outcome.length > 0 && outcome.length <= MAX_FEEDBACK_TEXT);
  if (!validOutcome) {
    throw new RequestError(
      'InvalidRequest',
      `outcome must be a class label (a string of 1 to ${MAX_FEEDBACK_TEXT} characters or a finite number), a boolean or a value${outcome === undefined ? ' (it is required)' : `, not ${kindOf(outcome)}`}`,
      { field: 'outcome' },
    );
  }
  const idempotencyKey = text(body, 'idempotencyKey', false);
  const experimentId = text(body, 'experimentId', false);
  const unitId = text(body, 'unitId', false);
  if ((experimentId === undefined) !== (unitId === undefined)) {
    const missing = experimentId === undefined ? 'experimentId' : 'unitId';
    throw new RequestError(
      'InvalidRequest',
      `${missing} is required with ${missing === 'unitId' ? 'experimentId' : 'unitId'}`,
      {
        field: missing,
      },
    );
  }
  return {
    requestId,
    ...(instance === undefined ? {} : { instance }),
    outcome,
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    ...(experimentId === undefined ? {} : { experimentId }),
    ...(unitId === undefined ? {} : { unitId }),
  };
}
