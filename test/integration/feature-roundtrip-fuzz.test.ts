/**
 * Fuzzed round trip through the whole feature store: random rows, hostile ones among them (lone
 * surrogates, 1e16, 5e-324, -0, huge and tiny doubles, keys near DynamoDB's 2048-byte limit,
 * multi-byte UTF-8, JSON-escaped characters, three key parts) → ingest → training set → materialize
 * → online read. Every accepted value must come back identical from both stores, every refused row
 * must be in quarantine with a reason naming the field, and materialization must set nothing aside.
 * The test judges each value by the documented rules itself (TextEncoder, not the store's code).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { defineFeatureView, type FeatureView } from '../../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures } from '../../lambdas/feature-store/historical.js';
import { ingestBatch } from '../../lambdas/feature-store/ingest.js';
import { materializeView } from '../../lambdas/feature-store/materialize.js';
import { OnlineStore } from '../../lambdas/feature-store/online-store.js';
import { decodeFeatureColumns } from '../../lambdas/feature-store/parquet-codec.js';
import { clients } from '../../lambdas/shared/clients.js';
import { S3ObjectStore } from '../../lambdas/shared/object-store.js';
import { startLocalStack } from '../../local/local-stack.js';
import { testFeatureViews } from '../fixtures/feature-views.js';
import { assemblyFor } from '../support/assemblies.js';
import { prng } from '../support/random.js';

const SEEDS = 16;
const ROWS = 40;
const NOW = Date.parse('2026-11-25T12:00:00Z');
const encoder = new TextEncoder();
let store: S3ObjectStore;
let tableName: string;

beforeAll(async () => {
  const local = await startLocalStack(
    await assemblyFor({ context: { mlops: { featureViews: testFeatureViews } } }),
    { prefix: 'fuzz-' },
  );
  store = new S3ObjectStore(clients.s3(), local.resourceName('FeatureStoreOffline'));
  tableName = local.resourceName('FeatureStoreOnline');
});

type Generated<T> = { value: T; bad?: string };

function fuzzView(seed: number): FeatureView {
  return defineFeatureView({
    name: `fuzz_${seed}`,
    owner: 'fuzz',
    entities: [
      { name: 'k1', type: 'string' },
      { name: 'k2', type: 'int64' },
      { name: 'k3', type: 'string' },
    ],
    ttlSeconds: 2 * 86_400,
    features: [
      { name: 'f', type: 'float64', nullable: true },
      { name: 'i', type: 'int64', nullable: true },
      { name: 's', type: 'string', nullable: true },
      { name: 'b', type: 'bool', nullable: true },
    ],
  });
}

function generator(random: () => number) {
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const piece = () =>
    pick([
      'a',
      'Z',
      '0',
      'é',
      '€',
      '😀',
      '中',
      '"',
      '\\',
      '\n',
      '\t',
      '\u0001',
      '\u007f',
      '/',
      '#',
      ' ',
      '\u2028',
    ]);
  const text = (max: number) => Array.from({ length: 1 + Math.floor(random() * max) }, piece).join('');
  const string = (field: string): Generated<string> => {
    const roll = random();
    if (roll < 0.08) return { value: `${text(3)}\ud800`, bad: `${field}: must be well-formed Unicode` };
    if (roll < 0.12) return { value: `\udfff${text(3)}`, bad: `${field}: must be well-formed Unicode` };
    return { value: text(12) };
  };
  const float = (): Generated<number | null> => {
    const roll = random();
    const bad = 'f: must be 0 or of magnitude from 1e-130 to 2^53−1';
    if (roll < 0.05) return { value: 1e16, bad };
    if (roll < 0.1) return { value: 5e-324, bad };
    if (roll < 0.13) return { value: -1.7976931348623157e308, bad };
    if (roll < 0.16) return { value: 1e-131, bad };
    if (roll < 0.2) return { value: -0 };
    if (roll < 0.24)
      return { value: pick([1e-130, -1e-130, 9007199254740991, -9007199254740991, 0.1, 2 ** -52]) };
    if (roll < 0.3) return { value: null };
    return { value: (random() - 0.5) * 10 ** Math.floor(random() * 30 - 15) };
  };
  const int = (): Generated<number | null> => {
    const roll = random();
    if (roll < 0.05) return { value: 2 ** 53, bad: 'i: must be an integer within ±(2^53−1)' };
    if (roll < 0.15) return { value: null };
    if (roll < 0.2) return { value: pick([0, -9007199254740991, 9007199254740991]) };
    return { value: Math.floor((random() - 0.5) * 2 ** 40) };
  };
  return { pick, piece, text, string, float, int };
}

/** An entity key of three parts; some long enough to sit just under or over the 2048-byte key limit. */
function entity(view: FeatureView, g: ReturnType<typeof generator>, random: () => number) {
  const k2 = g.pick([0, 7, -42, 9007199254740991, Math.floor(random() * 1e9)]);
  const k3 = g.string('k3');
  let k1 = g.string('k1');
  if (random() < 0.3 && k1.bad === undefined && k3.bad === undefined) {
    const target = 2040 + Math.floor(random() * 16); // 2040…2055 bytes
    let long = '';
    while (encoder.encode(`${view.name}#${JSON.stringify([long, k2, k3.value])}`).length < target)
      long += g.piece();
    k1 = { value: long };
  }
  const bytes = encoder.encode(`${view.name}#${JSON.stringify([k1.value, k2, k3.value])}`).length;
  const bad = [k1.bad, k3.bad].filter((b) => b !== undefined) as string[];
  if (k1.value.length > 1024)
    bad.push('k1: entity key must be a non-empty string of at most 1024 characters');
  else if (bad.length === 0 && bytes > 2048) bad.push('k1, k2, k3: the online key');
  return { key: { k1: k1.value, k2, k3: k3.value }, bad };
}

