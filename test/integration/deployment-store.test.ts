import { DeleteCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DEPLOYMENT_EVENTS,
  type DeploymentEvent,
  DeploymentInProgressError,
} from '../../lambdas/deployment/contract.js';
import {
  type BeginDeploymentInput,
  DeploymentStore,
  deploymentEventSequence,
} from '../../lambdas/deployment/deployment-store.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lambdas/shared/errors.js';
import {
  DEPLOYMENT_HISTORY_SK_PREFIX,
  DEPLOYMENT_SK,
  deploymentHistorySk,
  modelPk,
} from '../../lambdas/shared/layout.js';
import { rejection } from '../support/errors.js';
import { createRegistryTable } from '../support/tables.js';

// The registry table's key schema (lib/model-registry.ts builds it from REGISTRY_ITEM too).
const TABLE = `deployments-${Date.now()}`;
let store: DeploymentStore;
let models = 0;

beforeAll(async () => {
  await createRegistryTable(TABLE);
  store = new DeploymentStore({ documents: clients.documents(), tableName: TABLE });
});

/** A model no other test touches. */
const freshModel = () => `churn-${++models}`;

const request = (model: string, deploymentId: string, extra: Partial<BeginDeploymentInput> = {}) => ({
  deploymentId,
  model,
  modelVersion: 3,
  requestedBy: 'alice',
  hotfix: false,
  requireApproval: false,
  ...extra,
});

const event = (
  model: string,
  deploymentId: string,
  type: DeploymentEvent['type'],
  extra: Partial<DeploymentEvent> = {},
): DeploymentEvent => ({
  type,
  deploymentId,
  model,
  modelVersion: 3,
  at: '2026-12-03T10:00:00.000Z',
  by: 'workflow',
  canaryVersion: '7',
  stableVersion: '6',
  ...extra,
});

