import { describe, expect, it } from 'vitest';
import { isTrained } from '../../lambdas/training/model-config.js';
import { ConfigValidationError, loadConfig } from '../../lib/config.js';

const views = [
  {
    name: 'customer',
    owner: 'risk-ml',
    ttlSeconds: 'never',
    entities: [{ name: 'customer_id', type: 'string' }],
    eventTimeColumn: 'event_time',
    features: [
      { name: 'income', type: 'float64', nullable: true, min: 0 },
      { name: 'segment', type: 'string', categories: ['new', 'active', 'lapsed'] },
      { name: 'region', type: 'string' },
    ],
  },
  {
    name: 'outcome',
    owner: 'risk-ml',
    ttlSeconds: 'never',
    entities: [{ name: 'customer_id', type: 'string' }],
    eventTimeColumn: 'event_time',
    features: [
      { name: 'defaulted', type: 'bool' },
      { name: 'loss', type: 'float64' },
      { name: 'grade', type: 'string', categories: ['a', 'b', 'c'] },
      { name: 'status', type: 'string', categories: ['paid', 'late'] },
    ],
  },
];

const credit = {
  name: 'credit-default',
  task: 'binary',
  label: 'outcome:defaulted',
  features: ['customer:income', 'customer:segment'],
};

function problems(models: unknown[]): string[] {
  try {
    loadConfig({ featureViews: views, models });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigValidationError);
    return (error as ConfigValidationError).problems.map((p) => `${p.field}: ${p.rule}`).sort();
  }
  return [];
}

describe('models in the configuration', () => {
  it('reads a trained model with the defaults of its trainer, split and retraining', () => {
    const [model] = loadConfig({ featureViews: views, models: [credit] }).models;
    expect(model).toBeDefined();
    if (model === undefined) return;
    expect(isTrained(model)).toBe(true);
    expect(model.trainer).toEqual({
      algorithm: 'gbdt',
      params: expect.objectContaining({ numRounds: 100, learningRate: 0.1, numLeaves: 31, maxBins: 255 }),
    });
    expect(model.split).toEqual({ testFraction: 0.2, validationFraction: 0.1, seed: 42 });
    expect(model.retraining).toEqual({ onDrift: true });
    expect(model.windowDays).toBe(365);
  });

  it('keeps a registry-only model (name and gates) valid and untrained', () => {
    const [model] = loadConfig({ models: [{ name: 'external' }] }).models;
    expect(model && isTrained(model)).toBe(false);
  });

  it('refuses, by model name and field, every reference to an unknown view or feature', () => {
    expect(
      problems([
        {
          ...credit,
          features: ['customer:income', 'customer:nope', 'ghost:x'],
          slices: ['customer:regio'],
        },
      ]),
    ).toEqual([
      'config.models.credit-default.features.1: names unknown feature nope of view customer',
      'config.models.credit-default.features.2: names unknown feature view ghost',
      'config.models.credit-default.slices.0: names unknown feature regio of view customer',
    ]);
  });

  it('refuses a label whose type does not suit the task', () => {
    expect(problems([{ ...credit, task: 'regression' }])).toEqual([
      'config.models.credit-default.label: is bool; a regression label must be float64 or int64',
    ]);
    expect(problems([{ ...credit, task: 'multiclass', label: 'outcome:loss' }])).toEqual([
      'config.models.credit-default.label: is float64; a multiclass label must be int64 or string',
    ]);
    expect(problems([{ ...credit, label: 'customer:region' }])).toEqual([
      'config.models.credit-default.label: is a string feature without categories: list its classes',
    ]);
    expect(problems([{ ...credit, label: 'outcome:grade' }])).toEqual([
      "config.models.credit-default.positiveClass: must be one of the label's categories (a, b, c)",
    ]);
    expect(problems([{ ...credit, label: 'outcome:grade', positiveClass: 'b' }])).toEqual([]);
    expect(problems([{ ...credit, label: 'outcome:status' }])).toEqual([]);
    expect(problems([{ ...credit, task: 'multiclass', label: 'outcome:grade' }])).toEqual([]);
  });

  it('needs task, label and features together, and never the label among the features', () => {
    expect(problems([{ name: 'half', task: 'binary' }])).toEqual(
      [
        'config.models.half.label: is required with task, label and features (a trained model names all three)',
        'config.models.half.features: is required with task, label and features (a trained model names all three)',
      ].sort(),
    );
    expect(problems([{ ...credit, features: ['customer:income', 'outcome:defaulted'] }])).toEqual([
      'config.models.credit-default.features: must not include the label',
    ]);
  });

  it('checks trainer parameters, split, schedules and search by field', () => {
    expect(
      problems([
        {
          ...credit,
          trainer: { algorithm: 'gbdt', params: { learningRate: 0, numLeaves: 1, bogus: 1 } },
          split: { testFraction: 1 },
          retraining: { schedule: 'every day' },
          search: { space: { l2: [0.1, 1] }, strategy: 'random' },
        },
      ]),
    ).toEqual(
      [
        'config.models.credit-default.trainer.params.bogus: is not a known field',
        'config.models.credit-default.trainer.params.learningRate: must be a number in (0, 1]',
        'config.models.credit-default.trainer.params.numLeaves: must be a whole number >= 2',
        'config.models.credit-default.split.testFraction: must be a number in (0, 1)',
        'config.models.credit-default.retraining.schedule: must be an EventBridge schedule expression: rate(...) or cron(...)',
        'config.models.credit-default.search.samples: is required for random search',
      ].sort(),
    );
    expect(problems([{ ...credit, trainer: { algorithm: 'xgboost' } }])).toEqual([
      'config.models.credit-default.trainer.algorithm: algorithm must be linear, gbdt or sagemaker',
    ]);
    expect(problems([{ ...credit, trainer: { algorithm: 'sagemaker', image: 'my-image:latest' } }])).toEqual([
      'config.models.credit-default.trainer.image: must be an ECR image URI (<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag])',
    ]);
  });
});
