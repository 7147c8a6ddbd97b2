/**
 * `mlops models …` against the emulator: each command's table and JSON, bad input (exit 2 with
 * `error: <field>: <rule>`), not found (exit 3 with a hint), and refusals that write nothing.
 */
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { MODEL_HEAD_SK, modelCardKey, modelPk, versionSk } from '../../lambdas/shared/layout.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';

const CONFIG = path.resolve(import.meta.dirname, '..', 'fixtures', 'models.config.ts');
let table: string;
let bucket: string;
let registry: ModelRegistryStore;

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    ['--config', CONFIG, '--registry-table', table, '--artifact-bucket', bucket, ...args],
    {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
      stdoutIsTty: args.includes('--table'),
    },
  );
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

async function items(modelName: string) {
  const result = await clients.documents().send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': modelPk(modelName) },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

async function register(modelName: string, auc: number, tags: Record<string, string> = {}) {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(32));
  return registry.registerModelVersion({
    modelName,
    artifact: { key: artifact.key, sha256: artifact.sha256 },
    metrics: { auc },
    tags,
  });
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'cli-models-' });
  table = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName: table,
    artifactBucket: bucket,
  });
  await register('churn', 0.7, { team: 'risk' });
  await register('churn', 0.85, { team: 'risk' });
  await register('churn', 0.9, { team: 'growth' });
  await register('gated', 0.6);
});

