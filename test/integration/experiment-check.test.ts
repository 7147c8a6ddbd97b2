/**
 * The scheduled experiment check (lambdas/experiments/experiment-check.ts) against the emulator:
 * the registry table (experiments, counters written so the report says ship or don't ship) and Step
 * Functions (one Pass state machine per model standing in for its deployment workflow; the
 * emulator records executions without running them).
 */
import { randomUUID } from 'node:crypto';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
} from '@aws-sdk/client-sfn';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import type { DeploymentRequest } from '../../lambdas/deployment/contract.js';
import { DeploymentStore } from '../../lambdas/deployment/deployment-store.js';
import { StepFunctionsDeploymentStarter } from '../../lambdas/experiments/deployment-starter.js';
import {
  checkExperiments,
  type DeploymentStarter,
  experimentDeploymentName,
} from '../../lambdas/experiments/experiment-check.js';
import {
  type CreateExperimentInput,
  EXPERIMENT_VARIANTS,
  ExperimentStore,
} from '../../lambdas/experiments/experiment-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { experimentCounterSk, experimentPk, modelPk, versionSk } from '../../lambdas/shared/layout.js';
import { createRegistryTable } from '../support/tables.js';

const TABLE = `experiment-check-${Date.now()}`;
let store: ExperimentStore;

beforeAll(async () => {
  await createRegistryTable(TABLE);
  store = new ExperimentStore({ documents: clients.documents(), tableName: TABLE, principal: 'alice' });
});

/** A model of its own: v1 Production, v2 Staging, and a Pass state machine as its deployment workflow. */
async function freshModel() {
  const model = `m${randomUUID().slice(0, 8)}`;
  for (const [i, stage] of ['Production', 'Staging'].entries())
    await clients.documents().send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: modelPk(model), sk: versionSk(i + 1), modelName: model, version: i + 1, stage },
      }),
    );
  const { stateMachineArn } = await clients.sfn().send(
    new CreateStateMachineCommand({
      name: `deploy-${model}`,
      roleArn: 'arn:aws:iam::123456789012:role/deployment',
      definition: JSON.stringify({ StartAt: 'Deploy', States: { Deploy: { Type: 'Pass', End: true } } }),
    }),
  );
  if (stateMachineArn === undefined) throw new Error('no state machine ARN');
  const starter = new StepFunctionsDeploymentStarter(clients.sfn(), { [model]: stateMachineArn });
  const executions = async () => {
    const { executions = [] } = await clients.sfn().send(new ListExecutionsCommand({ stateMachineArn }));
    return Promise.all(
      executions.map(async (e) => {
        const described = await clients
          .sfn()
          .send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
        return { name: described.name, input: JSON.parse(described.input ?? '{}') as DeploymentRequest };
      }),
    );
  };
  return { model, starter, executions };
}

const definition = (model: string, extra: Partial<CreateExperimentInput> = {}): CreateExperimentInput => ({
  id: `${model}-exp`,
  model,
  control: 1,
  treatment: 2,
  allocation: 50,
  unitKey: 'userId',
  minimumDetectableEffect: 0.02,
  baselineRate: 0.1,
  maxDurationDays: 14,
  autoPromote: true,
  ...extra,
});

/** Writes both variants' counters: `n` outcomes each, with these conversion counts. */
async function writeCounters(
  experimentId: string,
  positives: { control: number; treatment: number },
  n = 6000,
) {
  for (const variant of EXPERIMENT_VARIANTS)
    await clients.documents().send(
      new PutCommand({
        TableName: TABLE,
        Item: {
          pk: experimentPk(experimentId),
          sk: experimentCounterSk(variant),
          variant,
          assignments: n,
          outcomes: n,
          positives: positives[variant],
          values: 0,
          sum: 0,
          sumSq: 0,
        },
      }),
    );
}

const SHIP = { control: 600, treatment: 900 };
const DONT_SHIP = { control: 600, treatment: 400 };
const FLAT = { control: 50, treatment: 50 };

