import { describe, expect, it } from 'vitest';
import {
  argsortFeatureRows,
  encodeEntityKey,
  type FeatureBatch,
  type FeatureFrame,
  joinKeyColumns,
  joinPointInTime,
  pointInTimeJoin,
  sortFeatureBatch,
  type ViewRequest,
  type ViewResult,
} from '../../lambdas/feature-store/point-in-time-join.js';
import { radixArgsort } from '../../lambdas/feature-store/point-in-time-sort.js';
import type { Value } from '../../lambdas/feature-store/row-validation.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { prng } from '../support/random.js';

/** A feature row; `x` NaN and `c` null are stored nulls. */
interface Row {
  readonly key: string;
  readonly time: number;
  readonly x: number;
  readonly c: string | null;
}

interface Answer {
  readonly time: number;
  readonly x: number;
  readonly c: string | null;
}

/** Brute force: of the entity's rows with time ≤ t, the latest, later in the stream on ties; then TTL. */
function reference(stream: readonly Row[], key: string, t: number, ttl: number): Answer | undefined {
  let best: Row | undefined;
  for (const row of stream) {
    if (row.key === key && row.time <= t && (best === undefined || row.time >= best.time)) best = row;
  }
  return best === undefined || t - best.time > ttl ? undefined : { time: best.time, x: best.x, c: best.c };
}

/** Encodes rows as one batch: string or dictionary-encoded keys, a categorical column with a shuffled dictionary. */
function batchOf(rows: readonly Row[], random: () => number = () => 0.9): FeatureBatch {
  const categories = [...new Set(rows.map((r) => r.c).filter((c): c is string => c !== null))].sort(
    () => random() - 0.5,
  );
  const c = {
    codes: Int32Array.from(rows, (r) => (r.c === null ? -1 : categories.indexOf(r.c))),
    dictionary: categories,
  };
  const eventTimes = Float64Array.from(rows, (r) => r.time);
  const columns = { x: Float64Array.from(rows, (r) => r.x), c };
  if (random() < 0.5) return { keys: rows.map((r) => r.key), eventTimes, columns };
  const dictionary = [...new Set(rows.map((r) => r.key))];
  return {
    keys: { codes: Int32Array.from(rows, (r) => dictionary.indexOf(r.key)), dictionary },
    eventTimes,
    columns,
  };
}

/** Cuts the stream at random places (empty batches included). */
function batchesOf(stream: readonly Row[], random: () => number): FeatureBatch[] {
  const batches: FeatureBatch[] = [];
  let at = 0;
  while (at < stream.length || (batches.length === 0 && random() < 0.5)) {
    const size = Math.floor(random() * 6); // 0..5 rows: an entity often spans several batches
    batches.push(batchOf(stream.slice(at, at + size), random));
    at += size;
  }
  return batches;
}

/** Rows grouped by entity in a random entity order, ascending by time; equal times keep generation order. */
function streamOrder(rows: readonly Row[], random: () => number): Row[] {
  const rank = new Map<string, number>();
  for (const row of rows) if (!rank.has(row.key)) rank.set(row.key, random());
  return [...rows].sort(
    (a, b) => (rank.get(a.key) as number) - (rank.get(b.key) as number) || a.time - b.time,
  );
}

const features = { x: 'numeric', c: 'categorical' } as const;

function view(
  name: string,
  ttlMs: number,
  labelKeys: readonly string[],
  batches: Iterable<FeatureBatch>,
): ViewRequest {
  return { name, ttlMs, features, labelKeys, batches };
}

/** The answer for label i of a view, read back from the result. */
function answerOf(result: ViewResult, i: number): Answer | undefined {
  if (result.found[i] === 0) return undefined;
  const c = result.features.c as { codes: Int32Array; dictionary: readonly string[] };
  const code = c.codes[i] as number;
  return {
    time: result.eventTimes?.[i] as number,
    x: (result.features.x as Float64Array)[i] as number,
    c: code < 0 ? null : (c.dictionary[code] as string),
  };
}

