import { describe, expect, it } from 'vitest';
import {
  defineFeatureView,
  type FeatureViewInput,
  viewTtlMs,
} from '../../lambdas/feature-store/feature-view.js';
import { featureKind, type OfflineFile, scanSorted } from '../../lambdas/feature-store/offline-scan.js';
import { encodeFeatureRows, entityKeyOf } from '../../lambdas/feature-store/parquet-codec.js';
import { type FeatureBatch, joinPointInTime } from '../../lambdas/feature-store/point-in-time-join.js';
import type { TypedRow, Value } from '../../lambdas/feature-store/row-validation.js';
import { CorruptDataError, ValidationError } from '../../lambdas/shared/errors.js';
import { foreignFeatureFile } from '../support/offline-files.js';
import { prng } from '../support/random.js';

const accountInput: FeatureViewInput = {
  name: 'account',
  owner: 'risk-ml',
  entities: [
    { name: 'tenant', type: 'string' },
    { name: 'account_id', type: 'int64' },
  ],
  ttlSeconds: 5,
  features: [
    { name: 'balance', type: 'float64', nullable: true },
    { name: 'txn_count', type: 'int64', nullable: true },
    { name: 'tier', type: 'string', nullable: true },
    { name: 'frozen', type: 'bool' },
  ],
};
const view = defineFeatureView(accountInput);
const FEATURES = ['balance', 'txn_count', 'tier', 'frozen'];
// Ids whose string order differs from their numeric order.
const IDS = [2, 10, 100, 7, 33];
const TENANTS = ['a', 'b'];

interface SourceRow {
  readonly row: TypedRow;
  readonly ingestedAt: number;
  readonly file: number;
  readonly position: number;
}

function randomRow(random: () => number): TypedRow {
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)] as T;
  return {
    eventTimeMs: Math.floor(random() * 20) * 1000,
    values: {
      tenant: pick(TENANTS),
      account_id: pick(IDS),
      balance: random() < 0.2 ? null : Math.round(random() * 1000) / 10,
      txn_count: random() < 0.2 ? null : Math.floor(random() * 50),
      tier: random() < 0.2 ? null : pick(['gold', 'silver', 'bronze']),
      frozen: random() < 0.5,
    },
  };
}

const asFile = (key: string, bytes: Uint8Array): OfflineFile => ({
  key,
  bytes: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
});

/** The value a label gets, by brute force over every source row. */
function reference(rows: readonly SourceRow[], key: string, time: number): SourceRow | undefined {
  let best: SourceRow | undefined;
  for (const source of rows) {
    const t = source.row.eventTimeMs;
    if (entityKeyOf(view, (c) => source.row.values[c]) !== key) continue;
    if (t > time || time - t > viewTtlMs(view)) continue;
    const b = best;
    if (
      b === undefined ||
      t > b.row.eventTimeMs ||
      (t === b.row.eventTimeMs &&
        (source.ingestedAt > b.ingestedAt ||
          (source.ingestedAt === b.ingestedAt &&
            (source.file > b.file || (source.file === b.file && source.position > b.position)))))
    )
      best = source;
  }
  return best;
}

async function collect(batches: AsyncIterable<FeatureBatch>): Promise<FeatureBatch[]> {
  const out: FeatureBatch[] = [];
  for await (const batch of batches) out.push(batch);
  return out;
}

