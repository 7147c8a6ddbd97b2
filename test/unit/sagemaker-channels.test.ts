import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/shared/errors.js';
import {
  JOB_NAME_PATTERN,
  modelOutputOf,
  sagemakerJobName,
} from '../../lambdas/training/pipeline/sagemaker-channels.js';

describe('sagemakerJobName', () => {
  it('is <model>-<first 16 letters and digits of the run id>', () => {
    expect(sagemakerJobName('churn', '0f3a9c2e-77b1-4c5d-9e0f-123456789abc')).toBe('churn-0f3a9c2e77b14c5d');
  });

  it('stays within 63 characters of SageMaker letters, digits and hyphens for the longest model name', () => {
    const model = `a${'-b'.repeat(30)}c`; // 63 characters
    const name = sagemakerJobName(model, 'ffffffffffffffffffffffff');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(JOB_NAME_PATTERN);
    expect(name.endsWith('-ffffffffffffffff')).toBe(true);
  });

  it('refuses a run id without letters or digits', () => {
    expect(() => sagemakerJobName('churn', '---')).toThrow(ValidationError);
  });
});

describe('modelOutputOf', () => {
  it('records the second class as positive for binary models, as the built-in exporters do', () => {
    expect(modelOutputOf('binary', ['no', 'yes'])).toEqual({
      kind: 'binary',
      positiveClass: 'yes',
      threshold: 0.5,
    });
    expect(modelOutputOf('multiclass', [1, 2, 3])).toEqual({ kind: 'multiclass', classes: ['1', '2', '3'] });
    expect(modelOutputOf('regression', [])).toEqual({ kind: 'regression' });
  });
});
