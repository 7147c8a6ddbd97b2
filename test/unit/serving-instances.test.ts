import { describe, expect, it } from 'vitest';
import type { InputSignature } from '../../lambdas/registry/version-record.js';
import type { PredictInstance } from '../../lambdas/serving/contract.js';
import { RequestError } from '../../lambdas/serving/contract.js';
import { featureRules, prepareInstances } from '../../lambdas/serving/instances.js';
import { MemoryFeatureSource } from '../support/serving-fakes.js';
import { SERVING_ENTITY, SERVING_VIEW, servingViews } from '../support/serving-model.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const HOUR = 3_600_000;

const signature: InputSignature = {
  inputs: [
    { name: 'x1', type: 'float64', featureView: SERVING_VIEW },
    { name: 'x2', type: 'float64', featureView: SERVING_VIEW },
    { name: 'visits', type: 'int64', featureView: SERVING_VIEW },
    { name: 'segment', type: 'string', featureView: SERVING_VIEW },
    { name: 'vip', type: 'bool', featureView: SERVING_VIEW },
  ],
};
const rules = featureRules(signature, servingViews);
const full = { x1: 1.5, x2: 2, visits: 3, segment: 'a', vip: false };

function source() {
  return new MemoryFeatureSource({
    entity: SERVING_ENTITY,
    features: ['x1', 'x2', 'visits', 'segment', 'vip'],
    ttlMs: 24 * HOUR,
    entities: {
      'c-1': { eventMs: NOW - HOUR, values: { x1: 0.5, x2: 7, visits: 2n, segment: 'b', vip: true } },
      'c-2': { eventMs: NOW - 2 * HOUR, values: { x1: -1, x2: 1, visits: null, segment: 'c', vip: false } },
      'c-old': { eventMs: NOW - 48 * HOUR, values: full },
    },
  });
}

async function refusal(instances: PredictInstance[], features = source()): Promise<RequestError> {
  try {
    await prepareInstances(instances, rules, features, NOW);
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    return error as RequestError;
  }
  throw new Error('expected a RequestError, got none');
}

describe('featureRules', () => {
  it('takes nullable, min, max and categories from the views, type from the signature', () => {
    expect(rules.get('visits')).toMatchObject({ type: 'int64', nullable: true, min: 0 });
    expect(rules.get('x1')).toMatchObject({ nullable: false, min: -10, max: 10 });
    expect([...(rules.get('segment')?.categories ?? [])]).toEqual(['a', 'b', 'c']);
  });

  it('without the view definition: type only, required', () => {
    const bare = featureRules(signature);
    expect(bare.get('visits')).toEqual({ name: 'visits', type: 'int64', nullable: false });
    expect(bare.get('segment')?.categories).toBeUndefined();
  });
});

