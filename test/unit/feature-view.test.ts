import { describe, expect, it } from 'vitest';
import {
  defineFeatureView,
  type FeatureViewInput,
  NEVER_EXPIRES,
  viewTtlMs,
} from '../../lambdas/feature-store/feature-view.js';
import {
  compileRowValidator,
  MAX_EVENT_TIME_SKEW_MS,
  MIN_EVENT_TIME_MS,
  parseEventTime,
} from '../../lambdas/feature-store/row-validation.js';
import { validationErrorOf } from '../support/errors.js';

const defineError = (input: unknown) => validationErrorOf(() => defineFeatureView(input as FeatureViewInput));

const customer: FeatureViewInput = {
  name: 'customer_activity',
  owner: 'growth-ml',
  entities: [{ name: 'customer_id', type: 'string' }],
  ttlSeconds: 86_400,
  features: [
    { name: 'orders_30d', type: 'int64', min: 0 },
    { name: 'spend_30d', type: 'float64', nullable: true, min: 0, max: 1e6 },
    { name: 'segment', type: 'string', categories: ['new', 'regular', 'vip'] },
    { name: 'is_active', type: 'bool', nullable: true },
  ],
};

describe('defineFeatureView', () => {
  it('fills defaults and freezes the definition', () => {
    const view = defineFeatureView(customer);
    expect(view.eventTimeColumn).toBe('event_time');
    expect(view.online).toBe(true);
    expect(Object.isFrozen(view.features[0])).toBe(true);
  });

  it('rejects a duplicate column name, naming where it is', () => {
    const error = defineError({
      ...customer,
      features: [...customer.features, { name: 'customer_id', type: 'string' }],
    });
    expect(error.field).toBe('featureViews.customer_activity.features.4.name');
    expect(error.rule).toContain('duplicates');
  });

  it('rejects bounds on a string feature', () => {
    const error = defineError({ ...customer, features: [{ name: 'x', type: 'string', min: 1 }] });
    expect(error.field).toBe('featureViews.customer_activity.features.0.min');
  });

  it('rejects a view name Glue cannot hold', () => {
    expect(defineError({ ...customer, name: 'Customer-Activity' }).field).toBe(
      'featureViews.Customer-Activity.name',
    );
  });

  it.each([
    [
      { entities: [{ name: 'ingested_at', type: 'string' }] },
      'entities.0.name',
      'ingested_at is written by ingestion',
    ],
    [{ eventTimeColumn: 'ingested_at' }, 'eventTimeColumn', 'ingested_at is written by ingestion'],
    [{ features: [{ name: 'date', type: 'string' }] }, 'features.0.name', 'partition key'],
    [{ eventTimeColumn: 'date' }, 'eventTimeColumn', 'partition key'],
  ])('refuses the reserved column name in %j', (change, path, why) => {
    const error = defineError({ ...customer, ...change });
    expect(error.field).toBe(`featureViews.customer_activity.${path}`);
    expect(error.rule).toMatch(/^is reserved \(/);
    expect(error.rule).toContain(why);
  });

  it.each([
    [{ features: [{ name: 'spend__30d', type: 'float64' }] }, 'features.0.name'],
    [{ entities: [{ name: 'customer__id', type: 'string' }] }, 'entities.0.name'],
    [{ name: 'customer__activity' }, 'name'],
  ])('refuses a name containing __ in %j', (change, path) => {
    const name = (change as { name?: string }).name ?? 'customer_activity';
    const error = defineError({ ...customer, ...change });
    expect(error.field).toBe(`featureViews.${name}.${path}`);
    expect(error.rule).toContain('must not contain __');
  });

  it('rejects a non-positive TTL', () => {
    expect(defineError({ ...customer, ttlSeconds: 0 }).field).toBe(
      'featureViews.customer_activity.ttlSeconds',
    );
  });

  it("accepts ttlSeconds 'never' for values that never expire, an infinite TTL to readers", () => {
    const view = defineFeatureView({ ...customer, ttlSeconds: NEVER_EXPIRES });
    expect(view.ttlSeconds).toBe('never');
    expect(viewTtlMs(view)).toBe(Number.POSITIVE_INFINITY);
    expect(viewTtlMs(defineFeatureView(customer))).toBe(86_400_000);
  });

  it.each([
    ['forever', "must be a whole number of seconds or 'never'"],
    [undefined, "must be a whole number of seconds or 'never'"],
    [1.5, 'must be a whole number of seconds'],
    [-60, "must be positive (or 'never' for no expiry)"],
  ])('rejects ttlSeconds %j, naming the field and the rule', (ttlSeconds, rule) => {
    const error = defineError({ ...customer, ttlSeconds });
    expect(error.field).toBe('featureViews.customer_activity.ttlSeconds');
    expect(error.rule).toBe(rule);
  });
});

describe('compileRowValidator', () => {
  const view = defineFeatureView(customer);
  const typed = compileRowValidator(view, 'typed');
  const text = compileRowValidator(view, 'text');
  const good = {
    customer_id: 'c1',
    event_time: '2026-11-01T10:00:00Z',
    orders_30d: 3,
    spend_30d: 120.5,
    segment: 'vip',
    is_active: true,
  };

  it('accepts a valid typed row with its event time in epoch milliseconds', () => {
    const verdict = typed(good);
    expect(verdict).toEqual({
      ok: true,
      row: { eventTimeMs: Date.parse('2026-11-01T10:00:00Z'), values: { ...good, event_time: undefined } },
    });
  });

  it('fills an absent nullable feature with an explicit null', () => {
    const { is_active: _omitted, ...row } = good;
    const verdict = typed(row);
    expect(verdict.ok && verdict.row.values.is_active).toBeNull();
  });

  it.each([
    [{ orders_30d: '3' }, 'orders_30d: must be an integer, got string'],
    [{ orders_30d: 2.5 }, 'orders_30d: must be an integer'],
    [{ orders_30d: -1 }, 'orders_30d: must be >= 0'],
    [{ spend_30d: 2e6 }, 'spend_30d: must be <= 1000000'],
    [{ orders_30d: Number.NaN }, 'orders_30d: must not be NaN'],
    [{ segment: 'gold' }, 'segment: must be one of the view\'s categories, got "gold"'],
    [{ customer_id: '' }, 'customer_id: entity key must be a non-empty string of at most 1024 characters'],
    [
      { event_time: '2026-11-01 10:00:00' },
      'event_time: must be an RFC 3339 timestamp with a time zone or epoch milliseconds',
    ],
    [{ colour: 'red' }, 'colour: is not a column of feature view customer_activity'],
  ])('rejects %j with the reason %j', (change, reason) => {
    const verdict = typed({ ...good, ...change });
    expect(verdict).toEqual({ ok: false, reasons: [reason] });
  });

  it('reports a missing entity key and a missing event time together', () => {
    const { customer_id: _k, event_time: _t, ...row } = good;
    expect(typed(row)).toEqual({
      ok: false,
      reasons: ['customer_id: is required', 'event_time: is required'],
    });
  });

  it('treats NaN in a nullable float feature as null', () => {
    const verdict = typed({ ...good, spend_30d: Number.NaN });
    expect(verdict.ok && verdict.row.values.spend_30d).toBeNull();
  });

  it('parses CSV text per column type, empty meaning null', () => {
    const verdict = text({
      customer_id: 'c1',
      event_time: '1762000000000',
      orders_30d: '3',
      spend_30d: '',
      segment: 'new',
      is_active: 'false',
    });
    expect(verdict).toEqual({
      ok: true,
      row: {
        eventTimeMs: 1762000000000,
        values: { customer_id: 'c1', orders_30d: 3, spend_30d: null, segment: 'new', is_active: false },
      },
    });
  });

  it('rejects unparsable CSV numbers rather than reading them as NaN', () => {
    expect(text({ ...good, orders_30d: 'three', spend_30d: '1', is_active: '' })).toEqual({
      ok: false,
      reasons: ['orders_30d: must be an integer, got "three"'],
    });
  });

  it('rejects a row that is not an object', () => {
    expect(typed([1, 2])).toEqual({ ok: false, reasons: ['(row): must be an object of column values'] });
  });

  it.each(['   ', '0x1F', '0b11', '0o7', 'Infinity', '-Infinity', '1_000', '1e', '.', '+', '--1'])(
    'rejects the CSV number %j instead of reading it loosely',
    (cell) => {
      expect(text({ ...good, spend_30d: cell, orders_30d: '3', is_active: '' })).toEqual({
        ok: false,
        reasons: [`spend_30d: must be a number, got ${JSON.stringify(cell)}`],
      });
    },
  );

  it.each([
    ['12', 12],
    ['+12.5', 12.5],
    ['+0.5e-1', 0.05],
    ['.5', 0.5],
    ['5.', 5],
    ['1E3', 1000],
    [' 7 ', 7],
  ])('reads the CSV number %j in plain decimal notation as %d', (cell, expected) => {
    const verdict = text({ ...good, spend_30d: cell, orders_30d: '0', is_active: '' });
    expect(verdict.ok && verdict.row.values.spend_30d).toBe(expected);
  });

  it.each(['3.0', '1e3', '0x1F', '   ', ' ', '+'])('rejects the CSV int64 %j: plain digits only', (cell) => {
    expect(text({ ...good, orders_30d: cell, spend_30d: '1', is_active: '' })).toEqual({
      ok: false,
      reasons: [`orders_30d: must be an integer, got ${JSON.stringify(cell)}`],
    });
  });

  it('keeps reading the CSV literal NaN as null when nullable, and refusing it when not', () => {
    const nullable = text({ ...good, spend_30d: 'NaN', orders_30d: '1', is_active: '' });
    expect(nullable.ok && nullable.row.values.spend_30d).toBeNull();
    expect(text({ ...good, orders_30d: 'NaN', spend_30d: '1', is_active: '' })).toEqual({
      ok: false,
      reasons: ['orders_30d: must not be NaN'],
    });
  });
});

describe('int64 values beyond 2^53', () => {
  const view = defineFeatureView({
    name: 'merchant',
    owner: 'risk-ml',
    entities: [{ name: 'merchant_id', type: 'int64' }],
    ttlSeconds: 86_400,
    features: [{ name: 'orders', type: 'int64', nullable: true }],
  });
  const typed = compileRowValidator(view, 'typed');
  const text = compileRowValidator(view, 'text');
  const at = '2026-11-01T10:00:00Z';
  const unsafe = (column: string) => `${column}: must be an integer within ±(2^53−1)`;

  it('rejects JSON ids that JSON.parse already rounded, so two entities never merge into one', () => {
    for (const line of [
      `{"merchant_id":9007199254740993,"event_time":"${at}"}`,
      `{"merchant_id":9007199254740992,"event_time":"${at}"}`,
      `{"merchant_id":-9007199254740993,"event_time":"${at}"}`,
      `{"merchant_id":1e300,"event_time":"${at}"}`,
    ]) {
      expect(typed(JSON.parse(line))).toEqual({ ok: false, reasons: [unsafe('merchant_id')] });
    }
    expect(typed({ merchant_id: 1, event_time: at, orders: 2 ** 60 })).toEqual({
      ok: false,
      reasons: [unsafe('orders')],
    });
  });

  it('accepts the largest safe integers from JSON', () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(typed({ merchant_id: max, event_time: at, orders: -max })).toEqual({
      ok: true,
      row: { eventTimeMs: Date.parse(at), values: { merchant_id: max, orders: -max } },
    });
  });

  it('converts Parquet bigints within the safe range to numbers and rejects the others', () => {
    expect(typed({ merchant_id: 42n, event_time: at, orders: BigInt(-Number.MAX_SAFE_INTEGER) })).toEqual({
      ok: true,
      row: { eventTimeMs: Date.parse(at), values: { merchant_id: 42, orders: -Number.MAX_SAFE_INTEGER } },
    });
    expect(typed({ merchant_id: 9007199254740993n, event_time: at, orders: -(2n ** 53n) })).toEqual({
      ok: false,
      reasons: [unsafe('merchant_id'), unsafe('orders')],
    });
  });

  it('decides CSV int64 text on its exact digits', () => {
    expect(text({ merchant_id: '9007199254740993', event_time: at, orders: '-9007199254740992' })).toEqual({
      ok: false,
      reasons: [unsafe('merchant_id'), unsafe('orders')],
    });
    expect(text({ merchant_id: '9007199254740991', event_time: at, orders: '-0009007199254740991' })).toEqual(
      {
        ok: true,
        row: {
          eventTimeMs: Date.parse(at),
          values: { merchant_id: 9007199254740991, orders: -9007199254740991 },
        },
      },
    );
  });
});

