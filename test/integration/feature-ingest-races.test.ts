/**
 * Ingestion under contention and crashes, against the emulator: one batch id, many bodies at once;
 * a batch that fails midway (a store wrapper injects the failure the emulator cannot produce) and
 * its rerun. What Athena reads is `features/<view>/` (the Glue tables' location).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  defineFeatureView,
  type FeatureView,
  type FeatureViewInput,
} from '../../lambdas/feature-store/feature-view.js';
import {
  type IngestResult,
  ingestBatch,
  ingestionManifestKey,
  MAX_INGEST_BODY_BYTES,
} from '../../lambdas/feature-store/ingest.js';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import { clients } from '../../lambdas/shared/clients.js';
import { ConflictError, ValidationError } from '../../lambdas/shared/errors.js';
import { readBounded, S3ObjectStore, type StagingStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor, harnessFixture } from '../support/assemblies.js';

const view = defineFeatureView(testFeatureViews[0] as FeatureViewInput);
const views = new Map<string, FeatureView>([[view.name, view]]);
const NOW = new Date('2026-11-20T00:00:00Z');
let store: S3ObjectStore;
const encode = (text: string) => new TextEncoder().encode(text);
const jsonl = (rows: object[]) => encode(rows.map((r) => JSON.stringify(r)).join('\n'));

async function keys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const key of store.list(prefix)) out.push(key);
  return out.sort();
}

/** Published feature files of one batch: what Athena would read of it. */
const published = async (batchId: string) =>
  (await keys(`features/${view.name}/`)).filter((k) => k.endsWith(`/${batchId}.parquet`));

async function columns(key: string) {
  const bytes = (await store.get(key)) as Uint8Array;
  return decodeFeatureColumns(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  );
}

/** The store with one operation made to fail, as a crash or a lost connection would. */
function failing(fail: (operation: 'put' | 'copy', key: string) => boolean): StagingStore {
  const crash = (operation: string, key: string) => new Error(`injected failure: ${operation} ${key}`);
  return {
    put: async (key, body, options) => {
      if (fail('put', key)) throw crash('put', key);
      return store.put(key, body, options);
    },
    get: (key) => store.get(key),
    list: (prefix, options) => store.list(prefix, options),
    size: (key) => store.size(key),
    copy: async (from, to) => {
      if (fail('copy', to)) throw crash('copy', to);
      return store.copy(from, to);
    },
    delete: (key) => store.delete(key),
  };
}

/** Rows of body `k`: customer `k<k>` on dates 1..k+1 of October (date 1 is contended by all). */
const bodyOf = (k: number) =>
  jsonl([
    ...Array.from({ length: k + 1 }, (_, d) => ({
      customer_id: `k${k}`,
      event_time: `2026-10-0${d + 1}T12:00:00Z`,
      orders: 10 * k + d,
    })),
    { customer_id: `k${k}`, event_time: '2026-10-01T12:00:00Z', orders: -k - 1 }, // quarantined
  ]);

/** Checks a committed batch: its manifest is the result, and its files hold exactly body `k`'s rows. */
async function expectCommitted(result: IngestResult, k: number) {
  const manifest = JSON.parse(
    new TextDecoder().decode(await store.get(ingestionManifestKey(view.name, result.batchId))),
  );
  expect(manifest).toEqual({ ...result, duplicate: false });
  expect(result.files).toHaveLength(k + 1);
  expect(await published(result.batchId)).toEqual([...result.files].sort());
  for (const [d, file] of result.files.entries()) {
    expect(file).toBe(`features/customer/date=2026-10-0${d + 1}/${result.batchId}.parquet`);
    expect(await columns(file)).toMatchObject({ customer_id: [`k${k}`], orders: [10 * k + d] });
  }
  const quarantined = JSON.parse(new TextDecoder().decode(await store.get(result.quarantineKey as string)));
  expect(quarantined.row).toMatchObject({ customer_id: `k${k}`, orders: -k - 1 });
  expect(await keys(`staging/${view.name}/${result.batchId}/`)).toEqual([]);
}

beforeAll(async () => {
  const local = await startLocalStack(await assemblyFor(harnessFixture('IngestRaceFixture')), {
    prefix: 'ingest-race-',
  });
  store = new S3ObjectStore(clients.s3(), local.resourceName('Data'));
});

