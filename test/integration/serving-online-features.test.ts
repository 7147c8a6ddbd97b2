import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { materializeView } from '../../lambdas/feature-store/materialize.js';
import { OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { type PredictInstance, RequestError } from '../../lambdas/serving/contract.js';
import { featureRules, prepareInstances } from '../../lambdas/serving/instances.js';
import { onlineFeatureSource } from '../../lambdas/serving/online-features.js';
import type { OnlineFeatureSource } from '../../lambdas/serving/ports.js';
import { clients } from '../../lambdas/shared/clients.js';
import { DependencyError } from '../../lambdas/shared/errors.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { loadAssembly } from '../../local/assembly.js';
import { startLocalStack } from '../../local/local-stack.js';
import { servedModelBytes, servedViewMap, servedViews } from '../support/served-model.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.parse('2026-11-20T12:00:00Z');
const [customer, account] = servedViews as [FeatureView, FeatureView];
const signature = readModelContract(servedModelBytes()).signature;
let tableName: string;

/** The emulator's document client, counting BatchGetItem calls; `first` may rewrite the first answer. */
function countingDocuments(first?: (keys: number) => number) {
  const documents = clients.documents();
  const calls: number[] = [];
  const client = {
    send: async (command: object) => {
      if (!(command instanceof BatchGetCommand)) return documents.send(command as BatchGetCommand);
      const request = Object.values(command.input.RequestItems ?? {})[0];
      const keys = request?.Keys ?? [];
      calls.push(keys.length);
      const answered = calls.length === 1 && first !== undefined ? first(keys.length) : keys.length;
      if (answered === keys.length) return documents.send(command);
      // Answer part of the keys and hand the rest back unprocessed, as DynamoDB does under load.
      const part = await documents.send(
        new BatchGetCommand({
          RequestItems: { [tableName]: { ...request, Keys: keys.slice(0, answered) } },
        }),
      );
      return { ...part, UnprocessedKeys: { [tableName]: { ...request, Keys: keys.slice(answered) } } };
    },
  } as unknown as DynamoDBDocumentClient;
  return { client, calls };
}

const source = (
  documents: DynamoDBDocumentClient = clients.documents(),
  table = tableName,
): OnlineFeatureSource =>
  onlineFeatureSource({ documents, tableName: table, views: servedViewMap, signature });

beforeAll(async () => {
  const local = await startLocalStack(loadAssembly(inject('assemblyDir')), { prefix: 'serve-online-' });
  tableName = local.resourceName('FeatureStoreOnline');
  const store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  const online = new OnlineStore(clients.documents(), tableName);
  const ingest = (view: FeatureView, rows: Record<string, unknown>[]) =>
    ingestBatch(
      { view: view.name, batchId: `${view.name}-1`, format: 'jsonl' },
      new TextEncoder().encode(rows.map((r) => JSON.stringify(r)).join('\n')),
      { store, views: servedViewMap, now: () => new Date(T0 - 30 * MIN) },
    );
  await ingest(customer, [
    { customer_id: 'c1', event_time: T0 - 2 * HOUR, x1: 0.5, x2: -0.25, segment: 'b' },
    { customer_id: 'c2', event_time: T0 - 3 * HOUR, x1: 1, x2: null, segment: 'a' },
    ...Array.from({ length: 150 }, (_, i) => ({
      customer_id: `bulk-${i}`,
      event_time: T0 - HOUR,
      x1: i / 150,
      x2: 0,
      segment: 'c',
    })),
  ]);
  await ingest(account, [{ account_id: 7, event_time: T0 - 40 * MIN, balance: 12.5 }]);
  for (const view of servedViews) await materializeView(view, { store, online, now: () => T0 - 20 * MIN });
});

describe('online features for entity-key instances', () => {
  it('reads every view a key names in one BatchGetItem, with ages, merged per instance in order', async () => {
    const { client, calls } = countingDocuments();
    const rows = await source(client).read(
      [{ customer_id: 'c1', account_id: 7 }, { customer_id: 'c2' }, { account_id: 7 }],
      T0,
    );
    expect(calls).toEqual([3]); // account 7 asked twice, read once
    expect(rows).toEqual([
      {
        x1: { value: 0.5, ageMs: 2 * HOUR },
        x2: { value: -0.25, ageMs: 2 * HOUR },
        segment: { value: 'b', ageMs: 2 * HOUR },
        balance: { value: 12.5, ageMs: 40 * MIN },
      },
      {
        x1: { value: 1, ageMs: 3 * HOUR },
        x2: { value: null, ageMs: 3 * HOUR },
        segment: { value: 'a', ageMs: 3 * HOUR },
      },
      { balance: { value: 12.5, ageMs: 40 * MIN } },
    ]);
  });

  it('counts a value older than its view’s TTL as missing (value and age null)', async () => {
    // 30 minutes later the account value (TTL 1 h) is 70 minutes old; the customer's (TTL 1 day) is not.
    const [row] = await source().read([{ customer_id: 'c1', account_id: 7 }], T0 + 30 * MIN);
    expect(row).toEqual({
      x1: { value: 0.5, ageMs: 2.5 * HOUR },
      x2: { value: -0.25, ageMs: 2.5 * HOUR },
      segment: { value: 'b', ageMs: 2.5 * HOUR },
      balance: { value: null, ageMs: null },
    });
    // When every view's value has expired the entity is unknown.
    const error = await source()
      .read([{ customer_id: 'c2' }, { account_id: 7 }], T0 + 30 * MIN)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({
      code: 'UnknownEntity',
      status: 404,
      where: { instance: 1, field: 'entity' },
    });
  });

  it('answers UnknownEntity naming the instance for a key the store holds nothing for', async () => {
    const error = await source()
      .read([{ customer_id: 'c1' }, { customer_id: 'c1' }, { customer_id: 'nobody' }], T0)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'UnknownEntity', where: { instance: 2 } });
    expect((error as Error).message).toContain('nobody');
  });

  it.each([
    [{ merchant_id: 'm1' }, 'merchant_id', /not an entity of this model/],
    [{ customer_id: 'c1', merchant_id: 'm1' }, 'merchant_id', /not an entity/],
    [{ account_id: 'seven' }, 'account_id', /must be an integer/],
    [{ account_id: 7.5 }, 'account_id', /must be an integer/],
    [{ customer_id: '' }, 'customer_id', /non-empty string/],
    [{ customer_id: 17 }, 'customer_id', /non-empty string/],
    [{}, 'entity', /must name the entities of a feature view/],
  ])('refuses the malformed key %j with InvalidEntity naming %s', async (key, field, message) => {
    const { client, calls } = countingDocuments();
    const error = await source(client)
      .read([{ customer_id: 'c1' }, key as Record<string, string>], T0)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestError);
    expect(error).toMatchObject({ code: 'InvalidEntity', status: 400, where: { instance: 1, field } });
    expect((error as Error).message).toMatch(message);
    expect(
      (error as Error).message.startsWith(
        `instance 1: ${field === 'entity' ? 'entity' : `entity.${field}`}: `,
      ),
    ).toBe(true);
    expect(calls).toEqual([]); // refused before any read
  });

  it("names the request's instance index through prepareInstances (entity instances counted apart)", async () => {
    const rules = featureRules(signature, servedViewMap);
    const raw = { x1: 1, x2: 1, segment: 'a', balance: 1 };
    const refused = async (instances: PredictInstance[]): Promise<RequestError> => {
      try {
        await prepareInstances(instances, rules, source(), T0);
      } catch (error) {
        return error as RequestError;
      }
      throw new Error('not refused');
    };
    const unknown = await refused([
      { features: raw },
      { entity: { customer_id: 'c1' } },
      { entity: { customer_id: 'nobody' } },
    ]);
    expect(unknown).toMatchObject({ code: 'UnknownEntity', where: { instance: 2, field: 'entity' } });
    expect(unknown.message).toMatch(/^instance 2: entity: /);
    const invalid = await refused([
      { features: raw },
      { features: raw },
      { entity: { account_id: 'seven' } },
    ]);
    expect(invalid).toMatchObject({ code: 'InvalidEntity', where: { instance: 2, field: 'account_id' } });
    expect(invalid.message).toMatch(/^instance 2: entity\.account_id: must be an integer/);
  });

  it('chunks at 100 keys and retries the keys DynamoDB hands back unprocessed', async () => {
    const keys = Array.from({ length: 150 }, (_, i) => ({ customer_id: `bulk-${i}` }));
    const { client, calls } = countingDocuments((n) => n - 40);
    const rows = await source(client).read(keys, T0);
    expect(calls.toSorted((a, b) => a - b)).toEqual([40, 50, 100]);
    expect(rows.map((r) => r.x1?.value)).toEqual(keys.map((_, i) => i / 150));
  });

  it('fails with DependencyError when the store fails', async () => {
    const error = await source(clients.documents(), 'no-such-table')
      .read([{ customer_id: 'c1' }], T0)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyError);
  });
});
