import * as path from 'node:path';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import type { RunComparison, TrackedRun } from '../../lambdas/registry/tracking.js';
import { TrackingStore } from '../../lambdas/registry/tracking-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';

const CONFIG = path.resolve(import.meta.dirname, '..', 'fixtures', 'mlops.config.ts');
const T0 = Date.UTC(2026, 0, 1);
let table: string;
let runs: TrackedRun[];

/** Runs the CLI in-process and captures what it prints (stdout not a terminal, unless `tty`). */
async function run(args: string[], options: { tty?: boolean; table?: boolean } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    ['--config', CONFIG, ...(options.table === false ? [] : ['--tracking-table', table]), ...args],
    {
      stdout: (t) => {
        stdout += t;
      },
      stderr: (t) => {
        stderr += t;
      },
      stdoutIsTty: options.tty === true,
    },
  );
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as unknown };
}

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'runs-cli-' });
  table = local.resourceName('ModelRegistryTrackingTable');
  const tracking = new TrackingStore({ documents: clients.documents(), s3: clients.s3(), tableName: table });
  await tracking.createExperiment({ name: 'churn' });
  runs = [];
  for (const [i, auc] of [0.7, 0.9, 0.8].entries()) {
    const r = await tracking.createRun({
      experiment: 'churn',
      name: `trial-${i}`,
      startTime: T0 + i,
      params: { depth: i + 2 },
    });
    await tracking.logMetrics(r.runId, [
      { key: 'val_auc', value: auc, step: 1, timestamp: T0 },
      { key: 'loss', value: 1 - auc, step: 1, timestamp: T0 },
    ]);
    runs.push(
      i === 0
        ? await tracking.endRun(r.runId, { status: 'FAILED', reason: 'diverged' })
        : await tracking.getRun(r.runId),
    );
  }
});

describe('mlops runs', () => {
  it("lists an experiment's runs newest first, as JSON off a terminal and a table on one", async () => {
    const listed = await run(['runs', 'list', 'churn']);
    expect(listed.code).toBe(0);
    expect((listed.json() as { runs: TrackedRun[] }).runs.map((r) => r.name)).toEqual([
      'trial-2',
      'trial-1',
      'trial-0',
    ]);
    const failed = await run(['runs', 'list', 'churn', '--status', 'failed']);
    expect((failed.json() as { runs: TrackedRun[] }).runs.map((r) => r.reason)).toEqual(['diverged']);
    const human = await run(
      ['runs', 'list', 'churn', '--filter', 'val_auc > 0.75', '--order-by', 'val_auc DESC'],
      { tty: true },
    );
    expect(human.code).toBe(0);
    const lines = human.stdout.split('\n').filter((l) => l.includes('trial-'));
    expect(lines.map((l) => /trial-\d/.exec(l)?.[0])).toEqual(['trial-1', 'trial-2']);
    expect(human.stdout).toMatch(/val_auc/);
  });

  it('shows one run with its params and metric summaries', async () => {
    const shown = await run(['runs', 'show', runs[0]?.runId as string]);
    expect(shown.json()).toMatchObject({
      status: 'FAILED',
      reason: 'diverged',
      params: { depth: 2 },
      metrics: { val_auc: { latest: 0.7 } },
    });
    const human = await run(['runs', 'show', runs[1]?.runId as string], { tty: true });
    expect(human.stdout).toMatch(/val_auc\s*│\s*0\.9/);
  });

  it('compares runs on the metrics asked for', async () => {
    const compared = await run([
      'runs',
      'compare',
      runs[1]?.runId as string,
      runs[2]?.runId as string,
      '--metric',
      'val_auc',
    ]);
    expect(compared.code).toBe(0);
    const table = compared.json() as RunComparison;
    expect(table.metrics).toEqual(['val_auc']);
    expect(table.rows.map((r) => r.metrics.val_auc)).toEqual([0.9, 0.8]);
    const human = await run(['runs', 'compare', runs[1]?.runId as string, runs[2]?.runId as string], {
      tty: true,
    });
    expect(human.stdout).toMatch(/metric val_auc\s*│\s*0\.9\s*│\s*0\.8/);
    expect(human.stdout).toMatch(/param depth\s*│\s*3\s*│\s*4/);
  });

  it('answers an unknown run or experiment with exit code 3 (not found) and a hint', async () => {
    const unknownRun = await run(['runs', 'show', 'nosuchrun']);
    expect(unknownRun.code).toBe(3);
    expect(unknownRun.stderr).toBe(
      'error: runId: run nosuchrun not found\nhint: list runs with: mlops runs list <experiment>\n',
    );
    const unknownExperiment = await run(['runs', 'list', 'nope']);
    expect(unknownExperiment.code).toBe(3);
    expect(unknownExperiment.stderr).toMatch(
      /^error: experiment: experiment nope not found\nhint: experiments: .*churn/,
    );
    const compareUnknown = await run(['runs', 'compare', runs[1]?.runId as string, 'nosuchrun']);
    expect(compareUnknown.code).toBe(3);
    expect(compareUnknown.stderr).toBe(
      'error: runIds.1: run nosuchrun not found\nhint: list runs with: mlops runs list <experiment>\n',
    );
  });

  it('prints the next page token as a hint on stderr, never on stdout', async () => {
    const first = await run(['runs', 'list', 'churn', '--limit', '2'], { tty: true });
    expect(first.code).toBe(0);
    expect(first.stdout).not.toContain('next-token');
    const token = /^hint: more: mlops runs list churn --next-token (\S+)\n$/.exec(first.stderr)?.[1];
    expect(token).toBeDefined();
    const second = await run(['runs', 'list', 'churn', '--limit', '2', '--next-token', token as string]);
    expect((second.json() as { runs: TrackedRun[] }).runs.map((r) => r.name)).toEqual(['trial-0']);
    expect(second.stderr).toBe('');
  });

  it('names the missing table when DynamoDB has none by that name', async () => {
    const missing = await run(['--tracking-table', 'no-such-tracking-table', 'runs', 'list', 'churn'], {
      table: false,
    });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^error: tracking-table: must be an existing table \(no-such-tracking-table does not exist: /,
    );
    expect(missing.stderr.split('\n')[0]).not.toContain('online-table');
  });

  it('answers bad input with exit code 2 and error: field: rule', async () => {
    const badFilter = await run(['runs', 'list', 'churn', '--filter', 'val_auc != 1']);
    expect(badFilter.code).toBe(2);
    expect(badFilter.stderr).toMatch(/^error: filter: /);
    expect((await run(['runs', 'list', 'churn', '--status', 'DONE'])).stderr).toMatch(
      /^error: status: must be one of/,
    );
  });

  it('finds the tracking table through the deployed stack outputs', async () => {
    await clients.cloudformation().send(
      new CreateStackCommand({
        StackName: 'RunsCliStack',
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: { [STACK_OUTPUTS.trackingTable]: { Value: table } },
        }),
      }),
    );
    const listed = await run(['--stack', 'RunsCliStack', 'runs', 'list', 'churn'], { table: false });
    expect(listed.stderr).toBe('');
    expect((listed.json() as { runs: unknown[] }).runs).toHaveLength(3);
  });
});
