/**
 * Row validation refuses what a later step could not store or read back: online keys over
 * DynamoDB's 2048-byte partition-key limit, numbers outside what the online store's number
 * conversion and DynamoDB take, ill-formed Unicode, and unbounded strings.
 */
import { describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureViewInput } from '../../lambdas/feature-store/feature-view.js';
import {
  DYNAMODB_PARTITION_KEY_LIMIT_BYTES,
  onlineKey,
  onlineKeyBytes,
} from '../../lambdas/feature-store/online-key.js';
import { compileRowValidator, MAX_STRING_LENGTH } from '../../lambdas/feature-store/row-validation.js';

const T = Date.parse('2026-11-20T00:00:00Z');
const base: FeatureViewInput = {
  name: 'customer',
  owner: 'team',
  entities: [{ name: 'customer_id', type: 'string' }],
  ttlSeconds: 86_400,
  features: [
    { name: 'spend', type: 'float64', nullable: true },
    { name: 'note', type: 'string', nullable: true },
  ],
};
const online = defineFeatureView(base);
const offline = defineFeatureView({ ...base, online: false });
const typed = compileRowValidator(online, 'typed');
const text = compileRowValidator(online, 'text');
const row = (values: Record<string, unknown>) => ({ customer_id: 'c1', event_time: T, ...values });

function reasons(verdict: ReturnType<typeof typed>): string[] {
  return verdict.ok ? [] : verdict.reasons;
}

describe('online key length', () => {
  it('refuses a key of 1024 characters or fewer whose UTF-8 online key passes 2048 bytes', () => {
    const key = '€'.repeat(700); // 700 characters, 2100 bytes
    expect(reasons(typed(row({ customer_id: key })))).toEqual([
      `customer_id: the online key (view, entity keys as JSON) must be at most 2048 UTF-8 bytes, got ${onlineKeyBytes('customer', [key])}`,
    ]);
  });

  it('counts the JSON escaping of the key', () => {
    expect(typed(row({ customer_id: 'a'.repeat(1000) })).ok).toBe(true);
    expect(reasons(typed(row({ customer_id: '"'.repeat(1020) })))[0]).toMatch(/at most 2048 UTF-8 bytes/);
    expect(reasons(typed(row({ customer_id: '\u0001'.repeat(400) })))[0]).toMatch(/at most 2048/);
  });

  it('counts every part of a multi-part key and names them all', () => {
    const view = defineFeatureView({
      ...base,
      entities: [
        { name: 'a', type: 'string' },
        { name: 'b', type: 'string' },
        { name: 'c', type: 'int64' },
      ],
    });
    const validate = compileRowValidator(view, 'typed');
    const part = 'x'.repeat(1020);
    expect(reasons(validate({ a: part, b: part, c: 1, event_time: T }))).toEqual([
      `a, b, c: the online key (view, entity keys as JSON) must be at most 2048 UTF-8 bytes, got ${onlineKeyBytes(view.name, [part, part, 1])}`,
    ]);
  });

  it('accepts a key of exactly 2048 bytes and refuses one byte more', () => {
    const room = DYNAMODB_PARTITION_KEY_LIMIT_BYTES - onlineKeyBytes('customer', ['']); // 2035
    const fits = '€'.repeat(Math.floor(room / 3)).concat('k'.repeat(room % 3));
    expect(new TextEncoder().encode(onlineKey('customer', [fits])).length).toBe(2048);
    expect(typed(row({ customer_id: fits })).ok).toBe(true);
    expect(typed(row({ customer_id: `${fits}k` })).ok).toBe(false);
  });
});

describe('numbers', () => {
  it.each([
    [1e16, 'typed'],
    [-9007199254740992, 'typed'],
    [5e-324, 'typed'],
    [1e-131, 'typed'],
    [1.7976931348623157e308, 'typed'],
    ['1e16', 'text'],
    ['5e-324', 'text'],
  ] as const)('refuses %s for an online float64 feature, naming the range', (value, kind) => {
    const validate = kind === 'typed' ? typed : text;
    const cell =
      kind === 'text' ? { customer_id: 'c1', event_time: String(T), spend: value } : row({ spend: value });
    expect(reasons(validate(cell))).toEqual([
      'spend: must be 0 or of magnitude from 1e-130 to 2^53−1 (the online store’s number range)',
    ]);
  });

  it.each([0, 1e-130, -1e-130, 9007199254740991, -9007199254740991, 0.1, 1 / 3, 123456.789e-5])(
    'accepts %s',
    (value) => {
      const verdict = typed(row({ spend: value }));
      expect(verdict.ok && verdict.row.values.spend).toBe(value);
    },
  );

  it('stores -0 as 0, as the online store would', () => {
    const verdict = typed(row({ spend: -0 }));
    expect(verdict.ok && Object.is(verdict.row.values.spend, 0)).toBe(true);
  });

  it('leaves an offline-only view every finite double', () => {
    const validate = compileRowValidator(offline, 'typed');
    for (const value of [1e16, 5e-324, 1.7976931348623157e308]) {
      const verdict = validate(row({ spend: value }));
      expect(verdict.ok && verdict.row.values.spend).toBe(value);
    }
  });
});

describe('Unicode and string length', () => {
  it('refuses a lone surrogate in an entity key', () => {
    expect(reasons(typed(JSON.parse('{"customer_id":"a\\ud800b","event_time":1795132800000}')))).toEqual([
      'customer_id: must be well-formed Unicode (no lone UTF-16 surrogate)',
    ]);
  });

  it('refuses a lone surrogate in a string feature, of an offline view too', () => {
    const validate = compileRowValidator(offline, 'typed');
    for (const note of ['\udc00', 'x\ud83d', '\ud83d\ud83d']) {
      expect(reasons(validate(row({ note })))).toEqual([
        'note: must be well-formed Unicode (no lone UTF-16 surrogate)',
      ]);
    }
    expect(validate(row({ note: '😀 ok' })).ok).toBe(true);
  });

  it(`refuses a string feature longer than ${MAX_STRING_LENGTH} characters`, () => {
    const validate = compileRowValidator(offline, 'typed');
    expect(validate(row({ note: 'n'.repeat(MAX_STRING_LENGTH) })).ok).toBe(true);
    expect(reasons(validate(row({ note: 'n'.repeat(MAX_STRING_LENGTH + 1) })))).toEqual([
      `note: must be at most ${MAX_STRING_LENGTH} characters, got ${MAX_STRING_LENGTH + 1}`,
    ]);
  });
});
