/**
 * local/moto_server.py replaces moto's TransactWriteItems rollback (a deep copy of every named table,
 * per operation) with an undo log of the touched items, and parses each condition expression once.
 * These tests hold the replacement to DynamoDB's semantics and to moto's own behaviour: every
 * scenario runs on a moto with the replacement and on a moto without it (`motoTransactions`), and
 * the two must answer and end up alike. The first test shows what the replacement is for: no table
 * is copied, and a condition is parsed once, however many operations use it.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  PutCommand,
  ScanCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientSettings, createDocumentClient, createDynamoDbClient } from '../../lambdas/shared/clients.js';
import { type Emulator, findMotoPython, startEmulator } from '../../local/emulator.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

interface Side {
  readonly emulator: Emulator;
  readonly raw: DynamoDBClient;
  readonly documents: DynamoDBDocumentClient;
}
let ours: Side;
let motos: Side;
let tableCounter = 0;

async function side(motoTransactions: boolean): Promise<Side> {
  const emulator = await startEmulator({ env: {}, motoTransactions });
  const settings = { ...clientSettings(), endpoint: emulator.endpoint };
  return { emulator, raw: createDynamoDbClient(settings), documents: createDocumentClient(settings) };
}

beforeAll(async () => {
  [ours, motos] = await Promise.all([side(false), side(true)]);
});
afterAll(async () => {
  await Promise.all([ours?.emulator.stop(), motos?.emulator.stop()]);
});

type Items = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** Same table on both sides: `pk` (and `sk` when `range`), optionally with a stream. */
async function tables(options: { range?: boolean; stream?: boolean } = {}): Promise<string> {
  const name = `tx-${++tableCounter}`;
  for (const { raw } of [ours, motos]) {
    await raw.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          ...(options.range ? [{ AttributeName: 'sk', AttributeType: 'S' as const }] : []),
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          ...(options.range ? [{ AttributeName: 'sk', KeyType: 'RANGE' as const }] : []),
        ],
        ...(options.stream
          ? { StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } }
          : {}),
      }),
    );
  }
  return name;
}

/** What a caller can observe: the error (name, reasons) or success, then every item of the table. */
async function outcome({ documents }: Side, table: string, items: Items) {
  let error: { name: string; reasons?: unknown } | undefined;
  try {
    await documents.send(new TransactWriteCommand({ TransactItems: items }));
  } catch (caught) {
    const e = caught as { name: string; CancellationReasons?: unknown };
    error = { name: e.name, ...(e.CancellationReasons ? { reasons: e.CancellationReasons } : {}) };
  }
  const { Items = [] } = await documents.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  const key = (item: Record<string, unknown>) => `${item.pk}|${item.sk ?? ''}`;
  return { error, items: Items.sort((a, b) => key(a).localeCompare(key(b))) };
}

/** Seeds both sides with `seed`, runs `items` on both, expects them to agree, returns ours. */
async function onBoth(table: string, seed: Record<string, unknown>[], items: Items) {
  for (const { documents } of [ours, motos])
    for (const item of seed) await documents.send(new PutCommand({ TableName: table, Item: item }));
  const [mine, theirs] = [await outcome(ours, table, items), await outcome(motos, table, items)];
  expect(mine).toEqual(theirs);
  return mine;
}

const newer = (table: string, pk: string, t: number, extra: Record<string, unknown> = {}) => ({
  Put: {
    TableName: table,
    Item: { pk, t, ...extra },
    ConditionExpression: 'attribute_not_exists(pk) OR t < :t',
    ExpressionAttributeValues: { ':t': t },
  },
});

/**
 * A DynamoDB Streams call over HTTP (the project has no Streams client; the emulator routes by the
 * target and the credential scope's service, `dynamodb`, and does not check signatures).
 */
// biome-ignore lint/suspicious/noExplicitAny: the response is read field by field by the one test
async function streamsCall(emulator: Emulator, action: string, body: object): Promise<any> {
  const response = await fetch(emulator.endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.0',
      'X-Amz-Target': `DynamoDBStreams_20120810.${action}`,
      Authorization:
        'AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${action}: ${response.status} ${await response.text()}`);
  return response.json();
}

/** Runs Python with moto and the launcher importable; resolves with its stdout as JSON. */
async function python(code: string): Promise<unknown> {
  const interpreter = await findMotoPython();
  return new Promise((resolve, reject) => {
    const child = spawn(interpreter, ['-c', code], {
      cwd: ROOT,
      env: { ...process.env, PYTHONPATH: path.join(ROOT, 'local') },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(err))));
  });
}

