import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, RequestError } from '../../lambdas/serving/contract.js';
import {
  type BodyEvent,
  MAX_FEEDBACK_TEXT,
  parseFeedbackRequest,
  parsePredictRequest,
} from '../../lambdas/serving/request.js';
import { MAX_REQUEST_ID_LENGTH } from '../../lambdas/serving/request-ids.js';

const json = (body: unknown, headers: Record<string, string> = { 'Content-Type': 'application/json' }) =>
  ({
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    headers,
  }) as BodyEvent;

/** The RequestError `run` throws (fails the test when it throws nothing or something else). */
function refusal(run: () => unknown): RequestError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    return error as RequestError;
  }
  throw new Error('expected a RequestError, got none');
}

describe('parsePredictRequest', () => {
  it('reads one instance and a batch, keeping order and values', () => {
    expect(
      parsePredictRequest(json({ features: { age: 41, segment: 'new', vip: true, x: null } }), 10),
    ).toEqual([{ features: { age: 41, segment: 'new', vip: true, x: null } }]);
    const batch = parsePredictRequest(
      json({ instances: [{ entity: { customer_id: 'c-1' } }, { features: { a: 1 }, entity: { id: 7 } }] }),
      10,
    );
    expect(batch).toEqual([{ entity: { customer_id: 'c-1' } }, { features: { a: 1 }, entity: { id: 7 } }]);
  });

  it('takes content types by media type, any case, with parameters', () => {
    for (const type of ['application/json', 'Application/JSON; charset=utf-8', ' application/json ;x=1']) {
      expect(parsePredictRequest(json({ features: { a: 1 } }, { 'content-type': type }), 1)).toHaveLength(1);
    }
  });

  it('refuses a missing or wrong content type with 415', () => {
    const wrong: Record<string, string>[] = [
      {},
      { 'content-type': 'text/plain' },
      { 'content-type': 'application/jsonx' },
    ];
    for (const headers of wrong) {
      const error = refusal(() => parsePredictRequest(json({ features: { a: 1 } }, headers), 1));
      expect(error).toMatchObject({
        code: 'UnsupportedMediaType',
        status: 415,
        where: { field: 'content-type' },
      });
    }
    expect(
      refusal(() => parsePredictRequest({ body: '{}', isBase64Encoded: false, headers: null }, 1)).code,
    ).toBe('UnsupportedMediaType');
  });

  it('refuses a body over MAX_BODY_BYTES with 413 before parsing, counting bytes not characters', () => {
    // Not JSON at all: the size is refused first.
    const big = 'x'.repeat(MAX_BODY_BYTES + 1);
    expect(refusal(() => parsePredictRequest(json(big), 1))).toMatchObject({
      code: 'PayloadTooLarge',
      status: 413,
    });
    // 2.1 M three-byte characters: under the limit in characters, over it in bytes.
    const wide = `{"features":{"s":"${'€'.repeat(Math.ceil(MAX_BODY_BYTES / 3))}"}}`;
    expect(wide.length).toBeLessThan(MAX_BODY_BYTES);
    expect(refusal(() => parsePredictRequest(json(wide), 1)).code).toBe('PayloadTooLarge');
    // Base64: refused from its encoded length, never decoded.
    const encoded = Buffer.from(big).toString('base64');
    expect(
      refusal(() =>
        parsePredictRequest(
          { body: encoded, isBase64Encoded: true, headers: { 'content-type': 'application/json' } },
          1,
        ),
      ).code,
    ).toBe('PayloadTooLarge');
  });

  it('decodes base64 bodies', () => {
    const body = Buffer.from(JSON.stringify({ features: { a: 'é' } })).toString('base64');
    expect(
      parsePredictRequest(
        { body, isBase64Encoded: true, headers: { 'content-type': 'application/json' } },
        1,
      ),
    ).toEqual([{ features: { a: 'é' } }]);
  });

  it('refuses an empty body or bad JSON with 400 InvalidJson', () => {
    for (const body of ['', '{', '{"features":', 'NaN', "{'a':1}", '{"a":1}x']) {
      expect(refusal(() => parsePredictRequest(json(body), 1))).toMatchObject({
        code: 'InvalidJson',
        status: 400,
      });
    }
    expect(
      refusal(() =>
        parsePredictRequest(
          { body: null, isBase64Encoded: false, headers: { 'content-type': 'application/json' } },
          1,
        ),
      ).code,
    ).toBe('InvalidJson');
  });

  it('refuses wrong shapes with 400 InvalidRequest naming the field', () => {
    const cases: [unknown, string, number | undefined][] = [
      [[1, 2], 'body', undefined],
      ['"text"', 'body', undefined],
      [null, 'body', undefined],
      [{}, 'body', 0],
      [{ instances: {} }, 'instances', undefined],
      [{ instances: [] }, 'instances', undefined],
      [{ instances: [{ features: {} }], extra: 1 }, 'extra', undefined],
      [{ features: {}, model: 'x' }, 'model', 0],
      [{ instances: [{ features: { a: 1 } }, 3] }, 'instances[1]', 1],
      [{ instances: [{ features: { a: 1 } }, { features: [1] }] }, 'instances[1].features', 1],
      [{ instances: [{ features: { a: 1 } }, { entity: 'c-1' }] }, 'instances[1].entity', 1],
      [{ instances: [{ features: { a: 1 }, other: {} }] }, 'instances[0].other', 0],
      [{ features: 'a=1' }, 'features', 0],
      [{ entity: null }, 'entity', 0],
    ];
    for (const [body, field, instance] of cases) {
      const error = refusal(() => parsePredictRequest(json(body), 10));
      expect(error.code, JSON.stringify(body)).toBe('InvalidRequest');
      expect(error.where.field, JSON.stringify(body)).toBe(field);
      expect(error.where.instance, JSON.stringify(body)).toBe(instance);
      expect(error.message).toContain(field === 'body' ? 'body' : field.split('.').at(-1));
    }
  });

  it('refuses a feature value that is not a scalar (InvalidFeatureType) and a bad entity key (InvalidEntity)', () => {
    expect(
      refusal(() =>
        parsePredictRequest(json({ instances: [{ features: { a: 1 } }, { features: { b: { c: 1 } } }] }), 5),
      ),
    ).toMatchObject({ code: 'InvalidFeatureType', where: { instance: 1, field: 'b' } });
    expect(refusal(() => parsePredictRequest(json({ features: { b: [] } }), 5))).toMatchObject({
      code: 'InvalidFeatureType',
      where: { instance: 0, field: 'b' },
    });
    expect(refusal(() => parsePredictRequest(json({ entity: { id: true } }), 5))).toMatchObject({
      code: 'InvalidEntity',
      where: { field: 'id' },
    });
    expect(refusal(() => parsePredictRequest(json('{"entity":{"id":1e999}}'), 5))).toMatchObject({
      code: 'InvalidEntity',
      where: { field: 'id' },
    });
    expect(refusal(() => parsePredictRequest(json({ entity: {} }), 5))).toMatchObject({
      code: 'InvalidEntity',
      where: { field: 'entity' },
    });
  });

  it('refuses more instances than the maximum with 413 BatchTooLarge, and takes exactly the maximum', () => {
    const instances = Array.from({ length: 4 }, () => ({ features: { a: 1 } }));
    expect(parsePredictRequest(json({ instances }), 4)).toHaveLength(4);
    expect(refusal(() => parsePredictRequest(json({ instances }), 3))).toMatchObject({
      code: 'BatchTooLarge',
      status: 413,
      where: { field: 'instances' },
    });
  });

  it('keeps a __proto__ feature name as a plain key (no prototype change)', () => {
    const [instance] = parsePredictRequest(json('{"features":{"__proto__":1,"a":2}}'), 1);
    expect(Object.keys(instance?.features ?? {})).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(instance?.features)).toBe(Object.prototype);
    expect(instance?.features?.a).toBe(2);
  });
});

