import { describe, expect, it } from 'vitest';
import { decodeEntityKey, encodeEntityKey } from '../../lambdas/feature-store/point-in-time-join.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import {
  isTrained,
  modelConfigSchema,
  type TrainedModelConfig,
} from '../../lambdas/training/model-config.js';
import { trainingFingerprint } from '../../lambdas/training/pipeline/fingerprint.js';
import { readableCause } from '../../lambdas/training/pipeline/finish.js';
import { expandCandidates, MAX_SEARCH_CANDIDATES } from '../../lambdas/training/pipeline/search-space.js';

function model(overrides: Record<string, unknown> = {}): TrainedModelConfig {
  const parsed = modelConfigSchema.parse({
    name: 'churn',
    task: 'binary',
    label: 'outcome:churned',
    features: ['customer:orders', 'customer:spend'],
    gates: {},
    ...overrides,
  });
  if (!isTrained(parsed)) throw new Error('fixture must be a trained model');
  return parsed;
}

function refusal(call: () => unknown): ValidationError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('expandCandidates', () => {
  it('gives one candidate with the configured params when no search is configured', () => {
    const m = model({ trainer: { algorithm: 'gbdt', params: { numRounds: 7 } } });
    const candidates = expandCandidates(m);
    expect(candidates).toHaveLength(1);
    expect(candidates[0]).toEqual({
      index: 0,
      params: m.trainer.algorithm === 'gbdt' ? m.trainer.params : {},
    });
    expect(candidates[0]?.params.numRounds).toBe(7);
  });

  it('lays every grid combination over the configured params, keys sorted, the last key fastest', () => {
    const m = model({
      trainer: { algorithm: 'gbdt', params: { numRounds: 7, learningRate: 0.3 } },
      search: { space: { numLeaves: [4, 8, 16], learningRate: [0.05, 0.1] } },
    });
    const candidates = expandCandidates(m);
    expect(candidates.map((c) => [c.index, c.params.learningRate, c.params.numLeaves])).toEqual([
      [0, 0.05, 4],
      [1, 0.05, 8],
      [2, 0.05, 16],
      [3, 0.1, 4],
      [4, 0.1, 8],
      [5, 0.1, 16],
    ]);
    expect(candidates.every((c) => c.params.numRounds === 7 && c.params.minChildSamples === 20)).toBe(true);
  });

  it('draws the same distinct random sample for the same seed, and another for another seed', () => {
    const search = {
      strategy: 'random',
      samples: 10,
      space: { numLeaves: [4, 8, 16, 32, 64], learningRate: [0.01, 0.05, 0.1, 0.2], lambda: [0, 1, 10] },
    };
    const first = expandCandidates(model({ search, split: { seed: 7 } }));
    const again = expandCandidates(model({ search, split: { seed: 7 } }));
    const other = expandCandidates(model({ search, split: { seed: 8 } }));
    const combos = (cs: typeof first) =>
      cs.map((c) => `${c.params.numLeaves}/${c.params.learningRate}/${c.params.lambda}`);
    expect(first).toEqual(again);
    expect(first.map((c) => c.index)).toEqual([...Array(10).keys()]);
    expect(new Set(combos(first)).size).toBe(10);
    expect(combos(other)).not.toEqual(combos(first));
  });

  it('caps a random sample at the grid size (every combination, once)', () => {
    const candidates = expandCandidates(
      model({ search: { strategy: 'random', samples: 50, space: { numLeaves: [4, 8], lambda: [0, 1, 2] } } }),
    );
    expect(candidates).toHaveLength(6);
    expect(new Set(candidates.map((c) => `${c.params.numLeaves}/${c.params.lambda}`)).size).toBe(6);
  });

  it('works for the linear trainer', () => {
    const candidates = expandCandidates(
      model({ trainer: { algorithm: 'linear' }, search: { space: { l2: [0, 0.01, 1] } } }),
    );
    expect(candidates.map((c) => c.params.l2)).toEqual([0, 0.01, 1]);
    expect(candidates[0]?.params.maxIterations).toBe(100);
  });

  it('refuses a space value the trainer refuses, naming search.space.<param>, even if a sample would skip it', () => {
    const error = refusal(() =>
      expandCandidates(
        model({ search: { strategy: 'random', samples: 1, space: { numLeaves: [4, 8, 1, 16, 32] } } }),
      ),
    );
    expect(error.field).toBe('search.space.numLeaves');
  });

  it('refuses a space parameter the trainer does not have', () => {
    expect(refusal(() => expandCandidates(model({ search: { space: { depth: [3] } } }))).field).toBe(
      'search.space.depth',
    );
    // gbdt's task and seed come from the model, not the search
    expect(refusal(() => expandCandidates(model({ search: { space: { seed: [1, 2] } } }))).field).toBe(
      'search.space.seed',
    );
  });

  it('refuses a grid larger than the payload allows', () => {
    const values = [...Array(11).keys()].map((i) => i + 2);
    const error = refusal(() =>
      expandCandidates(model({ search: { space: { numLeaves: values, maxDepth: values } } })),
    );
    expect(error.field).toBe('search.space');
    expect(MAX_SEARCH_CANDIDATES).toBeLessThan(121);
  });

  it('keeps the largest allowed search inside the state machine payload', () => {
    const values = [...Array(10).keys()].map((i) => i + 2);
    const candidates = expandCandidates(
      model({ search: { space: { numLeaves: values, maxDepth: values } } }),
    );
    expect(candidates).toHaveLength(MAX_SEARCH_CANDIDATES);
    // The params go in, and each comes back inside a result of about 1.6 KB: both fit in 256 KB.
    expect(Buffer.byteLength(JSON.stringify(candidates)) + MAX_SEARCH_CANDIDATES * 1600).toBeLessThan(
      256 * 1024,
    );
  });

  it('gives no candidates for a SageMaker trainer', () => {
    expect(
      expandCandidates(
        model({
          trainer: { algorithm: 'sagemaker', image: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/t:1' },
        }),
      ),
    ).toEqual([]);
  });
});

describe('trainingFingerprint', () => {
  it('changes with what decides training', () => {
    const base = trainingFingerprint(model());
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    for (const change of [
      { features: ['customer:orders'] },
      { trainer: { algorithm: 'gbdt', params: { numRounds: 5 } } },
      { split: { seed: 1 } },
      { windowDays: 30 },
      { slices: ['customer:segment'] },
      { positiveClass: true },
      { search: { space: { numLeaves: [4, 8] } } },
      // A rejection under other gates must not be reused.
      { gates: { metrics: [{ metric: 'auc', direction: 'max', threshold: 0.7 }] } },
      { championMinDelta: 0.01 },
    ])
      expect(trainingFingerprint(model(change)), JSON.stringify(change)).not.toBe(base);
  });

  it('ignores retraining, the description and the search parallelism', () => {
    const search = { space: { numLeaves: [4, 8] } };
    expect(
      trainingFingerprint(
        model({
          description: 'other',
          retraining: { schedule: 'rate(7 days)', newDataRows: 100 },
          search: { ...search, parallelism: 9 },
        }),
      ),
    ).toBe(trainingFingerprint(model({ search })));
  });

  it('is the same for the same configuration written in another key order', () => {
    expect(trainingFingerprint(model({ split: { seed: 3, testFraction: 0.3 } }))).toBe(
      trainingFingerprint(model({ split: { testFraction: 0.3, seed: 3 } })),
    );
  });
});

describe('readableCause', () => {
  it('reads a Lambda error Cause as <errorType>: <errorMessage>', () => {
    expect(
      readableCause({
        Error: 'ValidationError',
        Cause: JSON.stringify({
          errorType: 'ValidationError',
          errorMessage: 'windowDays: no rows',
          trace: [],
        }),
      }),
    ).toBe('ValidationError: windowDays: no rows');
  });

  it('keeps a plain-text cause and a bare error name', () => {
    expect(readableCause({ Error: 'States.Timeout', Cause: 'Task timed out' })).toBe(
      'States.Timeout: Task timed out',
    );
    expect(readableCause({ Error: 'States.TaskFailed' })).toBe('States.TaskFailed');
    expect(readableCause(undefined)).toBe('Error');
  });
});

describe('decodeEntityKey', () => {
  it.each([
    [['c1'], ['string']],
    [['nabc'], ['string']],
    [[42], ['int64']],
    [
      ['a', 7],
      ['string', 'int64'],
    ],
  ] as const)('inverts encodeEntityKey (%j)', (values, types) => {
    expect(decodeEntityKey(encodeEntityKey(values), types)).toEqual(values);
  });
});
