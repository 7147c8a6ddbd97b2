/**
 * Training-set cost against the TTL: the same 200k feature rows (10 days, one committed batch per
 * day, on the emulator) and the same 20k labels, joined with a 7-day TTL, a 10-year TTL and no
 * expiry (`'never'`). Before training sets listed in one ranged listing, a 10-year TTL listed one
 * date prefix per day (3650+ listings; 10–14 s where 7 days took 0.2–2.4 s). No peer: prints the
 * time and the listings of each, and the ratio of the longest TTL's time to the 7-day one's.
 *
 * Sizes: BENCH_FEATURES / --features (200k), BENCH_LABELS / --labels (20k).
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { defineFeatureView, type FeatureView } from '../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../lambdas/feature-store/historical.js';
import { commitBatch } from '../lambdas/feature-store/ingest.js';
import { encodeFeatureRows } from '../lambdas/feature-store/parquet-codec.js';
import type { TypedRow } from '../lambdas/feature-store/row-validation.js';
import { clients } from '../lambdas/shared/clients.js';
import { type ObjectStore, S3ObjectStore } from '../lambdas/shared/object-store.js';
import { startEmulator } from '../local/emulator.js';
import { arg, mulberry32 } from './support.js';

const FEATURES = arg('features', 200_000);
const LABELS = arg('labels', 20_000);
const DAYS = 10;
const ENTITIES = 20_000;
const DAY = 86_400_000;
const T0 = Date.parse('2026-09-01T00:00:00Z');
const BUCKET = 'bench-ttl';

const base = defineFeatureView({
  name: 'customer',
  owner: 'bench',
  entities: [{ name: 'customer_id', type: 'string' }],
  ttlSeconds: 7 * 86_400,
  features: [
    { name: 'spend', type: 'float64', nullable: true },
    { name: 'orders', type: 'int64' },
  ],
});
const variants: [string, FeatureView][] = [
  ['7 days', base],
  ['10 years', { ...base, ttlSeconds: 10 * 365 * 86_400 }],
  ['never', { ...base, ttlSeconds: 'never' }],
];

const emulator = await startEmulator();
process.env.AWS_ENDPOINT_URL = emulator.endpoint;
process.env.AWS_REGION ??= 'us-east-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
try {
  await clients.s3().send(new CreateBucketCommand({ Bucket: BUCKET }));
  const store = new S3ObjectStore(clients.s3(), BUCKET);
  const random = mulberry32(11);
  const perDay = Math.floor(FEATURES / DAYS);
  for (let d = 0; d < DAYS; d++) {
    const rows: TypedRow[] = [];
    for (let j = 0; j < perDay; j++)
      rows.push({
        eventTimeMs: T0 + d * DAY + Math.floor(random() * DAY),
        values: {
          customer_id: `c${Math.floor(random() * ENTITIES)}`,
          spend: Math.round(random() * 10_000) / 100,
          orders: Math.floor(random() * 50),
        },
      });
    const date = new Date(T0 + d * DAY).toISOString().slice(0, 10);
    const prepared = {
      received: rows.length,
      accepted: rows.length,
      files: new Map([[date, encodeFeatureRows(base, rows, T0 + DAYS * DAY)]]),
      quarantine: [],
    };
    await commitBatch(base, `day-${date}`, prepared, T0 + DAYS * DAY, { store });
  }
  const entityRows = Array.from({ length: LABELS }, () => ({
    customer_id: `c${Math.floor(random() * ENTITIES)}`,
    event_time: T0 + Math.floor(random() * DAYS * DAY),
  }));

  const seconds: number[] = [];
  for (const [label, view] of variants) {
    let lists = 0;
    const counting: ObjectStore = {
      put: (key, body, options) => store.put(key, body, options),
      get: (key) => store.get(key),
      list: (prefix, options) => {
        lists++;
        return store.list(prefix, options);
      },
    };
    const start = performance.now();
    const manifest = await getHistoricalFeatures(
      { entityRows, featureRefs: ['customer:spend', 'customer:orders'], name: `ttl-${seconds.length}` },
      { store: counting, views: new Map([[view.name, view]]), now: () => new Date(T0 + DAYS * DAY) },
    );
    seconds.push((performance.now() - start) / 1000);
    console.log(
      `ttl training set, TTL ${label}: ${(seconds.at(-1) as number).toFixed(2)} s, ${lists} listing(s), ${manifest.inputs.length} files, ${FEATURES} feature rows, ${LABELS} labels`,
    );
  }
  const [week = 1, decade = 1, never = 1] = seconds;
  console.log(
    `ttl time ratio to 7 days: 10 years ${(decade / week).toFixed(2)}, never ${(never / week).toFixed(2)}`,
  );
} finally {
  await emulator.stop();
}
