import { describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureViewInput } from '../../lambdas/feature-store/feature-view.js';
import { compileRowValidator, parseEventTime } from '../../lambdas/feature-store/row-validation.js';
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

  it('rejects a non-positive TTL', () => {
    expect(defineError({ ...customer, ttlSeconds: 0 }).field).toBe(
      'featureViews.customer_activity.ttlSeconds',
    );
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
});

describe('parseEventTime', () => {
  it.each([
    ['2026-11-01T10:00:00.123+02:00', Date.parse('2026-11-01T08:00:00.123Z')],
    [1_762_000_000_000, 1_762_000_000_000],
    ['not a time', Number.NaN],
    [Number.POSITIVE_INFINITY, Number.NaN],
    [null, Number.NaN],
  ])('parses %j as %d', (raw, expected) => {
    expect(parseEventTime(raw)).toBe(expected);
  });
});