describe('joinPointInTime', () => {
  it('matches a brute-force reference on randomized streams over 300 seeds', async () => {
    for (let seed = 1; seed <= 300; seed++) {
      const random = prng(seed);
      const entities = 1 + Math.floor(random() * 6);
      const labelCount = Math.floor(random() * 30);
      // Label rows carry two key columns; views key on [a] or on the composite [a, b].
      const labelA = Array.from({ length: labelCount }, () => `u${Math.floor(random() * (entities + 2))}`); // some have no rows
      const labelB = Array.from({ length: labelCount }, () => Math.floor(random() * 2));
      const labelTimes = Float64Array.from({ length: labelCount }, () => Math.floor(random() * 40));
      const views = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, v) => {
        const composite = random() < 0.5;
        const keyOf = (a: string, b: number) =>
          (composite ? joinKeyColumns([[a], [b]], '|')[0] : a) as string;
        const rows: Row[] = Array.from({ length: Math.floor(random() * 50) }, () => ({
          key: keyOf(`u${Math.floor(random() * entities)}`, Math.floor(random() * 2)),
          time: Math.floor(random() * 40), // small range: many equal timestamps
          x: random() < 0.2 ? Number.NaN : Math.floor(random() * 1000),
          c: random() < 0.2 ? null : `c${Math.floor(random() * 4)}`,
        }));
        const stream = streamOrder(rows, random);
        const labelKeys = composite ? joinKeyColumns([labelA, labelB], '|') : labelA;
        const ttl = random() < 0.1 ? Number.POSITIVE_INFINITY : Math.floor(random() * 25);
        return { stream, labelKeys, ttl, request: view(`v${v}`, ttl, labelKeys, batchesOf(stream, random)) };
      });

      const result = await joinPointInTime(
        labelTimes,
        views.map((v) => v.request),
        { eventTimes: true },
      );

      for (const [v, { stream, labelKeys, ttl }] of views.entries()) {
        for (let i = 0; i < labelCount; i++) {
          const expected = reference(stream, labelKeys[i] as string, labelTimes[i] as number, ttl);
          expect(answerOf(result[`v${v}`] as ViewResult, i), `seed ${seed} view ${v} label ${i}`).toEqual(
            expected,
          );
        }
      }
    }
  });

  it('never uses a value from the future: rewriting every later row leaves every answer unchanged', async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const random = prng(seed * 7919);
      const cutoff = Math.floor(random() * 1000);
      const rows: Row[] = Array.from({ length: 200 }, () => ({
        key: `e${Math.floor(random() * 5)}`,
        time: Math.floor(random() * 1000),
        x: Math.floor(random() * 100),
        c: 'past',
      }));
      const future = rows.map((r) => (r.time > cutoff ? { ...r, x: -1, c: 'future' } : r));
      const labelKeys = Array.from({ length: 50 }, () => `e${Math.floor(random() * 5)}`);
      const times = new Float64Array(50).fill(cutoff);
      const run = (stream: Row[]) =>
        joinPointInTime(
          times,
          [view('v', Number.POSITIVE_INFINITY, labelKeys, [batchOf(streamOrder(stream, prng(seed)))])],
          {
            eventTimes: true,
          },
        );
      const before = (await run(rows)).v as ViewResult;
      const after = (await run(future)).v as ViewResult;
      expect(after).toEqual(before);
      for (let i = 0; i < 50; i++)
        if (after.found[i] === 1) expect(after.eventTimes?.[i]).toBeLessThanOrEqual(cutoff);
    }
  });

  const one = (rows: Row[], labelTimes: number[], ttl = 10, batches?: FeatureBatch[]) =>
    joinPointInTime(
      Float64Array.from(labelTimes),
      [
        view(
          'v',
          ttl,
          labelTimes.map(() => 'a'),
          batches ?? [batchOf(rows)],
        ),
      ],
      { eventTimes: true },
    ).then((r) => labelTimes.map((_, i) => answerOf(r.v as ViewResult, i)));
  const row = (time: number, x: number, c: string | null = 'k'): Row => ({ key: 'a', time, x, c });

  it('uses a value exactly TTL old and drops one a millisecond older', async () => {
    expect(await one([row(100, 7)], [110, 111])).toEqual([{ time: 100, x: 7, c: 'k' }, undefined]);
  });

  it('applies the TTL edge the same to a label answered before a later row arrives', async () => {
    expect(await one([row(100, 7), row(200, 8)], [110, 111])).toEqual([
      { time: 100, x: 7, c: 'k' },
      undefined,
    ]);
  });

  it('with a TTL of zero uses only a value stamped at the label time', async () => {
    expect(await one([row(100, 7)], [100, 101], 0)).toEqual([{ time: 100, x: 7, c: 'k' }, undefined]);
  });

  it('counts a value stamped at the label time as available', async () => {
    expect(await one([row(100, 7)], [99, 100])).toEqual([undefined, { time: 100, x: 7, c: 'k' }]);
  });

  it('returns a stored null as a found null rather than an older non-null', async () => {
    expect(await one([row(100, 7, 'old'), row(105, Number.NaN, null)], [106])).toEqual([
      { time: 105, x: Number.NaN, c: null },
    ]);
  });

  it('breaks equal timestamps by stream order: the later row wins, also across a batch boundary', async () => {
    const rows = [row(100, 1, 'first'), row(100, 2, 'second')];
    expect(await one(rows, [100])).toEqual([{ time: 100, x: 2, c: 'second' }]);
    expect(await one(rows, [100], 10, [batchOf([rows[0] as Row]), batchOf([rows[1] as Row])])).toEqual([
      { time: 100, x: 2, c: 'second' },
    ]);
  });

  it('gives the same answers however the stream is cut into batches', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => row(i * 10, i, `c${i % 3}`));
    const labels = [-1, 0, 5, 10, 35, 55, 56, 110, 200];
    const whole = await one(rows, labels, 25);
    for (const cuts of [[1], [0, 1, 11], [3, 3, 3, 7, 12], [11, 12, 12]]) {
      const batches: FeatureBatch[] = [];
      let at = 0;
      for (const cut of [...cuts, rows.length]) {
        batches.push(batchOf(rows.slice(at, cut), () => 0.1)); // dictionary-encoded keys
        at = cut;
      }
      expect(await one(rows, labels, 25, batches), `cuts ${cuts}`).toEqual(whole);
    }
  });

  it('answers nothing for labels of entities without rows, for an empty stream and for an empty batch', async () => {
    const result = await joinPointInTime(Float64Array.from([5, 5]), [
      view('rows', 10, ['nobody', 'a'], [batchOf([row(1, 1)])]),
      view('none', 10, ['a', 'a'], []),
      view('empty', 10, ['a', 'a'], [batchOf([])]),
    ]);
    expect(Array.from(result.rows?.found ?? [])).toEqual([0, 1]);
    expect(Array.from(result.none?.found ?? [])).toEqual([0, 0]);
    expect(Array.from(result.empty?.features.x as Float64Array)).toEqual([Number.NaN, Number.NaN]);
    expect(result.empty?.features.c).toEqual({ codes: Int32Array.from([-1, -1]), dictionary: [] });
  });

  it('returns empty columns for no labels and nothing for no views', async () => {
    const result = await joinPointInTime(new Float64Array(0), [view('v', 10, [], [batchOf([row(1, 1)])])]);
    expect(result.v?.found).toHaveLength(0);
    expect(await joinPointInTime(new Float64Array(0), [])).toEqual({});
  });

  it('omits event times unless asked for', async () => {
    const result = await joinPointInTime(Float64Array.from([1]), [
      view('v', 10, ['a'], [batchOf([row(1, 1)])]),
    ]);
    expect(result.v?.eventTimes).toBeUndefined();
  });
});