describe('event-time bounds', () => {
  const view = defineFeatureView(customer);
  const now = Date.parse('2026-11-20T12:00:00Z');
  const validate = compileRowValidator(view, 'typed', { maxEventTimeMs: now + MAX_EVENT_TIME_SKEW_MS });
  const row = (eventTime: unknown) => ({
    customer_id: 'c1',
    event_time: eventTime,
    orders_30d: 1,
    segment: 'new',
  });

  it('exports the bounds ingestion applies', () => {
    expect(MIN_EVENT_TIME_MS).toBe(Date.parse('2000-01-01T00:00:00Z'));
    expect(MAX_EVENT_TIME_SKEW_MS).toBe(86_400_000);
  });

  it.each(['2000-01-01T00:00:00Z', '2000-01-01T01:00:00+01:00', MIN_EVENT_TIME_MS, '2026-11-21T12:00:00Z'])(
    'accepts %j, within the bounds',
    (eventTime) => {
      expect(validate(row(eventTime)).ok).toBe(true);
    },
  );

  it.each(['1999-12-31T23:59:59.999Z', '2000-01-01T00:30:00+01:00', 0, 1_000, '946684799999'])(
    'rejects %j, before the offline partitions start',
    (eventTime) => {
      expect(validate(row(eventTime))).toEqual({
        ok: false,
        reasons: ['event_time: must be on or after 2000-01-01T00:00:00Z'],
      });
    },
  );

  it('rejects an event time more than a day after ingestion, naming the bound', () => {
    expect(validate(row('2026-11-21T12:00:00.001Z'))).toEqual({
      ok: false,
      reasons: ['event_time: must not be after 2026-11-21T12:00:00.000Z (ingestion time + 1 day)'],
    });
    expect(compileRowValidator(view, 'typed')(row('2099-01-01T00:00:00Z')).ok).toBe(true);
  });

  it('rejects epoch milliseconds that are not whole', () => {
    expect(validate(row(1_762_000_000_000.5))).toEqual({
      ok: false,
      reasons: ['event_time: must be whole milliseconds'],
    });
  });

  it('rejects an impossible calendar date instead of rolling it over', () => {
    expect(validate(row('2024-02-30T00:00:00Z'))).toEqual({
      ok: false,
      reasons: ['event_time: must be an RFC 3339 timestamp with a time zone or epoch milliseconds'],
    });
  });
});