describe('mlops models list / show / versions', () => {
  it('lists the registered models', async () => {
    const result = await cli('models', 'list');
    expect(result.code).toBe(0);
    const names = (result.json().models as { name: string }[]).map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['churn', 'gated']));
  });

  it('shows a version as a table on a terminal', async () => {
    const result = await cli('models', 'show', 'churn', '2', '--table');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/stage\s*│\s*None/);
    expect(result.stdout).toContain('auc=0.85');
    expect(result.stdout).toContain('by local');
  });

  it('filters versions by tag and metric and orders them by a metric', async () => {
    const result = await cli('models', 'versions', 'churn', '--metric', 'auc>0.8', '--order-by', 'auc:asc');
    expect(result.code).toBe(0);
    expect((result.json().versions as { version: number }[]).map((v) => v.version)).toEqual([2, 3]);
    const tagged = await cli('models', 'versions', 'churn', '--tag', 'team=risk');
    expect((tagged.json().versions as { version: number }[]).map((v) => v.version)).toEqual([2, 1]);
  });

  it('pages with --limit and prints the next page command as a hint', async () => {
    const first = await cli('models', 'versions', 'churn', '--limit', '2');
    expect((first.json().versions as unknown[]).length).toBe(2);
    const token = first.json().nextToken as string;
    expect(first.stderr).toContain(`--next-token ${token}`);
    const second = await cli('models', 'versions', 'churn', '--limit', '2', '--next-token', token);
    expect((second.json().versions as { version: number }[]).map((v) => v.version)).toEqual([1]);
  });

  it.each([
    [['--metric', 'auc>>1'], 'error: metric: must be <name><op><number>'],
    [['--order-by', 'auc:sideways'], 'error: order-by: must be version or <metric>[:asc|:desc]'],
    [['--tag', 'novalue'], 'error: tag: must be key=value'],
    [['--stage', 'Prod'], 'error: stage: must be one of None, Staging, Production, Archived'],
    [['--limit', '0'], 'error: limit: must be a positive whole number'],
    [['--next-token', 'forged'], 'error: nextToken: '],
  ])('refuses bad input %j with exit 2', async (args, message) => {
    const result = await cli('models', 'versions', 'churn', ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('answers exit 3 with a hint for an unknown model or version', async () => {
    const model = await cli('models', 'versions', 'nope');
    expect(model.code).toBe(3);
    expect(model.stderr).toContain('error: model: model nope not found');
    expect(model.stderr).toContain('hint: list the models with: mlops models list');
    const version = await cli('models', 'show', 'churn', '99');
    expect(version.code).toBe(3);
    expect(version.stderr).toMatch(
      /error: version: version 99 of model churn not found\nhint: list its versions/,
    );
  });
});

describe('mlops models promote', () => {
  it('moves a version through the stages, recording the reason, and archives the previous Production', async () => {
    expect(
      (await cli('models', 'promote', 'churn', '2', '--stage', 'Staging', '--reason', 'candidate')).code,
    ).toBe(0);
    expect(
      (await cli('models', 'promote', 'churn', '2', '--stage', 'Production', '--reason', 'ship')).code,
    ).toBe(0);
    expect(
      (await cli('models', 'promote', 'churn', '3', '--stage', 'Staging', '--reason', 'next')).code,
    ).toBe(0);
    const result = await cli(
      'models',
      'promote',
      'churn',
      '3',
      '--stage',
      'Production',
      '--reason',
      'better',
      '--table',
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('churn v3: Staging -> Production');
    expect(result.stdout).toContain('churn v2: Production -> Archived (replaced by v3)');
  });

  it('prints every gate result and refuses a failing gate, writing nothing', async () => {
    expect((await cli('models', 'promote', 'gated', '1', '--stage', 'Staging', '--reason', 'try')).code).toBe(
      0,
    );
    const before = await items('gated');
    const result = await cli('models', 'promote', 'gated', '1', '--stage', 'Production', '--reason', 'ship');
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('FAIL  metric:auc = 0.6 (must be >= 0.8)');
    expect(result.stderr).toMatch(/error: gates: .*\nhint: .*--override-gates/);
    expect(await items('gated')).toEqual(before);
  });

  it('promotes over failing gates with --override-gates and records the override reason', async () => {
    const result = await cli(
      'models',
      'promote',
      'gated',
      '1',
      '--stage',
      'Production',
      '--reason',
      'ship',
      '--override-gates',
      'ceo said so',
    );
    expect(result.code).toBe(0);
    const [entry] = result.json().history as {
      gateOverride: unknown;
      gates: { passed: boolean }[];
      by: string;
    }[];
    expect(entry).toMatchObject({
      gateOverride: { reason: 'ceo said so' },
      gates: [{ passed: false }],
      by: 'local',
    });
  });

  it('refuses an illegal transition and an unknown stage with exit 2', async () => {
    await register('legal', 0.9);
    const illegal = await cli('models', 'promote', 'legal', '1', '--stage', 'Production', '--reason', 'skip');
    expect(illegal.code).toBe(2);
    expect(illegal.stderr).toContain('error: stage: cannot move from None to Production');
    const unknown = await cli('models', 'promote', 'legal', '1', '--stage', 'Live', '--reason', 'x');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: stage: must be one of');
  });
});

describe('mlops models alias / history / card', () => {
  it('sets, moves with --expect and deletes an alias; a stale --expect is refused with where it points', async () => {
    expect((await cli('models', 'alias', 'churn', 'champion', '2', '--expect', 'none')).code).toBe(0);
    expect((await cli('models', 'alias', 'churn', 'champion', '3', '--expect', '2')).code).toBe(0);
    const before = await items('churn');
    const stale = await cli('models', 'alias', 'churn', 'champion', '1', '--expect', '2');
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('error: conflict: alias champion of churn points at 3, not 2');
    expect(await items('churn')).toEqual(before);
    const shown = await cli('models', 'show', 'churn', '--alias', 'champion');
    expect(shown.json()).toMatchObject({ version: 3, aliases: ['champion'] });
    expect((await cli('models', 'alias', 'churn', 'champion', '--delete')).code).toBe(0);
    expect((await cli('models', 'show', 'churn', '--alias', 'champion')).code).toBe(3);
  });

  it('refuses a malformed alias and an unknown version', async () => {
    const bad = await cli('models', 'alias', 'churn', 'Champion!', '1', '--expect', 'none');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: alias: must be 1-63 of a-z 0-9 - _');
    const missing = await cli('models', 'alias', 'churn', 'shadow', '42', '--expect', 'none');
    expect(missing.code).toBe(3);
    expect(await items('churn')).not.toContainEqual(expect.objectContaining({ alias: 'shadow' }));
  });

  it('prints the stage history of a model and the history of an alias', async () => {
    const stages = await cli('models', 'history', 'churn');
    expect(stages.code).toBe(0);
    const moves = (stages.json() as unknown as { version: number; to: string; by: string }[]).map(
      (e) => `${e.version}:${e.to}`,
    );
    expect(moves).toEqual(['2:Staging', '2:Production', '3:Staging', '3:Production', '2:Archived']);
    const alias = await cli('models', 'history', 'churn', '--alias', 'champion');
    expect(
      (alias.json() as unknown as { from: number | null; to: number | null }[]).map((e) => [e.from, e.to]),
    ).toEqual([
      [null, 2],
      [2, 3],
      [3, null],
    ]);
    const table = await cli('models', 'history', 'churn', '2', '--table');
    expect(table.stdout).toContain('ship');
  });

  it('prints a version card, and says there is none with exit 3 and a hint', async () => {
    await clients.s3().send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: modelCardKey('churn', 1),
        Body: '# churn v1\n\nauc 0.7\n',
      }),
    );
    const card = await cli('models', 'card', 'churn', '1');
    expect(card.json()).toMatchObject({ markdown: '# churn v1\n\nauc 0.7\n' });
    const printed = await cli('models', 'card', 'churn', '1', '--table');
    expect(printed.stdout).toBe('# churn v1\n\nauc 0.7\n');
    const none = await cli('models', 'card', 'churn', '2');
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(
      /error: card: model card of version 2 of model churn .*\nhint: cards are written/,
    );
  });
});