describe('joinPointInTime input checks', () => {
  const rejection = async (run: () => Promise<unknown>): Promise<ValidationError> => {
    const error = await run().then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ValidationError))
      throw new Error(`expected a ValidationError, got ${String(error)}`);
    return error;
  };
  const rows = (times: number[], keys = times.map(() => 'a')): Row[] =>
    times.map((time, i) => ({ key: keys[i] as string, time, x: i, c: null }));
  const join =
    (batches: FeatureBatch[], labelKeys = ['a', 'b'], labelTimes = [1, 2]) =>
    () =>
      joinPointInTime(Float64Array.from(labelTimes), [view('v', 10, labelKeys, batches)]);

  it('rejects a NaN label time naming the row', async () => {
    const error = await rejection(join([], ['a', 'b'], [1, Number.NaN]));
    expect(error.field).toBe('labelTimes.1');
  });

  it('rejects a NaN or infinite feature event time naming batch and row', async () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const error = await rejection(join([batchOf(rows([1])), batchOf(rows([2, 3, bad]))]));
      expect(error.field).toBe('views.v.batches.1.eventTimes.2');
    }
  });

  it('rejects event times going back within an entity, also across batches', async () => {
    expect((await rejection(join([batchOf(rows([1, 3, 2]))]))).field).toBe('views.v.batches');
    expect((await rejection(join([batchOf(rows([1, 3])), batchOf(rows([2]))]))).field).toBe(
      'views.v.batches',
    );
  });

  it('rejects a labelled entity whose rows reappear after another entity', async () => {
    const error = await rejection(join([batchOf(rows([1, 2], ['a', 'z'])), batchOf(rows([3], ['a']))]));
    expect(error.message).toContain('"a" appears again at batch 1 row 0');
  });

  it('rejects a batch whose columns do not match its rows or the declared kinds', async () => {
    const good = batchOf(rows([1, 2]));
    const short = { ...good, columns: { ...good.columns, x: new Float64Array(1) } };
    expect((await rejection(join([short]))).field).toBe('views.v.batches.0.columns.x');
    const swapped = { ...good, columns: { x: good.columns.c, c: good.columns.x } } as FeatureBatch;
    expect((await rejection(join([swapped]))).field).toBe('views.v.batches.0.columns.x');
    expect((await rejection(join([{ ...good, keys: ['a'] }]))).field).toBe('views.v.batches.0.keys');
  });

  it('rejects label keys that do not match the label rows, a negative TTL and a repeated view name', async () => {
    expect((await rejection(join([], ['a']))).field).toBe('views.v.labelKeys');
    const times = Float64Array.from([1]);
    expect((await rejection(() => joinPointInTime(times, [view('v', -1, ['a'], [])]))).field).toBe(
      'views.v.ttlMs',
    );
    const twice = () => joinPointInTime(times, [view('v', 1, ['a'], []), view('v', 1, ['a'], [])]);
    expect((await rejection(twice)).field).toBe('views.1.name');
  });
});

