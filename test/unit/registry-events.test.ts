import { marshall } from '@aws-sdk/util-dynamodb';
import { describe, expect, it } from 'vitest';
import { DEPLOYMENT_EVENTS, type DeploymentEvent } from '../../lambdas/deployment/contract.js';
import { deploymentEventSequence } from '../../lambdas/deployment/deployment-store.js';
import { MODEL_STAGES } from '../../lambdas/registry/model-version.js';
import { entryOf } from '../../lambdas/registry-events/publisher.js';
import { meaningOf, type RegistryStreamRecord } from '../../lambdas/registry-events/registry-events.js';
import {
  aliasHistorySk,
  aliasSk,
  CATALOG_PK,
  catalogSk,
  DEPLOYMENT_SK,
  deploymentHistorySk,
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  MODEL_HEAD_SK,
  metricIndexSk,
  modelPk,
  stageHistorySk,
  stageIndexSk,
  tagIndexSk,
  tokenSk,
  versionSk,
} from '../../lambdas/shared/layout.js';

const pk = modelPk('churn');
const m = (item: Record<string, unknown> | undefined) =>
  item === undefined ? undefined : marshall(item, { removeUndefinedValues: true });

function record(
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE',
  sk: string,
  before?: Record<string, unknown>,
  after?: Record<string, unknown>,
  sequenceNumber = '100',
  partition = pk,
): RegistryStreamRecord {
  return {
    eventName,
    dynamodb: {
      Keys: m({ pk: partition, sk }),
      SequenceNumber: sequenceNumber,
      ...(before ? { OldImage: m({ pk: partition, sk, ...before }) } : {}),
      ...(after ? { NewImage: m({ pk: partition, sk, ...after }) } : {}),
    },
  } as RegistryStreamRecord;
}

const version3 = {
  modelName: 'churn',
  version: 3,
  stage: 'None',
  createdAt: '2026-12-01T10:00:00.000Z',
  createdBy: 'arn:aws:iam::1:role/trainer',
  artifact: { key: 'models/churn/sha256/ab/model.onnx', sha256: 'ab'.repeat(32), sizeBytes: 10, bucket: 'b' },
  lineage: { runId: 'run-7' },
  metrics: { auc: 0.9 },
};

