import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runIdSchema } from '../../lambdas/registry/tracking.js';
import { trainingRunId } from '../../lambdas/training/pipeline/run-id.js';

const ARN = 'arn:aws:states:us-east-1:123456789012:execution:TrainingPipeline-churn:3f1c';

describe('trainingRunId', () => {
  it('is the first 32 hex characters of sha256 of the execution ARN', () => {
    expect(trainingRunId(ARN)).toBe(createHash('sha256').update(ARN).digest('hex').slice(0, 32));
    expect(trainingRunId(ARN)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('gives the same id for the same execution and another for another', () => {
    expect(trainingRunId(ARN)).toBe(trainingRunId(`${ARN}`));
    expect(trainingRunId(`${ARN}x`)).not.toBe(trainingRunId(ARN));
  });

  it('is a valid tracking run id', () => {
    expect(runIdSchema.safeParse(trainingRunId(ARN)).success).toBe(true);
  });
});