describe('sortFeatureBatch', () => {
  it('turns rows in any order into a stream the join answers like the reference, ties by the tie-break then input order', async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed * 31);
      const rows: (Row & { ingested: number })[] = Array.from({ length: Math.floor(random() * 60) }, () => ({
        key: `e${Math.floor(random() * 4)}`,
        time: Math.floor(random() * 30) - 10, // negative times too
        x: Math.floor(random() * 100),
        c: null,
        ingested: Math.floor(random() * 3),
      }));
      const sorted = sortFeatureBatch(
        batchOf(rows, random),
        Float64Array.from(rows, (r) => r.ingested),
      );
      // Reference stream: by ingestion within a timestamp, then input order (a stable sort).
      const stream = [...rows].sort((a, b) => a.ingested - b.ingested);
      const labelKeys = Array.from({ length: 20 }, () => `e${Math.floor(random() * 5)}`);
      const labelTimes = Float64Array.from({ length: 20 }, () => Math.floor(random() * 40) - 12);
      const result = await joinPointInTime(labelTimes, [{ ...view('v', 15, labelKeys, [sorted]) }], {
        eventTimes: true,
      });
      for (let i = 0; i < 20; i++) {
        const expected = reference(stream, labelKeys[i] as string, labelTimes[i] as number, 15);
        expect(answerOf(result.v as ViewResult, i), `seed ${seed} label ${i}`).toEqual(expected);
      }
    }
  });

  it('orders times like a numeric sort, negative values and -0 included, keeping ties in input order', () => {
    const random = prng(99);
    const values = Float64Array.from({ length: 2000 }, () =>
      random() < 0.1 ? -0 : Math.round((random() - 0.5) * 1e6) * (random() < 0.5 ? 1 : 1e-3),
    );
    const identity = Uint32Array.from(values, (_, i) => i);
    const expected = Array.from(identity).sort(
      (a, b) => (values[a] as number) - (values[b] as number) || a - b,
    );
    expect(Array.from(radixArgsort(values, identity))).toEqual(expected);
  });

  it('sorts fractional and far-apart times (the float-bits path) like whole milliseconds', () => {
    const times = Float64Array.from([2.5, -1e300, 1e300, 0.25, 2.5, -0]);
    const order = argsortFeatureRows(['a', 'a', 'a', 'b', 'a', 'a'], times);
    expect(Array.from(order)).toEqual([1, 5, 0, 4, 2, 3]);
  });

  it('groups each entity contiguously and ascending in time', () => {
    const order = argsortFeatureRows(['b', 'a', 'b', 'a'], Float64Array.from([5, 7, 1, 3]));
    expect(Array.from(order)).toEqual([2, 0, 3, 1]);
  });
});

