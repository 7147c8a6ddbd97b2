import { describe, expect, it } from 'vitest';
import { isObjectCreatedEvent, landingKey, parseLandingKey } from '../../lambdas/feature-store/landing.js';
import { ValidationError } from '../../lambdas/shared/errors.js';

describe('landing keys', () => {
  it('round-trips landing/<view>/<batchId>.<format>', () => {
    const key = landingKey('customer', '2026-12-01.part-1', 'jsonl');
    expect(key).toBe('landing/customer/2026-12-01.part-1.jsonl');
    expect(parseLandingKey(key)).toEqual({
      view: 'customer',
      batchId: '2026-12-01.part-1',
      format: 'jsonl',
      sourceKey: key,
    });
  });

  it.each([
    ['landing/customer.jsonl', 'must be landing/<view>/<batchId>.<format>'],
    ['landing/customer/sub/b1.jsonl', 'must be landing/<view>/<batchId>.<format>'],
    ['landing/customer/b1', 'must be landing/<view>/<batchId>.<format>'],
    ['landing/customer/b1.xlsx', 'must end in .jsonl, .csv, .parquet'],
    ['features/customer/b1.jsonl', 'must be landing/<view>/<batchId>.<format>'],
  ])('refuses %s naming the field and the rule', (key, rule) => {
    const error = (() => {
      try {
        parseLandingKey(key, 'detail.object.key');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'detail.object.key' });
    expect((error as Error).message).toContain(rule);
  });

  it('recognizes the S3 Object Created event EventBridge delivers, and nothing else', () => {
    const event = {
      source: 'aws.s3',
      'detail-type': 'Object Created',
      detail: { bucket: { name: 'b' }, object: { key: 'landing/v/b.csv' } },
    };
    expect(isObjectCreatedEvent(event)).toBe(true);
    expect(isObjectCreatedEvent({ view: 'v', batchId: 'b' })).toBe(false);
    expect(isObjectCreatedEvent(null)).toBe(false);
  });
});
