/**
 * Feature view definitions: what a team declares about a group of features (entity keys, typed
 * features with their rules, event time, TTL, online or not). Plain code, so the CDK app, the
 * Lambdas and the CLI read the same definitions and apply the same rules.
 */
import * as z from 'zod';
import { ValidationError } from '../shared/errors.js';
import { OFFLINE_PARTITION_COLUMN } from '../shared/layout.js';
import { parseOrThrow } from '../shared/validation.js';
import { INGESTED_AT_COLUMN } from './row-validation.js';

/**
 * Names used in S3 keys, Glue table and column names and DynamoDB attributes: Glue's rules. No
 * `__` either: training sets name their columns `<view>__<feature>`, which must say which is which.
 */
const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;
const IDENTIFIER_RULE = 'must be 1-63 of a-z 0-9 _, starting with a letter';
const identifier = z
  .string({ error: 'must be a string' })
  .regex(IDENTIFIER, IDENTIFIER_RULE)
  .refine(
    (name) => !name.includes('__'),
    'must not contain __ (training sets name columns <view>__<feature>)',
  );

/** Columns every offline file and table holds besides a view's own: no view may declare them. */
const RESERVED_COLUMNS: ReadonlyMap<string, string> = new Map([
  [INGESTED_AT_COLUMN, `is reserved (${INGESTED_AT_COLUMN} is written by ingestion)`],
  [
    OFFLINE_PARTITION_COLUMN,
    `is reserved (${OFFLINE_PARTITION_COLUMN} is the offline tables' partition key)`,
  ],
]);
/** An entity key, feature or event-time column name. */
const columnName = identifier.superRefine((name, ctx) => {
  const reserved = RESERVED_COLUMNS.get(name);
  if (reserved !== undefined) ctx.addIssue({ code: 'custom', message: reserved });
});

/** The `ttlSeconds` of a view whose values never expire. */
export const NEVER_EXPIRES = 'never';

export const FEATURE_TYPES = ['float64', 'int64', 'string', 'bool'] as const;
export type FeatureType = (typeof FEATURE_TYPES)[number];
export const ENTITY_KEY_TYPES = ['string', 'int64'] as const;

const entityKeySchema = z.strictObject({
  name: columnName,
  type: z.enum(ENTITY_KEY_TYPES, { error: `must be one of ${ENTITY_KEY_TYPES.join(', ')}` }),
  description: z.string().max(1024).default(''),
});

const featureSchema = z
  .strictObject({
    name: columnName,
    type: z.enum(FEATURE_TYPES, { error: `must be one of ${FEATURE_TYPES.join(', ')}` }),
    /** Whether null (missing) is an allowed value. */
    nullable: z.boolean().default(false),
    description: z.string().max(1024).default(''),
    /** Inclusive bounds for numeric features. */
    min: z.number().optional(),
    max: z.number().optional(),
    /** Allowed values of a string feature. */
    categories: z.array(z.string().min(1)).min(1).optional(),
  })
  .superRefine((feature, ctx) => {
    const numeric = feature.type === 'float64' || feature.type === 'int64';
    if (!numeric && (feature.min !== undefined || feature.max !== undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['min'],
        message: 'bounds apply only to float64 and int64 features',
      });
    }
    if (feature.min !== undefined && feature.max !== undefined && feature.min > feature.max) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'must not exceed max' });
    }
    if (feature.categories !== undefined && feature.type !== 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['categories'],
        message: 'categories apply only to string features',
      });
    }
  });

export const featureViewSchema = z
  .strictObject({
    name: identifier,
    description: z.string().max(4096).default(''),
    owner: z.string({ error: 'must be a string' }).min(1, 'must name a team or person'),
    tags: z.record(z.string(), z.string()).default({}),
    entities: z.array(entityKeySchema).min(1, 'must declare at least one entity key').max(4),
    /** Column holding each row's event time (RFC 3339 string or epoch milliseconds on input). */
    eventTimeColumn: columnName.default('event_time'),
    /**
     * How long a value stays valid after its event time, in seconds; `'never'` for values that never
     * expire (slowly changing attributes, Feast's `ttl=0`): reads then take the latest value at or
     * before their time, however old. Required, so that no view expires never by omission.
     */
    ttlSeconds: z
      .union([z.literal(NEVER_EXPIRES), z.number()], {
        error: `must be a whole number of seconds or '${NEVER_EXPIRES}'`,
      })
      .refine((ttl) => ttl === NEVER_EXPIRES || Number.isInteger(ttl), 'must be a whole number of seconds')
      .refine(
        (ttl) => ttl === NEVER_EXPIRES || ttl > 0,
        `must be positive (or '${NEVER_EXPIRES}' for no expiry)`,
      ),
    /** Whether the view is materialized into the online store. */
    online: z.boolean().default(true),
    /** Minutes between scheduled materializations of an online view. */
    materializeEveryMinutes: z
      .number()
      .int('must be a whole number of minutes')
      .min(1, 'must be at least 1')
      .max(10_080, 'must be at most a week (10080)')
      .default(60),
    features: z.array(featureSchema).min(1, 'must declare at least one feature').max(500),
  })
  .superRefine((view, ctx) => {
    const seen = new Set<string>();
    const columns = [
      ...view.entities.map((e, i) => ({ name: e.name, path: ['entities', i, 'name'] })),
      { name: view.eventTimeColumn, path: ['eventTimeColumn'] },
      ...view.features.map((f, i) => ({ name: f.name, path: ['features', i, 'name'] })),
    ];
    for (const column of columns) {
      if (seen.has(column.name)) {
        ctx.addIssue({
          code: 'custom',
          path: column.path,
          message: `duplicates the column name ${column.name}`,
        });
      }
      seen.add(column.name);
    }
  });

export type FeatureViewInput = z.input<typeof featureViewSchema>;
export type FeatureView = z.output<typeof featureViewSchema>;
export type FeatureDefinition = FeatureView['features'][number];

/** How long a value of `view` stays valid after its event time, in ms: Infinity when it never expires. */
export function viewTtlMs(view: Pick<FeatureView, 'ttlSeconds'>): number {
  return view.ttlSeconds === NEVER_EXPIRES ? Number.POSITIVE_INFINITY : view.ttlSeconds * 1000;
}

/** Validates a feature view definition and returns it frozen, defaults filled in. */
export function defineFeatureView(input: FeatureViewInput): FeatureView {
  return deepFreeze(parseOrThrow(featureViewSchema, input, `featureViews.${String(input?.name ?? '?')}`));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Finds a view by name among the defined ones; a typed error names the field when it is not defined. */
export function findFeatureView(
  views: ReadonlyMap<string, FeatureView>,
  name: unknown,
  field = 'view',
): FeatureView {
  const view = typeof name === 'string' ? views.get(name) : undefined;
  if (view === undefined)
    throw new ValidationError(field, `must be a defined feature view (${String(name)} is not)`);
  return view;
}
