/**
 * The local stack as a user meets it: `mlops local up`, then ingest → materialize → online →
 * training-set, then `mlops local down`, each a separate CLI process started with no AWS variable at
 * all (no AWS_ENDPOINT_URL, no credentials): the commands find the stack through the state file
 * `local up` wrote. After `down`, a command says how to start the stack again.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leaveNoEmulator, mlopsIn, ROOT, running } from '../support/cli-process.js';

const CONFIG = path.join(ROOT, 'test', 'fixtures', 'mlops.config.ts');
const HOUR = 3_600_000;
const dir = mkdtempSync(path.join(os.tmpdir(), 'mlops-local-up-'));
const stateDir = path.join(dir, 'state');

const mlops = mlopsIn(stateDir);

afterAll(() => leaveNoEmulator(stateDir));

describe('mlops local up … down, each command its own process', () => {
  it('brings the stack up, serves the feature store from it with nothing exported, and stops it', async () => {
    const up = await mlops('--config', CONFIG, 'local', 'up', '--table');
    expect(up.stderr).toContain('provisioning');
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/local stack CliTestStack is up/);
    expect(up.stdout).toMatch(
      /export AWS_ENDPOINT_URL=http:\/\/127\.0\.0\.1:\d+ AWS_REGION=\S+ AWS_ACCESS_KEY_ID=test/,
    );

    const status = await mlops('local', 'status', '--json');
    expect(status.code).toBe(0);
    const state = status.json();
    expect(state).toMatchObject({ running: true, stackName: 'CliTestStack' });
    // Names from the synthesized template's outputs, as a deployed stack reports them.
    const resources = state.resources as Record<string, string>;
    expect(state.outputs).toEqual({
      FeatureStoreOfflineBucketName: resources.offlineBucket,
      FeatureStoreOnlineTableName: resources.onlineTable,
      ModelRegistryTableName: resources.registryTable,
      ModelRegistryArtifactBucketName: resources.artifactBucket,
      ModelRegistryTrackingTableName: resources.trackingTable,
      // This configuration trains no model.
      TrainingPipelineArns: '{}',
    });
    expect(Object.values(resources).every((name) => typeof name === 'string' && name.length > 0)).toBe(true);
    // Another stack name while this one runs: said so, not "start the local stack".
    const other = await mlops('--config', CONFIG, '--stack', 'OtherStack', 'features', 'batches', 'customer');
    expect(other.code).toBe(1);
    expect(other.stderr).toMatch(/stack OtherStack is not the running local stack \(that is CliTestStack\)/);
    // Up again: the running stack is kept (its data with it), nothing new is started.
    const again = await mlops('--config', CONFIG, 'local', 'up', '--json');
    expect(again.json()).toMatchObject({ started: false, pid: state.pid, endpoint: state.endpoint });

    const now = Date.now();
    const rows = path.join(dir, 'customers.jsonl');
    writeFileSync(
      rows,
      [
        { customer_id: 'c1', event_time: now - 2 * HOUR, orders: 3, spend: 30.5 },
        { customer_id: 'c2', event_time: now - HOUR, orders: 4, spend: null },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const ingested = await mlops('--config', CONFIG, 'ingest', 'customer', rows);
    expect(ingested.stderr).not.toMatch(/error/);
    expect(ingested.code).toBe(0);
    expect(ingested.json()).toMatchObject({ received: 2, accepted: 2, rejected: 0 });

    const materialized = await mlops('--config', CONFIG, 'materialize', 'customer');
    expect(materialized.code).toBe(0);
    expect(materialized.json()).toMatchObject({ view: 'customer', batches: 1, written: 2 });

    const online = await mlops(
      '--config',
      CONFIG,
      'online',
      'customer',
      '--features',
      'orders,spend',
      '--keys',
      '[{"customer_id":"c1"},{"customer_id":"c2"}]',
    );
    expect(online.code).toBe(0);
    const [c1, c2] = JSON.parse(online.stdout) as { features: Record<string, { value: unknown }> }[];
    expect(c1?.features.orders?.value).toBe(3);
    expect(c1?.features.spend?.value).toBe(30.5);
    expect(c2?.features.orders?.value).toBe(4);

    const labels = path.join(dir, 'labels.jsonl');
    writeFileSync(
      labels,
      [
        { customer_id: 'c1', event_time: now, churned: false },
        { customer_id: 'c2', event_time: now - 3 * HOUR, churned: true },
      ]
        .map((r) => JSON.stringify(r))
        .join('\n'),
    );
    const built = await mlops(
      '--config',
      CONFIG,
      'training-set',
      '--entity-rows',
      labels,
      '--features',
      'customer:orders',
      '--name',
      'local-up',
    );
    expect(built.code).toBe(0);
    expect(built.json()).toMatchObject({
      rowCount: 2,
      dataKey: expect.stringMatching(/^datasets\/local-up\//),
    });

    const down = await mlops('local', 'down', '--table');
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(new RegExp(`stopped local stack CliTestStack \\(moto pid ${state.pid}\\)`));
    expect((await mlops('local', 'down', '--json')).json()).toEqual({ stopped: false });
    expect(existsSync(path.join(stateDir, 'local.json'))).toBe(false);
    expect(running(state.pid as number)).toBe(false);

    const after = await mlops('--config', CONFIG, 'ingest', 'customer', rows);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/start the local stack with: npx mlops local up/);
    expect((await mlops('local', 'status', '--table')).stdout).toMatch(
      /no local stack is running; start it with: npx mlops local up/,
    );
  }, 600_000);
});
