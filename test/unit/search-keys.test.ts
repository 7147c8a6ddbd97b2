import { describe, expect, it } from 'vitest';
import {
  decodeSearchToken,
  encodeSearchToken,
  parseSearchVersions,
  planSearch,
} from '../../lambdas/registry/search.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import {
  metricIndexSk,
  numberFromSortable,
  sortableNumber,
  tagIndexPrefix,
  tagIndexSk,
} from '../../lambdas/shared/layout.js';
import { prng } from '../support/random.js';

/** Random finite doubles of every kind: random bit patterns (tiny, huge, subnormal), and everyday values. */
function randomDoubles(count: number, seed: number): number[] {
  const random = prng(seed);
  const view = new DataView(new ArrayBuffer(8));
  const out: number[] = [
    0,
    -0,
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
    1,
    -1,
  ];
  out.push(Number.EPSILON, -Number.EPSILON, 2 ** -1022, -(2 ** -1022), 0.1, 0.2, 0.30000000000000004);
  while (out.length < count) {
    const kind = random();
    let value: number;
    if (kind < 0.5) {
      view.setUint32(0, Math.floor(random() * 2 ** 32));
      view.setUint32(4, Math.floor(random() * 2 ** 32));
      value = view.getFloat64(0);
    } else if (kind < 0.8) {
      value = (random() - 0.5) * 10 ** Math.floor(random() * 20 - 10);
    } else {
      value = Math.round((random() - 0.5) * 200) / 100; // metric-like, with many ties
    }
    if (Number.isFinite(value)) out.push(value);
  }
  return out;
}

const byString = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

describe('order-preserving number encoding', () => {
  it('sorts 100,000 random doubles (negative, zero, tiny, huge) in numeric order as strings', () => {
    const values = randomDoubles(100_000, 7);
    const encoded = values.map((value) => ({ value, key: sortableNumber(value) }));
    encoded.sort((a, b) => byString(a.key, b.key));
    const wrong: string[] = [];
    for (let i = 1; i < encoded.length; i++) {
      const previous = encoded[i - 1];
      const current = encoded[i];
      if (previous === undefined || current === undefined) continue;
      // Numeric order, and equal keys exactly for equal numbers (-0 with +0 included).
      if (
        !(previous.value <= current.value) ||
        (previous.key === current.key) !== (previous.value === current.value)
      )
        wrong.push(`${previous.value} (${previous.key}) before ${current.value} (${current.key})`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(encoded.some((e) => e.value < 0) && encoded.some((e) => e.value > 1e300)).toBe(true);
  });

  it('is 16 lowercase hex digits and decodes to the same number', () => {
    const wrong = randomDoubles(10_000, 11).filter((value) => {
      const key = sortableNumber(value);
      return !/^[0-9a-f]{16}$/.test(key) || !Object.is(numberFromSortable(key), value === 0 ? 0 : value);
    });
    expect(wrong).toEqual([]);
  });

  it('writes -0 as +0, so a search for = 0 finds both', () => {
    expect(sortableNumber(-0)).toBe(sortableNumber(0));
  });

  it('orders whole metric index keys by value, then version', () => {
    const keys = [
      metricIndexSk('auc', 0.9, 1),
      metricIndexSk('auc', -3, 2),
      metricIndexSk('auc', 0.9, 10),
      metricIndexSk('auc', 1e-300, 3),
    ].sort(byString);
    expect(keys).toEqual([
      metricIndexSk('auc', -3, 2),
      metricIndexSk('auc', 1e-300, 3),
      metricIndexSk('auc', 0.9, 1),
      metricIndexSk('auc', 0.9, 10),
    ]);
  });
});

describe('tag index keys', () => {
  it('escapes # and % in values, so one value is never a prefix of another value’s items', () => {
    expect(tagIndexSk('team', 'a#b', 1).startsWith(tagIndexPrefix('team', 'a'))).toBe(false);
    expect(tagIndexSk('team', 'a%23', 1).startsWith(tagIndexPrefix('team', 'a#'))).toBe(false);
    expect(tagIndexSk('team', 'a#b', 7)).toBe('TAG#team=a%23b#0000000007');
  });
});

describe('search metric ranges', () => {
  const range = (op: '>' | '>=' | '<' | '<=' | '=', value: number) =>
    planSearch(parseSearchVersions({ metric: { name: 'auc', op, value }, orderBy: { metric: 'auc' } }));
  const inRange = (plan: { low: string; high: string }, value: number, version = 5) => {
    const sk = metricIndexSk('auc', value, version);
    return sk >= plan.low && sk <= plan.high;
  };

  it.each([
    ['>', 0.8, [0.8000000000000002, 1, 1e300], [0.8, 0.7999999999999999, -1]],
    ['>=', 0.8, [0.8, 1], [0.7999999999999999, -0.8]],
    ['<', 0.8, [0.7999999999999999, -1e300, 0], [0.8, 0.9]],
    ['<=', 0.8, [0.8, -5], [0.8000000000000002]],
    ['=', 0, [0, -0], [Number.MIN_VALUE, -Number.MIN_VALUE]],
  ] as const)(
    'auc %s %d is a key range holding exactly the matching values',
    (op, value, inside, outside) => {
      const plan = range(op, value);
      for (const v of inside) expect(inRange(plan, v, 1), `${v} in`).toBe(true);
      for (const v of inside) expect(inRange(plan, v, 9_999_999_999), `${v} in`).toBe(true);
      for (const v of outside) expect(inRange(plan, v), `${v} out`).toBe(false);
      expect(inRange(plan, value, 1)).toBe(op !== '>' && op !== '<');
    },
  );
});

describe('search options', () => {
  it.each([
    [{ metric: { name: 'auc', op: '!=', value: 1 } }, 'metric.op'],
    [{ metric: { name: 'a uc', op: '>', value: 1 } }, 'metric.name'],
    [{ metric: { name: 'auc', op: '>', value: Number.NaN } }, 'metric.value'],
    [{ metric: { name: 'auc', op: '>', value: Number.POSITIVE_INFINITY } }, 'metric.value'],
    [{ stage: 'Prod' }, 'stage'],
    [{ alias: 'Champion' }, 'alias'],
    [{ tag: { key: 'team' } }, 'tag.value'],
    [{ orderBy: 'auc' }, 'orderBy'],
    [{ orderBy: { metric: 'auc', direction: 'up' } }, 'orderBy.direction'],
    [{ limit: 0 }, 'limit'],
    [{ limit: 101 }, 'limit'],
    [{ colour: 'red' }, 'colour'],
  ])('refuses %j naming %s', (options, field) => {
    let error: unknown;
    try {
      parseSearchVersions(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe(field);
  });

  it('binds a page token to the model, the filters and the order', () => {
    const request = parseSearchVersions({ stage: 'Staging' });
    const plan = planSearch(request);
    const token = encodeSearchToken('iris', request, 'STAGE#Staging#0000000004');
    expect(decodeSearchToken('iris', request, plan, token)).toBe('STAGE#Staging#0000000004');
    const other = parseSearchVersions({ stage: 'Archived' });
    expect(() => decodeSearchToken('iris', other, planSearch(other), token)).toThrow(ValidationError);
    expect(() => decodeSearchToken('wine', request, plan, token)).toThrow(ValidationError);
    const outside = encodeSearchToken('iris', request, 'VERSION#0000000004');
    expect(() => decodeSearchToken('iris', request, plan, outside)).toThrow(ValidationError);
    expect(() => decodeSearchToken('iris', request, plan, 'not-a-token')).toThrow(ValidationError);
  });
});
