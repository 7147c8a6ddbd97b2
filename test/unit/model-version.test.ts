import { describe, expect, it } from 'vitest';
import {
  artifactKey,
  assertItemFits,
  parseModelName,
  parseRegisterModelVersion,
  parseVersion,
  requestFingerprint,
} from '../../lambdas/registry/model-version.js';
import {
  ConflictError,
  ContentionError,
  ItemTooLargeError,
  ValidationError,
} from '../../lambdas/shared/errors.js';
import { validationErrorOf } from '../support/errors.js';

const sha = 'a'.repeat(64);
const valid = { modelName: 'churn', artifact: { key: artifactKey('churn', sha), sha256: sha } };

describe('parseRegisterModelVersion', () => {
  it('fills defaults for optional maps', () => {
    expect(parseRegisterModelVersion(valid)).toMatchObject({
      metrics: {},
      params: {},
      tags: {},
      lineage: {},
      description: '',
    });
  });

  it.each([
    ['', 'empty'],
    ['Churn', 'upper case'],
    ['-churn', 'leading hyphen'],
    ['churn-', 'trailing hyphen'],
    ['churn_model', 'underscore'],
    ['a'.repeat(64), '64 characters'],
    ['../etc', 'path traversal'],
  ])('rejects the model name %j (%s) naming the field', (modelName, _why) => {
    const error = validationErrorOf(() => parseRegisterModelVersion({ ...valid, modelName }));
    expect(error.field).toBe('modelName');
    expect(error.rule).toMatch(/lowercase letters, digits or hyphens/);
    expect(error.status).toBe(400);
    expect(error.name).toBe('ValidationError');
  });

  it.each([
    [Number.NaN, 'NaN'],
    [Number.POSITIVE_INFINITY, 'Infinity'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
    [null, 'null (what JSON makes of NaN)'],
    ['0.9', 'a string'],
  ] as [unknown, string][])('rejects the metric value %s (%s)', (value) => {
    const error = validationErrorOf(() =>
      parseRegisterModelVersion({ ...valid, metrics: { auc: 0.9, f1: value } }),
    );
    expect(error.field).toBe('metrics.f1');
    expect(error.rule).toBe('must be a finite number');
  });

  it.each([1e-300, -1e-131, 1e126, -2e200])(
    'rejects the metric value %d, which DynamoDB cannot store',
    (value) => {
      const error = validationErrorOf(() =>
        parseRegisterModelVersion({ ...valid, metrics: { auc: 0.9, f1: value } }),
      );
      expect(error.field).toBe('metrics.f1');
      expect(error.rule).toMatch(/magnitude from 1e-130 to below 1e126/);
    },
  );

  it.each([0, -0, 1e-130, -9.99e125, 0.5])('accepts the metric value %d', (value) => {
    expect(parseRegisterModelVersion({ ...valid, metrics: { f1: value } }).metrics.f1).toBe(value);
  });

  it('refuses more than 90 tags and metrics together, naming metrics and the rule', () => {
    const tags = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`t${i}`, 'v']));
    const metrics = Object.fromEntries(Array.from({ length: 61 }, (_, i) => [`m${i}`, i]));
    const error = validationErrorOf(() => parseRegisterModelVersion({ ...valid, tags, metrics }));
    expect(error.field).toBe('metrics');
    expect(error.rule).toMatch(/at most 60 metrics beside 30 tags .*at most 90/);
    const { m60: _dropped, ...fits } = metrics;
    expect(Object.keys(parseRegisterModelVersion({ ...valid, tags, metrics: fits }).metrics)).toHaveLength(
      60,
    );
    const ninetyOne = Object.fromEntries(Array.from({ length: 91 }, (_, i) => [`m${i}`, i]));
    expect(validationErrorOf(() => parseRegisterModelVersion({ ...valid, metrics: ninetyOne })).rule).toBe(
      'must hold at most 90 metrics',
    );
  });

  it('rejects an unknown top-level field by name', () => {
    const error = validationErrorOf(() => parseRegisterModelVersion({ ...valid, verison: 3 }));
    expect(error.field).toBe('verison');
    expect(error.rule).toBe('is not a known field');
  });

  it('rejects an artifact outside the model prefix', () => {
    const error = validationErrorOf(() =>
      parseRegisterModelVersion({ ...valid, artifact: { key: artifactKey('other', sha), sha256: sha } }),
    );
    expect(error.field).toBe('artifact.key');
    expect(error.rule).toBe('must be under models/churn/');
  });

  it('rejects a digest that is not 64 lowercase hex characters', () => {
    const error = validationErrorOf(() =>
      parseRegisterModelVersion({ ...valid, artifact: { key: valid.artifact.key, sha256: 'A'.repeat(64) } }),
    );
    expect(error.field).toBe('artifact.sha256');
  });

  it('rejects params that are neither string, finite number nor boolean', () => {
    const error = validationErrorOf(() =>
      parseRegisterModelVersion({ ...valid, params: { depth: { nested: 1 } } }),
    );
    expect(error.field).toBe('params.depth');
  });
});