describe('offline scan: sorted files merged into one stream', () => {
  it('joins like a brute-force reference over random files, row groups, batch sizes and ties (150 seeds)', async () => {
    for (let seed = 1; seed <= 150; seed++) {
      const random = prng(seed * 104_729);
      const sources: SourceRow[] = [];
      const files: OfflineFile[] = [];
      const fileCount = 1 + Math.floor(random() * 5);
      for (let file = 0; file < fileCount; file++) {
        const rows = Array.from({ length: 1 + Math.floor(random() * 30) }, () => randomRow(random));
        const foreign = random() < 0.3;
        // Few distinct ingestion times, so ties across files happen; a foreign file varies per row.
        const fileIngestedAt = 1000 * Math.floor(random() * 2);
        const ingestedAt = rows.map(() => (foreign ? 1000 * Math.floor(random() * 2) : fileIngestedAt));
        rows.forEach((row, position) => {
          sources.push({ row, ingestedAt: ingestedAt[position] as number, file, position });
        });
        const bytes = foreign
          ? foreignFeatureFile(view, rows, ingestedAt)
          : encodeFeatureRows(view, rows, fileIngestedAt, 1 + Math.floor(random() * 8));
        files.push(asFile(`f${file}`, bytes));
      }
      const labels = Array.from({ length: 40 }, () => ({
        key: entityKeyOf(view, (c) =>
          c === 'tenant' ? TENANTS[Math.floor(random() * 2)] : [...IDS, 5][Math.floor(random() * 6)],
        ),
        time: Math.floor(random() * 26) * 1000,
      }));

      const batches = await collect(scanSorted(view, FEATURES, files, 1 + Math.floor(random() * 10)));
      expect(
        batches.reduce((n, b) => n + b.eventTimes.length, 0),
        `seed ${seed}`,
      ).toBe(sources.length);
      const results = await joinPointInTime(
        Float64Array.from(labels, (l) => l.time),
        [
          {
            name: 'account',
            ttlMs: viewTtlMs(view),
            features: Object.fromEntries(FEATURES.map((f) => [f, featureKind(view, f)])),
            labelKeys: labels.map((l) => l.key),
            batches,
          },
        ],
      );
      const result = results.account;
      if (result === undefined) throw new Error('no result');
      labels.forEach((label, i) => {
        const expected = reference(sources, label.key, label.time);
        const where = `seed ${seed} label ${i}`;
        expect(result.found[i], where).toBe(expected === undefined ? 0 : 1);
        if (expected === undefined) return;
        const value = (name: string): Value => expected.row.values[name] ?? null;
        const numeric = (name: string) => (result.features[name] as Float64Array)[i];
        expect(numeric('balance'), where).toBe(value('balance') ?? Number.NaN);
        expect(numeric('txn_count'), where).toBe(value('txn_count') ?? Number.NaN);
        expect(numeric('frozen'), where).toBe(value('frozen') ? 1 : 0);
        const tier = result.features.tier as { codes: Int32Array; dictionary: string[] };
        const code = tier.codes[i] as number;
        expect(code < 0 ? null : tier.dictionary[code], where).toBe(value('tier'));
      });
    }
  });

  it('emits the merged rows in (entity key, event time) order across files', async () => {
    const random = prng(7);
    const files = [0, 1, 2].map((f) =>
      asFile(
        `f${f}`,
        encodeFeatureRows(
          view,
          Array.from({ length: 50 }, () => randomRow(random)),
          0,
          4,
        ),
      ),
    );
    const batches = await collect(scanSorted(view, ['balance'], files, 16));
    const rows = batches.flatMap((b) =>
      Array.from(b.eventTimes, (t, i) => ({ key: (b.keys as string[])[i] as string, t })),
    );
    expect(rows).toHaveLength(150);
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1] as { key: string; t: number };
      const b = rows[i] as { key: string; t: number };
      expect(a.key < b.key || (a.key === b.key && a.t <= b.t), `row ${i}`).toBe(true);
    }
  });

  it('reads a feature column a foreign file lacks as nulls', async () => {
    const narrow = defineFeatureView({ ...accountInput, features: [{ name: 'frozen', type: 'bool' }] });
    const rows: TypedRow[] = [{ eventTimeMs: 1000, values: { tenant: 'a', account_id: 2, frozen: true } }];
    const file = asFile('narrow', foreignFeatureFile(narrow, rows, [0]));
    const [batch] = await collect(scanSorted(view, ['balance', 'tier', 'frozen'], [file]));
    if (batch === undefined) throw new Error('no batch');
    expect(Array.from(batch.columns.balance as Float64Array)).toEqual([Number.NaN]);
    expect((batch.columns.tier as { codes: Int32Array }).codes[0]).toBe(-1);
    expect(Array.from(batch.columns.frozen as Float64Array)).toEqual([1]);
    // Our own files too: a feature added to the view after they were written reads as null.
    const old = asFile('old', encodeFeatureRows(narrow, rows, 0));
    const [again] = await collect(scanSorted(view, ['balance', 'frozen'], [old]));
    expect(Array.from((again?.columns.balance ?? []) as Float64Array)).toEqual([Number.NaN]);
    const keyless = defineFeatureView({ ...narrow, entities: [{ name: 'tenant', type: 'string' }] });
    const error = await collect(
      scanSorted(view, ['frozen'], [asFile('keyless', foreignFeatureFile(keyless, rows, [0]))]),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect((error as CorruptDataError).key).toBe('keyless');
  });

  it('refuses a file whose metadata claims the sort order its rows break, naming the file', async () => {
    const random = prng(3);
    const rows = Array.from({ length: 20 }, () => randomRow(random));
    const lying = asFile(
      'features/account/date=2026-01-01/lying.parquet',
      foreignFeatureFile(
        view,
        rows,
        rows.map(() => 0),
        { sortMarker: true },
      ),
    );
    const error = await collect(scanSorted(view, FEATURES, [lying])).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CorruptDataError);
    expect((error as CorruptDataError).name).toBe('CorruptDataError');
    expect((error as CorruptDataError).key).toBe('features/account/date=2026-01-01/lying.parquet');
  });

  it.each([
    ['garbage', () => new TextEncoder().encode('this is not parquet at all, not even close')],
    ['truncated', (good: Uint8Array) => good.subarray(0, Math.floor(good.length / 2))],
    ['empty', () => new Uint8Array(0)],
    [
      'garbled pages',
      (good: Uint8Array) => {
        const bad = good.slice();
        for (let i = 4; i < bad.length / 2; i++) bad[i] = 0xff;
        return bad;
      },
    ],
  ])('refuses a %s file with a CorruptDataError naming it, not a ValidationError', async (_, corrupt) => {
    const random = prng(5);
    const good = encodeFeatureRows(
      view,
      Array.from({ length: 50 }, () => randomRow(random)),
      0,
    );
    const key = 'features/account/date=2026-01-02/broken.parquet';
    const error = await collect(scanSorted(view, FEATURES, [asFile(key, corrupt(good))])).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(CorruptDataError);
    expect(error).not.toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ name: 'CorruptDataError', key, status: 500 });
    expect((error as Error).message).toContain(key);
  });
});
