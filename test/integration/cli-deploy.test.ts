/**
 * `mlops deploy start|status|approve|rollback` against the emulator.
 *
 * Local stack: a state file naming a stack provisioned here from the app synthesized with bundling
 * (test/fixtures/deploy.config.ts: one served model, steps 50 → 100, 1 s bakes); `deploy start`
 * runs the model's real workflow in the CLI's process (given the same assembly with the hidden
 * `--assembly`, so the test worker never synthesizes), with the real bake and approval-poll waits,
 * while the test writes both versions' traffic (metrics and capture) in the background.
 * Deployed stack: moto's Step Functions stores executions but runs nothing, so only `--no-wait`
 * (the execution started with the request as its input).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import { DeploymentStore } from '../../lambdas/deployment/deployment-store.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { STACK_JSON_OUTPUTS, STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import type { Assembly } from '../../local/assembly.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { localStackState } from '../../local/local-state.js';
import config from '../fixtures/deploy.config.js';
import { assemblyFor } from '../support/assemblies.js';
import { healthy, putTraffic } from '../support/canary-traffic.js';
import { testEmulatorPid } from '../support/cli-process.js';
import { registerServedModel, servedModelBytes } from '../support/served-model.js';

const CONFIG = path.resolve(import.meta.dirname, '..', 'fixtures', 'deploy.config.ts');
const MODEL = 'deployed';

let assembly: Assembly;
let local: LocalStack;
let registry: ModelRegistryStore;
let deployments: DeploymentStore;
let stateDir: string;
const previousStateDir = process.env.MLOPS_STATE_DIR;

async function cli(args: string[], options: { tty?: boolean; onStderr?: (text: string) => void } = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--config', CONFIG, ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
      options.onStderr?.(t);
    },
    stdoutIsTty: options.tty === true,
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

async function registerStaging(seed: number): Promise<number> {
  const version = await registerServedModel(
    registry,
    local.resourceName('ModelRegistryArtifacts'),
    MODEL,
    servedModelBytes(seed),
  );
  await new ModelStageStore({
    documents: clients.documents(),
    tableName: local.resourceName('ModelRegistryTable'),
  }).transition({
    modelName: MODEL,
    version: version.version,
    expectedStage: 'None',
    toStage: 'Staging',
    reason: 'test',
  });
  return version.version;
}

/** Healthy traffic of both versions every 300 ms until stopped (what serving would leave behind). */
function trafficOf(versions: readonly number[]): { stop(): Promise<void> } {
  const target = {
    namespace: config.metricsNamespace as string,
    model: MODEL,
    captureBucket: local.resourceName('InferenceCapture'),
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const v of versions) await putTraffic(target, v, { ...healthy, requests: 30 });
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

let v1: number;

beforeAll(async () => {
  assembly = await assemblyFor({ context: { mlops: config } });
  local = await startLocalStack(assembly);
  const tableName = local.resourceName('ModelRegistryTable');
  registry = new ModelRegistryStore({
    documents: clients.documents(),
    s3: clients.s3(),
    tableName,
    artifactBucket: local.resourceName('ModelRegistryArtifacts'),
  });
  deployments = new DeploymentStore({ documents: clients.documents(), tableName });
  stateDir = mkdtempSync(path.join(tmpdir(), 'cli-deploy-state-'));
  writeFileSync(
    path.join(stateDir, 'local.json'),
    JSON.stringify(
      localStackState(local.stack, local.provisioned, {
        endpoint: process.env.AWS_ENDPOINT_URL ?? '',
        pid: testEmulatorPid(),
        logFile: '/dev/null',
        region: process.env.AWS_REGION ?? 'us-east-1',
      }),
    ),
  );
  process.env.MLOPS_STATE_DIR = stateDir;
}, 300_000);

afterAll(() => {
  if (previousStateDir === undefined) delete process.env.MLOPS_STATE_DIR;
  else process.env.MLOPS_STATE_DIR = previousStateDir;
  rmSync(stateDir, { recursive: true, force: true });
});

describe('mlops deploy on the local stack (the workflow runs in the CLI process)', () => {
  it('deploys the newest Staging version by default; the first deployment promotes at once', async () => {
    v1 = await registerStaging(7);
    const result = await cli(['deploy', 'start', MODEL, '--assembly', assembly.dir]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({
      model: MODEL,
      modelVersion: v1,
      outcome: 'promoted',
      where: 'local',
      deployment: { status: 'promoted', weight: 100, requestedBy: 'local' },
    });
    expect(result.stderr).toContain(`deploying ${MODEL} v${v1}: the newest Staging version`);
    expect(result.stderr).toMatch(
      /Start: first deployment — nothing serves to compare against, so it promotes at once/,
    );
    expect((await registry.getModelVersion(MODEL, v1)).stage).toBe('Production');
  }, 120_000);

  it('runs a canary 50 → 100 with the real bakes, a line per step, and status shows its history and checks', async () => {
    const v2 = await registerStaging(8);
    const traffic = trafficOf([v1, v2]);
    let result: Awaited<ReturnType<typeof cli>>;
    try {
      result = await cli(['deploy', 'start', MODEL, String(v2), '--assembly', assembly.dir]);
    } finally {
      await traffic.stop();
    }

    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ modelVersion: v2, outcome: 'promoted' });
    const lines = result.stderr.split('\n').filter((l) => l.startsWith(`deploy ${MODEL} v${v2}: `));
    expect(lines.map((l) => l.replace(/^deploy \S+ v\d+: /, '').replace(/ \(\d+\.\d s\)$/, ''))).toEqual([
      expect.stringMatching(
        new RegExp(`^Start: canary model v${v2} .* against stable v${v1} .*steps 50 → 100 %$`),
      ),
      'Shift 50 % to the canary',
      'Bake 1 s',
      'Analyze: pass: all checks passed',
      'Promote: the live alias fully on the canary; registry Production and champion',
    ]);

    const status = await cli(['deploy', 'status', MODEL, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const shown = status.json() as {
      model: string;
      deployment: Record<string, unknown>;
      history: { type: string; weight?: number }[];
      lastAnalysis: { verdict: string; checks: { name: string; passed: boolean }[] };
    };
    expect(shown.model).toBe(MODEL);
    expect(shown.deployment).toMatchObject({ modelVersion: v2, status: 'promoted', weight: 100 });
    expect(shown.history.map((e) => [e.type, e.weight])).toEqual([
      ['CanaryStarted', undefined],
      ['CanaryStepPassed', 50],
      ['CanaryPromoted', undefined],
    ]);
    expect(shown.lastAnalysis.verdict).toBe('pass');
    expect(shown.lastAnalysis.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining(['requests', 'errorRate', 'p99Latency', 'predictionPsi']),
    );
    const table = await cli(['deploy', 'status', MODEL], { tty: true });
    expect(table.stdout).toMatch(new RegExp(`^${MODEL}: deployment \\S+ of v${v2} is promoted\\n`));
    expect(table.stdout).toMatch(/│ CanaryStepPassed\s+│ 50 %\s+│ pass\s+│/);
    expect(table.stdout).toMatch(/│ p99Latency\s+│ yes\s+│/);
  }, 120_000);

  it('rolls back via the CLI while a deployment waits for approval; approve then has nothing to approve', async () => {
    const v3 = await registerStaging(9);
    const stable = (await deployments.current(MODEL))?.modelVersion as number;
    const traffic = trafficOf([stable, v3]);
    let progress = '';
    const waiting = cli(['deploy', 'start', MODEL, String(v3), '--approval', '--assembly', assembly.dir], {
      onStderr: (text) => {
        progress += text;
      },
    });
    try {
      for (let i = 0; i < 600 && !progress.includes('waiting for an approval'); i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(progress).toContain('waiting for an approval');
      const asked = await cli(['deploy', 'rollback', MODEL, '--reason', 'not this week']);
      expect(asked.code, asked.stderr).toBe(0);
      expect(asked.json()).toMatchObject({ rollbackRequested: { by: 'local', reason: 'not this week' } });
    } finally {
      await traffic.stop();
    }
    const result = await waiting;

    expect(result.code).toBe(1);
    expect(result.json()).toMatchObject({ modelVersion: v3, outcome: 'rolled-back' });
    expect(result.stderr).toContain('approval: rollback — rollback asked for by local: not this week');
    expect(result.stderr).toContain(
      `error: rolled-back: rollback asked for by local: not this week\nhint: mlops deploy status ${MODEL}\n`,
    );
    expect((await registry.getModelVersion(MODEL, v3)).stage).toBe('Staging');

    const approve = await cli(['deploy', 'approve', MODEL]);
    expect(approve.code).toBe(1);
    expect(approve.stderr).toMatch(
      /^error: nothing to approve: deployment \S+ of deployed is rolled-back, not running\n/,
    );
    expect(approve.stderr).toContain(`hint: see it with: mlops deploy status ${MODEL}\n`);
  }, 120_000);

  it('promotes once approved via the CLI while it waits for approval', async () => {
    const v4 = await registerStaging(10);
    // The version serving: the previous deployment (v3) was rolled back, so v2 still serves.
    const stable = (await registry.searchVersions(MODEL, { stage: 'Production' })).versions[0]
      ?.version as number;
    const traffic = trafficOf([stable, v4]);
    let progress = '';
    const waiting = cli(['deploy', 'start', MODEL, String(v4), '--approval', '--assembly', assembly.dir], {
      onStderr: (text) => {
        progress += text;
      },
    });
    try {
      for (let i = 0; i < 600 && !progress.includes('waiting for an approval'); i++)
        await new Promise((resolve) => setTimeout(resolve, 100));
      const approved = await cli(['deploy', 'approve', MODEL]);
      expect(approved.code, approved.stderr).toBe(0);
      expect(approved.json()).toMatchObject({ modelVersion: v4, approvedBy: 'local', status: 'running' });
    } finally {
      await traffic.stop();
    }
    const result = await waiting;

    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({
      modelVersion: v4,
      outcome: 'promoted',
      deployment: { approvedBy: 'local', requireApproval: true },
    });
    expect(result.stderr).toContain('approval: approved');
    expect((await registry.getModelVersion(MODEL, v4)).stage).toBe('Production');
  }, 120_000);

  it('exits 0 with nothing to do when the version already serves alone', async () => {
    const current = (await deployments.current(MODEL))?.modelVersion as number;
    const result = await cli(['deploy', 'start', MODEL, String(current), '--assembly', assembly.dir]);

    expect(result.code, result.stderr).toBe(0);
    expect(result.json()).toMatchObject({ modelVersion: current, outcome: 'already-serving' });
    expect(result.stderr).toContain(
      'Start: the live alias already serves this version alone — nothing to do',
    );
  }, 60_000);

  it('refuses bad input naming the field (exit 2), and starts nothing', async () => {
    const before = (await deployments.current(MODEL))?.deploymentId;
    const cases: [string[], RegExp][] = [
      [
        ['deploy', 'start', 'nope'],
        /^error: model: must be a served model of the configuration \(nope is not\)\nhint: served models: deployed\n$/,
      ],
      [['deploy', 'start', MODEL, '0'], /^error: version: must be a positive integer/],
      [['deploy', 'start', MODEL, 'x1'], /^error: version: must be a positive integer/],
      [
        ['deploy', 'start', MODEL, '1', '--hotfix'],
        /^error: reason: must say why when the deployment is a hotfix/,
      ],
      [['deploy', 'start', MODEL, '1', '--no-wait'], /^error: no-wait: is not possible on the local stack/],
      [['deploy', 'rollback', MODEL], /^error: reason: is required/],
      [['deploy', 'status', 'nope'], /^error: model: must be a served model/],
    ];
    for (const [args, stderr] of cases) {
      const result = await cli(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(stderr);
    }
    expect((await deployments.current(MODEL))?.deploymentId).toBe(before);
  });
});

describe('mlops deploy start on the deployed stack', () => {
  it('starts the model workflow, named, with the request as input, and returns with --no-wait', async () => {
    const machine = await clients.sfn().send(
      new CreateStateMachineCommand({
        name: 'Deployment-deployed-cli-test',
        definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Succeed' } } }),
        roleArn: 'arn:aws:iam::123456789012:role/sfn',
      }),
    );
    const stack = 'CliDeployDeployedStack';
    await clients.cloudformation().send(
      new CreateStackCommand({
        StackName: stack,
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: {
            [STACK_JSON_OUTPUTS.deploymentWorkflows]: {
              Value: JSON.stringify({ [MODEL]: machine.stateMachineArn }),
            },
            [STACK_OUTPUTS.registryTable]: { Value: local.resourceName('ModelRegistryTable') },
          },
        }),
      }),
    );
    const result = await cli([
      '--stack',
      stack,
      'deploy',
      'start',
      MODEL,
      '3',
      '--hotfix',
      '--reason',
      'revert',
      '--no-wait',
    ]);

    expect(result.code, result.stderr).toBe(0);
    const out = result.json() as { executionArn: string; outcome: string; where: string };
    expect(out).toMatchObject({ outcome: 'running', where: 'deployed', modelVersion: 3 });
    expect(out.executionArn).toMatch(new RegExp(`:${MODEL}-v3-\\d+$`));
    const described = await clients
      .sfn()
      .send(new DescribeExecutionCommand({ executionArn: out.executionArn }));
    expect(JSON.parse(described.input ?? '{}')).toEqual({
      modelVersion: 3,
      requestedBy: 'local',
      hotfix: true,
      reason: 'revert',
    });

    // Waiting: moto's execution stays RUNNING until stopped; stopped, it is a failure (exit 1).
    let waited = '';
    const waiting = cli(['--stack', stack, 'deploy', 'start', MODEL, '3', '--poll-interval', '20'], {
      onStderr: (text) => {
        waited += text;
      },
    });
    let arn: string | undefined;
    for (let i = 0; i < 500 && arn === undefined; i++) {
      const listed = await clients
        .sfn()
        .send(
          new ListExecutionsCommand({ stateMachineArn: machine.stateMachineArn, statusFilter: 'RUNNING' }),
        );
      arn = listed.executions?.find((e) => e.executionArn !== out.executionArn)?.executionArn;
      if (arn === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await clients.sfn().send(new StopExecutionCommand({ executionArn: arn, cause: 'stopped by the test' }));
    const stopped = await waiting;
    expect(stopped.code, waited).toBe(1);
    expect(stopped.json()).toMatchObject({ outcome: 'failed', where: 'deployed', executionArn: arn });
    expect(stopped.stderr).toMatch(/error: failed: ABORTED/);
    expect(stopped.stderr).toContain(`hint: mlops deploy status ${MODEL}`);
  });
});
