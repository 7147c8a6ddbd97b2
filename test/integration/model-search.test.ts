/**
 * Registry search on the emulator: listing models, every filter (stage, alias, tag, metric with
 * each operator), both orders, pagination (every page size, token round trips), bad input, refused
 * calls writing nothing, and the migration of models registered before search indexes existed.
 */
import { randomBytes } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import type { ModelVersion } from '../../lambdas/registry/model-version.js';
import {
  ModelRegistryStore,
  type ModelRegistryStore as Registry,
  type SearchVersionsOptions,
} from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  ConflictError,
  ContentionError,
  NotFoundError,
  NotIndexedError,
  ValidationError,
} from '../../lambdas/shared/errors.js';
import { aliasSk } from '../../lambdas/shared/layout.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { rejection } from '../support/errors.js';

let registry: Registry;
let stages: ModelStageStore;
let aliases: ModelAliasStore;
let documents: DynamoDBDocumentClient;
let tableName: string;
let bucket: string;

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'search-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  documents = clients.documents();
  registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  stages = new ModelStageStore({ documents, tableName });
  aliases = new ModelAliasStore({ documents, tableName });
});

async function tableItems(): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: tableName,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return items.sort((a, b) => `${a.pk}|${a.sk}`.localeCompare(`${b.pk}|${b.sk}`));
}

async function partition(modelName: string): Promise<Record<string, unknown>[]> {
  const result = await documents.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': `MODEL#${modelName}` },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

/** Registers versions with the given metrics and tags, in order (version i+1 gets specs[i]). */
/**
 * The documents client with an interleaving injected at the SDK boundary: right after each read of
 * `alias`'s item (while `moves` allows), another writer moves the alias one version up, before the
 * search reads the version the alias pointed at.
 */
function movingAfterAliasRead(
  modelName: string,
  alias: string,
  moves: { left: number; done: number },
): DynamoDBDocumentClient {
  return new Proxy(documents, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return async (command: unknown) => {
        const result = await target.send(command as Parameters<typeof target.send>[0]);
        if (command instanceof GetCommand && command.input.Key?.sk === aliasSk(alias) && moves.left > 0) {
          const from = (result as { Item?: { version?: number } }).Item?.version ?? null;
          if (from !== null) {
            await aliases.set({ modelName, alias, version: from + 1, expectedVersion: from });
            moves.left--;
            moves.done++;
          }
        }
        return result;
      };
    },
  });
}

async function registerAll(
  modelName: string,
  specs: readonly {
    metrics?: Record<string, number | undefined>;
    tags?: Record<string, string | undefined>;
  }[],
): Promise<ModelVersion[]> {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(32));
  const out: ModelVersion[] = [];
  for (const spec of specs) {
    out.push(
      await registry.registerModelVersion({
        modelName,
        artifact: { key: artifact.key, sha256: artifact.sha256 },
        ...spec,
      }),
    );
  }
  return out;
}

