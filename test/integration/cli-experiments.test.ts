/**
 * `mlops experiments create|status|stop` against the emulator: the verdict table and JSON, bad input
 * (exit 2 naming the field), not found (exit 3), an overlap (exit 1 naming the field).
 */
import * as path from 'node:path';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateStateMachineCommand, DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import { DeploymentStore } from '../../lambdas/deployment/deployment-store.js';
import { ExperimentStore } from '../../lambdas/experiments/experiment-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { modelPk, versionSk } from '../../lambdas/shared/layout.js';
import { STACK_JSON_OUTPUTS, STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import { createRegistryTable } from '../support/tables.js';

const CONFIG = path.resolve(import.meta.dirname, '..', 'fixtures', 'models.config.ts');
const TABLE = `cli-experiments-${Date.now()}`;
let store: ExperimentStore;

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--config', CONFIG, '--registry-table', TABLE, ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stdoutIsTty: args.includes('--table'),
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

beforeAll(async () => {
  await createRegistryTable(TABLE);
  for (const [model, version, stage] of [
    ['churn', 1, 'Production'],
    ['churn', 2, 'Staging'],
    ['churn', 3, 'None'],
    ['gated', 1, 'Production'],
    ['gated', 2, 'Staging'],
  ] as const)
    await clients.documents().send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: modelPk(model), sk: versionSk(version), modelName: model, version, stage },
      }),
    );
  store = new ExperimentStore({ documents: clients.documents(), tableName: TABLE });
});