// One transaction of 100 conditional Puts into a table that holds 1,000 items, in-process: counts the
// tables moto deep-copies and the condition expressions it lexes.
const COUNT_COPIES = `
import copy, json
import moto_server
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.comparisons import ConditionExpressionParser
patched = ${'{PATCHED}'}
if patched:
    moto_server.use_undo_log_transactions()
    moto_server.use_parsed_condition_cache()
import moto.dynamodb.models as models
counts = {"tables": 0, "lexed": 0}
deepcopy = copy.deepcopy
def counting(value, *args):
    if isinstance(value, Table):
        counts["tables"] += 1
    return deepcopy(value, *args)
models.copy.deepcopy = counting
lex = ConditionExpressionParser._lex_condition_expression
def counting_lex(self):
    counts["lexed"] += 1
    return lex(self)
ConditionExpressionParser._lex_condition_expression = counting_lex
backend = dynamodb_backends["000000000000"]["us-east-1"]
backend.create_table("t", schema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    attr=[{"AttributeName": "pk", "AttributeType": "S"}], throughput=None, billing_mode="PAY_PER_REQUEST",
    indexes=None, global_indexes=None, streams=None, sse_specification=None, tags=None,
    deletion_protection_enabled=False, warm_throughput=None)
for i in range(1000):
    backend.put_item("t", {"pk": {"S": f"old{i}"}})
backend.transact_write_items([{"Put": {"TableName": "t", "Item": {"pk": {"S": f"new{i}"}, "t": {"N": str(i)}},
    "ConditionExpression": "attribute_not_exists(pk) OR t < :t", "ExpressionAttributeValues": {":t": {"N": str(i)}}}}
    for i in range(100)])
print(json.dumps({**counts, "items": len(backend.get_table("t"))}))
`;