type Row = {
  position: number;
  values: {
    k1: string;
    k2: number;
    k3: string;
    f: number | null;
    i: number | null;
    s: string | null;
    b: boolean | null;
  };
  eventTimeMs: number;
  bad: string[];
};

function generate(view: FeatureView, seed: number): Row[] {
  const random = prng(seed);
  const g = generator(random);
  const pool = Array.from({ length: 6 }, () => entity(view, g, random));
  return Array.from({ length: ROWS }, (_, n): Row => {
    const { key, bad } = random() < 0.7 ? g.pick(pool) : entity(view, g, random);
    const f = g.float();
    const i = g.int();
    const s: Generated<string | null> = random() < 0.1 ? { value: null } : g.string('s');
    const b = g.pick([true, false, null]);
    return {
      position: n + 1,
      // Distinct event times: each accepted row is the latest value at its own time.
      eventTimeMs: NOW - 3_600_000 - (ROWS - n) * 60_000 - Math.floor(random() * 59_000),
      values: { ...key, f: f.value, i: i.value, s: s.value, b },
      bad: [...bad, f.bad, i.bad, s.bad].filter((x) => x !== undefined) as string[],
    };
  });
}

/** What a stored value reads back as: DynamoDB and the offline store keep no negative zero. */
const stored = (value: unknown) => (Object.is(value, -0) ? 0 : value);
const FEATURES = ['f', 'i', 's', 'b'] as const;

