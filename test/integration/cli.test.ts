import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import { clients } from '../../lambdas/shared/clients.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { synthesize } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CONFIG = path.join(ROOT, 'test', 'fixtures', 'mlops.config.ts');
const HOUR = 3_600_000;
let bucket: string;
let table: string;
let dir: string;

/** Runs the CLI in-process and captures what it prints. */
async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--config', CONFIG, ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as unknown };
}

beforeAll(async () => {
  const local = await startLocalStack(
    synthesize(undefined, { context: { mlops: { featureViews: testFeatureViews } } }),
    { prefix: 'cli-' },
  );
  bucket = local.resourceName('FeatureStoreOffline');
  table = local.resourceName('FeatureStoreOnline');
  dir = mkdtempSync(path.join(os.tmpdir(), 'mlops-cli-'));
});

describe('mlops CLI', () => {
  it('lists the views of the configuration file it is given', async () => {
    const result = await cli('views');
    expect(result.code).toBe(0);
    expect(result.json()).toEqual([
      expect.objectContaining({ name: 'customer', entities: ['customer_id:string'], online: true }),
      expect.objectContaining({ name: 'merchant', features: ['category:string'], online: false }),
    ]);
  });

  it('ingests, materializes, reads online and builds a training set against the emulator', async () => {
    const now = Date.now();
    const rows = path.join(dir, 'customers.jsonl');
    writeFileSync(
      rows,
      [
        { customer_id: 'c1', event_time: now - 2 * HOUR, orders: 3, spend: 30.5 },
        { customer_id: 'c2', event_time: now - HOUR, orders: 4, spend: null },
        { customer_id: 'c2', event_time: now - HOUR, orders: -1, spend: 1 },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const names = ['--offline-bucket', bucket, '--online-table', table];
    const ingested = await cli(...names, 'ingest', 'customer', rows);
    expect(ingested.stderr).toBe('');
    expect(ingested.json()).toMatchObject({ received: 3, accepted: 2, rejected: 1, duplicate: false });
    // The default batch id comes from the content: the same file again writes nothing.
    expect((await cli(...names, 'ingest', 'customer', rows)).json()).toMatchObject({ duplicate: true });

    expect((await cli(...names, 'materialize', 'customer')).json()).toMatchObject({
      view: 'customer',
      written: 2,
    });
    const online = await cli(
      ...names,
      'online',
      'customer',
      '--features',
      'orders,spend',
      '--keys',
      '[{"customer_id":"c1"},{"customer_id":"zz"}]',
    );
    expect(online.code).toBe(0);
    const [c1, zz] = online.json() as { features: Record<string, { value: unknown }> }[];
    expect(c1?.features.orders?.value).toBe(3);
    expect(c1?.features.spend?.value).toBe(30.5);
    expect(zz?.features.orders?.value).toBeNull();

    const entityRows = path.join(dir, 'labels.jsonl');
    writeFileSync(
      entityRows,
      [
        { customer_id: 'c1', event_time: now, churned: false },
        { customer_id: 'c2', event_time: now - 3 * HOUR, churned: true },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const built = await cli(
      ...names,
      'training-set',
      '--entity-rows',
      entityRows,
      '--features',
      'customer:orders',
      '--name',
      'cli',
    );
    expect(built.stderr).toBe('');
    const manifest = built.json() as { dataKey: string; rowCount: number };
    expect(manifest.rowCount).toBe(2);
    expect(manifest.dataKey).toMatch(/^datasets\/cli\/[0-9a-f]{64}\/data\.parquet$/);
    expect(await new S3ObjectStore(clients.s3(), bucket).get(manifest.dataKey)).toBeDefined();
  });

  it('finds the resources through the deployed stack outputs', async () => {
    await clients.cloudformation().send(
      new CreateStackCommand({
        StackName: 'CliTestStack',
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: {
            [STACK_OUTPUTS.offlineBucket]: { Value: bucket },
            [STACK_OUTPUTS.onlineTable]: { Value: table },
          },
        }),
      }),
    );
    const rows = path.join(dir, 'merchants.jsonl');
    writeFileSync(rows, JSON.stringify({ merchant_id: 7, event_time: Date.now(), category: 'food' }));
    // No bucket flags: the configuration's stackName names the stack.
    const result = await cli('ingest', 'merchant', rows, '--batch-id', 'from-stack');
    expect(result.stderr).toBe('');
    expect(result.json()).toMatchObject({ batchId: 'from-stack', accepted: 1 });
    const missing = await cli('--stack', 'NoSuchStack', 'ingest', 'merchant', rows);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/could not read the outputs of stack NoSuchStack.*--offline-bucket/);
  });

  it.each([
    [['online', 'customer', '--features', 'colour', '--keys', '[{"customer_id":"c1"}]'], 'featureNames.0'],
    [['online', 'nope', '--features', 'orders', '--keys', '[]'], 'view'],
    [['online', 'customer', '--features', 'orders', '--keys', '{oops'], 'keys'],
    [['ingest', 'customer', '/no/such/file.jsonl'], 'file'],
    [['materialize', 'customer', '--from', '2026-01-01T00:00:00Z'], 'to'],
    [['materialize', 'customer', '--from', 'yesterday', '--to', '2026-01-01T00:00:00Z'], 'from'],
    [['ingest', 'customer', 'rows.txt'], 'format'],
    [['training-set', '--entity-rows', 'x.csv', '--features', 'customer:orders'], 'entity-rows'],
  ])('rejects bad input with exit code 2 naming the field (%j)', async (args, field) => {
    const result = await cli('--offline-bucket', bucket, '--online-table', table, ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error: ${field.replace('.', '\\.')}: `));
    expect(result.stdout).toBe('');
  });

  it('runs as a command: bin/mlops.ts in its own process', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'mlops.ts'), ...args], {
        cwd: ROOT,
        encoding: 'utf8',
        env: process.env,
      });
    const views = run('--config', CONFIG, 'views');
    expect(views.status, views.stderr).toBe(0);
    expect((JSON.parse(views.stdout) as { name: string }[]).map((v) => v.name)).toEqual([
      'customer',
      'merchant',
    ]);
    // Without --config it reads the project's own mlops.config.ts.
    const project = run('views');
    expect(project.status, project.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(project.stdout))).toBe(true);
    const bad = run('--config', CONFIG, 'materialize', 'merchant', '--offline-bucket', bucket);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: view: /);
  });
});