describe('joinKeyColumns', () => {
  it('joins the parts of composite keys with the separator', () => {
    expect(
      joinKeyColumns(
        [
          ['a', 'b'],
          [1, 2],
        ],
        '|',
      ),
    ).toEqual(['a|1', 'b|2']);
  });

  it('rejects a part containing the separator, which would make two tuples one key', () => {
    expect(() => joinKeyColumns([['a|b'], ['c']], '|')).toThrow(ValidationError);
  });
});

describe('pointInTimeJoin (in-memory frames)', () => {
  interface FrameRow {
    key: string;
    time: number;
    ingestedAt: number;
    value: Value;
  }
  const frameOf = (rows: FrameRow[]): FeatureFrame => ({
    keys: rows.map((r) => r.key),
    eventTimes: Float64Array.from(rows, (r) => r.time),
    ingestedAt: Float64Array.from(rows, (r) => r.ingestedAt),
    columns: { x: rows.map((r) => r.value) },
  });

  it('matches a brute-force reference (ties by ingestion, then row) over 200 seeds', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = prng(seed * 13);
      const key = () =>
        encodeEntityKey(random() < 0.5 ? [`e${Math.floor(random() * 4)}`, Math.floor(random() * 2)] : ['e0']);
      const rows: FrameRow[] = Array.from({ length: Math.floor(random() * 40) }, () => ({
        key: key(),
        time: Math.floor(random() * 30),
        ingestedAt: Math.floor(random() * 3),
        value: random() < 0.2 ? null : `v${Math.floor(random() * 100)}`,
      }));
      const labels = Array.from({ length: 20 }, () => ({ key: key(), time: Math.floor(random() * 35) }));
      const result = pointInTimeJoin(
        { keys: labels.map((l) => l.key), times: Float64Array.from(labels, (l) => l.time) },
        [{ view: 'v', ttlMs: 12, features: ['x'], frame: frameOf(rows) }],
      );
      const stream = [...rows].sort((a, b) => a.ingestedAt - b.ingestedAt);
      labels.forEach((label, i) => {
        let best: FrameRow | undefined;
        for (const r of stream)
          if (r.key === label.key && r.time <= label.time && (!best || r.time >= best.time)) best = r;
        const usable = best !== undefined && label.time - best.time <= 12;
        expect(result.columns.v__x?.[i], `seed ${seed} label ${i}`).toBe(usable ? best?.value : null);
        expect(result.eventTimes.v?.[i]).toBe(usable ? best?.time : Number.NaN);
      });
    }
  });

  it('rejects a feature the view does not have', () => {
    expect(() =>
      pointInTimeJoin({ keys: ['a'], times: Float64Array.from([1]) }, [
        { view: 'v', ttlMs: 1, features: ['y'], frame: frameOf([]) },
      ]),
    ).toThrow('featureRefs: v:y is not a feature of the view');
  });

  it('rejects a non-finite label time naming the row', () => {
    expect(() =>
      pointInTimeJoin({ keys: ['a', 'a'], times: Float64Array.from([1, Number.NaN]) }, [
        { view: 'v', ttlMs: 1, features: ['x'], frame: frameOf([]) },
      ]),
    ).toThrow('labels.times.1: must be a finite time (epoch ms)');
  });
});
