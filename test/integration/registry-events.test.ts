/**
 * Registry events end to end on the emulator: the real stores write the registry table, the
 * emulator's DynamoDB stream is read by local/stream-poller.ts (the faithful local piece for
 * Lambda's stream event source) and delivered to the registry-events bundle from the template,
 * which publishes on the project's bus. Events are counted truly: an EventBridge rule on the
 * emulator's bus (matching this test's model) targets an SQS queue, and the test reads the queue.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEPLOYMENT_EVENTS, type DeploymentEvent } from '../../lambdas/deployment/contract.js';
import { DeploymentStore } from '../../lambdas/deployment/deployment-store.js';
import { ModelAliasStore } from '../../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../../lambdas/registry/artifact-store.js';
import { GateFailedError } from '../../lambdas/registry/gates.js';
import { ModelRegistryStore } from '../../lambdas/registry/registry-store.js';
import { ModelStageStore } from '../../lambdas/registry/stage-store.js';
import { ModelCardWriter } from '../../lambdas/registry-events/card-writer.js';
import { type PutEventsSender, publishRecords } from '../../lambdas/registry-events/publisher.js';
import { meaningOf, type RegistryStreamRecord } from '../../lambdas/registry-events/registry-events.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ConflictError, ValidationError } from '../../lambdas/shared/errors.js';
import {
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  MODEL_CARD_CONTENT_TYPE,
  modelCardKey,
} from '../../lambdas/shared/layout.js';
import { loadConfig } from '../../lib/config.js';
import { loadAssembly } from '../../local/assembly.js';
import { type LocalStack, startLocalStack } from '../../local/local-stack.js';
import { StreamPoller, streamMappings } from '../../local/stream-poller.js';
import { queueForEvents } from '../support/event-queue.js';

let local: LocalStack;
let tableName: string;
let bucket: string;
let busName: string;
let registry: ModelRegistryStore;
let stages: ModelStageStore;
let aliases: ModelAliasStore;

const gatedModel = `ev-gated-${randomUUID().slice(0, 8)}`;
const { models } = loadConfig({
  models: [{ name: gatedModel, gates: { metrics: [{ metric: 'auc', direction: 'max', threshold: 0.8 }] } }],
});

beforeAll(async () => {
  local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'events-' });
  tableName = local.resourceName('ModelRegistryTable');
  bucket = local.resourceName('ModelRegistryArtifacts');
  const bus = Object.entries(local.stack.template.Resources).find(
    ([, r]) => r.Type === 'AWS::Events::EventBus',
  );
  busName = local.provisioned.context.resources[bus?.[0] ?? '']?.ref as string;
  const documents = clients.documents();
  registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  stages = new ModelStageStore({ documents, tableName, principal: 'alice', models });
  aliases = new ModelAliasStore({ documents, tableName, principal: 'bob' });
});

afterAll(async () => {
  await local?.streams.stop();
});

/** A queue receiving every event of the bus about `modelName` (an EventBridge rule → SQS target). */
async function eventsQueue(modelName: string): Promise<string> {
  return queueForEvents(`events-${modelName}`, busName, {
    source: [EVENT_SOURCE],
    detail: { modelName: [modelName] },
  });
}

interface Received {
  readonly detailType: string;
  readonly detail: { eventId: string } & Record<string, unknown>;
}

/** Every message in the queue now (read and deleted). */
async function receiveAll(queueUrl: string): Promise<Received[]> {
  const sqs = clients.sqs();
  const out: Received[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return out;
    for (const m of Messages) {
      const body = JSON.parse(m.Body as string) as { 'detail-type': string; detail: Received['detail'] };
      out.push({ detailType: body['detail-type'], detail: body.detail });
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle as string })),
      }),
    );
  }
}

async function register(modelName: string, metrics: Record<string, number> = { auc: 0.9 }): Promise<number> {
  const artifact = await putModelArtifact(clients.s3(), bucket, modelName, randomBytes(32));
  const v = await registry.registerModelVersion({
    modelName,
    artifact: { key: artifact.key, sha256: artifact.sha256 },
    metrics,
    description: `model ${modelName}`,
  });
  return v.version;
}