describe('registry stream record → event', () => {
  it('maps a version INSERT to ModelVersionRegistered with a deterministic id', () => {
    const meaning = meaningOf(record('INSERT', versionSk(3), undefined, version3));
    expect(meaning.event).toEqual({
      detailType: EVENT_DETAIL_TYPE.modelVersionRegistered,
      detail: {
        eventId: 'model/churn/version/3/registered',
        modelName: 'churn',
        version: 3,
        stage: 'None',
        createdAt: version3.createdAt,
        createdBy: version3.createdBy,
        artifact: { key: version3.artifact.key, sha256: version3.artifact.sha256 },
        runId: 'run-7',
      },
    });
    expect(meaning.cardVersions).toEqual([3]);
  });

  it('gives the same id to the same change delivered twice, whatever its stream sequence number', () => {
    const a = meaningOf(record('INSERT', versionSk(3), undefined, version3, '1'));
    const b = meaningOf(record('INSERT', versionSk(3), undefined, version3, '999'));
    expect(a.event?.detail.eventId).toBe(b.event?.detail.eventId);
  });

  it('maps a version MODIFY whose stage changed to ModelStageChanged with who, why, gates and override', () => {
    const gates = [{ gate: 'metric:auc', value: 0.7, threshold: 0.8, comparison: '>=', passed: false }];
    const change = {
      modelName: 'churn',
      version: 3,
      sequence: 2,
      from: 'Staging',
      to: 'Production',
      at: '2026-12-02T09:00:00.000Z',
      by: 'alice',
      reason: 'weekly release',
      gates,
      gateOverride: { reason: 'known label noise' },
    };
    const meaning = meaningOf(
      record(
        'MODIFY',
        versionSk(3),
        { ...version3, stage: 'Staging', stageSeq: 1 },
        { ...version3, stage: 'Production', stageSeq: 2, lastStageChange: change },
      ),
    );
    expect(meaning.event).toEqual({
      detailType: EVENT_DETAIL_TYPE.modelStageChanged,
      detail: {
        eventId: 'model/churn/version/3/stage/2',
        modelName: 'churn',
        version: 3,
        sequence: 2,
        from: 'Staging',
        to: 'Production',
        at: change.at,
        by: 'alice',
        reason: 'weekly release',
        gates,
        gateOverride: { reason: 'known label noise' },
      },
    });
    expect(meaning.cardVersions).toEqual([3]);
  });

  it('carries causedBy when a promotion archived the version', () => {
    const meaning = meaningOf(
      record(
        'MODIFY',
        versionSk(2),
        { ...version3, version: 2, stage: 'Production', stageSeq: 2 },
        {
          ...version3,
          version: 2,
          stage: 'Archived',
          stageSeq: 3,
          lastStageChange: { sequence: 3, at: 't', by: 'alice', reason: 'r', causedBy: { version: 3 } },
        },
      ),
    );
    expect(meaning.event?.detail).toMatchObject({
      from: 'Production',
      to: 'Archived',
      causedBy: { version: 3 },
    });
  });

  it('emits nothing for a version MODIFY that only changed its alias set', () => {
    const meaning = meaningOf(
      record('MODIFY', versionSk(3), version3, { ...version3, aliases: new Set(['champion']) }),
    );
    expect(meaning).toEqual({ cardVersions: [] });
  });

  it('maps an alias INSERT to ModelAliasChanged from nothing, with who and why', () => {
    const meaning = meaningOf(
      record('INSERT', aliasSk('champion'), undefined, {
        alias: 'champion',
        seq: 1,
        version: 3,
        at: 't1',
        by: 'bob',
        reason: 'first',
      }),
    );
    expect(meaning.event).toEqual({
      detailType: EVENT_DETAIL_TYPE.modelAliasChanged,
      detail: {
        eventId: 'model/churn/alias/champion/1',
        modelName: 'churn',
        alias: 'champion',
        sequence: 1,
        from: null,
        to: 3,
        at: 't1',
        by: 'bob',
        reason: 'first',
      },
    });
    expect(meaning.cardVersions).toEqual([3]);
  });

  it('maps an alias MODIFY to a move from the old version to the new, rewriting both cards', () => {
    const meaning = meaningOf(
      record('MODIFY', aliasSk('champion'), { seq: 1, version: 3 }, { seq: 2, version: 4 }),
    );
    expect(meaning.event?.detail).toMatchObject({ eventId: 'model/churn/alias/champion/2', from: 3, to: 4 });
    expect(meaning.cardVersions).toEqual([3, 4]);
  });

  it('maps an alias deleted by the store (item kept without a version) to a move to nothing', () => {
    const meaning = meaningOf(record('MODIFY', aliasSk('champion'), { seq: 2, version: 4 }, { seq: 3 }));
    expect(meaning.event?.detail).toMatchObject({ sequence: 3, from: 4, to: null });
    expect(meaning.cardVersions).toEqual([4]);
  });

  it('maps an alias item REMOVE to a move to nothing', () => {
    const meaning = meaningOf(record('REMOVE', aliasSk('champion'), { seq: 2, version: 4 }, undefined));
    expect(meaning.event?.detail).toMatchObject({
      eventId: 'model/churn/alias/champion/2/removed',
      from: 4,
      to: null,
    });
  });

  // Every key the registry writes besides versions and aliases, from layout.ts (never spelled here):
  // if one of them ever maps to an event, this fails.
  it.each([
    ['the model head', pk, MODEL_HEAD_SK, { modelName: 'churn', latestVersion: 3 }],
    ['an idempotency token', pk, tokenSk('t-1'), { version: 3 }],
    ['a stage-history entry', pk, stageHistorySk(3, 1), { version: 3, from: 'None', to: 'Staging' }],
    [
      'the deployment item (state and lock)',
      pk,
      DEPLOYMENT_SK,
      { deploymentId: 'd-1', model: 'churn', status: 'running', type: DEPLOYMENT_EVENTS.started },
    ],
    ['an alias-history entry', pk, aliasHistorySk('champion', 1), { alias: 'champion', to: 3 }],
    ...MODEL_STAGES.map(
      (stage) => [`the ${stage} stage index item`, pk, stageIndexSk(stage, 3), {}] as const,
    ),
    ['a tag index item', pk, tagIndexSk('team', 'risk', 3), {}],
    ['a metric index item', pk, metricIndexSk('auc', 0.9, 3), {}],
    ['a negative-metric index item', pk, metricIndexSk('loss', -1.5, 3), {}],
    ['the catalog item', CATALOG_PK, catalogSk('churn'), { modelName: 'churn' }],
  ] as const)('emits nothing for %s', (_what, partition, sk, attributes) => {
    for (const eventName of ['INSERT', 'MODIFY', 'REMOVE'] as const) {
      const before = eventName === 'INSERT' ? undefined : attributes;
      const after = eventName === 'REMOVE' ? undefined : attributes;
      expect(meaningOf(record(eventName, sk, before, after, '100', partition))).toEqual({ cardVersions: [] });
      // Whatever the images hold, the key alone decides.
      expect(meaningOf(record(eventName, sk, { a: 1 }, { a: 2 }, '100', partition))).toEqual({
        cardVersions: [],
      });
    }
  });

  it('emits nothing for a version REMOVE (the registry never deletes versions)', () => {
    expect(meaningOf(record('REMOVE', versionSk(3), version3, undefined))).toEqual({ cardVersions: [] });
  });
});

