/**
 * Online read path vs a raw BatchGetItem, on the emulator, same table, same 1000 keys:
 * ours = getOnlineFeatures (validation, chunking, projection, TTL and ages);
 * peer = the bare DocumentClient BatchGet calls over the same chunks of 100, in parallel.
 * Prints `online-read <stat>: ours …, peer …, ratio …` (ratio = ours / peer; target ≤ 1.2).
 */
import { BatchGetCommand } from '@aws-sdk/lib-dynamodb';
import { defineFeatureView } from '../lambdas/feature-store/feature-view.js';
import { OnlineStore, onlineKey } from '../lambdas/feature-store/online-store.js';
import { clients } from '../lambdas/shared/clients.js';
import { synthesize } from '../local/assembly.js';
import { startEmulator } from '../local/emulator.js';
import { startLocalStack } from '../local/local-stack.js';
import { testFeatureViews } from '../test/fixtures/feature-views.js';

const KEYS = Number(process.env.BENCH_KEYS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);

const emulator = await startEmulator();
process.env.AWS_ENDPOINT_URL = emulator.endpoint;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
try {
  const local = await startLocalStack(
    synthesize(undefined, { context: { mlops: { featureViews: testFeatureViews } } }),
    {
      prefix: 'bench-',
    },
  );
  const tableName = local.resourceName('FeatureStoreOnline');
  const view = defineFeatureView(testFeatureViews[0] as never);
  const now = Date.now();
  const online = new OnlineStore(clients.documents(), tableName, () => now);
  await online.writeLatest(
    view,
    Array.from({ length: KEYS }, (_, i) => ({
      entityKey: [`c${i}`],
      eventTimeMs: now - 1000,
      ingestedAtMs: now,
      features: { orders: i, spend: i / 2 },
    })),
  );
  const entityKeys = Array.from({ length: KEYS }, (_, i) => ({ customer_id: `c${i}` }));
  const pks = entityKeys.map((k) => onlineKey(view.name, [k.customer_id]));

  const ours = () => online.getOnlineFeatures(view, ['orders', 'spend'], entityKeys);
  const peer = async () => {
    const chunks: string[][] = [];
    for (let i = 0; i < pks.length; i += 100) chunks.push(pks.slice(i, i + 100));
    await Promise.all(
      chunks.map((chunk) =>
        clients
          .documents()
          .send(
            new BatchGetCommand({ RequestItems: { [tableName]: { Keys: chunk.map((pk) => ({ pk })) } } }),
          ),
      ),
    );
  };
  const time = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };
  for (let i = 0; i < 3; i++) {
    await ours();
    await peer();
  }
  const oursMs: number[] = [];
  const peerMs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate the order so neither side always runs on a warmer emulator.
    if (i % 2 === 0) {
      oursMs.push(await time(ours));
      peerMs.push(await time(peer));
    } else {
      peerMs.push(await time(peer));
      oursMs.push(await time(ours));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const o = median(oursMs);
  const p = median(peerMs);
  console.log(
    `online-read ${KEYS} keys median ms: ours ${o.toFixed(1)}, peer ${p.toFixed(1)}, ratio ${(o / p).toFixed(2)}`,
  );
  console.log(
    `online-read keys/s: ours ${((KEYS / o) * 1000).toFixed(0)}, peer ${((KEYS / p) * 1000).toFixed(0)}, ratio ${(p / o).toFixed(2)}`,
  );
} finally {
  await emulator.stop();
}
