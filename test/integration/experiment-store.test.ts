import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignVariant } from '../../lambdas/experiments/assignment.js';
import { ExperimentConfigError, ExperimentConflictError } from '../../lambdas/experiments/errors.js';
import { type CreateExperimentInput, ExperimentStore } from '../../lambdas/experiments/experiment-store.js';
import { requiredSampleSize } from '../../lambdas/experiments/statistics.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lambdas/shared/errors.js';
import {
  experimentOutcomeSk,
  experimentPk,
  experimentSlotSk,
  modelPk,
  versionSk,
} from '../../lambdas/shared/layout.js';
import { createRegistryTable } from '../support/tables.js';

const TABLE = `experiments-${Date.now()}`;
let store: ExperimentStore;
let models = 0;

beforeAll(async () => {
  await createRegistryTable(TABLE);
  store = new ExperimentStore({ documents: clients.documents(), tableName: TABLE, principal: 'alice' });
});

/** A model no other test touches, with versions 1 (Production), 2 (Staging), 3 (None), 4 (Archived). */
async function freshModel(): Promise<string> {
  const model = `churn-${++models}`;
  const stages = ['Production', 'Staging', 'None', 'Archived'];
  for (const [i, stage] of stages.entries())
    await clients.documents().send(
      new PutCommand({
        TableName: TABLE,
        Item: { pk: modelPk(model), sk: versionSk(i + 1), modelName: model, version: i + 1, stage },
      }),
    );
  return model;
}

const definition = (model: string, extra: Partial<CreateExperimentInput> = {}): CreateExperimentInput => ({
  model,
  control: 1,
  treatment: 2,
  allocation: 50,
  unitKey: 'userId',
  minimumDetectableEffect: 0.02,
  baselineRate: 0.1,
  maxDurationDays: 14,
  ...extra,
});

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to be rejected');
}