describe('mlops models reindex', () => {
  /** A model as the registry wrote it before search: a head without the index marker, no catalog item. */
  async function writeLegacyModel(modelName: string): Promise<void> {
    const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(16));
    const put = (item: Record<string, unknown>) =>
      clients.documents().send(new PutCommand({ TableName: table, Item: item }));
    await put({
      pk: modelPk(modelName),
      sk: versionSk(1),
      modelName,
      version: 1,
      stage: 'None',
      artifact: { bucket, key: artifact.key, sha256: artifact.sha256, sizeBytes: 16 },
      metrics: { auc: 0.5 },
      params: {},
      tags: { team: 'legacy' },
      lineage: {},
      description: '',
      createdAt: '2026-01-01T00:00:00.000Z',
    });
    await put({ pk: modelPk(modelName), sk: MODEL_HEAD_SK, modelName, latestVersion: 1 });
  }
  const listed = async () =>
    ((await cli('models', 'list', '--limit', '100')).json().models as { name: string }[]).map((m) => m.name);

  it('indexes one model or every unindexed one; until then a stage search names the command', async () => {
    await writeLegacyModel('legacy-cli-a');
    await writeLegacyModel('legacy-cli-b');
    expect(await listed()).not.toContain('legacy-cli-a');

    const refused = await cli('models', 'versions', 'legacy-cli-a', '--stage', 'None');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: conflict: model legacy-cli-a has versions registered before/);
    expect(refused.stderr).toContain('hint: index it once (idempotent): mlops models reindex legacy-cli-a\n');
    expect(refused.stderr).not.toContain('someone changed it');
    const plain = await cli('models', 'versions', 'legacy-cli-a');
    expect(plain.code).toBe(0);
    expect((plain.json().versions as { version: number }[]).map((v) => v.version)).toEqual([1]);

    const one = await cli('models', 'reindex', 'legacy-cli-a');
    expect(one.code).toBe(0);
    expect(one.json()).toEqual({
      reindexed: [{ modelName: 'legacy-cli-a', versions: 1, indexItems: 3 }],
    });
    const staged = await cli('models', 'versions', 'legacy-cli-a', '--stage', 'None');
    expect((staged.json().versions as { version: number }[]).map((v) => v.version)).toEqual([1]);

    // --all finds only the models still unindexed (not churn, not legacy-cli-a).
    const all = await cli('models', 'reindex', '--all', '--table');
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/legacy-cli-b\s*│\s*1\s*│\s*3/);
    expect(all.stdout).not.toContain('legacy-cli-a');
    expect(all.stdout).not.toContain('churn');
    expect(await listed()).toEqual(expect.arrayContaining(['legacy-cli-a', 'legacy-cli-b']));
    const again = await cli('models', 'reindex', '--all');
    expect(again.json()).toEqual({ reindexed: [] });
  });

  it('refuses neither or both of a model and --all (exit 2), and an unknown model (exit 3)', async () => {
    for (const args of [[], ['churn', '--all']]) {
      const result = await cli('models', 'reindex', ...args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain('error: model: name a model or --all (one of the two)');
    }
    const unknown = await cli('models', 'reindex', 'nope');
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('error: model: model nope not found');
  });
});