describe('mlops experiments', () => {
  it('creates, reads the verdict table and JSON, and stops an experiment', async () => {
    const created = await cli(
      'experiments',
      'create',
      'churn',
      '--id',
      'churn-ab',
      '--control',
      '1',
      '--treatment',
      '2',
      '--allocation',
      '50',
      '--unit-key',
      'userId',
      '--baseline',
      '0.1',
      '--guardrail',
      'value:decrease',
    );
    expect(created.stderr).toContain('mlops experiments status churn-ab');
    expect(created.code).toBe(0);
    expect(created.json()).toMatchObject({
      id: 'churn-ab',
      status: 'running',
      allocation: 50,
      minimumDetectableEffect: 0.02,
      alpha: 0.05,
      power: 0.8,
      maxDurationDays: 14,
      guardrails: [{ metric: 'value', harmful: 'decrease' }],
      createdBy: 'local',
    });
    const required = (created.json().requiredSample as { control: number }).control;

    // Outcomes: every unit u-i with key k-i; treatment converts more often.
    const experiment = await store.get('churn-ab');
    let key = 0;
    const units = Array.from({ length: 300 }, (_, i) => `u-${i}`);
    await Promise.all(
      units.map(async (unit) => {
        const k = key++;
        const variant = (
          await store.recordOutcome(
            { experimentId: 'churn-ab', unitId: unit, outcome: k % 3 === 0, idempotencyKey: `k-${k}` },
            experiment,
          )
        ).variant;
        return variant;
      }),
    );

    const status = await cli('experiments', 'status', 'churn-ab', '--table');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/verdict\s*│\s*KEEP RUNNING/);
    expect(status.stdout).toContain(`of the required sample (${required} + ${required})`);
    expect(status.stdout).toContain('conversion (primary)');
    expect(status.stdout).toContain('guardrail value (harm: decrease)');
    expect(status.stdout).toMatch(/sample ratio\s*│\s*ok/);

    const json = await cli('experiments', 'status', 'churn', '--json');
    expect(json.code).toBe(0);
    const [entry] = json.json().experiments as {
      experiment: { id: string };
      report: { arms: { outcomes: number }[]; verdict: { decision: string } };
    }[];
    expect(entry?.experiment.id).toBe('churn-ab');
    expect((entry?.report.arms[0]?.outcomes ?? 0) + (entry?.report.arms[1]?.outcomes ?? 0)).toBe(300);
    expect(entry?.report.verdict.decision).toBe('keep running');

    const stopped = await cli('experiments', 'stop', 'churn-ab', '--decision', 'dont-ship');
    expect(stopped.code).toBe(0);
    expect(stopped.json()).toMatchObject({ status: 'stopped', decision: 'dont-ship', stoppedBy: 'local' });
    const none = await cli('experiments', 'status', 'churn', '--table');
    expect(none.stdout).toContain('no running experiments of churn');
  });

  it.each([
    [['--allocation', '100'], 2, 'error: experiment.treatmentShare: must be a number in (0, 100)'],
    [['--allocation', 'half'], 2, 'error: allocation: must be a number'],
    [['--treatment', '3'], 2, 'error: treatment: must be a version in Staging or Production'],
    [['--treatment', '9'], 3, 'error: treatment: version 9 of model churn'],
    [['--treatment', '1'], 2, 'error: treatment: must differ from control'],
    [['--guardrail', 'latency:up'], 2, 'error: guardrail: must be <metric>'],
    [['--alpha', '2'], 2, 'error: alpha: must be in (0, 1)'],
  ])('refuses %j naming the field (exit %i)', async (args, code, message) => {
    const base = { '--control': '1', '--treatment': '2', '--allocation': '50', '--unit-key': 'sessionId' };
    const merged: Record<string, string> = { ...base };
    for (let i = 0; i < args.length; i += 2) merged[args[i] as string] = args[i + 1] as string;
    const extra = Object.entries(merged).flatMap(([flag, value]) =>
      flag === '--guardrail' ? [] : [flag, value],
    );
    const guard = merged['--guardrail'] !== undefined ? ['--guardrail', merged['--guardrail']] : [];
    const result = await cli('experiments', 'create', 'churn', ...extra, ...guard);
    expect(result.stderr).toContain(message);
    expect(result.code).toBe(code);
  });

  it('refuses an overlap naming the unit key, and unknown ids with exit 3', async () => {
    const args = [
      'experiments',
      'create',
      'churn',
      '--control',
      '1',
      '--treatment',
      '2',
      '--allocation',
      '10',
      '--unit-key',
      'deviceId',
    ];
    expect((await cli(...args)).code).toBe(0);
    const overlap = await cli(...args);
    expect(overlap.code).toBe(1);
    expect(overlap.stderr).toMatch(
      /^error: unitKey: experiment churn-\S+ already runs on churn with unit key deviceId/,
    );
    const missing = await cli('experiments', 'status', 'no-such-thing');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain('error: experiment:');
    const stop = await cli('experiments', 'stop', 'nope', '--decision', 'ship');
    expect(stop.code).toBe(3);
    expect(stop.stderr).toContain('error: experimentId: experiment nope');
    const bad = await cli('experiments', 'stop', 'nope', '--decision', 'maybe');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('error: decision: must be ship or dont-ship');
  });

  it('creates with --auto-promote; stop --decision ship --promote deploys the treatment as mlops deploy start does', async () => {
    const machine = await clients.sfn().send(
      new CreateStateMachineCommand({
        name: `Deployment-experiments-cli-${Date.now()}`,
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
      }),
    );
    const stack = `CliExperimentsPromote${Date.now()}`;
    await clients.cloudformation().send(
      new CreateStackCommand({
        StackName: stack,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: {
            [STACK_JSON_OUTPUTS.deploymentWorkflows]: {
              Value: JSON.stringify({ gated: machine.stateMachineArn }),
            },
            [STACK_OUTPUTS.registryTable]: { Value: TABLE },
          },
        }),
      }),
    );
    const created = await cli(
      'experiments',
      'create',
      'gated',
      '--id',
      'gated-ab',
      '--control',
      '1',
      '--treatment',
      '2',
      '--allocation',
      '50',
      '--unit-key',
      'userId',
      '--auto-promote',
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.json()).toMatchObject({ id: 'gated-ab', autoPromote: true });

    const refused = await cli('experiments', 'stop', 'gated-ab', '--decision', 'dont-ship', '--promote');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('error: promote: needs --decision ship');
    expect((await store.get('gated-ab')).status).toBe('running');

    // Another deployment of the model running: the promotion would fail at its Start, so the
    // experiment is left running and nothing starts.
    const deployments = new DeploymentStore({ documents: clients.documents(), tableName: TABLE });
    await deployments.begin({
      deploymentId: 'hotfix-1',
      model: 'gated',
      modelVersion: 1,
      requestedBy: 'alice',
      hotfix: true,
      requireApproval: false,
    });
    const blocked = await cli(
      '--stack',
      stack,
      'experiments',
      'stop',
      'gated-ab',
      '--decision',
      'ship',
      '--promote',
      '--no-wait',
    );
    expect(blocked.code).toBe(1);
    expect(blocked.stderr).toContain(
      'error: deployment hotfix-1 of gated is running; the experiment is left running',
    );
    expect((await store.get('gated-ab')).status).toBe('running');
    await deployments.fail('gated', 'hotfix-1', 'ended');

    const promoted = await cli(
      '--stack',
      stack,
      'experiments',
      'stop',
      'gated-ab',
      '--decision',
      'ship',
      '--promote',
      '--no-wait',
    );
    expect(promoted.code, promoted.stderr).toBe(0);
    const out = promoted.json() as { executionArn: string; outcome: string; modelVersion: number };
    expect(out).toMatchObject({ outcome: 'running', where: 'deployed', modelVersion: 2 });
    expect(out.executionArn).toMatch(/:gated-v2-\d+$/);
    const described = await clients
      .sfn()
      .send(new DescribeExecutionCommand({ executionArn: out.executionArn }));
    expect(JSON.parse(described.input ?? '{}')).toEqual({
      modelVersion: 2,
      requestedBy: 'local',
      reason: 'experiment gated-ab stopped with decision ship by local',
      experimentId: 'gated-ab',
    });
    expect(await store.get('gated-ab')).toMatchObject({ status: 'stopped', decision: 'ship' });
  });
});