describe('parseFeedbackRequest', () => {
  it('reads a feedback', () => {
    expect(parseFeedbackRequest(json({ requestId: 'r-1', outcome: 1 }), 10)).toEqual({
      requestId: 'r-1',
      outcome: 1,
    });
    expect(
      parseFeedbackRequest(json({ requestId: 'r-1', instance: 9, outcome: 'yes', idempotencyKey: 'k' }), 10),
    ).toEqual({ requestId: 'r-1', instance: 9, outcome: 'yes', idempotencyKey: 'k' });
    expect(parseFeedbackRequest(json({ requestId: 'r', outcome: false }), 10).outcome).toBe(false);
  });

  it('refuses bad feedback with 400 InvalidRequest naming the field', () => {
    const long = 'x'.repeat(MAX_FEEDBACK_TEXT + 1);
    const cases: [unknown, string][] = [
      [[], 'body'],
      [{ outcome: 1 }, 'requestId'],
      [{ requestId: '', outcome: 1 }, 'requestId'],
      [{ requestId: 7, outcome: 1 }, 'requestId'],
      [{ requestId: 'x'.repeat(MAX_REQUEST_ID_LENGTH + 1), outcome: 1 }, 'requestId'],
      [{ requestId: 'r', outcome: 1, idempotencyKey: long }, 'idempotencyKey'],
      [{ requestId: 'r' }, 'outcome'],
      [{ requestId: 'r', outcome: null }, 'outcome'],
      [{ requestId: 'r', outcome: {} }, 'outcome'],
      [{ requestId: 'r', outcome: '' }, 'outcome'],
      [{ requestId: 'r', outcome: 1, instance: -1 }, 'instance'],
      [{ requestId: 'r', outcome: 1, instance: 1.5 }, 'instance'],
      [{ requestId: 'r', outcome: 1, instance: 10 }, 'instance'],
      [{ requestId: 'r', outcome: 1, instance: '0' }, 'instance'],
      [{ requestId: 'r', outcome: 1, idempotencyKey: 5 }, 'idempotencyKey'],
      [{ requestId: 'r', outcome: 1, label: 1 }, 'label'],
    ];
    for (const [body, field] of cases) {
      const error = refusal(() => parseFeedbackRequest(json(body), 10));
      expect(error.code, JSON.stringify(body)).toBe('InvalidRequest');
      expect(error.where.field, JSON.stringify(body)).toBe(field);
    }
    expect(
      refusal(() => parseFeedbackRequest(json('{"requestId":"r","outcome":1e999}'), 10)).where.field,
    ).toBe('outcome');
    expect(refusal(() => parseFeedbackRequest(json({ requestId: 'r', outcome: 1 }, {}), 10)).code).toBe(
      'UnsupportedMediaType',
    );
  });
});