describe('parseVersion and parseModelName', () => {
  it.each([0, -1, 1.5, '3', Number.NaN])('rejects the version %j', (version) => {
    expect(validationErrorOf(() => parseVersion(version)).field).toBe('version');
  });

  it('accepts a positive integer version', () => {
    expect(parseVersion(7)).toBe(7);
  });

  it('names the field it was given', () => {
    expect(validationErrorOf(() => parseModelName(42, 'model')).field).toBe('model');
  });
});

describe('assertItemFits', () => {
  it('accepts an item just under 400 KB', () => {
    expect(() => assertItemFits({ pk: 'x', description: 'd'.repeat(400 * 1024 - 20) })).not.toThrow();
  });

  it('rejects an item over 400 KB, naming its largest attribute', () => {
    let caught: unknown;
    try {
      assertItemFits({ pk: 'x', metrics: { a: 1 }, params: { blob: 'p'.repeat(410 * 1024) } });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ItemTooLargeError);
    expect((caught as ItemTooLargeError).field).toBe('params');
    expect((caught as ItemTooLargeError).sizeBytes).toBeGreaterThan(400 * 1024);
  });
});

describe('complete record fields', () => {
  const field = (extra: Record<string, unknown>) =>
    validationErrorOf(() => parseRegisterModelVersion({ ...valid, ...extra })).field;

  it('accepts each output kind', () => {
    for (const output of [
      { kind: 'binary', positiveClass: 1, threshold: 0.5 },
      { kind: 'multiclass', classes: ['a', 'b', 'c'] },
      { kind: 'regression' },
    ]) {
      expect(parseRegisterModelVersion({ ...valid, output }).output).toEqual(output);
    }
  });

  it('names the broken output or signature field', () => {
    expect(field({ output: { kind: 'binary', positiveClass: 'y', threshold: 1.5 } })).toBe(
      'output.threshold',
    );
    expect(field({ output: { kind: 'multiclass', classes: ['a', 'a'] } })).toBe('output.classes');
    expect(field({ output: { kind: 'ranking' } })).toBe('output.kind');
    expect(field({ signature: { inputs: [] } })).toBe('signature.inputs');
    expect(field({ signature: { inputs: [{ name: 'x', type: 'float32' }] } })).toBe(
      'signature.inputs.0.type',
    );
    const twice = { name: 'x', type: 'float64' };
    expect(field({ signature: { inputs: [twice, twice] } })).toBe('signature.inputs');
    expect(field({ lineage: { trainer: { name: 'gbdt' } } })).toBe('lineage.trainer.version');
  });

  it('keeps free-form lineage strings beside the structured fields', () => {
    const lineage = { datasetHash: 'abc', runId: 'run-1' };
    expect(parseRegisterModelVersion({ ...valid, lineage }).lineage).toEqual(lineage);
    expect(field({ lineage: { datasetHash: 5 } })).toBe('lineage.datasetHash');
  });
});

describe('client tokens', () => {
  const executionArn =
    'arn:aws:states:eu-west-1:123456789012:execution:ModelRegistrationWorkflowStateMachine112F6BC6:' +
    'train-ñ-2026-12-02_run-0000000000000000000000000000000000000000000000000000000000000000000';

  it('accepts an execution ARN (the workflow passes $$.Execution.Id)', () => {
    expect(parseRegisterModelVersion({ ...valid, clientToken: executionArn }).clientToken).toBe(executionArn);
  });

  it('rejects a token with whitespace or over 256 characters', () => {
    for (const clientToken of ['run 1', 'run\n1', '', 'x'.repeat(257)]) {
      expect(validationErrorOf(() => parseRegisterModelVersion({ ...valid, clientToken })).field).toBe(
        'clientToken',
      );
    }
  });

  it('fingerprints the payload without the token, independent of key order and spelled-out defaults', () => {
    const a = parseRegisterModelVersion({ ...valid, metrics: { auc: 0.9, f1: 0.5 }, clientToken: 'a' });
    const b = parseRegisterModelVersion({
      clientToken: 'b',
      params: {},
      metrics: { f1: 0.5, auc: 0.9 },
      artifact: { sha256: sha, key: valid.artifact.key },
      modelName: 'churn',
    });
    const c = parseRegisterModelVersion({ ...valid, metrics: { auc: 0.91, f1: 0.5 } });
    expect(requestFingerprint(a)).toBe(requestFingerprint(b));
    expect(requestFingerprint(a)).not.toBe(requestFingerprint(c));
  });
});

describe('error names', () => {
  it('spells names out so Retry/Catch still match after minification', () => {
    expect(new ConflictError('m', { current: 3 })).toMatchObject({ name: 'ConflictError', current: 3 });
    expect(new ContentionError('m').name).toBe('ContentionError');
    expect(new ValidationError('f', 'rule').name).toBe('ValidationError');
    expect(new ItemTooLargeError('params', 500_000, 409_600).name).toBe('ValidationError');
  });
});
