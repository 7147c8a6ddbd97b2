import { describe, expect, it } from 'vitest';
import {
  evaluateGates,
  GateFailedError,
  gatesApply,
  modelGatesSchema,
  P95_LATENCY_METRIC,
} from '../../lambdas/registry/gates.js';
import { parseTransitionStage } from '../../lambdas/registry/stages.js';
import { ConfigValidationError, loadConfig } from '../../lib/config.js';
import { validationErrorOf } from '../support/errors.js';

const gates = modelGatesSchema.parse({
  metrics: [
    { metric: 'auc', direction: 'max', threshold: 0.8 },
    { metric: 'logloss', direction: 'min', threshold: 0.4 },
  ],
  maxArtifactBytes: 1000,
  maxP95LatencyMs: 50,
});

describe('promotion gates', () => {
  it('passes a version that meets every gate, thresholds inclusive', () => {
    const results = evaluateGates(gates, {
      metrics: { auc: 0.8, logloss: 0.4, [P95_LATENCY_METRIC]: 50 },
      artifact: { sizeBytes: 1000 },
    });
    expect(results).toEqual([
      { gate: 'metric:auc', value: 0.8, threshold: 0.8, comparison: '>=', passed: true },
      { gate: 'metric:logloss', value: 0.4, threshold: 0.4, comparison: '<=', passed: true },
      { gate: 'maxArtifactBytes', value: 1000, threshold: 1000, comparison: '<=', passed: true },
      { gate: 'maxP95LatencyMs', value: 50, threshold: 50, comparison: '<=', passed: true },
    ]);
  });

  it('fails each gate on the wrong side of its threshold, and on a missing metric', () => {
    const results = evaluateGates(gates, {
      metrics: { auc: 0.79, logloss: 0.41 },
      artifact: { sizeBytes: 1001 },
    });
    expect(results.map((r) => [r.gate, r.value, r.passed])).toEqual([
      ['metric:auc', 0.79, false],
      ['metric:logloss', 0.41, false],
      ['maxArtifactBytes', 1001, false],
      ['maxP95LatencyMs', null, false],
    ]);
    const error = new GateFailedError('churn', 3, 'Production', results);
    expect(error).toMatchObject({ name: 'GateFailedError', status: 422, code: 'GATE_FAILED' });
    expect(error.failed).toHaveLength(4);
    expect(error.message).toContain('metric:auc = 0.79 (must be >= 0.8)');
    expect(error.message).toContain('maxP95LatencyMs is missing (must be <= 50)');
  });

  it('guards Production by default, and the stages configured', () => {
    expect(gatesApply(gates, 'Production')).toBe(true);
    expect(gatesApply(gates, 'Staging')).toBe(false);
    expect(gatesApply(modelGatesSchema.parse({ stages: ['Staging'] }), 'Staging')).toBe(true);
    expect(gatesApply(undefined, 'Production')).toBe(false);
  });

  it('needs a reason to override', () => {
    const base = { modelName: 'm', version: 1, expectedStage: 'Staging', toStage: 'Production', reason: 'r' };
    expect(parseTransitionStage({ ...base, gateOverride: { reason: 'hotfix' } }).gateOverride).toEqual({
      reason: 'hotfix',
    });
    expect(
      validationErrorOf(() => parseTransitionStage({ ...base, gateOverride: { reason: ' ' } })),
    ).toMatchObject({ field: 'gateOverride.reason', rule: expect.stringContaining('needs a reason') });
    expect(validationErrorOf(() => parseTransitionStage({ ...base, gateOverride: {} }))).toMatchObject({
      field: 'gateOverride.reason',
    });
  });
});

describe('models section of the configuration', () => {
  it('defaults to no models and reads gates with their defaults', () => {
    expect(loadConfig({}).models).toEqual([]);
    const config = loadConfig({
      models: [{ name: 'churn', gates: { metrics: [{ metric: 'auc', direction: 'max', threshold: 0.8 }] } }],
    });
    expect(config.models[0]?.gates).toEqual({
      metrics: [{ metric: 'auc', direction: 'max', threshold: 0.8 }],
      stages: ['Production'],
    });
    expect(loadConfig({ models: [{ name: 'plain' }] }).models[0]?.gates.metrics).toEqual([]);
  });

  it('names every bad field by model name', () => {
    let error: unknown;
    try {
      loadConfig({
        models: [
          {
            name: 'churn',
            gates: {
              metrics: [{ metric: 'auc', direction: 'up', threshold: Number.NaN }],
              maxArtifactBytes: -1,
              maxP95LatencyMs: 0,
              stages: ['Archived'],
              typo: 1,
            },
          },
          { name: 'churn' },
          { name: 'Bad_Name' },
        ],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const fields = (error as ConfigValidationError).problems.map((p) => p.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'config.models.churn.gates.metrics.0.direction',
        'config.models.churn.gates.metrics.0.threshold',
        'config.models.churn.gates.maxArtifactBytes',
        'config.models.churn.gates.maxP95LatencyMs',
        'config.models.churn.gates.stages.0',
        'config.models.churn.gates.typo',
        'config.models.Bad_Name.name',
      ]),
    );
  });

  it('refuses a model named twice', () => {
    expect(() => loadConfig({ models: [{ name: 'a' }, { name: 'a' }] })).toThrow(
      /duplicates the model name a/,
    );
  });
});
