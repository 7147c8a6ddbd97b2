/**
 * The local adapter's request validator (local/body-schema.ts) on the contract's body schemas:
 * what API Gateway's validator refuses with BAD_REQUEST_BODY, and the messages naming why.
 */
import { describe, expect, it } from 'vitest';
import { FEEDBACK_BODY_SCHEMA, PREDICT_BODY_SCHEMA } from '../../lambdas/serving/contract.js';
import { bodyRefusal, schemaErrors } from '../../local/body-schema.js';

describe('the body schemas, validated as the gateway does', () => {
  it('passes bodies of the right shape, whatever their fields hold', () => {
    for (const body of [
      { features: { x: 1 } },
      { entity: { id: 'c-1' }, features: {} },
      { instances: [{ features: { x: 'a' } }, {}] },
      {},
      { other: [1, 2] },
    ])
      expect(schemaErrors(PREDICT_BODY_SCHEMA, body), JSON.stringify(body)).toEqual([]);
    expect(schemaErrors(FEEDBACK_BODY_SCHEMA, { requestId: 'r', outcome: 1 })).toEqual([]);
    expect(schemaErrors(FEEDBACK_BODY_SCHEMA, { requestId: 7, outcome: null, instance: 'x' })).toEqual([]);
  });

  it('refuses the wrong type, an empty batch, a non-object instance and missing required fields, naming each', () => {
    expect(schemaErrors(PREDICT_BODY_SCHEMA, [])).toEqual([
      'instance type (array) does not match any allowed primitive type (allowed: ["object"])',
    ]);
    expect(schemaErrors(PREDICT_BODY_SCHEMA, 1.5)[0]).toContain('instance type (number)');
    expect(schemaErrors(PREDICT_BODY_SCHEMA, 2)[0]).toContain('instance type (integer)');
    expect(schemaErrors(PREDICT_BODY_SCHEMA, { instances: [] })).toEqual([
      'array is too short: must have at least 1 elements but instance has 0 elements',
    ]);
    expect(schemaErrors(PREDICT_BODY_SCHEMA, { instances: [{}, null, []] })).toEqual([
      'instance type (null) does not match any allowed primitive type (allowed: ["object"])',
      'instance type (array) does not match any allowed primitive type (allowed: ["object"])',
    ]);
    expect(schemaErrors(PREDICT_BODY_SCHEMA, { features: [], entity: 'c-1' })).toHaveLength(2);
    expect(schemaErrors(FEEDBACK_BODY_SCHEMA, { outcome: 1 })).toEqual([
      'object has missing required properties (["requestId"])',
    ]);
    expect(schemaErrors(FEEDBACK_BODY_SCHEMA, {})).toEqual([
      'object has missing required properties (["outcome","requestId"])',
    ]);
  });

  it('refuses a body that is not JSON, or none, and lists failures in brackets', () => {
    expect(bodyRefusal(PREDICT_BODY_SCHEMA, '{not json')).toMatch(/^\[the body is not valid JSON \(.+\)\]$/);
    expect(bodyRefusal(PREDICT_BODY_SCHEMA, null)).toMatch(/not valid JSON/);
    expect(bodyRefusal(PREDICT_BODY_SCHEMA, '{"instances":{}}')).toBe(
      '[instance type (object) does not match any allowed primitive type (allowed: ["array"])]',
    );
    expect(bodyRefusal(PREDICT_BODY_SCHEMA, '{"features":{"x":1}}')).toBeUndefined();
    // A prototype key is an own property like any other.
    expect(bodyRefusal(FEEDBACK_BODY_SCHEMA, '{"__proto__":1,"requestId":"r","outcome":0}')).toBeUndefined();
  });
});
