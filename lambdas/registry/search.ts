/**
 * Search rules of the registry, in one place: the request schema, which index answers a request
 * (its key range and order), the check every returned version passes, the opaque page token and the
 * index items a version carries. No I/O here; ./search-store.ts runs it against the table.
 *
 * Which index drives a search (the others' filters are checked on the version items it yields):
 *   alias                          the alias item, then that one version (the alias read again if
 *                                              it moved in between: ./alias-reader.ts)
 *   orderBy metric m               METRIC#m#…  (a key range when `metric` filters on m too)
 *   stage Production               STAGE#Production#… (at most one version)
 *   tag k=v                        TAG#k=v#…   newest first
 *   stage s                        STAGE#s#…   newest first
 *   otherwise                      VERSION#…   newest first (a metric filter on another order is
 *                                              checked on each version: order by the metric to make
 *                                              it a key range)
 */
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { ValidationError } from '../shared/errors.js';
import {
  afterIndexPrefix,
  metricIndexPrefix,
  metricIndexSk,
  metricValueBounds,
  SEARCH_INDEX_ATTRIBUTE,
  stageIndexPrefix,
  tagIndexPrefix,
  tagIndexSk,
  VERSION_SK_PREFIX,
} from '../shared/layout.js';
import { parseOrThrow } from '../shared/validation.js';
import { ALIAS_PATTERN } from './alias-store.js';
import { MODEL_STAGES, type ModelVersion } from './model-version.js';

export const METRIC_OPS = ['>', '>=', '<', '<=', '='] as const;
export type MetricOp = (typeof METRIC_OPS)[number];

const keyName = (what: string) =>
  z
    .string({ error: 'must be a string' })
    .regex(/^[A-Za-z0-9_.:/-]{1,128}$/, `${what} names must be 1-128 of A-Z a-z 0-9 _ . : / -`);

export const searchVersionsSchema = z.strictObject({
  stage: z.enum(MODEL_STAGES, { error: `must be one of ${MODEL_STAGES.join(', ')}` }).optional(),
  alias: z
    .string({ error: 'must be a string' })
    .regex(ALIAS_PATTERN, 'must be 1-63 of a-z 0-9 - _, starting with a letter')
    .optional(),
  tag: z
    .strictObject({
      key: keyName('tag'),
      value: z.string({ error: 'must be a string' }).max(256, 'must be at most 256 characters'),
    })
    .optional(),
  metric: z
    .strictObject({
      name: keyName('metric'),
      op: z.enum(METRIC_OPS, { error: `must be one of ${METRIC_OPS.join(' ')}` }),
      value: z.number({ error: 'must be a finite number' }),
    })
    .optional(),
  orderBy: z
    .union(
      [
        z.literal('version'),
        z.strictObject({
          metric: keyName('metric'),
          direction: z.enum(['asc', 'desc'], { error: 'must be asc or desc' }).default('desc'),
        }),
      ],
      { error: "must be 'version' or { metric, direction? }" },
    )
    .default('version'),
  limit: z
    .number({ error: 'must be an integer from 1 to 100' })
    .int('must be an integer from 1 to 100')
    .min(1, 'must be an integer from 1 to 100')
    .max(100, 'must be an integer from 1 to 100')
    .default(50),
  nextToken: z.string({ error: 'must be a string' }).optional(),
});

export type SearchVersionsOptions = z.input<typeof searchVersionsSchema>;
export type SearchVersionsRequest = z.output<typeof searchVersionsSchema>;

/** Validates search options; throws a {@link ValidationError} naming the field and the rule. */
export function parseSearchVersions(input: unknown): SearchVersionsRequest {
  // zod's union error would hide which part of an orderBy object is wrong: check the object alone.
  const orderBy = (input as { orderBy?: unknown } | undefined)?.orderBy;
  if (orderBy !== undefined && orderBy !== 'version' && typeof orderBy === 'object' && orderBy !== null) {
    parseOrThrow(searchVersionsSchema.shape.orderBy.unwrap().options[1], orderBy, 'orderBy');
  }
  return parseOrThrow(searchVersionsSchema, input ?? {});
}

/** The index a search reads and how: a key range of the model's partition, in one direction. */
export interface SearchPlan {
  readonly kind: 'alias' | 'metric' | 'stage' | 'tag' | 'version';
  /** Every sort key of the index starts with this. */
  readonly prefix: string;
  /** Inclusive sort-key bounds (BETWEEN), inside `prefix`. */
  readonly low: string;
  readonly high: string;
  /** DynamoDB's ScanIndexForward. */
  readonly ascending: boolean;
}

