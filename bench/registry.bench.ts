/**
 * The registry on the emulator, ours against the bare DynamoDB calls, same run:
 *
 * - get-by-alias: ours = ModelAliasReader.get (a warm reader, as a Lambda keeps it between calls:
 *   one strongly consistent GetItem of the version the alias pointed at, proven current by the
 *   version's alias set); peer = a raw strongly consistent GetItem of the version item. Also the
 *   cold path (a new reader per call: the alias item, then the version — two round trips).
 * - registrations per second, 50 concurrent writers: ours = registerModelVersion (validation,
 *   artifact checksum check, head read, one transaction with the version, head and search-index
 *   items, retries on lost races); peer = raw TransactWriteItems of the same items (captured from
 *   one of our registrations), conditions removed, no reads. Two layouts: each writer on its own
 *   model, and all 50 on one model (every registration contends for the same head item).
 *
 * Prints `name: ours …, peer …, ratio …` (ratio = ours / peer for times, peer / ours for rates).
 */
import { randomBytes } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { ModelAliasReader } from '../lambdas/registry/alias-reader.js';
import { ModelAliasStore } from '../lambdas/registry/alias-store.js';
import { putModelArtifact } from '../lambdas/registry/artifact-store.js';
import { ModelRegistryStore } from '../lambdas/registry/registry-store.js';
import { clients } from '../lambdas/shared/clients.js';
import { modelPk, versionSk } from '../lambdas/shared/layout.js';
import { synthesize } from '../local/assembly.js';
import { startEmulator } from '../local/emulator.js';
import { startLocalStack } from '../local/local-stack.js';
import { arg } from './support.js';

const READS = arg('reads', 300);
const WRITERS = arg('writers', 50);
const PER_WRITER = arg('per-writer', 6);

const emulator = await startEmulator();
process.env.AWS_ENDPOINT_URL = emulator.endpoint;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';

type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const time = async (fn: () => Promise<unknown>) => {
  const start = performance.now();
  await fn();
  return performance.now() - start;
};