describe('TransactWriteItems on the emulator', () => {
  it('copies no table and parses a repeated condition once (moto copies the table per operation)', async () => {
    const run = (patched: boolean) => python(COUNT_COPIES.replace('{PATCHED}', patched ? 'True' : 'False'));
    const [mine, theirs] = await Promise.all([run(true), run(false)]);
    expect(mine).toEqual({ tables: 0, lexed: 1, items: 1100 });
    expect(theirs).toMatchObject({ tables: 100, items: 1100 });
  });

  it('writes every operation of a transaction whose conditions hold', async () => {
    const table = await tables();
    const result = await onBoth(table, [{ pk: 'a', t: 1 }], [newer(table, 'a', 2), newer(table, 'b', 1)]);
    expect(result).toEqual({
      error: undefined,
      items: [
        { pk: 'a', t: 2 },
        { pk: 'b', t: 1 },
      ],
    });
  });

  it('cancels the whole transaction when one condition fails, with a reason per operation', async () => {
    const table = await tables();
    const result = await onBoth(
      table,
      [
        { pk: 'a', t: 1 },
        { pk: 'stale', t: 9 },
      ],
      [newer(table, 'a', 2), newer(table, 'stale', 5), newer(table, 'new', 1)],
    );
    expect(result.error?.name).toBe('TransactionCanceledException');
    expect(result.error?.reasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
      { Code: 'None' },
    ]);
    // The put before the failure and the one after it are both undone.
    expect(result.items).toEqual([
      { pk: 'a', t: 1 },
      { pk: 'stale', t: 9 },
    ]);
  });

  it('undoes Updates (changed in place), Deletes and Puts of a cancelled transaction', async () => {
    const table = await tables();
    const result = await onBoth(
      table,
      [
        { pk: 'counter', n: 1, tags: ['x'] },
        { pk: 'doomed', t: 1 },
        { pk: 'kept', t: 1 },
      ],
      [
        {
          Update: {
            TableName: table,
            Key: { pk: 'counter' },
            UpdateExpression: 'SET n = n + :one, extra = :one REMOVE tags',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
        { Delete: { TableName: table, Key: { pk: 'doomed' } } },
        {
          Update: {
            TableName: table,
            Key: { pk: 'created' },
            UpdateExpression: 'SET n = :one',
            ExpressionAttributeValues: { ':one': 1 },
          },
        },
        {
          ConditionCheck: {
            TableName: table,
            Key: { pk: 'kept' },
            ConditionExpression: 't > :t',
            ExpressionAttributeValues: { ':t': 1 },
          },
        },
      ],
    );
    expect(result.error?.name).toBe('TransactionCanceledException');
    expect(result.items).toEqual([
      { pk: 'counter', n: 1, tags: ['x'] },
      { pk: 'doomed', t: 1 },
      { pk: 'kept', t: 1 },
    ]);
  });

  it('undoes a cancelled transaction on a table with a sort key', async () => {
    const table = await tables({ range: true });
    const put = (sk: string, condition?: string) => ({
      Put: {
        TableName: table,
        Item: { pk: 'p', sk, v: 2 },
        ...(condition ? { ConditionExpression: condition } : {}),
      },
    });
    const result = await onBoth(
      table,
      [{ pk: 'p', sk: '1', v: 1 }],
      [put('1'), put('2'), put('3', 'attribute_exists(pk)')],
    );
    expect(result.items).toEqual([{ pk: 'p', sk: '1', v: 1 }]);
  });

  it('returns the current item of a failed condition when asked (ALL_OLD)', async () => {
    const table = await tables();
    const result = await onBoth(
      table,
      [{ pk: 'a', t: 7 }],
      [{ Put: { ...newer(table, 'a', 3).Put, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } }],
    );
    expect(result.error?.reasons).toEqual([
      // The document client leaves reasons' items in the wire format.
      {
        Code: 'ConditionalCheckFailed',
        Message: 'The conditional request failed',
        Item: { pk: { S: 'a' }, t: { N: '7' } },
      },
    ]);
  });

  it('refuses two operations on one item whole, writing nothing', async () => {
    const table = await tables();
    const result = await onBoth(
      table,
      [],
      [newer(table, 'x', 1), newer(table, 'y', 1), newer(table, 'x', 2)],
    );
    expect(result.error?.name).toBe('ValidationException');
    expect(result.items).toEqual([]);
  });

  it('reads each operation its own values through a shared condition, and its own names', async () => {
    const table = await tables();
    const byName = (pk: string, attribute: string) => ({
      Put: {
        TableName: table,
        Item: { pk, a: 5, b: 1 },
        ConditionExpression: 'attribute_not_exists(pk) OR #x < :v',
        ExpressionAttributeNames: { '#x': attribute },
        ExpressionAttributeValues: { ':v': 3 },
      },
    });
    const seed = [
      { pk: 'n1', a: 1, b: 9 },
      { pk: 'n2', a: 9, b: 1 },
    ];
    // Same text, other names: n1 compares a (1 < 3 holds), n2 compares b (1 < 3 holds).
    expect((await onBoth(table, seed, [byName('n1', 'a'), byName('n2', 'b')])).error).toBeUndefined();
    // Both now hold a = 5, b = 1: comparing b holds, comparing a fails.
    const mixed = await onBoth(table, [], [byName('n1', 'b'), byName('n2', 'a')]);
    expect(mixed.error?.reasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    ]);
    // Values: the same condition text holds for t = 10 and fails for t = 1 within one transaction.
    const values = await onBoth(
      table,
      [
        { pk: 'v', t: 5 },
        { pk: 'w', t: 5 },
      ],
      [newer(table, 'v', 10), newer(table, 'w', 1)],
    );
    expect(values.error?.reasons).toEqual([
      { Code: 'None' },
      { Code: 'ConditionalCheckFailed', Message: 'The conditional request failed' },
    ]);
  });

  it('refuses a condition whose value is missing, as moto does, writing nothing', async () => {
    const table = await tables();
    const put = (pk: string, values: Record<string, unknown>) => ({
      Put: {
        TableName: table,
        Item: { pk, t: 1 },
        ConditionExpression: 'attribute_not_exists(pk) OR t < :t',
        ExpressionAttributeValues: values,
      },
    });
    // The first use keeps the parsed condition; the second finds it kept, without its value.
    expect((await onBoth(table, [], [put('m', { ':t': 1 })])).error).toBeUndefined();
    const result = await onBoth(table, [], [put('other', { ':other': 1 })]);
    // moto fails such a request with HTTP 500 (DynamoDB: ValidationException); ours fails it alike.
    expect(result.error).toBeDefined();
    expect(result.items).toEqual([{ pk: 'm', t: 1 }]);
  });

  it('leaves no stream record for a cancelled transaction', async () => {
    const table = await tables({ stream: true });
    await onBoth(
      table,
      [{ pk: 'a', t: 1 }],
      [newer(table, 'a', 2), newer(table, 'b', 1), newer(table, 'a0', 0)],
    );
    await onBoth(table, [], [newer(table, 'a', 3), newer(table, 'b', 0)]);
    const records = async ({ emulator, raw }: Side) => {
      const { Table } = await raw.send(new DescribeTableCommand({ TableName: table }));
      const StreamArn = Table?.LatestStreamArn;
      const { StreamDescription } = await streamsCall(emulator, 'DescribeStream', { StreamArn });
      const ShardId = StreamDescription.Shards[0].ShardId;
      const { ShardIterator } = await streamsCall(emulator, 'GetShardIterator', {
        StreamArn,
        ShardId,
        ShardIteratorType: 'TRIM_HORIZON',
      });
      const { Records } = await streamsCall(emulator, 'GetRecords', { ShardIterator });
      return (Records as { eventName: string; dynamodb: { Keys: { pk: { S: string } } } }[]).map((r) => [
        r.eventName,
        r.dynamodb.Keys.pk.S,
      ]);
    };
    const mine = await records(ours);
    expect(mine).toEqual(await records(motos));
    // The seed, then the successful transaction's two puts; the cancelled one added nothing.
    expect(mine).toEqual([
      ['INSERT', 'a'],
      ['MODIFY', 'a'],
      ['INSERT', 'b'],
      ['INSERT', 'a0'],
    ]);
  });
});