async function historyItems(model: string): Promise<Record<string, unknown>[]> {
  const result = await clients.documents().send(
    new QueryCommand({
      TableName: TABLE,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
      ExpressionAttributeValues: { ':pk': modelPk(model), ':prefix': DEPLOYMENT_HISTORY_SK_PREFIX },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

describe('DeploymentStore on the emulator', () => {
  it('takes the lock once: a second deployment of the model is DeploymentInProgressError', async () => {
    const model = freshModel();
    const first = await store.begin(request(model, 'd-1'));
    expect(first).toMatchObject({ deploymentId: 'd-1', model, status: 'running', weight: 0 });
    const error = await rejection(store.begin(request(model, 'd-2')));
    expect(error).toBeInstanceOf(DeploymentInProgressError);
    expect(error).toMatchObject({ name: 'DeploymentInProgressError', model, runningDeploymentId: 'd-1' });
    expect(await store.current(model)).toMatchObject({ deploymentId: 'd-1', status: 'running' });
    // Another model is not locked by it.
    await expect(store.begin(request(freshModel(), 'd-2'))).resolves.toMatchObject({ status: 'running' });
  });

  it('a retried begin with the same id returns the running deployment and writes nothing', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    await store.update(model, 'd-1', { canaryVersion: '7', stableVersion: '6', weight: 10 });
    const again = await store.begin(request(model, 'd-1'));
    expect(again).toMatchObject({ deploymentId: 'd-1', status: 'running', weight: 10, canaryVersion: '7' });
  });

  it.each([
    ['promoted', DEPLOYMENT_EVENTS.promoted, {}],
    ['rolled back', DEPLOYMENT_EVENTS.rolledBack, { reason: 'p99 latency up 40%' }],
  ] as const)('lets a new deployment begin once the last one %s', async (_what, type, extra) => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    await store.record(event(model, 'd-1', type, extra));
    const ended = await store.current(model);
    expect(ended?.status).toBe(type === DEPLOYMENT_EVENTS.promoted ? 'promoted' : 'rolled-back');
    expect(ended?.weight).toBe(type === DEPLOYMENT_EVENTS.promoted ? 100 : 0);
    await expect(store.begin(request(model, 'd-2'))).resolves.toMatchObject({
      deploymentId: 'd-2',
      status: 'running',
    });
    // Reusing the ended deployment's id is refused (its history keys are taken).
    const reuse = await rejection(store.begin(request(model, 'd-1')));
    expect(reuse).toBeInstanceOf(ConflictError);
    expect(reuse).not.toBeInstanceOf(DeploymentInProgressError);
    expect((reuse as ConflictError).current).toBe('used');
  });

  it('refuses the id of an older deployment once a newer one ended too', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    await store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.started));
    await store.fail(model, 'd-1', 'stopped');
    await store.begin(request(model, 'd-2'));
    await store.fail(model, 'd-2', 'stopped');
    const reuse = await rejection(store.begin(request(model, 'd-1')));
    expect(reuse).toBeInstanceOf(ConflictError);
    expect(reuse.message).toMatch(/already used/);
    expect((await store.current(model))?.deploymentId).toBe('d-2');
  });

  it('fails a running deployment once (a retried fail is a no-op) and hides its bookkeeping', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1', { execution: 'arn:aws:states:eu-west-1:1:execution:m:d-1' }));
    await store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.started));
    const failed = await store.fail(model, 'd-1', 'could not pin the model version');
    expect(failed).toMatchObject({ status: 'failed', reason: 'could not pin the model version' });
    expect(await store.fail(model, 'd-1', 'again')).toMatchObject({
      reason: 'could not pin the model version',
    });
    const current = await store.current(model);
    expect(Object.keys(current ?? {}).sort()).toEqual(
      [
        'deploymentId',
        'model',
        'modelVersion',
        'status',
        'startedAt',
        'updatedAt',
        'requestedBy',
        'weight',
        'hotfix',
        'requireApproval',
        'execution',
        'reason',
      ].sort(),
    );
    await store.begin(request(model, 'd-2'));
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.promoted));
    expect(await rejection(store.fail(model, 'd-2', 'late'))).toBeInstanceOf(ConflictError);
  });

  it('refuses to reuse the id of an ended deployment', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    await store.fail(model, 'd-1', 'could not publish a version');
    const error = await rejection(store.begin(request(model, 'd-1')));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).not.toBeInstanceOf(DeploymentInProgressError);
    expect((error as ConflictError).current).toBe('failed');
    await expect(store.begin(request(model, 'd-2'))).resolves.toMatchObject({ status: 'running' });
  });

  it('records each entry once, however often a step is retried', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    const started = event(model, 'd-1', DEPLOYMENT_EVENTS.started);
    expect(await store.record(started)).toEqual({ sequence: 0, written: true });
    expect(await store.record(started)).toEqual({ sequence: 0, written: false });
    const step = event(model, 'd-1', DEPLOYMENT_EVENTS.stepPassed, { weight: 10 });
    await store.record(step);
    await store.record(step);
    const items = await historyItems(model);
    expect(items.map((i) => i.sk)).toEqual([
      deploymentHistorySk('d-1', 0),
      deploymentHistorySk('d-1', deploymentEventSequence(step)),
    ]);
    const head = await clients.documents().send(
      new QueryCommand({
        TableName: TABLE,
        KeyConditionExpression: 'pk = :pk AND sk = :sk',
        ExpressionAttributeValues: { ':pk': modelPk(model), ':sk': DEPLOYMENT_SK },
      }),
    );
    expect(head.Items?.[0]?.seq).toBe(2);
  });

  it('completes an entry whose head mark was written before a crash', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    const promoted = event(model, 'd-1', DEPLOYMENT_EVENTS.promoted);
    await store.record(promoted);
    // The entry is lost as if the process died between the head's update and the entry's put.
    await clients.documents().send(
      new DeleteCommand({
        TableName: TABLE,
        Key: { pk: modelPk(model), sk: deploymentHistorySk('d-1', deploymentEventSequence(promoted)) },
      }),
    );
    expect(await store.record(promoted)).toMatchObject({ written: true });
    expect(await store.history(model)).toHaveLength(1);
  });

  it('returns the history in order, the newest deployment by default', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    await store.record(
      event(model, 'd-1', DEPLOYMENT_EVENTS.rolledBack, { reason: 'error rate up 2 points' }),
    );
    await store.begin(request(model, 'd-2'));
    // Recorded out of order (a late retry): read back in the workflow's order.
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.stepPassed, { weight: 50 }));
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.started));
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.stepPassed, { weight: 12.5 }));
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.stepPassed, { weight: 9.75 }));
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.promoted, { hotfix: false }));
    const history = await store.history(model);
    expect(history.map((e) => [e.type, e.weight])).toEqual([
      ['CanaryStarted', undefined],
      ['CanaryStepPassed', 9.75],
      ['CanaryStepPassed', 12.5],
      ['CanaryStepPassed', 50],
      ['CanaryPromoted', undefined],
    ]);
    expect(history[0]).toEqual(event(model, 'd-2', DEPLOYMENT_EVENTS.started));
    const first = await store.history(model, 'd-1');
    expect(first.map((e) => [e.type, e.reason])).toEqual([['CanaryRolledBack', 'error rate up 2 points']]);
    expect(await store.history(freshModel())).toEqual([]);
  });

  it('refuses entries for a deployment that is not running or not the current one', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    await store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.promoted));
    const late = await rejection(
      store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.stepPassed, { weight: 50 })),
    );
    expect(late).toBeInstanceOf(ConflictError);
    expect(late.message).toMatch(/promoted, not running/);
    await store.begin(request(model, 'd-2'));
    const stale = await rejection(store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.started)));
    expect(stale).toBeInstanceOf(ConflictError);
    expect(stale.message).toMatch(/not the current deployment/);
    expect(
      await rejection(store.record(event(freshModel(), 'd-1', DEPLOYMENT_EVENTS.started))),
    ).toBeInstanceOf(NotFoundError);
  });

  it('updates versions and weight of the running deployment only', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    expect(await store.update(model, 'd-1', { weight: 50 })).toMatchObject({ weight: 50, status: 'running' });
    expect(await rejection(store.update(model, 'd-9', { weight: 10 }))).toBeInstanceOf(ConflictError);
    await store.fail(model, 'd-1', 'alias update failed');
    const ended = await rejection(store.update(model, 'd-1', { weight: 10 }));
    expect(ended).toBeInstanceOf(ConflictError);
    expect((ended as ConflictError).current).toBe('failed');
  });

  it('takes a rollback request only while running', async () => {
    const model = freshModel();
    expect(await rejection(store.requestRollback(model, { by: 'bob', reason: 'x' }))).toBeInstanceOf(
      NotFoundError,
    );
    await store.begin(request(model, 'd-1'));
    const asked = await store.requestRollback(model, { by: 'bob', reason: 'conversion is down' });
    expect(asked.rollbackRequested).toMatchObject({ by: 'bob', reason: 'conversion is down' });
    // A second request keeps the first.
    const again = await store.requestRollback(model, { by: 'carol', reason: 'me too' });
    expect(again.rollbackRequested).toMatchObject({ by: 'bob' });
    await store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.rolledBack, { reason: 'asked by bob' }));
    const error = await rejection(store.requestRollback(model, { by: 'bob', reason: 'again' }));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(/rolled-back/);
    expect((error as ConflictError).current).toBe('rolled-back');
  });

  it('takes an approval only for a running deployment that waits for one', async () => {
    const model = freshModel();
    await store.begin(request(model, 'd-1'));
    const error = await rejection(store.approve(model, { by: 'bob' }));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toMatch(/requireApproval/);
    await store.fail(model, 'd-1', 'stopped');
    await store.begin(request(model, 'd-2', { requireApproval: true }));
    expect(await store.approve(model, { by: 'bob' })).toMatchObject({ approvedBy: 'bob' });
    expect(await store.approve(model, { by: 'carol' })).toMatchObject({ approvedBy: 'bob' });
    await store.record(event(model, 'd-2', DEPLOYMENT_EVENTS.promoted));
    expect(await rejection(store.approve(model, { by: 'bob' }))).toBeInstanceOf(ConflictError);
  });

  it("records the store's principal as requestedBy when begin names no one", async () => {
    const model = freshModel();
    const cli = new DeploymentStore({
      documents: clients.documents(),
      tableName: TABLE,
      principal: 'arn:aws:iam::1:user/eve',
    });
    const { requestedBy: _, ...anonymous } = request(model, 'd-1');
    expect(await cli.begin(anonymous)).toMatchObject({ requestedBy: 'arn:aws:iam::1:user/eve' });
  });

  it('names the field of bad input', async () => {
    const model = freshModel();
    const cases: [Promise<unknown>, string][] = [
      [store.begin(request(model, 'has#hash')), 'deploymentId'],
      [store.begin(request('Bad Name!', 'd-1')), 'model'],
      [store.begin({ ...request(model, 'd-1'), modelVersion: 0 }), 'modelVersion'],
      [store.update(model, 'd-1', { weight: 101 }), 'patch.weight'],
      [store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.stepPassed)), 'weight'],
      [store.record(event(model, 'd-1', DEPLOYMENT_EVENTS.rolledBack)), 'reason'],
      [store.requestRollback(model, { by: 'bob', reason: '' }), 'reason'],
    ];
    for (const [promise, field] of cases) {
      const error = await rejection(promise);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).field).toBe(field);
    }
  });

  it('lets exactly one of 10 concurrent begins win', async () => {
    const model = freshModel();
    const ids = Array.from({ length: 10 }, (_, i) => `race-${i}`);
    const outcomes = await Promise.allSettled(ids.map((id) => store.begin(request(model, id))));
    const won = outcomes.filter((o) => o.status === 'fulfilled');
    const lost = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    const winner = (won[0] as PromiseFulfilledResult<{ deploymentId: string }>).value.deploymentId;
    for (const loss of lost) {
      expect(loss.reason).toBeInstanceOf(DeploymentInProgressError);
      expect((loss.reason as DeploymentInProgressError).runningDeploymentId).toBe(winner);
    }
    expect((await store.current(model))?.deploymentId).toBe(winner);
  });
});
