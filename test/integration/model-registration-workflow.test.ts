import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { loadAssembly } from '../../local/assembly.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';

let local: LocalStack;
let bucket: string;
let tableName: string;

beforeAll(async () => {
  local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'workflow-' });
  bucket = local.resourceName('ModelRegistryArtifacts');
  tableName = local.resourceName('ModelRegistryTable');
});

async function storedVersions(modelName: string): Promise<Record<string, unknown>[]> {
  const result = await clients.documents().send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': `MODEL#${modelName}`, ':prefix': 'VERSION#' },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

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
      'DeriveClientToken',
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
      ['DeriveClientToken', undefined],
      ['RegisterModelVersion', 'ValidationError'],
      ['RegistrationRejected', 'RegistrationRejected'],
    ]);
  });

  it('registers once when the register task runs again in the same execution', async () => {
    const artifact = await putModelArtifact(clients.s3(), bucket, 'retried', randomBytes(64));
    const input = { modelName: 'retried', artifact: { key: artifact.key, sha256: artifact.sha256 } };
    const machine = local.stateMachine('ModelRegistrationWorkflow');

    // A task retry (or a redrive) runs in the same execution, so it sees the same $$.Execution.Id.
    const first = await machine.run(input, { executionName: 'train-2026-12-02' });
    const again = await machine.run(input, { executionName: 'train-2026-12-02' });

    expect([first.status, again.status]).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    expect(again.output).toMatchObject({
      version: 1,
      clientToken: expect.stringMatching(/:execution:.*:train-2026-12-02$/),
    });
    expect(await storedVersions('retried')).toHaveLength(1);
    // Another execution is another registration.
    const other = await machine.run(input, { executionName: 'train-2026-12-03' });
    expect(other.output).toMatchObject({ version: 2 });
  });

  it('ends in RegistrationRejected when the execution token was used with another payload', async () => {
    const artifact = await putModelArtifact(clients.s3(), bucket, 'reused', randomBytes(64));
    const input = { modelName: 'reused', artifact: { key: artifact.key, sha256: artifact.sha256 } };
    const machine = local.stateMachine('ModelRegistrationWorkflow');
    await machine.run(input, { executionName: 'reused-token' });

    const result = await machine.run({ ...input, metrics: { auc: 0.5 } }, { executionName: 'reused-token' });

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('RegistrationRejected');
    expect(JSON.parse(result.cause ?? '{}')).toMatchObject({ errorType: 'ConflictError' });
    expect(result.retries.RegisterModelVersion ?? 0).toBe(0);
    expect(await storedVersions('reused')).toHaveLength(1);
  });

  it("keeps a client token the caller gives over the execution's", async () => {
    const artifact = await putModelArtifact(clients.s3(), bucket, 'caller-token', randomBytes(64));
    const input = {
      modelName: 'caller-token',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      clientToken: 'run-7',
    };
    const machine = local.stateMachine('ModelRegistrationWorkflow');
    const a = await machine.run(input, { executionName: 'caller-a' });
    const b = await machine.run(input, { executionName: 'caller-b' });
    expect(a.output).toMatchObject({ version: 1, clientToken: 'run-7' });
    expect(b.output).toMatchObject({ version: 1, clientToken: 'run-7' });
  });
});