/** Every page of a search, with the page sizes seen. */
async function searchAll(
  modelName: string,
  options: SearchVersionsOptions,
  limit: number,
): Promise<{ versions: number[]; pages: number[] }> {
  const versions: number[] = [];
  const pages: number[] = [];
  let nextToken: string | undefined;
  do {
    const page = await registry.searchVersions(modelName, {
      ...options,
      limit,
      ...(nextToken ? { nextToken } : {}),
    });
    versions.push(...page.versions.map((v) => v.version));
    pages.push(page.versions.length);
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  return { versions, pages };
}

const numbers = async (modelName: string, options: SearchVersionsOptions) =>
  (await searchAll(modelName, options, 100)).versions;

const move = (modelName: string, version: number, expectedStage: string, toStage: string) =>
  stages.transition({ modelName, version, expectedStage, toStage, reason: 'test' });

describe('listing models', () => {
  it('lists every model by name with its latest and production versions, page by page', async () => {
    await registerAll('list-b', [{}, {}]);
    await registerAll('list-a', [{}]);
    await registerAll('list-c', [{}, {}, {}]);
    await move('list-c', 2, 'None', 'Staging');
    await move('list-c', 2, 'Staging', 'Production');

    const all = (await registry.listModels({ limit: 100 })).models.filter((m) => m.name.startsWith('list-'));
    expect(all.map((m) => [m.name, m.latestVersion, m.productionVersion])).toEqual([
      ['list-a', 1, undefined],
      ['list-b', 2, undefined],
      ['list-c', 3, 2],
    ]);
    for (const model of all) {
      expect(model.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(model.updatedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    }

    const everything = (await registry.listModels({ limit: 100 })).models.map((m) => m.name);
    const paged: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await registry.listModels({ limit: 2, ...(nextToken ? { nextToken } : {}) });
      expect(page.models.length).toBeLessThanOrEqual(2);
      paged.push(...page.models.map((m) => m.name));
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
    expect(paged).toEqual(everything);
    expect(everything).toEqual([...everything].sort());
  });

  it('lists a model the moment its first version is registered (consistent reads)', async () => {
    await registerAll('list-fresh', [{}]);
    const names = (await registry.listModels({ limit: 100 })).models.map((m) => m.name);
    expect(names).toContain('list-fresh');
  });

  it('refuses a bad limit or a forged token, naming the field', async () => {
    for (const [options, field] of [
      [{ limit: 0 }, 'limit'],
      [{ limit: 101 }, 'limit'],
      [{ nextToken: 'garbage' }, 'nextToken'],
      [
        { nextToken: Buffer.from(JSON.stringify({ sk: 'VERSION#0000000001' })).toString('base64url') },
        'nextToken',
      ],
    ] as const) {
      const error = await rejection(registry.listModels(options));
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
  });
});

describe('searching versions', () => {
  // v1..v8 with auc, loss and tags; two without auc, one with a tag value holding '#'.
  const specs = [
    { metrics: { auc: 0.71, loss: 0.3 }, tags: { team: 'risk', data: 'jan' } },
    { metrics: { auc: 0.85, loss: 0.2 }, tags: { team: 'risk', data: 'feb' } },
    { metrics: { loss: 0.9 }, tags: { team: 'growth' } },
    { metrics: { auc: 0.85, loss: 0.25 }, tags: { team: 'risk', data: 'a#b' } },
    { metrics: { auc: -0.5 }, tags: { team: 'growth' } },
    { metrics: { auc: 0.93, loss: 0.1 }, tags: { team: 'risk' } },
    { metrics: {}, tags: {} },
    { metrics: { auc: 0, loss: 1e-100 }, tags: { team: 'risk', data: 'a' } },
  ];
  const model = 'searchable';
  let ready: Promise<void> | undefined;
  const setup = () => {
    ready ??= (async () => {
      await registerAll(model, specs);
      await move(model, 2, 'None', 'Staging');
      await move(model, 4, 'None', 'Staging');
      await move(model, 6, 'None', 'Staging');
      await move(model, 2, 'Staging', 'Production');
      await move(model, 6, 'Staging', 'Production'); // archives v2 in the same transaction
      await move(model, 7, 'None', 'Archived');
      await aliases.set({ modelName: model, alias: 'champion', version: 6, expectedVersion: null });
      await aliases.set({ modelName: model, alias: 'challenger', version: 4, expectedVersion: null });
    })();
    return ready;
  };

  it('finds versions by stage, newest first, including the one archived by a promotion', async () => {
    await setup();
    expect(await numbers(model, { stage: 'Production' })).toEqual([6]);
    expect(await numbers(model, { stage: 'Staging' })).toEqual([4]);
    expect(await numbers(model, { stage: 'Archived' })).toEqual([7, 2]);
    expect(await numbers(model, { stage: 'None' })).toEqual([8, 5, 3, 1]);
  });

  it('finds the version an alias points at, with its aliases; an unset alias finds nothing', async () => {
    await setup();
    const page = await registry.searchVersions(model, { alias: 'champion' });
    expect(page.versions).toEqual([await registry.getModelVersion(model, 6)]);
    expect(page.versions[0]?.aliases).toEqual(['champion']);
    expect(page.nextToken).toBeUndefined();
    expect((await registry.searchVersions(model, { alias: 'shadow' })).versions).toEqual([]);
    expect(await numbers(model, { alias: 'challenger', stage: 'Production' })).toEqual([]);
  });

  it('finds versions by tag value exactly (a value holding # is not a prefix match)', async () => {
    await setup();
    expect(await numbers(model, { tag: { key: 'team', value: 'risk' } })).toEqual([8, 6, 4, 2, 1]);
    expect(await numbers(model, { tag: { key: 'team', value: 'growth' } })).toEqual([5, 3]);
    expect(await numbers(model, { tag: { key: 'data', value: 'a' } })).toEqual([8]);
    expect(await numbers(model, { tag: { key: 'data', value: 'a#b' } })).toEqual([4]);
    expect(await numbers(model, { tag: { key: 'team', value: 'ris' } })).toEqual([]);
  });

  it.each([
    ['>', 0.85, [6]],
    ['>=', 0.85, [6, 4, 2]],
    ['<', 0.71, [8, 5]],
    ['<=', 0.71, [1, 8, 5]],
    ['=', 0.85, [4, 2]],
    ['=', 0, [8]],
  ] as const)('filters auc %s %d as a key range, ordered by auc', async (op, value, expected) => {
    await setup();
    const filter = { metric: { name: 'auc', op, value } } as const;
    expect(await numbers(model, { ...filter, orderBy: { metric: 'auc', direction: 'desc' } })).toEqual(
      expected,
    );
    // Ascending: ties (equal auc) by version ascending, so the exact reverse.
    expect(await numbers(model, { ...filter, orderBy: { metric: 'auc', direction: 'asc' } })).toEqual(
      [...expected].reverse(),
    );
    // Ordered by version instead: the same set, newest first.
    expect(await numbers(model, filter)).toEqual([...expected].sort((a, b) => b - a));
  });

  it('orders by a metric over the versions that have it (desc by default), and combines filters', async () => {
    await setup();
    expect(await numbers(model, { orderBy: { metric: 'auc' } })).toEqual([6, 4, 2, 1, 8, 5]);
    expect(await numbers(model, { orderBy: { metric: 'loss', direction: 'asc' } })).toEqual([
      8, 6, 2, 4, 1, 3,
    ]);
    expect(await numbers(model, { orderBy: { metric: 'none-such' } })).toEqual([]);
    expect(
      await numbers(model, {
        tag: { key: 'team', value: 'risk' },
        metric: { name: 'auc', op: '>', value: 0.8 },
      }),
    ).toEqual([6, 4, 2]);
    expect(
      await numbers(model, {
        stage: 'None',
        metric: { name: 'loss', op: '<', value: 1 },
        orderBy: { metric: 'auc', direction: 'asc' },
      }),
    ).toEqual([8, 1]);
    expect(await numbers(model, { stage: 'Archived', tag: { key: 'team', value: 'risk' } })).toEqual([2]);
    expect(await numbers(model, {})).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('returns what get returns for each version, aliases and stage included', async () => {
    await setup();
    const page = await registry.searchVersions(model, { orderBy: { metric: 'auc' } });
    for (const version of page.versions)
      expect(version).toEqual(await registry.getModelVersion(model, version.version));
  });

  it('pages every search at every page size: no version lost or repeated, full pages but the last', async () => {
    await setup();
    const searches: SearchVersionsOptions[] = [
      {},
      { stage: 'None' },
      { tag: { key: 'team', value: 'risk' } },
      { orderBy: { metric: 'auc', direction: 'asc' } },
      { metric: { name: 'auc', op: '>=', value: 0.71 }, orderBy: { metric: 'auc' } },
      { tag: { key: 'team', value: 'risk' }, metric: { name: 'loss', op: '<', value: 0.5 } },
    ];
    for (const options of searches) {
      const whole = await numbers(model, options);
      for (let limit = 1; limit <= whole.length + 1; limit++) {
        const { versions, pages } = await searchAll(model, options, limit);
        expect(versions, `${JSON.stringify(options)} limit ${limit}`).toEqual(whole);
        // Every page but the last is full (there may be a trailing empty page).
        expect(
          pages.slice(0, -1).every((n) => n === limit),
          JSON.stringify(pages),
        ).toBe(true);
      }
    }
  });

  it('refuses a token from another search, another model or made up, naming nextToken', async () => {
    await setup();
    const first = await registry.searchVersions(model, { stage: 'None', limit: 1 });
    expect(first.nextToken).toBeDefined();
    const token = first.nextToken ?? '';
    // The round trip: the token continues where the page stopped.
    expect(
      (await registry.searchVersions(model, { stage: 'None', limit: 1, nextToken: token })).versions[0]
        ?.version,
    ).toBe(5);
    await registerAll('other-model', [{}]);
    const forged = Buffer.from(JSON.stringify({ q: 'x', sk: 'STAGE#None#0000000001' })).toString('base64url');
    for (const [name, options] of [
      [model, { stage: 'Staging', nextToken: token }],
      [model, { tag: { key: 'team', value: 'risk' }, nextToken: token }],
      ['other-model', { stage: 'None', nextToken: token }],
      [model, { stage: 'None', nextToken: forged }],
      [model, { stage: 'None', nextToken: 'not a token' }],
      [model, { alias: 'champion', nextToken: token }],
    ] as const) {
      const error = await rejection(registry.searchVersions(name, options));
      expect(error, JSON.stringify(options)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe('nextToken');
    }
  });

  it('refuses bad options naming the field, and an unknown model as not found', async () => {
    await setup();
    for (const [options, field] of [
      [{ metric: { name: 'auc', op: '!=', value: 1 } }, 'metric.op'],
      [{ metric: { name: 'auc score', op: '>', value: 1 } }, 'metric.name'],
      [{ metric: { name: 'auc', op: '>', value: Number.NaN } }, 'metric.value'],
      [{ orderBy: { metric: 'bad name!' } }, 'orderBy.metric'],
      [{ stage: 'Live' }, 'stage'],
      [{ alias: 'Bad Alias' }, 'alias'],
      [{ limit: 0 }, 'limit'],
    ] as const) {
      const error = await rejection(registry.searchVersions(model, options as SearchVersionsOptions));
      expect(error, JSON.stringify(options)).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
    expect(await rejection(registry.searchVersions('no-such-model', { stage: 'None' }))).toBeInstanceOf(
      NotFoundError,
    );
    expect(((await rejection(registry.searchVersions('Bad_Name', {}))) as ValidationError).field).toBe(
      'modelName',
    );
  });
});

describe('index items move only with the changes they index', () => {
  it('refused registrations and transitions write nothing (no index item either)', async () => {
    await registerAll('refusals', [{ metrics: { auc: 0.5 }, tags: { team: 'x' } }]);
    const before = await tableItems();

    const tooMany = Object.fromEntries(Array.from({ length: 41 }, (_, i) => [`m${i}`, i]));
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, 'v']));
    const artifact = await putModelArtifact(clients.s3(), bucket, 'refusals', randomBytes(8));
    const error = await rejection(
      registry.registerModelVersion({
        modelName: 'refusals',
        artifact: { key: artifact.key, sha256: artifact.sha256 },
        metrics: tooMany,
        tags,
      }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).field).toBe('metrics');
    expect((error as ValidationError).rule).toMatch(/at most 40 metrics beside 50 tags/);
    expect(await rejection(move('refusals', 1, 'Staging', 'Production'))).toBeInstanceOf(ConflictError);
    expect(await rejection(move('refusals', 9, 'None', 'Staging'))).toBeInstanceOf(NotFoundError);
    await registry.searchVersions('refusals', { stage: 'None' }); // reads write nothing either

    expect(await tableItems()).toEqual(before);
  });

  it('registers the most tags and metrics one transaction can index, each findable', async () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`t${i}`, `v${i}`]));
    const metrics = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i}`, i / 10]));
    await registerAll('widest', [{ metrics, tags }]);
    expect(await numbers('widest', { tag: { key: 't49', value: 'v49' } })).toEqual([1]);
    expect(
      await numbers('widest', { metric: { name: 'm39', op: '=', value: 3.9 }, orderBy: { metric: 'm39' } }),
    ).toEqual([1]);
  });

  it('keeps exactly one stage item per version through every transition', async () => {
    await registerAll('one-stage', [{}, {}]);
    await move('one-stage', 1, 'None', 'Staging');
    await move('one-stage', 1, 'Staging', 'Production');
    await move('one-stage', 2, 'None', 'Staging');
    await move('one-stage', 2, 'Staging', 'Production');
    await move('one-stage', 1, 'Archived', 'Staging');
    const stageItems = (await partition('one-stage'))
      .map((i) => String(i.sk))
      .filter((sk) => sk.startsWith('STAGE#'));
    expect(stageItems.sort()).toEqual(['STAGE#Production#0000000002', 'STAGE#Staging#0000000001']);
  });
});

describe('models registered before search indexes existed', () => {
  async function writeLegacyModel(modelName: string): Promise<void> {
    const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(16));
    const version = (n: number, stage: string, auc: number, team: string) => ({
      Put: {
        TableName: tableName,
        Item: {
          pk: `MODEL#${modelName}`,
          sk: `VERSION#${String(n).padStart(10, '0')}`,
          modelName,
          version: n,
          stage,
          artifact: { bucket, key: artifact.key, sha256: artifact.sha256, sizeBytes: 16 },
          metrics: { auc },
          params: {},
          tags: { team },
          lineage: {},
          description: '',
          createdAt: '2026-01-01T00:00:00.000Z',
        },
      },
    });
    // The items exactly as the registry wrote them before: a head without the index marker, no
    // catalog item, no index items.
    await documents.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: tableName,
              Item: {
                pk: `MODEL#${modelName}`,
                sk: 'MODEL',
                modelName,
                latestVersion: 3,
                productionVersion: 2,
              },
            },
          },
          version(1, 'Archived', 0.6, 'risk'),
          version(2, 'Production', 0.9, 'risk'),
          version(3, 'Staging', 0.8, 'growth'),
        ],
      }),
    );
  }

  it('still reads and lists them; search refuses until reindexModel, then finds every version', async () => {
    await writeLegacyModel('legacy-search');
    expect((await registry.listModelVersions('legacy-search')).versions.map((v) => v.version)).toEqual([
      3, 2, 1,
    ]);
    expect((await registry.getModelVersion('legacy-search', 2)).stage).toBe('Production');
    for (const options of [
      { stage: 'Production' as const },
      { tag: { key: 'team', value: 'risk' } },
      { orderBy: { metric: 'auc' } },
    ]) {
      const refused = await rejection(registry.searchVersions('legacy-search', options));
      expect(refused).toBeInstanceOf(NotIndexedError);
      expect(refused).toBeInstanceOf(ConflictError);
      expect((refused as NotIndexedError).modelName).toBe('legacy-search');
      expect(refused.message).toMatch(/reindexModel/);
    }
    // The version order pages over the version items (filtered on them: a metric filter in version
    // order needs no index either) and an alias is read directly.
    expect(await numbers('legacy-search', {})).toEqual([3, 2, 1]);
    expect(await numbers('legacy-search', { metric: { name: 'auc', op: '>', value: 0.7 } })).toEqual([3, 2]);
    const paged = await registry.searchVersions('legacy-search', { limit: 2 });
    expect(paged.versions.map((v) => v.version)).toEqual([3, 2]);
    const rest = await registry.searchVersions('legacy-search', {
      limit: 2,
      ...(paged.nextToken !== undefined ? { nextToken: paged.nextToken } : {}),
    });
    expect(rest.versions.map((v) => v.version)).toEqual([1]);
    expect(await numbers('legacy-search', { alias: 'champion' })).toEqual([]);
    await aliases.set({
      modelName: 'legacy-search',
      alias: 'champion',
      version: 2,
      expectedVersion: null,
      reason: 'before reindex',
    });
    expect(await numbers('legacy-search', { alias: 'champion' })).toEqual([2]);
    // No catalog item yet: not listed until reindexModel writes one.
    expect(
      (await registry.listModels({ limit: 100 })).models.find((m) => m.name === 'legacy-search'),
    ).toBeUndefined();

    // A transition before the migration moves what it can; the migration fixes the rest.
    await move('legacy-search', 3, 'Staging', 'Production'); // archives v2
    const result = await registry.reindexModel('legacy-search');
    expect(result).toMatchObject({ modelName: 'legacy-search', versions: 3 });

    expect(await numbers('legacy-search', { stage: 'Production' })).toEqual([3]);
    expect(await numbers('legacy-search', { stage: 'Archived' })).toEqual([2, 1]);
    expect(await numbers('legacy-search', { tag: { key: 'team', value: 'risk' } })).toEqual([2, 1]);
    expect(
      await numbers('legacy-search', {
        metric: { name: 'auc', op: '>', value: 0.7 },
        orderBy: { metric: 'auc' },
      }),
    ).toEqual([2, 3]);
    const listed = (await registry.listModels({ limit: 100 })).models.find((m) => m.name === 'legacy-search');
    expect(listed).toMatchObject({ latestVersion: 3, productionVersion: 3 });

    // A version registered after the migration is indexed by its registration.
    await registerAll('legacy-search', [{ metrics: { auc: 0.95 }, tags: { team: 'risk' } }]);
    expect(await numbers('legacy-search', { tag: { key: 'team', value: 'risk' } })).toEqual([4, 2, 1]);
  });

  it('reindexModel is idempotent: a second run writes the same items', async () => {
    await writeLegacyModel('legacy-twice');
    await registry.reindexModel('legacy-twice');
    const once = await tableItems();
    const again = await registry.reindexModel('legacy-twice');
    expect(again).toMatchObject({ versions: 3, indexItems: 9 });
    expect(await tableItems()).toEqual(once);
    expect(await rejection(registry.reindexModel('never-registered'))).toBeInstanceOf(NotFoundError);
  });
});