describe('prepareInstances', () => {
  it('passes raw features through in signature order, without feature ages', async () => {
    const features = source();
    const { rows, featureAges } = await prepareInstances(
      [{ features: { ...full, visits: null } }, { features: full }],
      rules,
      features,
      NOW,
    );
    expect(rows).toEqual([{ ...full, visits: null }, full]);
    expect(Object.keys(rows[0] ?? {})).toEqual(['x1', 'x2', 'visits', 'segment', 'vip']);
    expect(featureAges).toEqual([undefined, undefined]);
    expect(features.calls).toHaveLength(0);
  });

  it('reads every entity instance in ONE call, request values override stored ones, ages in seconds', async () => {
    const features = source();
    const { rows, featureAges } = await prepareInstances(
      [
        { entity: { customer_id: 'c-1' }, features: { x1: 9 } },
        { features: full },
        { entity: { customer_id: 'c-2' } },
      ],
      rules,
      features,
      NOW,
    );
    expect(features.calls).toEqual([[{ customer_id: 'c-1' }, { customer_id: 'c-2' }]]);
    // int64 bigints from the store become numbers; the request's x1 wins.
    expect(rows[0]).toEqual({ x1: 9, x2: 7, visits: 2, segment: 'b', vip: true });
    expect(rows[2]).toEqual({ x1: -1, x2: 1, visits: null, segment: 'c', vip: false });
    expect(featureAges[0]).toEqual({ x2: 3600, visits: 3600, segment: 3600, vip: 3600 });
    expect(featureAges[1]).toBeUndefined();
    expect(featureAges[2]).toEqual({ x1: 7200, x2: 7200, visits: 7200, segment: 7200, vip: 7200 });
  });

  it("gives the source's entity errors the request's instance index", async () => {
    const error = await refusal([
      { features: full },
      { entity: { customer_id: 'c-1' } },
      { entity: { customer_id: 'nope' } },
    ]);
    // The fake refuses as the real source does (entityRefusal): field `entity` for the key.
    expect(error).toMatchObject({
      code: 'UnknownEntity',
      status: 404,
      where: { instance: 2, field: 'entity' },
    });
    expect(error.message).toMatch(/^instance 2: entity: /);
    const invalid = await refusal([{ features: full }, { features: full }, { entity: { account: 'x' } }]);
    expect(invalid).toMatchObject({ code: 'InvalidEntity', where: { instance: 2, field: 'account' } });
    expect(invalid.message).toMatch(/^instance 2: entity\.account: /);
  });

  it('refuses an unknown feature before reading the online store', async () => {
    const features = source();
    const error = await refusal(
      [{ entity: { customer_id: 'c-1' } }, { features: { ...full, age: 3 } }],
      features,
    );
    expect(error).toMatchObject({
      code: 'UnknownFeature',
      status: 400,
      where: { instance: 1, field: 'age' },
    });
    expect(features.calls).toHaveLength(0);
  });

  it('refuses each bad value with its code, naming the instance and the feature', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ x2: undefined }, 'MissingFeature', 'x2'],
      [{ x1: null }, 'MissingFeature', 'x1'],
      [{ x1: '1.5' }, 'InvalidFeatureType', 'x1'],
      [{ x1: true }, 'InvalidFeatureType', 'x1'],
      [{ segment: 1 }, 'InvalidFeatureType', 'segment'],
      [{ vip: 1 }, 'InvalidFeatureType', 'vip'],
      [{ vip: 'true' }, 'InvalidFeatureType', 'vip'],
      [{ x2: Number.POSITIVE_INFINITY }, 'InvalidFeatureValue', 'x2'],
      [{ x2: Number.NaN }, 'InvalidFeatureValue', 'x2'],
      [{ visits: 1.5 }, 'InvalidFeatureValue', 'visits'],
      [{ visits: 2 ** 60 }, 'InvalidFeatureValue', 'visits'],
      [{ visits: -1 }, 'InvalidFeatureValue', 'visits'],
      [{ x1: 10.0001 }, 'InvalidFeatureValue', 'x1'],
      [{ x1: -11 }, 'InvalidFeatureValue', 'x1'],
      [{ segment: 'z' }, 'UnknownCategory', 'segment'],
      [{ segment: '' }, 'UnknownCategory', 'segment'],
    ];
    for (const [change, code, field] of cases) {
      const bad = { ...full, ...change };
      for (const key of Object.keys(change))
        if (change[key] === undefined) delete (bad as Record<string, unknown>)[key];
      const error = await refusal([
        { features: full },
        { features: full },
        { features: bad as PredictInstance['features'] },
      ]);
      expect(error.code, JSON.stringify(change)).toBe(code);
      expect(error.where, JSON.stringify(change)).toEqual({ instance: 2, field });
      expect(error.message).toContain('instance 2');
      expect(error.message).toContain(field);
    }
  });

  it('takes the bounds themselves (inclusive) and every declared category', async () => {
    const { rows } = await prepareInstances(
      ['a', 'b', 'c'].map((segment, i) => ({
        features: { ...full, segment, x1: [-10, 10, 0][i] as number, visits: 0 },
      })),
      rules,
      source(),
      NOW,
    );
    expect(rows.map((r) => r.x1)).toEqual([-10, 10, 0]);
  });

  it('treats a stored value past its TTL as missing: refused unless nullable or given', async () => {
    const stale = new MemoryFeatureSource({
      entity: SERVING_ENTITY,
      features: ['x1', 'visits'],
      ttlMs: 24 * HOUR,
      entities: { 'c-1': { eventMs: NOW - HOUR, values: { visits: 4 } } },
    });
    const error = await refusal(
      [{ entity: { customer_id: 'c-1' }, features: { x2: 1, segment: 'a', vip: true } }],
      stale,
    );
    expect(error).toMatchObject({ code: 'MissingFeature', where: { instance: 0, field: 'x1' } });
    expect(error.message).toContain('online store');
    const { rows, featureAges } = await prepareInstances(
      [{ entity: { customer_id: 'c-1' }, features: { x1: 1, x2: 1, segment: 'a', vip: true } }],
      rules,
      stale,
      NOW,
    );
    expect(rows[0]).toEqual({ x1: 1, x2: 1, visits: 4, segment: 'a', vip: true });
    expect(featureAges[0]).toEqual({ visits: 3600 });
  });

  it('refuses a stored value of the wrong type as the request one', async () => {
    const odd = new MemoryFeatureSource({
      entity: SERVING_ENTITY,
      features: ['segment'],
      ttlMs: HOUR,
      entities: { 'c-1': { eventMs: NOW, values: { segment: 'q' } } },
    });
    const error = await refusal(
      [{ entity: { customer_id: 'c-1' }, features: { x1: 1, x2: 1, visits: 1, vip: true } }],
      odd,
    );
    expect(error).toMatchObject({ code: 'UnknownCategory', where: { instance: 0, field: 'segment' } });
    expect(error.message).toContain('from the online store');
  });

  it('keeps an input named __proto__ as an own value of the row (no prototype change)', async () => {
    const odd = featureRules({ inputs: [{ name: '__proto__', type: 'float64' }] });
    const features = JSON.parse('{"__proto__":2.5}') as Record<string, number>;
    const { rows } = await prepareInstances([{ features }], odd, source(), NOW);
    expect(Object.getPrototypeOf(rows[0])).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(rows[0], '__proto__')?.value).toBe(2.5);
    expect(JSON.stringify(rows[0])).toBe('{"__proto__":2.5}');
  });
});
