import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lambdas/shared/errors.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { rejection } from '../support/errors.js';

let registry: ModelRegistryStore;
let stages: ModelStageStore;
let tableName: string;
let bucket: string;

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'stages-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  const documents = clients.documents();
  registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  stages = new ModelStageStore({ documents, tableName, principal: 'arn:aws:iam::1:role/ci' });
});

async function modelItems(modelName: string): Promise<Record<string, unknown>[]> {
  const result = await clients.documents().send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `MODEL#${modelName}` },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

async function registerVersions(modelName: string, count: number): Promise<void> {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(32));
  for (let i = 0; i < count; i++) {
    await registry.registerModelVersion({
      modelName,
      artifact: { key: artifact.key, sha256: artifact.sha256 },
    });
  }
}

const move = (modelName: string, version: number, expectedStage: string, toStage: string) =>
  stages.transition({ modelName, version, expectedStage, toStage, reason: `move ${version} to ${toStage}` });

describe('model version stages on the emulator', () => {
  it('moves a version None → Staging → Production with an append-only history entry each', async () => {
    await registerVersions('staged', 1);
    await move('staged', 1, 'None', 'Staging');
    const promoted = await move('staged', 1, 'Staging', 'Production');

    expect(promoted.version).toMatchObject({ version: 1, stage: 'Production' });
    expect(await registry.getModelVersion('staged', 1)).toEqual(promoted.version);
    expect(await stages.history('staged', 1)).toEqual([
      expect.objectContaining({
        sequence: 1,
        from: 'None',
        to: 'Staging',
        by: 'arn:aws:iam::1:role/ci',
        reason: 'move 1 to Staging',
      }),
      expect.objectContaining({
        sequence: 2,
        from: 'Staging',
        to: 'Production',
        at: promoted.version.updatedAt,
      }),
    ]);
  });

  it('archives the previous Production version in the same transition', async () => {
    await registerVersions('champion', 2);
    await move('champion', 1, 'None', 'Staging');
    await move('champion', 1, 'Staging', 'Production');
    await move('champion', 2, 'None', 'Staging');

    const result = await move('champion', 2, 'Staging', 'Production');

    expect(result.history.map((h) => [h.version, h.from, h.to])).toEqual([
      [2, 'Staging', 'Production'],
      [1, 'Production', 'Archived'],
    ]);
    expect((await registry.getModelVersion('champion', 1)).stage).toBe('Archived');
    expect((await stages.history('champion', 1)).at(-1)).toMatchObject({
      to: 'Archived',
      causedBy: { version: 2 },
    });
    const head = (await modelItems('champion')).find((i) => i.sk === 'MODEL');
    expect(head?.productionVersion).toBe(2);
  });

  it('keeps exactly one Production version when promotions race', async () => {
    await registerVersions('racing', 6);
    for (let v = 1; v <= 6; v++) await move('racing', v, 'None', 'Staging');

    const outcomes = await Promise.allSettled(
      [1, 2, 3, 4, 5, 6].map((v) => move('racing', v, 'Staging', 'Production')),
    );

    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    const versions = (await registry.listModelVersions('racing')).versions;
    const production = versions.filter((v) => v.stage === 'Production');
    expect(production).toHaveLength(1);
    expect(versions.filter((v) => v.stage === 'Archived')).toHaveLength(5);
    const head = (await modelItems('racing')).find((i) => i.sk === 'MODEL');
    expect(head?.productionVersion).toBe(production[0]?.version);
    // Each archived version's history ends with the promotion that archived it.
    for (const v of versions.filter((x) => x.stage === 'Archived')) {
      expect((await stages.history('racing', v.version)).map((h) => h.to)).toEqual([
        'Staging',
        'Production',
        'Archived',
      ]);
    }
  });

  it('refuses illegal transitions, stale expectations and unknown versions, writing nothing', async () => {
    await registerVersions('strict', 1);
    const before = await modelItems('strict');

    const illegal = await rejection(move('strict', 1, 'None', 'Production'));
    expect(illegal).toBeInstanceOf(ValidationError);
    expect(illegal).toMatchObject({
      field: 'toStage',
      rule: expect.stringContaining('cannot move from None to Production'),
    });

    const stale = await rejection(move('strict', 1, 'Staging', 'Production'));
    expect(stale).toBeInstanceOf(ConflictError);
    expect(stale).toMatchObject({ name: 'ConflictError', current: 'None' });

    expect(await rejection(move('strict', 9, 'None', 'Staging'))).toBeInstanceOf(NotFoundError);
    const noReason = await rejection(
      stages.transition({ modelName: 'strict', version: 1, expectedStage: 'None', toStage: 'Staging' }),
    );
    expect(noReason).toMatchObject({ field: 'reason' });

    expect(await modelItems('strict')).toEqual(before);
  });
});