describe('online item size', () => {
  const input: FeatureViewInput = {
    name: 'document',
    owner: 'search-ml',
    entities: [{ name: 'doc_id', type: 'string' }],
    ttlSeconds: 86_400,
    features: [
      { name: 'body', type: 'string', nullable: true },
      { name: 'title', type: 'string', nullable: true },
      { name: 'score', type: 'float64', nullable: true },
    ],
  };
  const online = compileRowValidator(defineFeatureView(input), 'typed');
  const offline = compileRowValidator(defineFeatureView({ ...input, online: false }), 'typed');
  const row = (body: string, title = 'a title') => ({
    doc_id: 'd1',
    event_time: '2026-11-01T10:00:00Z',
    body,
    title,
    score: 0.5,
  });
  const tooLarge = /^row: too large for the online store \((\d+) bytes > 400 KB\)$/;

  it('rejects a row whose online item would exceed DynamoDB’s 400 KB', () => {
    const verdict = online(row('x'.repeat(450_000)));
    expect(verdict.ok).toBe(false);
    const reasons = verdict.ok ? [] : verdict.reasons;
    expect(reasons).toHaveLength(1);
    expect(Number(reasons[0]?.match(tooLarge)?.[1])).toBeGreaterThan(450_000);
  });

  it('counts UTF-8 bytes, not characters, across all string features', () => {
    // 140,000 characters but 420,000 bytes: a character-count shortcut would let it through.
    const verdict = online(row('€'.repeat(70_000), '€'.repeat(70_000)));
    expect(verdict.ok).toBe(false);
    expect(verdict.ok ? [] : verdict.reasons).toEqual([expect.stringMatching(tooLarge)]);
  });

  it('accepts long strings that still fit, and any size in an offline-only view', () => {
    expect(online(row('x'.repeat(350_000))).ok).toBe(true);
    expect(offline(row('x'.repeat(450_000))).ok).toBe(true);
  });
});