/** Chooses the index that answers `request` (see the module header). */
export function planSearch(request: SearchVersionsRequest): SearchPlan {
  const range = (kind: SearchPlan['kind'], prefix: string, ascending = false): SearchPlan => ({
    kind,
    prefix,
    low: prefix,
    high: afterIndexPrefix(prefix),
    ascending,
  });
  if (request.alias !== undefined) return range('alias', '');
  if (request.orderBy !== 'version') {
    const prefix = metricIndexPrefix(request.orderBy.metric);
    const plan = range('metric', prefix, request.orderBy.direction === 'asc');
    const filter = request.metric;
    if (filter === undefined || filter.name !== request.orderBy.metric) return plan;
    const { below, above } = metricValueBounds(filter.name, filter.value);
    switch (filter.op) {
      case '>':
        return { ...plan, low: above };
      case '>=':
        return { ...plan, low: below };
      case '<':
        return { ...plan, high: below };
      case '<=':
        return { ...plan, high: above };
      case '=':
        return { ...plan, low: below, high: above };
    }
  }
  if (request.stage === 'Production') return range('stage', stageIndexPrefix('Production'));
  if (request.tag !== undefined) return range('tag', tagIndexPrefix(request.tag.key, request.tag.value));
  if (request.stage !== undefined) return range('stage', stageIndexPrefix(request.stage));
  return range('version', VERSION_SK_PREFIX);
}

/** The version number an index item of `plan` points at (the last 10 digits of its sort key). */
export function versionOfIndexKey(sk: string): number {
  return Number(sk.slice(-10));
}

/** Whether `version` passes every filter of `request` (checked on the version item itself). */
export function matches(version: ModelVersion, request: SearchVersionsRequest): boolean {
  if (request.stage !== undefined && version.stage !== request.stage) return false;
  if (request.alias !== undefined && !version.aliases.includes(request.alias)) return false;
  if (request.tag !== undefined && version.tags[request.tag.key] !== request.tag.value) return false;
  if (request.metric !== undefined) {
    const value = version.metrics[request.metric.name];
    if (typeof value !== 'number') return false;
    const threshold = request.metric.value;
    const pass = {
      '>': value > threshold,
      '>=': value >= threshold,
      '<': value < threshold,
      '<=': value <= threshold,
      '=': value === threshold,
    }[request.metric.op];
    if (!pass) return false;
  }
  // Ordering by a metric lists only versions that have it (the index holds no others).
  if (request.orderBy !== 'version' && typeof version.metrics[request.orderBy.metric] !== 'number')
    return false;
  return true;
}

/** What a page token binds: the request it continues (filters and order) and where it stopped. */
function fingerprint(modelName: string, request: SearchVersionsRequest): string {
  const { limit: _limit, nextToken: _token, ...query } = request;
  return createHash('sha256')
    .update(JSON.stringify([modelName, query]))
    .digest('base64url')
    .slice(0, 22);
}

/** An opaque token: the sort key the page stopped after and the fingerprint of the request. */
export function encodeSearchToken(modelName: string, request: SearchVersionsRequest, sk: string): string {
  return Buffer.from(JSON.stringify({ q: fingerprint(modelName, request), sk })).toString('base64url');
}

/**
 * The sort key a token continues after. A token that is not one this search issued (garbled, from
 * another model or other filters, or a key outside the index range) is a {@link ValidationError}.
 */
export function decodeSearchToken(
  modelName: string,
  request: SearchVersionsRequest,
  plan: SearchPlan,
  token: string,
): string {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      q?: unknown;
      sk?: unknown;
    };
    const { q, sk } = decoded;
    if (
      plan.kind !== 'alias' &&
      q === fingerprint(modelName, request) &&
      typeof sk === 'string' &&
      sk.startsWith(plan.prefix) &&
      sk >= plan.low &&
      sk <= plan.high
    )
      return sk;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError(
    'nextToken',
    'must be a token returned by the previous page of this search (same model, filters and order)',
  );
}

/**
 * The search-index items of a newly registered version (besides its stage item): one per tag and
 * one per metric. Tags and metrics never change after registration, so these are written once.
 */
export function tagAndMetricIndexKeys(version: Pick<ModelVersion, 'version' | 'tags' | 'metrics'>): string[] {
  return [
    ...Object.entries(version.tags).map(([key, value]) => tagIndexSk(key, value, version.version)),
    ...Object.entries(version.metrics)
      .filter(([, value]) => Number.isFinite(value))
      .map(([name, value]) => metricIndexSk(name, value, version.version)),
  ];
}

/** Whether a head item says every version of its model carries search-index items. */
export function headIsIndexed(head: Record<string, unknown>): boolean {
  return typeof head[SEARCH_INDEX_ATTRIBUTE] === 'number';
}
