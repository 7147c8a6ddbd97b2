import { randomBytes } from 'node:crypto';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lambdas/shared/errors.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { rejection } from '../support/errors.js';

let registry: ModelRegistryStore;
let aliases: ModelAliasStore;
let tableName: string;
let bucket: string;

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'aliases-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  const documents = clients.documents();
  registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  aliases = new ModelAliasStore({ documents, tableName });
});

async function registerVersions(modelName: string, count: number): Promise<void> {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(32));
  for (let i = 0; i < count; i++) {
    await registry.registerModelVersion({
      modelName,
      artifact: { key: artifact.key, sha256: artifact.sha256 },
    });
  }
}

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

describe('model aliases on the emulator', () => {
  it('sets, moves and deletes an alias; get, get-by-alias and list agree after each step', async () => {
    await registerVersions('aliased', 2);
    const agree = async (expected: Record<number, string[]>) => {
      for (const v of [1, 2])
        expect((await registry.getModelVersion('aliased', v)).aliases).toEqual(expected[v]);
      const listed = (await registry.listModelVersions('aliased')).versions;
      for (const v of listed) expect(v.aliases).toEqual(expected[v.version]);
    };
    await aliases.set({ modelName: 'aliased', alias: 'champion', version: 1, expectedVersion: null });
    await agree({ 1: ['champion'], 2: [] });
    expect(
      (await aliases.getByAlias((n, v) => registry.getModelVersion(n, v), 'aliased', 'champion')).version,
    ).toBe(1);
    await aliases.set({ modelName: 'aliased', alias: 'champion', version: 2, expectedVersion: 1 });
    await aliases.set({ modelName: 'aliased', alias: 'challenger', version: 2, expectedVersion: null });
    await agree({ 1: [], 2: ['challenger', 'champion'] });
    await aliases.set({ modelName: 'aliased', alias: 'champion', version: null, expectedVersion: 2 });
    await agree({ 1: [], 2: ['challenger'] });
    expect(
      await rejection(aliases.getByAlias((n, v) => registry.getModelVersion(n, v), 'aliased', 'champion')),
    ).toBeInstanceOf(NotFoundError);
    expect((await aliases.history('aliased', 'champion')).map((h) => [h.from, h.to])).toEqual([
      [null, 1],
      [1, 2],
      [2, null],
    ]);
  });

  it('100 concurrent movers: every successful move is in the history in order, each loser sees the current version', async () => {
    await registerVersions('contested', 10);
    await aliases.set({ modelName: 'contested', alias: 'champion', version: 1, expectedVersion: null });

    const outcomes = await Promise.allSettled(
      Array.from({ length: 100 }, async (_, i) => {
        const read = await aliases.current('contested', 'champion');
        const target = ((read?.version ?? 1) + 1 + (i % 8)) % 10 || 10;
        return aliases.set({
          modelName: 'contested',
          alias: 'champion',
          version: target,
          expectedVersion: read?.version ?? null,
        });
      }),
    );

    const won = outcomes.filter((o) => o.status === 'fulfilled').map((o) => o.value);
    const lost = outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason as ConflictError);
    expect(won.length + lost.length).toBe(100);
    expect(won.length).toBeGreaterThan(0);
    for (const loser of lost) {
      expect(loser).toBeInstanceOf(ConflictError);
      expect(typeof loser.current).toBe('number');
    }
    const history = await aliases.history('contested', 'champion');
    expect(history).toHaveLength(1 + won.length);
    expect(new Set(history.slice(1).map((h) => h.sequence))).toEqual(new Set(won.map((w) => w.sequence)));
    for (let i = 1; i < history.length; i++) expect(history[i]?.from).toBe(history[i - 1]?.to);
    // Exactly one version carries the alias, the one the alias item and the last entry name.
    const last = history.at(-1)?.to;
    const carrying = (await registry.listModelVersions('contested')).versions.filter((v) =>
      v.aliases.includes('champion'),
    );
    expect(carrying.map((v) => v.version)).toEqual([last]);
  });

  it('refuses a malformed alias, an unknown version and a stale expectation, writing nothing', async () => {
    await registerVersions('guarded', 1);
    await aliases.set({ modelName: 'guarded', alias: 'champion', version: 1, expectedVersion: null });
    const before = await modelItems('guarded');

    const malformed = await rejection(
      aliases.set({ modelName: 'guarded', alias: 'Champion!', version: 1, expectedVersion: null }),
    );
    expect(malformed).toBeInstanceOf(ValidationError);
    expect(malformed).toMatchObject({ field: 'alias' });
    const unknown = await rejection(
      aliases.set({ modelName: 'guarded', alias: 'champion', version: 7, expectedVersion: 1 }),
    );
    expect(unknown).toBeInstanceOf(NotFoundError);
    expect(unknown).toMatchObject({ field: 'version' });
    const unknownFromUnset = await rejection(
      aliases.set({ modelName: 'guarded', alias: 'shadow', version: 2, expectedVersion: null }),
    );
    expect(unknownFromUnset).toBeInstanceOf(NotFoundError);
    expect(unknownFromUnset).toMatchObject({ field: 'version' });
    const stale = await rejection(
      aliases.set({ modelName: 'guarded', alias: 'champion', version: 1, expectedVersion: null }),
    );
    expect(stale).toMatchObject({ name: 'ConflictError', current: 1 });

    expect(await modelItems('guarded')).toEqual(before);
  });

  it('refuses to delete an alias that is not set (never set, or already deleted), writing nothing', async () => {
    await registerVersions('unset', 1);
    const never = await modelItems('unset');
    const neverSet = await rejection(
      aliases.set({ modelName: 'unset', alias: 'champion', version: null, expectedVersion: null }),
    );
    expect(neverSet).toBeInstanceOf(NotFoundError);
    expect(neverSet).toMatchObject({ field: 'alias', message: 'alias champion of model unset not found' });
    expect(await modelItems('unset')).toEqual(never);

    await aliases.set({ modelName: 'unset', alias: 'champion', version: 1, expectedVersion: null });
    await aliases.set({ modelName: 'unset', alias: 'champion', version: null, expectedVersion: 1 });
    const deleted = await modelItems('unset');
    const again = await rejection(
      aliases.set({ modelName: 'unset', alias: 'champion', version: null, expectedVersion: null }),
    );
    expect(again).toBeInstanceOf(NotFoundError);
    expect(again).toMatchObject({ field: 'alias' });
    expect(await modelItems('unset')).toEqual(deleted);
    expect((await aliases.history('unset', 'champion')).map((h) => [h.from, h.to])).toEqual([
      [null, 1],
      [1, null],
    ]);
  });

  it('a move to the version the alias already points at writes nothing and returns the current state', async () => {
    await registerVersions('settled', 2);
    const first = await aliases.set({
      modelName: 'settled',
      alias: 'champion',
      version: 2,
      expectedVersion: null,
      reason: 'best auc',
    });
    expect(first).toMatchObject({ changed: true, sequence: 1, from: null, to: 2 });
    const before = await modelItems('settled');

    const same = await aliases.set({
      modelName: 'settled',
      alias: 'champion',
      version: 2,
      expectedVersion: 2,
      reason: 'again',
    });
    expect(same).toEqual({
      alias: 'champion',
      sequence: 1,
      from: 2,
      to: 2,
      at: first.at,
      by: first.by,
      reason: 'best auc',
      changed: false,
    });
    // No history entry, no touched item (so no stream record, no ModelAliasChanged event).
    expect(await modelItems('settled')).toEqual(before);
    expect(await aliases.history('settled', 'champion')).toHaveLength(1);
  });

  it('refuses every alias change of an unknown model with NotFoundError on modelName, writing nothing', async () => {
    await registerVersions('known', 1); // a model that exists, so only the name differs
    for (const [version, expectedVersion] of [
      [1, null], // set: only the model-head ConditionCheck in the transaction stops it
      [null, null], // delete
      [1, 3], // stale expectation
    ] as const) {
      const error = await rejection(
        aliases.set({ modelName: 'no-such-model', alias: 'champion', version, expectedVersion }),
      );
      expect(error, `${version} expecting ${expectedVersion}`).toBeInstanceOf(NotFoundError);
      expect(error).toMatchObject({ field: 'modelName', message: 'model no-such-model not found' });
    }
    expect(await modelItems('no-such-model')).toEqual([]);
  });
});