const count = (events: Received[], type: string) => events.filter((e) => e.detailType === type).length;

describe('registry events from the table stream', () => {
  it('gives exactly one event per committed operation when many run at once, each id once', async () => {
    const model = `ev-${randomUUID().slice(0, 8)}`;
    const queue = await eventsQueue(model);
    local.streams.start(20); // delivered while the operations run, as Lambda would

    const registrations = await Promise.allSettled(Array.from({ length: 12 }, () => register(model)));
    expect(registrations.every((r) => r.status === 'fulfilled')).toBe(true);
    const moves = [
      // 6 transitions of distinct versions, all legal and uncontended
      ...[1, 2, 3, 4, 5, 6].map((v) =>
        stages.transition({
          modelName: model,
          version: v,
          expectedStage: 'None',
          toStage: 'Staging',
          reason: 'try',
        }),
      ),
      // 8 movers race for one alias from nothing: one wins, 7 get a ConflictError
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((v) =>
        aliases.set({ modelName: model, alias: 'champion', version: v, expectedVersion: null }),
      ),
      // 3 other aliases, uncontended
      ...['challenger', 'shadow', 'canary'].map((alias, i) =>
        aliases.set({ modelName: model, alias, version: 9 + i, expectedVersion: null }),
      ),
    ];
    const outcomes = await Promise.allSettled(moves);
    const committed = outcomes.filter((o) => o.status === 'fulfilled').length;
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.every((o) => (o as PromiseRejectedResult).reason instanceof ConflictError)).toBe(true);
    expect(committed).toBe(6 + 1 + 3);

    await local.streams.stop();
    await local.streams.drain();
    const received = await receiveAll(queue);
    expect(received).toHaveLength(12 + committed);
    expect(new Set(received.map((e) => e.detail.eventId)).size).toBe(received.length);
    expect(count(received, EVENT_DETAIL_TYPE.modelVersionRegistered)).toBe(12);
    expect(count(received, EVENT_DETAIL_TYPE.modelStageChanged)).toBe(6);
    expect(count(received, EVENT_DETAIL_TYPE.modelAliasChanged)).toBe(4);
    expect(local.streams.failures).toEqual([]);
  });

  it('gives none for refused operations: a stale alias CAS, an illegal transition, a failing gate', async () => {
    const queue = await eventsQueue(gatedModel);
    const v1 = await register(gatedModel, { auc: 0.5 });
    await stages.transition({
      modelName: gatedModel,
      version: v1,
      expectedStage: 'None',
      toStage: 'Staging',
      reason: 'r',
    });
    await aliases.set({ modelName: gatedModel, alias: 'champion', version: v1, expectedVersion: null });
    await local.streams.drain();
    expect(await receiveAll(queue)).toHaveLength(3);

    const refusals = await Promise.allSettled([
      aliases.set({ modelName: gatedModel, alias: 'champion', version: v1, expectedVersion: 7 }),
      stages.transition({
        modelName: gatedModel,
        version: v1,
        expectedStage: 'Staging',
        toStage: 'Staging',
        reason: 'r',
      }),
      stages.transition({
        modelName: gatedModel,
        version: v1,
        expectedStage: 'Staging',
        toStage: 'Production',
        reason: 'r',
      }),
    ]);
    expect(refusals.map((r) => (r as PromiseRejectedResult).reason?.constructor)).toEqual([
      ConflictError,
      ValidationError,
      GateFailedError,
    ]);
    await local.streams.drain();
    expect(await receiveAll(queue)).toEqual([]);
  });

  it('gives a promotion that archives the Production version two stage events, the archived one with its cause', async () => {
    const model = `ev-${randomUUID().slice(0, 8)}`;
    const queue = await eventsQueue(model);
    const [a, b] = [await register(model), await register(model)];
    for (const v of [a, b])
      await stages.transition({
        modelName: model,
        version: v,
        expectedStage: 'None',
        toStage: 'Staging',
        reason: 'r',
      });
    await stages.transition({
      modelName: model,
      version: a,
      expectedStage: 'Staging',
      toStage: 'Production',
      reason: 'r',
    });
    await local.streams.drain();
    await receiveAll(queue);

    await stages.transition({
      modelName: model,
      version: b,
      expectedStage: 'Staging',
      toStage: 'Production',
      reason: 'next',
    });
    await local.streams.drain();
    const received = await receiveAll(queue);
    expect(received.map((e) => [e.detail.version, e.detail.from, e.detail.to, e.detail.causedBy])).toEqual(
      expect.arrayContaining([
        [b, 'Staging', 'Production', undefined],
        [a, 'Production', 'Archived', { version: b }],
      ]),
    );
    expect(received).toHaveLength(2);
  });

  it('gives each deployment-history entry one canary event, and a retried step none', async () => {
    const model = `ev-canary-${randomUUID().slice(0, 8)}`;
    const queue = await eventsQueue(model);
    const deployments = new DeploymentStore({ documents: clients.documents(), tableName });
    local.streams.start(20);
    const entry = (type: DeploymentEvent['type'], extra: Partial<DeploymentEvent> = {}): DeploymentEvent => ({
      type,
      deploymentId: 'exec-1',
      model,
      modelVersion: 2,
      at: '2026-12-03T10:00:00.000Z',
      by: 'workflow',
      canaryVersion: '3',
      stableVersion: '2',
      ...extra,
    });
    const started = entry(DEPLOYMENT_EVENTS.started);
    const step = entry(DEPLOYMENT_EVENTS.stepPassed, { weight: 10 });
    const rolledBack = entry(DEPLOYMENT_EVENTS.rolledBack, { reason: 'rollback asked by bob: slow' });
    await deployments.begin({
      deploymentId: 'exec-1',
      model,
      modelVersion: 2,
      requestedBy: 'alice',
      hotfix: false,
      requireApproval: false,
    });
    await deployments.record(started);
    await deployments.update(model, 'exec-1', { canaryVersion: '3', stableVersion: '2', weight: 10 });
    await deployments.record(started); // a retried Start
    await deployments.record(step);
    await deployments.record(step); // a retried Analyze
    await deployments.requestRollback(model, { by: 'bob', reason: 'slow' });
    await deployments.record(rolledBack);

    await local.streams.stop();
    await local.streams.drain();
    const received = await receiveAll(queue);
    const byId = (a: Received, b: Received) => a.detail.eventId.localeCompare(b.detail.eventId);
    expect(received.sort(byId)).toEqual(
      [
        [started, 0],
        [step, 10_000_000],
        [rolledBack, 9_000_000_001],
      ]
        .map(([e, seq]) => ({
          detailType: (e as DeploymentEvent).type,
          detail: {
            eventId: `model/${model}/deployment/exec-1/${seq}`,
            modelName: model,
            ...(e as DeploymentEvent),
          },
        }))
        .sort(byId),
    );
    expect(local.streams.failures).toEqual([]);
  });

  it("rewrites the version's model card beside its artifact on every change, with its histories", async () => {
    const model = `ev-${randomUUID().slice(0, 8)}`;
    const v = await register(model);
    await local.streams.drain();
    const read = async () => {
      const object = await clients
        .s3()
        .send(new GetObjectCommand({ Bucket: bucket, Key: modelCardKey(model, v) }));
      return { type: object.ContentType, text: await object.Body?.transformToString() };
    };
    const first = await read();
    expect(first.type).toBe(MODEL_CARD_CONTENT_TYPE);
    expect(first.text).toContain(`# ${model} version ${v}`);
    expect(first.text).toContain('_No stage changes yet (registered in None)._');

    await stages.transition({
      modelName: model,
      version: v,
      expectedStage: 'None',
      toStage: 'Staging',
      reason: 'looks good',
    });
    await aliases.set({
      modelName: model,
      alias: 'challenger',
      version: v,
      expectedVersion: null,
      reason: 'shadow it',
    });
    await local.streams.drain();
    const card = (await read()).text;
    expect(card).toContain('1. **None → Staging** at');
    expect(card).toContain('by `alice`: looks good');
    expect(card).toContain(`- \`challenger\` #1: nothing → version ${v} at`);
    expect(card).toContain('by `bob`: shadow it');
    expect(card).toContain('| Staging | challenger |');
  });
});

