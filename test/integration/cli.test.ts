import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import { clients } from '../../lambdas/shared/clients.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const CONFIG = path.join(ROOT, 'test', 'fixtures', 'mlops.config.ts');
const HOUR = 3_600_000;
let bucket: string;
let table: string;
let dir: string;

/** Runs the CLI in-process and captures what it prints (stdout not a terminal, unless `tty`). */
async function run(args: string[], options: { tty?: boolean; stdin?: string } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--config', CONFIG, ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stdoutIsTty: options.tty === true,
    stdin: async () => new TextEncoder().encode(options.stdin ?? ''),
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as unknown };
}
const cli = (...args: string[]) => run(args);

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
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
    expect(ingested.code).toBe(3); // partial: a row was rejected
    expect(ingested.stderr).toBe('warning: 1 of 3 rows rejected (exit code 3)\n');
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
    expect(missing.stderr).toMatch(
      /^error: could not read the outputs of stack NoSuchStack.*\nhint: start the local stack with: npx mlops local up.*--offline-bucket/,
    );
  });

  it.each([
    [['online', 'customer', '--features', 'colour', '--keys', '[{"customer_id":"c1"}]'], 'features.0'],
    [['online', 'customer', '--features', 'orders'], 'keys'],
    [['online', 'customer', '--features', 'orders', '--keys', '[{"customer_id":5}]'], 'keys.0.customer_id'],
    [['online', 'nope', '--features', 'orders', '--keys', '[]'], 'view'],
    [['online', 'customer', '--features', 'orders', '--keys', '{oops'], 'keys'],
    [['ingest', 'customer', '/no/such/file.jsonl'], 'file'],
    [['materialize', 'customer', '--from', '2026-01-01T00:00:00Z'], 'to'],
    [['materialize', 'customer', '--from', 'yesterday', '--to', '2026-01-01T00:00:00Z'], 'from'],
    [['ingest', 'customer', 'rows.txt'], 'file'],
    [['materialize', 'merchant'], 'view'],
    [['materialize', 'customer', '--from', '1764633600', '--to', '1764637200'], 'from'],
    [['features', 'quarantine', 'customer', '--batch', 'never'], 'batch'],
    [['training-set', 'show', 'nothing/here'], 'dataset'],
    [['training-set', '--entity-rows', 'x.csv', '--features', 'customer:orders'], 'entity-rows'],
  ])('rejects bad input with exit code 2 naming the field (%j)', async (args, field) => {
    const result = await cli('--offline-bucket', bucket, '--online-table', table, ...args);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^error: ${field.replaceAll('.', '\\.')}: `));
    expect(result.stdout).toBe('');
  });

  it('prints tables on a terminal and JSON with --json (or when piped), the same content', async () => {
    const onTty = await run(['views'], { tty: true });
    expect(onTty.code).toBe(0);
    expect(onTty.stdout).toMatch(/│ view +│ entities +│ features/);
    expect(onTty.stdout).toMatch(/│ customer +│ customer_id:string +│ orders:int64/);
    const forced = await run(['--json', 'views'], { tty: true });
    expect((forced.json() as { name: string }[]).map((v) => v.name)).toEqual(['customer', 'merchant']);
    expect((await run(['--table', 'views'])).stdout).toMatch(/│ view +│/);
  });

  it('names the valid views when a view is unknown', async () => {
    const result = await cli('--offline-bucket', bucket, 'features', 'status', 'custmer');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'error: view: must be a defined feature view (custmer is not)\nhint: valid views: customer, merchant\n',
    );
  });

  it('prints --version', async () => {
    const result = await cli('--version');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 3 and prints the reasons of rejected rows: the first ten in a table, all in JSON', async () => {
    const now = Date.now();
    const lines = [{ customer_id: 'ok', event_time: now, orders: 1, spend: 1 }];
    for (let i = 0; i < 12; i++)
      lines.push({ customer_id: `s${i}`, event_time: Math.floor(now / 1000), orders: 1, spend: 1 });
    const file = path.join(dir, 'seconds.jsonl');
    writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const names = ['--offline-bucket', bucket];
    const human = await run([...names, 'ingest', 'customer', file, '--batch-id', 'secs'], { tty: true });
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(
      /rejected rows \(10 of 12; all with --json or: mlops features quarantine customer --batch secs\)/,
    );
    expect(human.stdout).toMatch(/│ 2 +│ event_time: must be on or after 2000-01-01/);
    expect(human.stderr).toMatch(
      /^warning: 12 of 13 rows rejected \(exit code 3\)\nhint: event_time: epoch seconds\? expected milliseconds/,
    );
    const json = await cli(...names, 'ingest', 'customer', file, '--batch-id', 'secs');
    expect(json.code).toBe(3);
    const result = json.json() as { rejections: { position: number; reasons: string[] }[] };
    expect(result.rejections.map((r) => r.position)).toEqual(Array.from({ length: 12 }, (_, i) => i + 2));

    // The same rows, listed afterwards.
    const quarantined = await cli(...names, 'features', 'quarantine', 'customer', '--batch', 'secs');
    expect((quarantined.json() as unknown[]).length).toBe(12);
    const batches = await run([...names, 'features', 'batches', 'customer'], { tty: true });
    expect(batches.stdout).toMatch(/│ secs +│ \d{4}-\d\d-\d\dT[^│]+│ 13 +│ 1 +│ 12 +│ 1 +│/);
  });

  it('refuses malformed files whole with exit code 2: a semicolon-delimited CSV, JSON lines given as CSV', async () => {
    const semicolons = path.join(dir, 'semi.csv');
    writeFileSync(semicolons, 'customer_id;event_time;orders;spend\nc1;2026-11-01T00:00:00Z;1;1\n');
    const semi = await cli('--offline-bucket', bucket, 'ingest', 'customer', semicolons);
    expect(semi.code).toBe(2);
    expect(semi.stderr).toMatch(/^error: body: must be comma-separated CSV .*";"-delimited/);
    const jsonl = path.join(dir, 'rows.jsonl');
    writeFileSync(jsonl, JSON.stringify({ customer_id: 'c1', event_time: Date.now(), orders: 1, spend: 1 }));
    const wrong = await cli('--offline-bucket', bucket, 'ingest', 'customer', jsonl, '--format', 'csv');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^error: format: is csv, but the file looks like JSON lines/);
    expect(wrong.stdout).toBe('');
  });

  it('reads more keys than one online read takes from a CSV file or standard input', async () => {
    const keys = Array.from({ length: 1500 }, (_, i) => `k${i}`);
    const file = path.join(dir, 'keys.csv');
    writeFileSync(file, `customer_id\n${keys.join('\n')}\n`);
    const names = ['--online-table', table];
    const fromFile = await cli(...names, 'online', 'customer', '--features', 'orders', '--keys-file', file);
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(
      (fromFile.json() as { entityKey: { customer_id: string } }[]).map((r) => r.entityKey.customer_id),
    ).toEqual(keys);
    const fromStdin = await run(
      [...names, 'online', 'customer', '--features', 'orders', '--keys-file', '-'],
      {
        stdin: keys.map((k) => JSON.stringify({ customer_id: k })).join('\n'),
      },
    );
    expect((fromStdin.json() as unknown[]).length).toBe(1500);
  });

  it('finds no stack and says how to start one', async () => {
    const result = await cli('--stack', 'Nowhere', 'features', 'status', 'customer');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: could not read the outputs of stack Nowhere .*\nhint: start the local stack with: npx mlops local up/,
    );
  });

  it('says a guessed bucket name does not exist, and how to find the real one', async () => {
    const rows = path.join(dir, 'guess.jsonl');
    writeFileSync(rows, JSON.stringify({ merchant_id: 7, event_time: Date.now(), category: 'food' }));
    const result = await cli('--offline-bucket', 'guessed-name', 'ingest', 'merchant', rows);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^error: offline-bucket: must be an existing bucket.*\nhint: start the local stack with: npx mlops local up/,
    );
  });

  it('builds a training set from CSV entity rows, then lists, shows and downloads it', async () => {
    const now = Date.now();
    const features = path.join(dir, 'tset.jsonl');
    writeFileSync(
      features,
      [{ merchant_id: 41, event_time: now - HOUR / 2, category: 'food' }]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const names = ['--offline-bucket', bucket];
    expect((await cli(...names, 'ingest', 'merchant', features)).code).toBe(0);
    const labels = path.join(dir, 'labels.csv');
    writeFileSync(labels, `merchant_id,event_time,fraud\n41,${now},1\n42,${new Date(now).toISOString()},0\n`);
    const built = await cli(
      ...names,
      'training-set',
      'build',
      '--entity-rows',
      labels,
      '--features',
      'merchant:category',
      '--name',
      'csvset',
    );
    expect(built.code, built.stderr).toBe(0);
    const manifest = built.json() as { hash: string; rowCount: number };
    expect(manifest.rowCount).toBe(2);

    const seconds = path.join(dir, 'seconds.csv');
    writeFileSync(seconds, `merchant_id,event_time\n41,${Math.floor(now / 1000)}\n`);
    const refused = await cli(
      ...names,
      'training-set',
      '--entity-rows',
      seconds,
      '--features',
      'merchant:category',
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /^error: entity-rows\.0\.event_time: .*\nhint: epoch seconds\? expected milliseconds/,
    );

    const listed = await cli(...names, 'training-set', 'list', 'csvset');
    expect(listed.json()).toEqual([
      { dataset: `csvset/${manifest.hash}`, rowCount: 2, featureRefs: ['merchant:category'] },
    ]);
    const shown = await cli(...names, 'training-set', 'show', `csvset/${manifest.hash.slice(0, 8)}`);
    const { rows } = shown.json() as { rows: Record<string, unknown>[] };
    expect(rows.map((r) => [r.merchant_id, r.merchant__category])).toEqual([
      [41, 'food'],
      [42, null],
    ]);
    expect((await run([...names, 'training-set', 'show', 'csvset'], { tty: true })).stdout).toMatch(
      /first 2 of 2 rows:\n.*merchant__category/s,
    );
    const csvFile = path.join(dir, 'out.csv');
    const csv = await cli(
      ...names,
      'training-set',
      'download',
      'csvset',
      '--format',
      'csv',
      '--output',
      csvFile,
    );
    expect(csv.code, csv.stderr).toBe(0);
    expect(readFileSync(csvFile, 'utf8').split('\n')[0]).toBe(
      'event_time,merchant_id,fraud,merchant__category',
    );
    const parquetFile = path.join(dir, 'out.parquet');
    expect((await cli(...names, 'training-set', 'download', 'csvset', '--output', parquetFile)).code).toBe(0);
    expect(readFileSync(parquetFile).subarray(0, 4).toString()).toBe('PAR1');
  });

  it("shows a view's freshness: latest ingestion, watermark and batches not yet online", async () => {
    const names = ['--offline-bucket', bucket, '--online-table', table];
    const status = await cli(...names, 'features', 'status', 'customer');
    expect(status.code).toBe(0);
    const s = status.json() as { batches: number; pendingBatches: number; watermarkMs?: number };
    expect(s.batches).toBeGreaterThan(0);
    await cli(...names, 'materialize', 'customer');
    const after = (await cli(...names, 'features', 'status', 'customer')).json() as typeof s;
    expect(after.pendingBatches).toBe(0);
    expect(after.watermarkMs).toBeGreaterThan(Date.now() - 60_000);
    expect((await run([...names, 'features', 'status', 'customer'], { tty: true })).stdout).toMatch(
      /│ batches not yet online +│ 0 +│/,
    );
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
