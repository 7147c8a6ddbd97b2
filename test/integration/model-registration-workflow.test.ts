import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { loadAssembly } from '../../local/assembly.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';

let local: LocalStack;
let bucket: string;

beforeAll(async () => {
  local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'workflow-' });
  bucket = local.resourceName('ModelRegistryArtifacts');
});

describe('model registration workflow (state machine from the template)', () => {
  it('registers a version, reads it back and verifies it', async () => {
    const artifact = await putModelArtifact(clients.s3(), bucket, 'churn', randomBytes(64));
    const input = {
      modelName: 'churn',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      metrics: { auc: 0.91 },
    };

    const result = await local.stateMachine('ModelRegistrationWorkflow').run(input);

    expect(result.status).toBe('SUCCEEDED');
    expect(result.states.map((s) => s.name)).toEqual([
      'RegisterModelVersion',
      'ReadBackModelVersion',
      'MatchesRegistration',
      'Registered',
    ]);
    expect(result.output).toMatchObject({
      modelName: 'churn',
      version: 1,
      metrics: { auc: 0.91 },
      readBack: { version: 1, sha256: artifact.sha256 },
    });
    // The read-back ran the real get function against the emulator.
    const readBack = result.states.find((s) => s.name === 'ReadBackModelVersion');
    expect(readBack?.output).toMatchObject({ readBack: { version: 1 } });
  });

  it('ends in RegistrationRejected with the field in the cause when the input breaks a rule', async () => {
    const artifact = await putModelArtifact(clients.s3(), bucket, 'churn', randomBytes(64));
    const input = {
      modelName: 'churn',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      metrics: { auc: null },
    };

    const result = await local.stateMachine('ModelRegistrationWorkflow').run(input);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RegistrationRejected');
    expect(JSON.parse(result.cause ?? '{}')).toMatchObject({
      errorType: 'ValidationError',
      errorMessage: 'metrics.auc: must be a finite number',
    });
    expect(result.states.map((s) => [s.name, s.error])).toEqual([
      ['RegisterModelVersion', 'ValidationError'],
      ['RegistrationRejected', 'RegistrationRejected'],
    ]);
  });
});