describe('one batch id, several bodies at once', () => {
  it('lets exactly one body win; the others get a ConflictError and leave nothing behind (5 rounds)', async () => {
    for (let round = 0; round < 5; round++) {
      const batchId = `contend-${round}`;
      const settled = await Promise.allSettled(
        [0, 1, 2, 3, 4].map((k) =>
          ingestBatch({ view: 'customer', batchId, format: 'jsonl' }, bodyOf(k), {
            store,
            views,
            now: () => NOW,
          }),
        ),
      );
      const won = settled.flatMap((s, k) => (s.status === 'fulfilled' ? [{ k, result: s.value }] : []));
      expect(won, `round ${round}`).toHaveLength(1);
      for (const s of settled)
        if (s.status === 'rejected') expect(s.reason, `round ${round}`).toBeInstanceOf(ConflictError);
      const winner = won[0] as { k: number; result: IngestResult };
      expect(winner.result.duplicate).toBe(false);
      await expectCommitted(winner.result, winner.k);
    }
  });
});

describe('a batch that fails midway', () => {
  const request = (batchId: string) => ({ view: 'customer', batchId, format: 'jsonl' });

  it('leaves nothing readers see when it fails while writing its files, and its rerun commits it', async () => {
    let parquetPuts = 0;
    const crashing = failing(
      (operation, key) => operation === 'put' && key.endsWith('.parquet') && ++parquetPuts === 2,
    );
    const crash = await ingestBatch(request('crash-1'), bodyOf(2), {
      store: crashing,
      views,
      now: () => NOW,
    }).catch((e: unknown) => e);
    expect((crash as Error).message).toMatch(/^injected failure: put/);
    expect(await published('crash-1')).toEqual([]);
    expect(await store.get(ingestionManifestKey(view.name, 'crash-1'))).toBeUndefined();
    expect(await keys(`ingestion-log/${view.name}/`)).not.toContainEqual(expect.stringMatching(/_crash-1$/));

    // The id stays with the body that claimed it.
    await expect(
      ingestBatch(request('crash-1'), bodyOf(1), { store, views, now: () => NOW }),
    ).rejects.toBeInstanceOf(ConflictError);
    const rerun = await ingestBatch(request('crash-1'), bodyOf(2), {
      store,
      views,
      now: () => new Date(NOW.getTime() + 60_000),
    });
    expect(rerun).toMatchObject({ duplicate: false, ingestedAtMs: NOW.getTime() }); // the claim's time
    await expectCommitted(rerun, 2);
    expect(await store.size(rerun.logKey as string)).toBeGreaterThan(0);
  });

  it('is finished by its rerun when it fails while publishing its committed files', async () => {
    let copies = 0;
    const crashing = failing((operation) => operation === 'copy' && ++copies === 2);
    const crash = await ingestBatch(request('crash-2'), bodyOf(2), {
      store: crashing,
      views,
      now: () => NOW,
    }).catch((e: unknown) => e);
    expect((crash as Error).message).toMatch(/^injected failure: copy/);
    expect(await published('crash-2')).toHaveLength(1); // committed, not yet all published
    expect(await keys(`ingestion-log/${view.name}/`)).not.toContainEqual(expect.stringMatching(/_crash-2$/));

    const rerun = await ingestBatch(request('crash-2'), bodyOf(2), { store, views, now: () => NOW });
    expect(rerun.duplicate).toBe(true);
    await expectCommitted({ ...rerun, duplicate: false }, 2);
    expect(await keys(`ingestion-log/${view.name}/`)).toContainEqual(expect.stringMatching(/_crash-2$/));
  });
});

describe('input objects are sized before they are read', () => {
  it('refuses an object over the limit without reading it, naming the field and the limit', async () => {
    await store.put('landing/big.jsonl', new Uint8Array(2048));
    const reads: string[] = [];
    const watched: StagingStore = {
      ...failing(() => false),
      get: (key) => {
        reads.push(key);
        return store.get(key);
      },
    };
    const error = await readBounded(watched, 'landing/big.jsonl', 'sourceKey', 1024).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({
      field: 'sourceKey',
      rule: 'must name an object of at most 1024 bytes (landing/big.jsonl is 2048 bytes); split it',
    });
    expect(reads).toEqual([]);
    expect(await readBounded(watched, 'landing/big.jsonl', 'sourceKey', 2048)).toHaveLength(2048);
    await expect(readBounded(watched, 'landing/none.jsonl', 'sourceKey', 2048)).rejects.toMatchObject({
      field: 'sourceKey',
      rule: 'must name an existing object (no object at landing/none.jsonl)',
    });
  });

  it('refuses a body over 32 MiB before parsing it', async () => {
    const error = await ingestBatch(
      { view: 'customer', batchId: 'huge', format: 'jsonl' },
      new Uint8Array(MAX_INGEST_BODY_BYTES + 1),
      { store, views },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ValidationError', field: 'body' });
    expect((error as ValidationError).rule).toMatch(/^must be at most 33554432 bytes \(32 MiB\)/);
    expect(await keys('ingestion/customer/huge')).toEqual([]);
  });
});
