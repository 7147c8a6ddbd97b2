import { describe, expect, it } from 'vitest';
import {
  encodeEntityKey,
  type FeatureFrame,
  pointInTimeJoin,
  type ViewJoin,
} from '../../lambdas/feature-store/point-in-time-join.js';
import type { Value } from '../../lambdas/feature-store/row-validation.js';
import { ValidationError } from '../../lambdas/shared/errors.js';

/** Small deterministic PRNG (mulberry32), so every seed reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Row {
  key: string;
  time: number;
  ingestedAt: number;
  value: Value;
}

function frameOf(rows: Row[]): FeatureFrame {
  return {
    keys: rows.map((r) => r.key),
    eventTimes: Float64Array.from(rows.map((r) => r.time)),
    ingestedAt: Float64Array.from(rows.map((r) => r.ingestedAt)),
    columns: { x: rows.map((r) => r.value) },
  };
}

/** Brute force: scan every row of the entity; keep the max (time, ingestedAt, position) with time ≤ t. */
function reference(
  rows: Row[],
  key: string,
  t: number,
  ttl: number,
): { value: Value; time: number } | undefined {
  let best: { row: Row; index: number } | undefined;
  rows.forEach((row, index) => {
    if (row.key !== key || row.time > t) return;
    const better =
      best === undefined ||
      row.time > best.row.time ||
      (row.time === best.row.time &&
        (row.ingestedAt > best.row.ingestedAt ||
          (row.ingestedAt === best.row.ingestedAt && index > best.index)));
    if (better) best = { row, index };
  });
  if (best === undefined || t - best.row.time > ttl) return undefined;
  return { value: best.row.value, time: best.row.time };
}

describe('pointInTimeJoin', () => {
  it('matches a brute-force reference on randomized data over 300 seeds', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const entities = 1 + Math.floor(random() * 8);
      const key = () =>
        encodeEntityKey(
          random() < 0.5
            ? [`e${Math.floor(random() * entities)}`, Math.floor(random() * 2)]
            : [`e${Math.floor(random() * entities)}`],
        );
      const time = () => Math.floor(random() * 50); // small range: many equal timestamps
      const views: { rows: Row[]; ttl: number }[] = [0, 1].map(() => ({
        ttl: Math.floor(random() * 30),
        rows: Array.from({ length: Math.floor(random() * 60) }, () => ({
          key: key(),
          time: time(),
          ingestedAt: Math.floor(random() * 3),
          value: random() < 0.2 ? null : Math.floor(random() * 1000),
        })),
      }));
      const labels = Array.from({ length: Math.floor(random() * 40) }, () => ({ key: key(), time: time() }));
      const joins: ViewJoin[] = views.map((v, i) => ({
        view: `v${i}`,
        ttlMs: v.ttl,
        features: ['x'],
        frame: frameOf(v.rows),
      }));
      const result = pointInTimeJoin(
        { keys: labels.map((l) => l.key), times: Float64Array.from(labels.map((l) => l.time)) },
        joins,
      );

      views.forEach((v, i) => {
        labels.forEach((label, j) => {
          const expected = reference(v.rows, label.key, label.time, v.ttl);
          expect(result.columns[`v${i}__x`]?.[j], `seed ${seed} view ${i} label ${j}`).toBe(
            expected?.value ?? null,
          );
          expect(result.eventTimes[`v${i}`]?.[j], `seed ${seed} view ${i} label ${j} time`).toBe(
            expected?.time ?? Number.NaN,
          );
        });
      });
    }
  });

  it('never uses a value from the future', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = prng(seed * 7919);
      const rows: Row[] = Array.from({ length: 200 }, () => ({
        key: encodeEntityKey([`e${Math.floor(random() * 5)}`]),
        time: Math.floor(random() * 1000),
        ingestedAt: 0,
        value: 1,
      }));
      const labels = Array.from({ length: 100 }, () => ({
        key: encodeEntityKey([`e${Math.floor(random() * 5)}`]),
        time: Math.floor(random() * 1000),
      }));
      const { eventTimes } = pointInTimeJoin(
        { keys: labels.map((l) => l.key), times: Float64Array.from(labels.map((l) => l.time)) },
        [{ view: 'v', ttlMs: 1e9, features: ['x'], frame: frameOf(rows) }],
      );
      labels.forEach((label, i) => {
        const used = eventTimes.v?.[i] as number;
        if (!Number.isNaN(used)) expect(used).toBeLessThanOrEqual(label.time);
      });
    }
  });

  const k = encodeEntityKey(['a']);
  const join = (rows: Row[], labelTimes: number[], ttl = 10) =>
    pointInTimeJoin({ keys: labelTimes.map(() => k), times: Float64Array.from(labelTimes) }, [
      { view: 'v', ttlMs: ttl, features: ['x'], frame: frameOf(rows) },
    ]).columns.v__x;

  it('uses a value exactly TTL old and drops one a millisecond older', () => {
    expect(join([{ key: k, time: 100, ingestedAt: 0, value: 7 }], [110, 111])).toEqual([7, null]);
  });

  it('counts a value stamped at the label time as available', () => {
    expect(join([{ key: k, time: 100, ingestedAt: 0, value: 7 }], [99, 100])).toEqual([null, 7]);
  });

  it('returns a stored null rather than an older non-null', () => {
    expect(
      join(
        [
          { key: k, time: 100, ingestedAt: 0, value: 7 },
          { key: k, time: 105, ingestedAt: 0, value: null },
        ],
        [106],
      ),
    ).toEqual([null]);
  });

  it('breaks equal timestamps by the later ingestion, then the later row', () => {
    const rows = [
      { key: k, time: 100, ingestedAt: 2, value: 'late ingestion' },
      { key: k, time: 100, ingestedAt: 1, value: 'early ingestion' },
    ];
    expect(join(rows, [100])).toEqual(['late ingestion']);
    const sameIngestion = [
      { key: k, time: 100, ingestedAt: 1, value: 'first row' },
      { key: k, time: 100, ingestedAt: 1, value: 'second row' },
    ];
    expect(join(sameIngestion, [100])).toEqual(['second row']);
  });

  it('handles large entity groups (the sorted path) like small ones', () => {
    // 500 rows of one entity, in shuffled time order (919 is coprime with 500: a permutation of 0..499).
    const rows = Array.from({ length: 500 }, (_, i) => ({
      key: k,
      time: (i * 919) % 500,
      ingestedAt: 0,
      value: (i * 919) % 500,
    }));
    expect(join(rows, [0, 250.5, 499, 10_000], 1e9)).toEqual([0, 250, 499, 499]);
  });

  it('gives nulls to labels of unknown entities and to an empty frame', () => {
    const result = pointInTimeJoin({ keys: ['nobody'], times: Float64Array.from([1]) }, [
      { view: 'v', ttlMs: 10, features: ['x'], frame: frameOf([]) },
    ]);
    expect(result.columns.v__x).toEqual([null]);
  });

  it('rejects a non-finite label time naming the row', () => {
    expect(() => join([], [1, Number.NaN])).toThrow(ValidationError);
    expect(() => join([], [1, Number.NaN])).toThrow('labels.times.1: must be a finite time (epoch ms)');
  });

  it('rejects a feature the view does not have', () => {
    expect(() =>
      pointInTimeJoin({ keys: [k], times: Float64Array.from([1]) }, [
        { view: 'v', ttlMs: 1, features: ['y'], frame: frameOf([]) },
      ]),
    ).toThrow('featureRefs: v:y is not a feature of the view');
  });
});