describe('the experiment check on the emulator', () => {
  it('ship + autoPromote: starts the treatment’s deployment exactly once and stops the experiment with ship', async () => {
    const { model, starter, executions } = await freshModel();
    const experiment = await store.create(definition(model));
    await writeCounters(experiment.id, SHIP);
    const ports = { experiments: store, deployments: starter };

    const [first] = await checkExperiments(ports, [model]);
    expect(first).toMatchObject({ verdict: 'ship', action: 'promoted', decision: 'ship' });
    // The check again (a retried invocation, the next schedule): nothing more is started.
    expect(await checkExperiments(ports, [model])).toEqual([]);
    const started = await executions();
    expect(started).toHaveLength(1);
    expect(started[0]?.name).toBe(experimentDeploymentName(experiment.id));
    expect(started[0]?.input).toMatchObject({
      modelVersion: 2,
      experimentId: experiment.id,
      requestedBy: `experiment ${experiment.id}`,
    });
    expect(await store.get(experiment.id)).toMatchObject({
      status: 'stopped',
      decision: 'ship',
      stoppedBy: `experiment ${experiment.id}`,
    });
  });

  it('ship while another deployment of the model runs: kept running and nothing started; promoted once it has ended', async () => {
    const { model, starter, executions } = await freshModel();
    const experiment = await store.create(definition(model));
    await writeCounters(experiment.id, SHIP);
    const deployments = new DeploymentStore({ documents: clients.documents(), tableName: TABLE });
    await deployments.begin({
      deploymentId: 'hotfix-1',
      model,
      modelVersion: 1,
      requestedBy: 'alice',
      hotfix: true,
      requireApproval: false,
    });
    const ports = {
      experiments: store,
      deployments: starter,
      runningDeployment: async (m: string) => {
        const current = await deployments.current(m);
        return current?.status === 'running' ? current.deploymentId : undefined;
      },
    };
    const [waiting] = await checkExperiments(ports, [model]);
    expect(waiting).toMatchObject({ verdict: 'ship', action: 'waiting-for-deployment' });
    expect(waiting?.reason).toContain('deployment hotfix-1');
    expect(await executions()).toHaveLength(0);
    expect((await store.get(experiment.id)).status).toBe('running');

    await deployments.fail(model, 'hotfix-1', 'ended');
    const [promoted] = await checkExperiments(ports, [model]);
    expect(promoted).toMatchObject({ action: 'promoted', decision: 'ship' });
    expect(await executions()).toHaveLength(1);
  });

  it('a crash between the start and the stop: the next check finds the execution started and stops once', async () => {
    const { model, starter, executions } = await freshModel();
    const experiment = await store.create(definition(model));
    await writeCounters(experiment.id, SHIP);
    let crash = true;
    const crashing: DeploymentStarter = {
      async start(m, name, request) {
        const result = await starter.start(m, name, request);
        if (crash) {
          crash = false;
          throw new Error('injected: crashed after StartExecution');
        }
        return result;
      },
    };
    const ports = { experiments: store, deployments: crashing };
    await expect(checkExperiments(ports, [model])).rejects.toThrow('injected');
    expect((await store.get(experiment.id)).status).toBe('running');
    // The verdict's reason (its p-value) changed meanwhile: the input differs, the name does not.
    await writeCounters(experiment.id, { control: 600, treatment: 910 });
    const [second] = await checkExperiments(ports, [model]);
    expect(second).toMatchObject({ action: 'promoted', deployment: { existed: true } });
    expect(await executions()).toHaveLength(1);
    expect((await store.get(experiment.id)).decision).toBe('ship');
  });

  it("don't ship + autoPromote: stops with dont-ship and starts nothing", async () => {
    const { model, starter, executions } = await freshModel();
    const experiment = await store.create(definition(model));
    await writeCounters(experiment.id, DONT_SHIP);
    const [result] = await checkExperiments({ experiments: store, deployments: starter }, [model]);
    expect(result).toMatchObject({ verdict: "don't ship", action: 'stopped', decision: 'dont-ship' });
    expect(await store.get(experiment.id)).toMatchObject({ status: 'stopped', decision: 'dont-ship' });
    expect(await executions()).toEqual([]);
  });

  it('autoPromote off: a ship verdict is only reported, nothing changes', async () => {
    const { model, starter, executions } = await freshModel();
    const experiment = await store.create(definition(model, { autoPromote: false }));
    await writeCounters(experiment.id, SHIP);
    const logged: string[] = [];
    const ports = { experiments: store, deployments: starter, log: (m: string) => logged.push(m) };
    const [result] = await checkExperiments(ports, [model]);
    expect(result).toMatchObject({ verdict: 'ship', action: 'reported', autoPromote: false });
    expect(logged).toEqual([`experiment ${experiment.id}: ship — reported`]);
    expect(await store.get(experiment.id)).toMatchObject({ status: 'running' });
    expect(await executions()).toEqual([]);
  });

  it('keeps a flat experiment running until its maximum duration, then stops it with dont-ship', async () => {
    const { model, starter, executions } = await freshModel();
    const experiment = await store.create(definition(model, { maxDurationDays: 7 }));
    await writeCounters(experiment.id, FLAT, 500); // below the required sample: "keep running"
    const at = (days: number) => () => new Date(Date.parse(experiment.createdAt) + days * 86_400_000);
    const [early] = await checkExperiments({ experiments: store, deployments: starter, now: at(1) }, [model]);
    expect(early).toMatchObject({ verdict: 'keep running', action: 'kept-running' });
    expect((await store.get(experiment.id)).status).toBe('running');
    const [late] = await checkExperiments({ experiments: store, deployments: starter, now: at(8) }, [model]);
    expect(late).toMatchObject({ verdict: 'keep running', action: 'stopped', decision: 'dont-ship' });
    expect(late?.reason).toContain('maximum duration');
    expect(await executions()).toEqual([]);
  });
});