describe('ExperimentStore on the emulator', () => {
  it('stores a running experiment with its required sample size', async () => {
    const model = await freshModel();
    const created = await store.create(definition(model, { id: `${model}-e1` }));
    const expected = requiredSampleSize({
      alpha: 0.05,
      power: 0.8,
      baselineRate: 0.1,
      allocation: { control: 50, treatment: 50 },
      minimumDetectableEffect: { absolute: 0.02 },
    });
    expect(created).toMatchObject({
      id: `${model}-e1`,
      model,
      status: 'running',
      createdBy: 'alice',
      alpha: 0.05,
      power: 0.8,
      requiredSample: { control: expected.control, treatment: expected.treatment },
    });
    expect(created.requiredSample.control).toBeGreaterThan(3000);
    expect(await store.get(created.id)).toEqual(created);
    expect((await store.running(model)).map((e) => e.id)).toEqual([created.id]);
    expect(await store.counters(created.id)).toEqual([
      { variant: 'control', assignments: 0, outcomes: 0, positives: 0, values: 0, sum: 0, sumSq: 0 },
      { variant: 'treatment', assignments: 0, outcomes: 0, positives: 0, values: 0, sum: 0, sumSq: 0 },
    ]);
  });

  it.each([
    ['unknown control version', { control: 9 }, NotFoundError, 'control'],
    ['unknown treatment version', { treatment: 9 }, NotFoundError, 'treatment'],
    ['treatment not Staging/Production (None)', { treatment: 3 }, ExperimentConfigError, 'treatment'],
    ['control Archived', { control: 4 }, ExperimentConfigError, 'control'],
    ['control = treatment', { treatment: 1 }, ExperimentConfigError, 'treatment'],
    ['allocation 0', { allocation: 0 }, ExperimentConfigError, 'experiment.treatmentShare'],
    ['allocation 100', { allocation: 100 }, ExperimentConfigError, 'experiment.treatmentShare'],
    ['allocation -5', { allocation: -5 }, ExperimentConfigError, 'experiment.treatmentShare'],
    ['allocation a string', { allocation: '50' as unknown as number }, ValidationError, 'allocation'],
    ['alpha 1', { alpha: 1 }, ValidationError, 'alpha'],
    ['mde 0', { minimumDetectableEffect: 0 }, ValidationError, 'minimumDetectableEffect'],
    ['unit key with #', { unitKey: 'user#id' }, ValidationError, 'unitKey'],
    ['an unknown field', { colour: 'red' } as Partial<CreateExperimentInput>, ValidationError, 'colour'],
  ] as const)('refuses %s naming the field, writing nothing', async (_what, extra, type, field) => {
    const model = await freshModel();
    const error = await rejection(store.create(definition(model, extra)));
    expect(error).toBeInstanceOf(type);
    expect((error as { field?: string }).field).toBe(field);
    expect(await store.list(model)).toEqual([]);
  });

  it('refuses a model with no such versions (unknown model)', async () => {
    const error = await rejection(store.create(definition('no-such-model')));
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).field).toBe('control');
  });

  it('refuses an overlapping running experiment on the same unit key unless layers are distinct', async () => {
    const model = await freshModel();
    const first = await store.create(definition(model));
    // Same unit key, no layer: overlap.
    const overlap = await rejection(store.create(definition(model)));
    expect(overlap).toBeInstanceOf(ConflictError);
    expect(overlap).toMatchObject({ name: 'ExperimentConflictError', field: 'unitKey', current: [first.id] });
    // A layer does not help while a layer-less experiment holds the unit key.
    const layered = await rejection(store.create(definition(model, { layer: 'ranking' })));
    expect(layered).toMatchObject({ field: 'layer' });
    // Another unit key is independent.
    await expect(store.create(definition(model, { unitKey: 'sessionId' }))).resolves.toMatchObject({
      status: 'running',
    });
    await store.stop(first.id, { decision: 'dont-ship' });
    // Once stopped, two experiments in distinct layers may run; a third in a taken layer may not,
    // nor a layer-less one.
    const a = await store.create(definition(model, { layer: 'ranking' }));
    const b = await store.create(definition(model, { layer: 'pricing' }));
    expect(await rejection(store.create(definition(model, { layer: 'ranking' })))).toMatchObject({
      field: 'layer',
      current: [a.id],
    });
    expect(await rejection(store.create(definition(model)))).toMatchObject({ field: 'unitKey' });
    expect((await store.running(model)).map((e) => e.id).sort()).toEqual(
      [a.id, b.id, (await store.running(model)).find((e) => e.unitKey === 'sessionId')?.id].sort(),
    );
    // Stopping a layered one frees its layer only.
    await store.stop(a.id, { decision: 'ship' });
    await expect(store.create(definition(model, { layer: 'ranking' }))).resolves.toMatchObject({
      layer: 'ranking',
    });
    const slot = await clients
      .documents()
      .send(
        new GetCommand({ TableName: TABLE, Key: { pk: modelPk(model), sk: experimentSlotSk('userId') } }),
      );
    expect([...((slot.Item?.layers as Set<string> | undefined) ?? [])].sort()).toEqual([
      'pricing',
      'ranking',
    ]);
  });

  it('refuses concurrent overlapping creates: exactly one of 5 wins', async () => {
    const model = await freshModel();
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => store.create(definition(model))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ExperimentConflictError);
    expect(await store.running(model)).toHaveLength(1);
  });

  it('refuses a taken id', async () => {
    const model = await freshModel();
    await store.create(definition(model, { id: `${model}-x` }));
    await store.stop(`${model}-x`, { decision: 'ship' });
    expect(await rejection(store.create(definition(model, { id: `${model}-x` })))).toMatchObject({
      field: 'id',
    });
  });

  it('counts an outcome once under 20 concurrent retries of one idempotency key', async () => {
    const model = await freshModel();
    const experiment = await store.create(definition(model));
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        store.recordOutcome({
          experimentId: experiment.id,
          unitId: 'u-1',
          outcome: true,
          idempotencyKey: 'fb-1',
        }),
      ),
    );
    expect(results.filter((r) => r.counted)).toHaveLength(1);
    const variant = assignVariant({ id: experiment.id, treatmentShare: 50 }, 'u-1');
    expect(new Set(results.map((r) => r.variant))).toEqual(new Set([variant]));
    const counters = await store.counters(experiment.id);
    const total = counters.reduce((a, c) => a + c.outcomes, 0);
    expect(total).toBe(1);
    expect(counters.find((c) => c.variant === variant)).toMatchObject({ outcomes: 1, positives: 1 });
    // The same key with another outcome is a conflict, not a second count.
    expect(
      await rejection(
        store.recordOutcome({
          experimentId: experiment.id,
          unitId: 'u-1',
          outcome: false,
          idempotencyKey: 'fb-1',
        }),
      ),
    ).toMatchObject({ name: 'ExperimentConflictError', field: 'outcome' });
  });

  it('recomputes the variant from the unit: a unit always lands in the same variant', async () => {
    const model = await freshModel();
    const experiment = await store.create(definition(model, { allocation: 30 }));
    const units = Array.from({ length: 40 }, (_, i) => `user-${i}`);
    const expected = new Map(
      units.map((u) => [u, assignVariant({ id: experiment.id, treatmentShare: 30 }, u)]),
    );
    let key = 0;
    for (let round = 0; round < 2; round++)
      for (const unit of units) {
        const value = (key % 7) + 0.5;
        const result = await store.recordOutcome({
          experimentId: experiment.id,
          unitId: unit,
          outcome: value,
          idempotencyKey: `k-${key++}`,
        });
        expect(result).toEqual({ counted: true, variant: expected.get(unit) });
      }
    const counters = await store.counters(experiment.id);
    const treatmentUnits = units.filter((u) => expected.get(u) === 'treatment').length;
    expect(counters[1]).toMatchObject({
      variant: 'treatment',
      outcomes: 2 * treatmentUnits,
      values: 2 * treatmentUnits,
    });
    expect(counters[0]?.outcomes).toBe(2 * (units.length - treatmentUnits));
    expect(counters[0]?.outcomes).toBe(counters[0]?.positives); // every value > 0 converts
    let sum = 0;
    let sumSq = 0;
    for (let k = 0; k < key; k++) {
      const value = (k % 7) + 0.5;
      sum += value;
      sumSq += value * value;
    }
    expect((counters[0]?.sum ?? 0) + (counters[1]?.sum ?? 0)).toBeCloseTo(sum, 9);
    expect((counters[0]?.sumSq ?? 0) + (counters[1]?.sumSq ?? 0)).toBeCloseTo(sumSq, 9);
  });

  it('adds assignments per variant', async () => {
    const model = await freshModel();
    const experiment = await store.create(definition(model));
    await store.recordAssignments(experiment.id, { control: 5, treatment: 3 });
    await store.recordAssignments(experiment.id, { control: 1 });
    expect((await store.counters(experiment.id)).map((c) => c.assignments)).toEqual([6, 3]);
    expect(await rejection(store.recordAssignments(experiment.id, { champion: 1 } as never))).toMatchObject({
      field: 'variant',
    });
  });

  it('refuses outcomes for unknown and stopped experiments, naming the field', async () => {
    const missing = await rejection(
      store.recordOutcome({ experimentId: 'nope', unitId: 'u', outcome: true, idempotencyKey: 'k' }),
    );
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as NotFoundError).field).toBe('experimentId');
    const model = await freshModel();
    const experiment = await store.create(definition(model));
    const stopped = await store.stop(experiment.id, { decision: 'ship', by: 'bob' });
    expect(stopped).toMatchObject({ status: 'stopped', decision: 'ship', stoppedBy: 'bob' });
    expect(await store.get(experiment.id)).toMatchObject({ status: 'stopped', decision: 'ship' });
    expect(await store.list(model)).toMatchObject([{ id: experiment.id, status: 'stopped' }]);
    expect(await store.running(model)).toEqual([]);
    const error = await rejection(
      store.recordOutcome({ experimentId: experiment.id, unitId: 'u', outcome: true, idempotencyKey: 'k' }),
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ field: 'experimentId', current: 'stopped' });
    expect(
      await rejection(
        store.recordOutcome({ experimentId: experiment.id, unitId: '', outcome: true, idempotencyKey: 'k' }),
      ),
    ).toMatchObject({ field: 'unitId' });
    // Stopping again with the same decision is a no-op; with another, a conflict.
    await expect(store.stop(experiment.id, { decision: 'ship' })).resolves.toMatchObject({
      stoppedBy: 'bob',
    });
    expect(await rejection(store.stop(experiment.id, { decision: 'dont-ship' }))).toBeInstanceOf(
      ConflictError,
    );
    expect(await rejection(store.stop('nope', { decision: 'ship' }))).toBeInstanceOf(NotFoundError);
    const definitionItem = await clients
      .documents()
      .send(new GetCommand({ TableName: TABLE, Key: { pk: experimentPk(experiment.id), sk: 'DEFINITION' } }));
    expect(definitionItem.Item?.status).toBe('stopped');
  });

  it('refuses a unit of another variant than the one served, writing nothing', async () => {
    const model = await freshModel();
    const experiment = await store.create(definition(model));
    const units = Array.from({ length: 50 }, (_, i) => `u-${i}`);
    const variantOfUnit = (u: string) => assignVariant({ id: experiment.id, treatmentShare: 50 }, u);
    const unit = units.find((u) => variantOfUnit(u) === 'treatment') as string;
    const refused = await rejection(
      store.recordOutcome({
        experimentId: experiment.id,
        unitId: unit,
        outcome: true,
        idempotencyKey: 'served-control#0',
        servedVariant: 'control',
      }),
    );
    expect(refused).toBeInstanceOf(ConflictError);
    expect(refused).toMatchObject({ name: 'ExperimentConflictError', field: 'unitId' });
    expect((await store.counters(experiment.id)).reduce((a, c) => a + c.outcomes, 0)).toBe(0);
    // Its key was not taken: nothing was written.
    const outcomeItem = await clients.documents().send(
      new GetCommand({
        TableName: TABLE,
        Key: { pk: experimentPk(experiment.id), sk: experimentOutcomeSk('served-control#0') },
      }),
    );
    expect(outcomeItem.Item).toBeUndefined();
    // The unit of the served variant: counted, in that variant.
    await expect(
      store.recordOutcome({
        experimentId: experiment.id,
        unitId: unit,
        outcome: true,
        idempotencyKey: 'served-treatment#0',
        servedVariant: 'treatment',
      }),
    ).resolves.toEqual({ counted: true, variant: 'treatment' });
    expect(
      await rejection(
        store.recordOutcome({
          experimentId: experiment.id,
          unitId: unit,
          outcome: true,
          idempotencyKey: 'k',
          servedVariant: 'default' as never,
        }),
      ),
    ).toMatchObject({ field: 'servedVariant' });
  });

  it('a stop racing an outcome: the outcome is counted before or refused after, never half-written', async () => {
    const model = await freshModel();
    const experiment = await store.create(definition(model));
    const [outcome] = await Promise.allSettled([
      store.recordOutcome({ experimentId: experiment.id, unitId: 'u', outcome: true, idempotencyKey: 'k' }),
      store.stop(experiment.id, { decision: 'ship' }),
    ]);
    const total = (await store.counters(experiment.id)).reduce((a, c) => a + c.outcomes, 0);
    expect(total).toBe(outcome.status === 'fulfilled' ? 1 : 0);
  });
});