describe('PutEvents partial failures', () => {
  /**
   * The real client, except that the entry whose event id is `failing` is not sent and comes back
   * failed (as EventBridge reports a throttled entry) the first `times` calls that carry it.
   */
  function failingOnce(failing: () => string | undefined, times: number): PutEventsSender {
    let left = times;
    return {
      async send(command: PutEventsCommand) {
        const entries = command.input.Entries ?? [];
        const target = failing();
        const index = entries.findIndex(
          (e) => target !== undefined && (e.Detail ?? '').includes(`"eventId":"${target}"`),
        );
        if (index < 0 || left === 0) return clients.eventbridge().send(command);
        left--;
        const rest = entries.filter((_, i) => i !== index);
        const sent: PutEventsCommandOutput =
          rest.length > 0
            ? await clients.eventbridge().send(new PutEventsCommand({ Entries: rest }))
            : { $metadata: {}, Entries: [] };
        const results = [...(sent.Entries ?? [])];
        results.splice(index, 0, { ErrorCode: 'ThrottlingException', ErrorMessage: 'injected' });
        return { $metadata: {}, FailedEntryCount: (sent.FailedEntryCount ?? 0) + 1, Entries: results };
      },
    };
  }

  async function scenario(maxAttempts: number, times: number, sharedIds: boolean) {
    const model = `ev-${randomUUID().slice(0, 8)}`;
    const queue = await eventsQueue(model);
    const [mapping] = streamMappings(local.stack, local.provisioned);
    if (mapping === undefined) throw new Error('the template has no stream event source');
    // Its own poller from now on (LATEST), delivering to the consumer's code with a faulty client.
    const documents = clients.documents();
    const cards = new ModelCardWriter({
      registry,
      stages,
      aliases: new ModelAliasStore({ documents, tableName }),
      s3: clients.s3(),
      bucket,
    });
    const recent = new Set<string>();
    const failing = `model/${model}/version/3/registered`;
    const sender = failingOnce(() => failing, times);
    const deliveries: number[] = [];
    const poller = new StreamPoller({ ...mapping, startingPosition: 'LATEST' }, async (event) => {
      deliveries.push(event.Records.length);
      return publishRecords(event.Records as RegistryStreamRecord[], {
        eventBridge: sender,
        busName,
        writeCard: async (m, v) => {
          await cards.write(m, v);
        },
        recentIds: sharedIds ? recent : new Set(),
        maxAttempts,
      });
    });
    await poller.pollOnce(); // takes its LATEST position before the writes
    for (let i = 0; i < 6; i++) await register(model);
    await poller.drain();
    return { received: await receiveAll(queue), deliveries, failures: poller.failures };
  }

  it('publishes an entry that failed once on the retry in the same invocation, without duplicates', async () => {
    const { received, deliveries } = await scenario(4, 1, true);
    expect(received.map((e) => e.detail.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(deliveries).toHaveLength(1);
  });

  it('delivers again from the record whose entry kept failing, the records before it not re-sent', async () => {
    const { received, deliveries, failures } = await scenario(1, 2, true);
    expect(received.map((e) => e.detail.version).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    // Stream records per version: the head update and the version insert, so version 3 is record 5 of 12.
    expect(deliveries[0]).toBeGreaterThan(deliveries[1] ?? 0);
    expect(deliveries).toHaveLength(3);
    expect(failures).toEqual([]);
  });

  it('repeats, with the same event ids, entries published after the failed one when the batch comes back to a cold instance', async () => {
    const { received } = await scenario(1, 1, false);
    const ids = received.map((e) => e.detail.eventId);
    expect(new Set(ids).size).toBe(6);
    expect(ids.length).toBeGreaterThan(6); // the documented window: downstream dedupes on detail.eventId
  });
});

describe("local/stream-poller.ts: the local stand-in for Lambda's DynamoDB stream event source", () => {
  it("reads the template's mapping: the registry stream to the registry-events function, with its batch, bisect, item-failure and retry settings", () => {
    const mappings = streamMappings(local.stack, local.provisioned);
    expect(mappings).toHaveLength(1);
    expect(mappings[0]).toMatchObject({
      batchSize: 100,
      startingPosition: 'TRIM_HORIZON',
      bisectOnError: true,
      reportBatchItemFailures: true,
      maxRetries: 10,
    });
    expect(mappings[0]?.streamArn).toContain(`table/${tableName}/stream/`);
    expect(local.lambdas.find(mappings[0]?.functionName ?? '').logicalId).toMatch(
      /^ModelRegistryRegistryEvents/,
    );
    expect(local.streams.pollers.map((p) => p.mapping)).toEqual(mappings);
  });

  it('bisects batches around a record the function keeps failing on, gives that one up after the retries and delivers the rest', async () => {
    const [mapping] = streamMappings(local.stack, local.provisioned);
    if (mapping === undefined) throw new Error('the template has no stream event source');
    const model = `ev-${randomUUID().slice(0, 8)}`;
    const poison = `model/${model}/version/3`;
    const handled = new Set<string>();
    const seen = new Set<string>();
    const seq = (r: unknown) => (r as RegistryStreamRecord).dynamodb?.SequenceNumber as string;
    const poller = new StreamPoller(
      { ...mapping, startingPosition: 'LATEST', maxRetries: 10 },
      async (event) => {
        const isPoison = (r: unknown) => {
          const m = meaningOf(r as RegistryStreamRecord);
          return m.event?.detail.eventId.startsWith(poison) === true;
        };
        for (const r of event.Records) seen.add(seq(r));
        if (event.Records.some(isPoison)) throw new Error('boom');
        for (const r of event.Records) handled.add(seq(r));
        return { batchItemFailures: [] };
      },
    );
    await poller.pollOnce();
    // Each registration streams several records (head, catalog, index items, version): enough
    // retries for the bisection to narrow the batch down to the one poison record.
    for (let i = 0; i < 4; i++) await register(model);
    await poller.drain();
    expect(poller.failures).toHaveLength(1);
    expect(poller.failures[0]).toMatchObject({ batchSize: 1, error: 'Error: boom' });
    expect(seen.size).toBeGreaterThanOrEqual(8);
    expect(handled.size).toBe(seen.size - 1);
    expect(handled.has(poller.failures[0]?.startSequenceNumber ?? '')).toBe(false);
    expect(await poller.pollOnce()).toBe(0);
  });

  it('never writes an older card when an older record of the version is delivered again', async () => {
    const model = `ev-${randomUUID().slice(0, 8)}`;
    const [mapping] = streamMappings(local.stack, local.provisioned);
    if (mapping === undefined) throw new Error('the template has no stream event source');
    const seen: RegistryStreamRecord[] = [];
    const recorder = new StreamPoller({ ...mapping, startingPosition: 'LATEST' }, async (event) => {
      seen.push(...(event.Records as RegistryStreamRecord[]));
      return { batchItemFailures: [] };
    });
    await recorder.pollOnce();
    const v = await register(model);
    await stages.transition({
      modelName: model,
      version: v,
      expectedStage: 'None',
      toStage: 'Staging',
      reason: 'later',
    });
    await local.streams.drain();
    await recorder.drain();
    const registration = seen.filter(
      (r) => r.eventName === 'INSERT' && JSON.stringify(r.dynamodb?.Keys).includes('VERSION#'),
    );
    expect(registration).toHaveLength(1);

    await local.lambdas.invoke(mapping.functionName, { Records: registration });
    const object = await clients
      .s3()
      .send(new GetObjectCommand({ Bucket: bucket, Key: modelCardKey(model, v) }));
    const card = await object.Body?.transformToString();
    expect(card).toContain('1. **None → Staging** at');
    expect(card).toContain('| Staging |');
  });
});