describe('deployment-history entries → canary events', () => {
  const entry = (type: DeploymentEvent['type'], extra: Partial<DeploymentEvent> = {}): DeploymentEvent => ({
    type,
    deploymentId: 'exec-42',
    model: 'churn',
    modelVersion: 4,
    at: '2026-12-03T10:00:00.000Z',
    by: 'workflow',
    canaryVersion: '7',
    stableVersion: '6',
    ...extra,
  });
  const analysis = {
    verdict: 'pass',
    reason: 'all checks passed',
    checks: [{ name: 'errorRate', passed: true, canary: 0.1, stable: 0.1, limit: 0.6, detail: 'ok' }],
    from: '2026-12-03T09:55:00.000Z',
    to: '2026-12-03T10:00:00.000Z',
    attempt: 1,
  } as const;
  const inserted = (event: DeploymentEvent, sequenceNumber = '100') => {
    const sequence = deploymentEventSequence(event);
    return record(
      'INSERT',
      deploymentHistorySk(event.deploymentId, sequence),
      undefined,
      { ...event, seq: sequence },
      sequenceNumber,
    );
  };

  it.each([
    [DEPLOYMENT_EVENTS.started, {}, 0],
    [DEPLOYMENT_EVENTS.stepPassed, { weight: 10, analysis }, 10_000_000],
    [DEPLOYMENT_EVENTS.promoted, { hotfix: true, reason: 'CVE fix' }, 9_000_000_000],
    [DEPLOYMENT_EVENTS.rolledBack, { reason: 'p99 latency up 40%' }, 9_000_000_001],
  ] as const)(
    'maps the INSERT of a %s entry to that event, the entry as its detail',
    (type, extra, sequence) => {
      const event = entry(type, extra);
      const meaning = meaningOf(inserted(event));
      expect(meaning).toEqual({
        modelName: 'churn',
        cardVersions: [],
        event: {
          detailType: type,
          detail: { eventId: `model/churn/deployment/exec-42/${sequence}`, modelName: 'churn', ...event },
        },
      });
    },
  );

  it('gives the same id to the same entry delivered twice, whatever its stream sequence number', () => {
    const event = entry(DEPLOYMENT_EVENTS.stepPassed, { weight: 50 });
    const a = meaningOf(inserted(event, '1'));
    const b = meaningOf(inserted(event, '999'));
    expect(a.event?.detail.eventId).toBe('model/churn/deployment/exec-42/50000000');
    expect(a.event?.detail.eventId).toBe(b.event?.detail.eventId);
    // Another deployment's entry of the same kind has another id.
    const other = meaningOf(inserted({ ...event, deploymentId: 'exec-43' }));
    expect(other.event?.detail.eventId).not.toBe(a.event?.detail.eventId);
  });

  it('emits nothing for a MODIFY or REMOVE of an entry, or an entry of an unknown type', () => {
    const event = entry(DEPLOYMENT_EVENTS.promoted);
    const sk = deploymentHistorySk('exec-42', 9_000_000_000);
    expect(meaningOf(record('MODIFY', sk, { ...event }, { ...event, by: 'x' }))).toEqual({
      cardVersions: [],
    });
    expect(meaningOf(record('REMOVE', sk, { ...event }, undefined))).toEqual({ cardVersions: [] });
    expect(meaningOf(record('INSERT', sk, undefined, { ...event, type: 'CanaryPaused' }))).toEqual({
      cardVersions: [],
    });
  });

  it('publishes it with its type as detail-type and its time', () => {
    const event = entry(DEPLOYMENT_EVENTS.rolledBack, { reason: 'error rate up 2 points' });
    const published = meaningOf(inserted(event)).event;
    if (published === undefined) throw new Error('expected an event');
    const put = entryOf(published, 'bus');
    expect(put).toEqual({
      EventBusName: 'bus',
      Source: EVENT_SOURCE,
      DetailType: 'CanaryRolledBack',
      Detail: JSON.stringify(published.detail),
      Time: new Date(event.at),
    });
    expect(JSON.parse(put.Detail as string)).toEqual({
      ...event,
      eventId: published.detail.eventId,
      modelName: 'churn',
    });
  });
});