try {
  const local = await startLocalStack(synthesize(), { prefix: 'bench-registry-' });
  const tableName = local.resourceName('ModelRegistryTable');
  const bucket = local.resourceName('ModelRegistryArtifacts');
  const documents = clients.documents();
  const registry = new ModelRegistryStore({ documents, s3: clients.s3(), tableName, artifactBucket: bucket });
  const bytes = randomBytes(4096);
  const artifacts = new Map<string, { key: string; sha256: string }>();
  /** Uploads each model's artifact (outside the timed part: trainers upload before registering). */
  const upload = (names: string[]) =>
    Promise.all(
      names.map(async (name) => {
        const { key, sha256 } = await putModelArtifact(clients.s3(), bucket, name, bytes);
        artifacts.set(name, { key, sha256 });
      }),
    );
  const request = (modelName: string) => ({
    modelName,
    artifact: artifacts.get(modelName),
    metrics: { auc: 0.91, logloss: 0.3, p95LatencyMs: 12 },
    params: { depth: 6, eta: 0.1 },
    tags: { team: 'risk', dataset: 'churn-2026-12' },
    lineage: { codeVersion: 'abc1234' },
    description: 'benchmark model',
  });

  // --- get-by-alias vs GetItem -------------------------------------------------------------
  await upload(['bench-read', 'bench-template']);
  await registry.registerModelVersion(request('bench-read'));
  await new ModelAliasStore({ documents, tableName }).set({
    modelName: 'bench-read',
    alias: 'champion',
    version: 1,
    expectedVersion: null,
  });
  const reader = new ModelAliasReader({ documents, tableName });
  const ours = () => reader.get('bench-read', 'champion');
  const cold = () => new ModelAliasReader({ documents, tableName }).get('bench-read', 'champion');
  const peer = () =>
    documents.send(
      new GetCommand({
        TableName: tableName,
        Key: { pk: modelPk('bench-read'), sk: versionSk(1) },
        ConsistentRead: true,
      }),
    );
  for (let i = 0; i < 20; i++) await Promise.all([ours(), peer(), cold()]);
  const oursMs: number[] = [];
  const coldMs: number[] = [];
  const peerMs: number[] = [];
  for (let i = 0; i < READS; i++) {
    // Rotate the order so no side always runs on a warmer emulator.
    const order = [
      () => time(ours).then((t) => oursMs.push(t)),
      () => time(peer).then((t) => peerMs.push(t)),
      () => time(cold).then((t) => coldMs.push(t)),
    ];
    for (let j = 0; j < order.length; j++) await (order[(i + j) % order.length] as () => Promise<unknown>)();
  }
  const o = median(oursMs);
  const c = median(coldMs);
  const p = median(peerMs);
  console.log(
    `registry get-by-alias median ms (${READS} reads): ours ${o.toFixed(2)}, peer ${p.toFixed(2)}, ratio ${(o / p).toFixed(2)}`,
  );
  console.log(
    `registry get-by-alias cold (alias then version) median ms: ours ${c.toFixed(2)}, peer ${p.toFixed(2)}, ratio ${(c / p).toFixed(2)}`,
  );

  // --- registrations per second under concurrent writers -----------------------------------
  // The items one registration writes, captured from a real one (model name rewritten per writer).
  let captured: unknown;
  const capturing = new Proxy(documents, {
    get(target, property, receiver) {
      if (property !== 'send') return Reflect.get(target, property, receiver);
      return (command: unknown, ...rest: unknown[]) => {
        if (command instanceof TransactWriteCommand) captured = command.input.TransactItems;
        return (target.send as (...a: unknown[]) => Promise<unknown>).call(target, command, ...rest);
      };
    },
  }) as DynamoDBDocumentClient;
  await new ModelRegistryStore({
    documents: capturing,
    s3: clients.s3(),
    tableName,
    artifactBucket: bucket,
  }).registerModelVersion(request('bench-template'));
  const template = JSON.stringify(captured);
  const peerItems = (modelName: string) => {
    const items = JSON.parse(template.replaceAll('bench-template', modelName)) as Record<
      string,
      Record<string, unknown>
    >[];
    const ops: TransactItems = items as TransactItems;
    for (const item of items)
      for (const op of Object.values(item)) {
        delete op.ConditionExpression;
        const values = op.ExpressionAttributeValues as Record<string, unknown> | undefined;
        if (values !== undefined) delete values[':latest'];
      }
    return ops;
  };

  const run = async (write: (writer: number, i: number) => Promise<unknown>) => {
    const start = performance.now();
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        for (let i = 0; i < PER_WRITER; i++) await write(w, i);
      }),
    );
    return ((WRITERS * PER_WRITER) / (performance.now() - start)) * 1000;
  };
  let round = 0;
  const writers = Array.from({ length: WRITERS }, (_, w) => w);
  const oursOwn = async () => {
    round++;
    await upload(writers.map((w) => `bench-own-${round}-${w}`));
    return run((w) => registry.registerModelVersion(request(`bench-own-${round}-${w}`)));
  };
  const oursShared = async () => {
    round++;
    await upload([`bench-shared-${round}`]);
    return run(() => registry.registerModelVersion(request(`bench-shared-${round}`)));
  };
  const peerRun = () => {
    round++;
    return run((w) =>
      documents.send(new TransactWriteCommand({ TransactItems: peerItems(`bench-peer-${round}-${w}`) })),
    );
  };
  await peerRun(); // warm-up
  const ownRates: number[] = [];
  const sharedRates: number[] = [];
  const peerRates: number[] = [];
  for (let i = 0; i < 3; i++) {
    peerRates.push(await peerRun());
    ownRates.push(await oursOwn());
    sharedRates.push(await oursShared());
  }
  const po = median(peerRates);
  const oo = median(ownRates);
  const so = median(sharedRates);
  console.log(
    `registry registrations/s, ${WRITERS} writers, one model each: ours ${oo.toFixed(0)}, peer ${po.toFixed(0)}, ratio ${(po / oo).toFixed(2)}`,
  );
  console.log(
    `registry registrations/s, ${WRITERS} writers, all on one model: ours ${so.toFixed(0)}, peer ${po.toFixed(0)}, ratio ${(po / so).toFixed(2)}`,
  );
} finally {
  await emulator.stop();
}