describe('parseEventTime', () => {
  it.each([
    ['2026-11-01T10:00:00.123+02:00', Date.parse('2026-11-01T08:00:00.123Z')],
    [1_762_000_000_000, 1_762_000_000_000],
    ['not a time', Number.NaN],
    [Number.POSITIVE_INFINITY, Number.NaN],
    [null, Number.NaN],
    ['2024-02-29T00:00:00Z', Date.parse('2024-02-29T00:00:00Z')],
    ['2000-02-29T23:59:59.999-23:59', Date.parse('2000-03-01T23:58:59.999Z')],
    ['2024-02-30T00:00:00Z', Number.NaN],
    ['2023-02-29T00:00:00Z', Number.NaN],
    ['1900-02-29T00:00:00Z', Number.NaN],
    ['2026-04-31T00:00:00Z', Number.NaN],
    ['2026-00-10T00:00:00Z', Number.NaN],
    ['2026-13-01T00:00:00Z', Number.NaN],
    ['2026-11-00T00:00:00Z', Number.NaN],
    ['2026-11-01T24:00:00Z', Number.NaN],
    ['2026-11-01T10:60:00Z', Number.NaN],
    ['2026-11-01T10:00:61Z', Number.NaN],
    ['2026-11-01T10:00:00+24:00', Number.NaN],
    ['2026-11-01T10:00:00+02:60', Number.NaN],
    [1e17, Number.NaN],
    ['100000000000000000', Number.NaN],
  ])('parses %j as %d', (raw, expected) => {
    expect(parseEventTime(raw)).toBe(expected);
  });
});