describe('search by alias while the alias moves (interleaving injected at the SDK boundary)', () => {
  it('finds an alias that moves between the read of the alias and the read of its version', async () => {
    await registerAll('moving', [{}, {}, {}]);
    await aliases.set({ modelName: 'moving', alias: 'champion', version: 1, expectedVersion: null });
    const moves = { left: 2, done: 0 };
    const racing = new ModelRegistryStore({
      documents: movingAfterAliasRead('moving', 'champion', moves),
      s3: clients.s3(),
      tableName,
      artifactBucket: bucket,
    });
    const page = await racing.searchVersions('moving', { alias: 'champion' });
    expect(moves.done).toBe(2); // 1 -> 2 -> 3 while the search ran
    expect(page.versions).toEqual([await registry.getModelVersion('moving', 3)]);
    expect(page.versions[0]?.aliases).toEqual(['champion']);
  });

  it('gives up with ContentionError (not []) when the alias keeps moving on every read', async () => {
    await registerAll(
      'restless',
      Array.from({ length: 10 }, () => ({})),
    );
    await aliases.set({ modelName: 'restless', alias: 'champion', version: 1, expectedVersion: null });
    const moves = { left: 9, done: 0 };
    const racing = new ModelRegistryStore({
      documents: movingAfterAliasRead('restless', 'champion', moves),
      s3: clients.s3(),
      tableName,
      artifactBucket: bucket,
    });
    const error = await racing.searchVersions('restless', { alias: 'champion' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ContentionError);
    expect(moves.done).toBe(5); // the reader's bounded re-reads
  });
});
