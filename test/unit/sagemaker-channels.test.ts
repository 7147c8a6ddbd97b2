import { parquetReadObjects } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { rowsToFrame } from '../../lambdas/training/encoding.js';
import {
  JOB_NAME_PATTERN,
  modelOutputOf,
  sagemakerJobName,
  splitParquet,
} from '../../lambdas/training/pipeline/sagemaker-channels.js';
import { selectRows } from '../../lambdas/training/split.js';

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

describe('splitParquet', () => {
  it('writes declared types, missing values as null, and an empty split as a file of no rows', async () => {
    const frame = rowsToFrame(
      [
        { name: 'age', type: 'int64' },
        { name: 'member', type: 'bool' },
        { name: 'plan', type: 'string' },
      ],
      [
        { age: 30, member: true, plan: 'pro' },
        { age: null, member: false, plan: null },
      ],
    );
    const features = [
      { name: 'age', type: 'int64' },
      { name: 'member', type: 'bool' },
      { name: 'plan', type: 'string' },
    ] as const;
    const read = async (bytes: Uint8Array) =>
      parquetReadObjects({
        file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      });
    expect(await read(splitParquet(frame, features))).toEqual([
      { age: 30n, member: true, plan: 'pro' },
      { age: null, member: false, plan: null },
    ]);
    expect(await read(splitParquet(selectRows(frame, new Uint32Array(0)), features))).toEqual([]);
  });
});
