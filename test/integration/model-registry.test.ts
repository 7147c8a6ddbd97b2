import { randomBytes } from 'node:crypto';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { artifactKey } from '../../lambdas/registry/model-version.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  ConflictError,
  ItemTooLargeError,
  NotFoundError,
  ValidationError,
} from '../../lambdas/shared/errors.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';

let registry: ModelRegistryStore;
let tableName: string;
let bucket: string;

async function tableItems(): Promise<Record<string, unknown>[]> {
  const result = await clients
    .documents()
    .send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return result.Items ?? [];
}

async function uploadArtifact(modelName: string) {
  return putModelArtifact(clients.s3(), bucket, modelName, randomBytes(256));
}

async function rejection(promise: Promise<unknown>, what = 'the call'): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error(`expected ${what} to be rejected`);
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'registry-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName,
    artifactBucket: bucket,
  });
});

describe('model registry on the emulator', () => {
  it('registers, reads back and lists a version with its metadata', async () => {
    const artifact = await uploadArtifact('iris');
    const registered = await registry.registerModelVersion({
      modelName: 'iris',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      metrics: { accuracy: 0.97 },
      params: { depth: 4, criterion: 'gini', bootstrap: true },
      lineage: { datasetHash: 'abc' },
      description: 'first',
    });
    expect(registered).toMatchObject({ modelName: 'iris', version: 1, stage: 'None' });
    expect(registered.artifact).toEqual({
      bucket,
      key: artifact.key,
      sha256: artifact.sha256,
      sizeBytes: 256,
    });
    expect(await registry.getModelVersion('iris', 1)).toEqual(registered);
    const page = await registry.listModelVersions('iris');
    expect(page.versions).toEqual([registered]);
    expect(page.nextToken).toBeUndefined();
  });

  it('gives 50 concurrent registrations versions 1..50, each exactly once', async () => {
    const artifact = await uploadArtifact('fraud');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        registry.registerModelVersion({
          modelName: 'fraud',
          artifact: { key: artifact.key, sha256: artifact.sha256 },
          metrics: { run: i },
        }),
      ),
    );
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    const stored = (await tableItems()).filter(
      (item) => item.modelName === 'fraud' && String(item.sk).startsWith('VERSION#'),
    );
    expect(stored).toHaveLength(50);
    // Each stored version holds the metadata of the call that got that number.
    for (const result of results) {
      expect(stored.find((item) => item.version === result.version)?.metrics).toEqual(result.metrics);
    }
    const head = (await tableItems()).find((item) => item.pk === 'MODEL#fraud' && item.sk === 'MODEL');
    expect(head?.latestVersion).toBe(50);
  });

  it('lists versions newest first, a page at a time', async () => {
    const artifact = await uploadArtifact('paged');
    for (let i = 0; i < 5; i++) {
      await registry.registerModelVersion({
        modelName: 'paged',
        artifact: { key: artifact.key, sha256: artifact.sha256 },
      });
    }
    const first = await registry.listModelVersions('paged', { limit: 2 });
    expect(first.versions.map((v) => v.version)).toEqual([5, 4]);
    const second = await registry.listModelVersions('paged', { limit: 2, nextToken: first.nextToken });
    expect(second.versions.map((v) => v.version)).toEqual([3, 2]);
    const forged = Buffer.from(JSON.stringify({ pk: 'MODEL#iris', sk: 'VERSION#0000000001' })).toString(
      'base64url',
    );
    expect(
      (await rejection(registry.listModelVersions('paged', { nextToken: forged }))) as ValidationError,
    ).toMatchObject({
      field: 'nextToken',
    });
  });

  it('returns the first registration again for a repeated client token', async () => {
    const artifact = await uploadArtifact('retry');
    const input = {
      modelName: 'retry',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      clientToken: 'run-42',
    };
    const concurrent = await Promise.all([1, 2, 3, 4, 5].map(() => registry.registerModelVersion(input)));
    expect(new Set(concurrent.map((v) => v.version))).toEqual(new Set([1]));
    expect((await registry.registerModelVersion(input)).version).toBe(1);
    const versions = (await tableItems()).filter(
      (item) => item.pk === 'MODEL#retry' && String(item.sk).startsWith('VERSION#'),
    );
    expect(versions).toHaveLength(1);
  });

  it('rejects bad input by field and writes nothing', async () => {
    const artifact = await uploadArtifact('clean');
    const before = await tableItems();
    const cases: [unknown, string][] = [
      [{ modelName: 'Bad Name', artifact: { key: artifact.key, sha256: artifact.sha256 } }, 'modelName'],
      [
        {
          modelName: 'clean',
          artifact: { key: artifact.key, sha256: artifact.sha256 },
          metrics: { auc: Number.NaN },
        },
        'metrics.auc',
      ],
      [
        {
          modelName: 'clean',
          artifact: { key: artifact.key, sha256: artifact.sha256 },
          metrics: { auc: null },
        },
        'metrics.auc',
      ],
      [
        {
          modelName: 'clean',
          artifact: { key: artifactKey('clean', 'f'.repeat(64)), sha256: 'f'.repeat(64) },
        },
        'artifact.key',
      ],
      [{ modelName: 'clean', artifact: { key: artifact.key, sha256: 'e'.repeat(64) } }, 'artifact.sha256'],
      [
        {
          modelName: 'clean',
          artifact: { key: artifact.key, sha256: artifact.sha256 },
          params: Object.fromEntries(Array.from({ length: 120 }, (_, i) => [`p${i}`, 'x'.repeat(4000)])),
        },
        'params',
      ],
    ];
    for (const [input, field] of cases) {
      const error = await rejection(registry.registerModelVersion(input), field);
      expect(error, field).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field, JSON.stringify(input).slice(0, 80)).toBe(field);
    }
    expect(await rejection(registry.registerModelVersion(cases[5]?.[0]))).toBeInstanceOf(ItemTooLargeError);
    expect(await tableItems()).toEqual(before);
  });

  it('reports a missing version as NotFoundError', async () => {
    expect(await rejection(registry.getModelVersion('iris', 999))).toBeInstanceOf(NotFoundError);
  });

  it('gives up with ConflictError when it cannot win the version race', async () => {
    const artifact = await uploadArtifact('contended');
    const impatient = new ModelRegistryStore({
      documents: clients.documents(),
      s3: clients.s3(),
      tableName,
      artifactBucket: bucket,
      maxAttempts: 1,
    });
    const input = { modelName: 'contended', artifact: { key: artifact.key, sha256: artifact.sha256 } };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => impatient.registerModelVersion(input)),
    );
    const failures = outcomes
      .filter((o) => o.status === 'rejected')
      .map((o) => (o as PromiseRejectedResult).reason);
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) expect(failure).toBeInstanceOf(ConflictError);
    const won = outcomes
      .filter((o) => o.status === 'fulfilled')
      .map((o) => (o as PromiseFulfilledResult<{ version: number }>).value.version);
    expect(won.sort((a, b) => a - b)).toEqual(Array.from({ length: won.length }, (_, i) => i + 1));
  });
});
