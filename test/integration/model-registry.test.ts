import { randomBytes } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { artifactKey } from '../../lambdas/registry/model-version.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  ConflictError,
  ContentionError,
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

/**
 * The documents client as an eventually consistent replica can answer: a read that does not ask
 * for consistency sees the table as it was before the test's writes (the emulator itself is always
 * consistent, so this fault is injected at the SDK boundary).
 */
function staleUnlessConsistent(documents: DynamoDBDocumentClient): DynamoDBDocumentClient {
  return new Proxy(documents, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: unknown) => {
        if (command instanceof GetCommand && command.input.ConsistentRead !== true) return {};
        if (command instanceof QueryCommand && command.input.ConsistentRead !== true) return { Items: [] };
        return target.send(command as never);
      };
    },
  });
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
      s3VersionId: expect.any(String),
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

  it('keeps the complete version record: artifacts by role, signature, output, lineage, creator', async () => {
    const model = await uploadArtifact('complete');
    const report = await putModelArtifact(
      clients.s3(),
      bucket,
      'complete',
      Buffer.from('{"auc":0.91}'),
      'evaluation.json',
    );
    const profile = await putModelArtifact(clients.s3(), bucket, 'complete', randomBytes(99), 'profile.json');
    const input = {
      modelName: 'complete',
      artifact: { key: model.key, sha256: model.sha256 },
      artifacts: {
        evaluationReport: { key: report.key, sha256: report.sha256 },
        referenceProfile: { key: profile.key, sha256: profile.sha256 },
      },
      signature: {
        inputs: [
          { name: 'tenure_days', type: 'int64', featureView: 'customer_profile' },
          { name: 'avg_spend', type: 'float64', featureView: 'customer_spend' },
          { name: 'plan', type: 'string' },
        ],
      },
      output: { kind: 'binary', positiveClass: 'churned', threshold: 0.42 },
      metrics: { auc: 0.91 },
      params: { depth: 6 },
      tags: { team: 'growth' },
      lineage: {
        trainingSet: { manifestKey: 'datasets/complete/abc/manifest.json', sha256: 'c'.repeat(64) },
        featureViews: [{ name: 'customer_profile', definitionHash: 'd1' }],
        codeVersion: '0123abc',
        configFingerprint: 'cfg-1',
        trainer: { name: 'gbdt', version: '1.2.0' },
        runId: 'run-9',
      },
    };
    const registered = await registry.registerModelVersion(input);

    const read = await registry.getModelVersion('complete', registered.version);
    expect(read).toEqual(registered);
    expect(read).toMatchObject({
      signature: input.signature,
      output: input.output,
      lineage: input.lineage,
      tags: { team: 'growth' },
      createdBy: 'local',
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(read.artifacts.model).toEqual(read.artifact);
    expect(read.artifacts.evaluationReport).toEqual({
      bucket,
      key: report.key,
      sha256: report.sha256,
      sizeBytes: 12,
      s3VersionId: expect.any(String),
    });
    expect(read.artifacts.referenceProfile?.sizeBytes).toBe(99);
    expect(read.artifacts.modelCard).toBeUndefined();
  });

  it('refuses an artifact of another role whose digest or key is wrong, naming its field', async () => {
    const model = await uploadArtifact('roles');
    const base = { modelName: 'roles', artifact: { key: model.key, sha256: model.sha256 } };
    const before = await tableItems();
    const wrongDigest = await rejection(
      registry.registerModelVersion({
        ...base,
        artifacts: { evaluationReport: { key: model.key, sha256: 'e'.repeat(64) } },
      }),
    );
    expect(wrongDigest).toMatchObject({ field: 'artifacts.evaluationReport.sha256' });
    const missing = await rejection(
      registry.registerModelVersion({
        ...base,
        artifacts: {
          modelCard: { key: artifactKey('roles', 'f'.repeat(64), 'card.md'), sha256: 'f'.repeat(64) },
        },
      }),
    );
    expect(missing).toMatchObject({ field: 'artifacts.modelCard.key' });
    const unknownRole = await rejection(
      registry.registerModelVersion({
        ...base,
        artifacts: { weights: { key: model.key, sha256: model.sha256 } },
      }),
    );
    expect(unknownRole).toMatchObject({ field: 'artifacts.weights', rule: 'is not a known field' });
    expect(await tableItems()).toEqual(before);
  });

  it('still reads a version registered before the complete record', async () => {
    const artifact = await uploadArtifact('legacy');
    // The item exactly as the registry wrote it before artifacts by role and createdBy existed.
    const legacy = {
      modelName: 'legacy',
      version: 1,
      stage: 'None',
      artifact: { bucket, key: artifact.key, sha256: artifact.sha256, sizeBytes: 256 },
      metrics: { auc: 0.7 },
      params: {},
      tags: {},
      lineage: { datasetHash: 'abc' },
      description: '',
      createdAt: '2026-01-01T00:00:00.000Z',
    };
    await clients.documents().send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: tableName, Item: { pk: 'MODEL#legacy', sk: 'MODEL', latestVersion: 1 } } },
          {
            Put: { TableName: tableName, Item: { pk: 'MODEL#legacy', sk: 'VERSION#0000000001', ...legacy } },
          },
        ],
      }),
    );

    const read = await registry.getModelVersion('legacy', 1);

    expect(read).toEqual({
      ...legacy,
      artifacts: { model: legacy.artifact },
      createdBy: 'unknown',
      aliases: [],
    });
    expect((await registry.listModelVersions('legacy')).versions).toEqual([read]);
    const next = await registry.registerModelVersion({
      modelName: 'legacy',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
    });
    expect(next.version).toBe(2);
  });

  it('reads its own writes where reads are only eventually consistent', async () => {
    const artifact = await uploadArtifact('fresh');
    const replica = new ModelRegistryStore({
      documents: staleUnlessConsistent(clients.documents()),
      s3: clients.s3(),
      tableName,
      artifactBucket: bucket,
    });
    const input = {
      modelName: 'fresh',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      clientToken: 'fresh-1',
    };
    const registered = await replica.registerModelVersion(input);
    expect(await replica.getModelVersion('fresh', registered.version)).toEqual(registered);
    expect((await replica.listModelVersions('fresh')).versions).toEqual([registered]);
    expect(await replica.registerModelVersion(input)).toEqual(registered);
  });

  it('refuses a reused client token with a different payload as ConflictError and writes nothing', async () => {
    const artifact = await uploadArtifact('token');
    const input = {
      modelName: 'token',
      artifact: { key: artifact.key, sha256: artifact.sha256 },
      metrics: { auc: 0.8 },
      clientToken: 'exec-1',
    };
    const first = await registry.registerModelVersion(input);
    const before = await tableItems();

    const error = await rejection(registry.registerModelVersion({ ...input, metrics: { auc: 0.9 } }));

    expect(error).toBeInstanceOf(ConflictError);
    expect(error.name).toBe('ConflictError');
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error.message).toMatch(/clientToken exec-1 .*version 1/);
    expect(await tableItems()).toEqual(before);
    // The same payload (defaults spelled out, keys in another order) is the same request.
    const again = await registry.registerModelVersion({
      clientToken: 'exec-1',
      metrics: { auc: 0.8 },
      params: {},
      artifact: { sha256: artifact.sha256, key: artifact.key },
      modelName: 'token',
    });
    expect(again).toEqual(first);
  });

  it('lets exactly one of concurrent same-token registrations with different payloads win', async () => {
    const artifact = await uploadArtifact('token-race');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        registry.registerModelVersion({
          modelName: 'token-race',
          artifact: { key: artifact.key, sha256: artifact.sha256 },
          metrics: { run: i },
          clientToken: 'exec-race',
        }),
      ),
    );
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(7);
    for (const reason of lost) expect(reason).toBeInstanceOf(ConflictError);
    const versions = (await tableItems()).filter(
      (item) => item.pk === 'MODEL#token-race' && String(item.sk).startsWith('VERSION#'),
    );
    expect(versions).toHaveLength(1);
  });

  it('gives up with ContentionError when it cannot win the version race', async () => {
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
    for (const failure of failures) expect(failure).toBeInstanceOf(ContentionError);
    const won = outcomes
      .filter((o) => o.status === 'fulfilled')
      .map((o) => (o as PromiseFulfilledResult<{ version: number }>).value.version);
    expect(won.sort((a, b) => a - b)).toEqual(Array.from({ length: won.length }, (_, i) => i + 1));
  });
});