describe('feature store round trip under fuzzed, hostile rows', () => {
  it(`returns every accepted value identical from both stores and quarantines every refused row (${SEEDS} seeds)`, async () => {
    let accepted = 0;
    let refused = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const view = fuzzView(seed);
      const views = new Map([[view.name, view]]);
      const rows = generate(view, seed);
      const body = rows.map((r) => JSON.stringify({ ...r.values, event_time: r.eventTimeMs })).join('\n');
      const result = await ingestBatch(
        { view: view.name, batchId: `fuzz-${seed}`, format: 'jsonl' },
        encoder.encode(body),
        {
          store,
          views,
          now: () => new Date(NOW - 3_000_000),
        },
      );

      // Refused rows: exactly the bad ones, each with a reason naming the field and the rule.
      const good = rows.filter((r) => r.bad.length === 0);
      const bad = rows.filter((r) => r.bad.length > 0);
      expect({ seed, accepted: result.accepted, rejected: result.rejected }).toEqual({
        seed,
        accepted: good.length,
        rejected: bad.length,
      });
      const quarantine = new Map<number, string[]>();
      if (bad.length > 0) {
        const text = new TextDecoder().decode(await store.get(result.quarantineKey as string));
        for (const line of text.split('\n').filter((l) => l !== '')) {
          const entry = JSON.parse(line) as { position: number; reasons: string[] };
          quarantine.set(entry.position, entry.reasons);
        }
      }
      for (const row of bad) {
        const reasons = quarantine.get(row.position) ?? [];
        for (const expected of row.bad)
          expect(
            reasons.some((r) => r.startsWith(expected)),
            `seed ${seed} row ${row.position}: ${expected} in ${JSON.stringify(reasons)}`,
          ).toBe(true);
      }
      accepted += good.length;
      refused += bad.length;
      if (good.length === 0) continue;

      // Offline: each accepted row, asked for at its own event time, gives its own values back.
      const manifest = await getHistoricalFeatures(
        {
          entityRows: good.map((r) => ({
            k1: r.values.k1,
            k2: r.values.k2,
            k3: r.values.k3,
            event_time: r.eventTimeMs,
          })),
          featureRefs: FEATURES.map((f) => `${view.name}:${f}`),
          name: 'fuzz',
        },
        { store, views },
      );
      const bytes = (await store.get(manifest.dataKey)) as Uint8Array;
      const columns = await decodeFeatureColumns(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
      for (const [n, row] of good.entries()) {
        for (const feature of FEATURES) {
          const got = columns[`${view.name}__${feature}`]?.[n];
          expect(
            Object.is(got, stored(row.values[feature])),
            `seed ${seed} row ${row.position} offline ${feature}: ${String(got)} vs ${String(row.values[feature])}`,
          ).toBe(true);
        }
        expect([columns.k1?.[n], columns.k2?.[n], columns.k3?.[n]]).toEqual([
          row.values.k1,
          row.values.k2,
          row.values.k3,
        ]);
      }

      // Online: the latest accepted row of each entity, nothing set aside.
      const online = new OnlineStore(clients.documents(), tableName, () => NOW);
      const run = await materializeView(view, { store, online, now: () => NOW });
      const latest = new Map<string, Row>();
      for (const row of good) {
        const id = JSON.stringify([row.values.k1, row.values.k2, row.values.k3]);
        const current = latest.get(id);
        if (current === undefined || current.eventTimeMs < row.eventTimeMs) latest.set(id, row);
      }
      expect(run).toMatchObject({ setAside: 0, written: latest.size, more: false });
      const entities = [...latest.values()];
      const read = await online.getOnlineFeatures(
        view,
        [...FEATURES],
        entities.map((r) => ({ k1: r.values.k1, k2: r.values.k2, k3: r.values.k3 })),
      );
      for (const [n, row] of entities.entries()) {
        for (const feature of FEATURES) {
          const got = read[n]?.features[feature]?.value;
          expect(
            Object.is(got, stored(row.values[feature])),
            `seed ${seed} row ${row.position} online ${feature}: ${String(got)} vs ${String(row.values[feature])}`,
          ).toBe(true);
        }
        expect(read[n]?.features.f?.ageMs).toBe(NOW - row.eventTimeMs);
      }
    }
    // The fuzz exercised both sides.
    expect(accepted).toBeGreaterThan(SEEDS * 5);
    expect(refused).toBeGreaterThan(SEEDS * 5);
  });
});
