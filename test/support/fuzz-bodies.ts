/**
 * Seeded random and malformed request bodies for the inference API: random JSON, near-valid
 * predict requests with one thing wrong (types, huge numbers, NaN strings, unknown or missing
 * features, unknown categories, bad entity keys), deep nesting, unicode and lone surrogates,
 * base64, wrong content types, truncated JSON, oversized bodies and batches, feedback bodies.
 * The unit fuzz test sends them through createInferenceApp; the local adapter's test can send the
 * same over HTTP (a base64 case's bytes are `Buffer.from(body, 'base64')`).
 *
 * Every case is a request a client may send: the API must answer each with a 2xx or a 4xx, never
 * a 5xx, a crash or an unhandled rejection.
 */
import { MAX_BODY_BYTES } from '../../lambdas/serving/contract.js';
import { prng } from './random.js';

/** What a generated request looks like to the model (names, types, categories, known entities). */
export interface FuzzSchema {
  readonly features: readonly {
    readonly name: string;
    readonly type: 'float64' | 'int64' | 'string' | 'bool';
    readonly categories?: readonly string[];
  }[];
  /** An entity key name and ids the online store holds. */
  readonly entity?: { readonly name: string; readonly ids: readonly string[] };
  /** The API's batch maximum (bodies around it are generated). */
  readonly maxBatchInstances: number;
  /**
   * Request ids the API answered (feedback bodies name one of them 80 % of the time, else a made-up
   * id). Without them, every feedback names a made-up id.
   */
  readonly requestIds?: readonly string[];
}

export interface FuzzBody {
  /** Which generator made it (for failure messages and tallies). */
  readonly kind: string;
  /** The route it is meant for. */
  readonly route: 'predict' | 'feedback';
  /** The content-type header; undefined: none sent. */
  readonly contentType: string | undefined;
  /** The body as API Gateway passes it: text, or base64 of the bytes when `isBase64Encoded`. */
  readonly body: string | null;
  readonly isBase64Encoded: boolean;
}

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
const int = (random: Random, max: number) => Math.floor(random() * max);

const STRINGS = [
  '',
  ' ',
  'a',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'true',
  '1e309',
  '0x10',
  '__proto__',
  'constructor',
  'prototype',
  'üñíçødé',
  '日本語',
  '🙂🙃',
  '\u0000',
  '\u202e',
  'a'.repeat(300),
];
/** JSON number texts, including ones JSON.parse turns into Infinity or loses precision on. */
const NUMBER_TEXTS = [
  '0',
  '-0',
  '1',
  '-1',
  '1.5',
  '1e308',
  '-1e308',
  '1e309',
  '-1e999',
  '9007199254740993',
  '123456789012345678901234567890',
  '5e-324',
  '1e-400',
  '0.1',
  '42',
  '3.0',
];

/** A random JSON text of bounded size (depth ≤ `depth`). */
function randomJson(random: Random, depth: number): string {
  const r = random();
  if (depth <= 0 || r < 0.45) {
    const s = random();
    if (s < 0.25) return pick(random, NUMBER_TEXTS);
    if (s < 0.5) return JSON.stringify(pick(random, STRINGS));
    if (s < 0.6) return 'null';
    if (s < 0.7) return random() < 0.5 ? 'true' : 'false';
    return String((random() - 0.5) * 10 ** int(random, 12));
  }
  const n = int(random, 5);
  if (r < 0.7) return `[${Array.from({ length: n }, () => randomJson(random, depth - 1)).join(',')}]`;
  const keys = [
    'features',
    'entity',
    'instances',
    'requestId',
    'outcome',
    'x',
    '__proto__',
    ...STRINGS.slice(0, 6),
  ];
  return `{${Array.from({ length: n }, () => `${JSON.stringify(pick(random, keys))}:${randomJson(random, depth - 1)}`).join(',')}}`;
}

/** A JSON text for a feature value: usually right for the type, often not. */
function featureValue(random: Random, feature: FuzzSchema['features'][number]): string {
  const r = random();
  if (r < 0.55) {
    switch (feature.type) {
      case 'float64':
        return String((random() - 0.5) * 20);
      case 'int64':
        return String(int(random, 20));
      case 'bool':
        return random() < 0.5 ? 'true' : 'false';
      case 'string':
        return JSON.stringify(feature.categories ? pick(random, feature.categories) : pick(random, STRINGS));
    }
  }
  if (r < 0.7) return pick(random, NUMBER_TEXTS);
  if (r < 0.82) return JSON.stringify(pick(random, STRINGS));
  if (r < 0.87) return 'null';
  if (r < 0.92) return random() < 0.5 ? 'true' : 'false';
  return randomJson(random, 3);
}

/** A near-valid instance: all, some or extra features, maybe an entity key. */
function instanceJson(random: Random, schema: FuzzSchema): string {
  const parts: string[] = [];
  const entity = schema.entity;
  const useEntity = entity !== undefined && random() < 0.35;
  const features = schema.features.filter(() => random() < (useEntity ? 0.3 : 0.93));
  const entries = features.map((f) => `${JSON.stringify(f.name)}:${featureValue(random, f)}`);
  if (random() < 0.1) entries.push(`${JSON.stringify(pick(random, ['age', 'X1', '__proto__', '']))}:1`);
  if (entries.length > 0 || !useEntity || random() < 0.5) parts.push(`"features":{${entries.join(',')}}`);
  if (useEntity) {
    const r = random();
    const key =
      r < 0.6
        ? `{${JSON.stringify(entity.name)}:${JSON.stringify(pick(random, entity.ids))}}`
        : r < 0.75
          ? `{${JSON.stringify(entity.name)}:${JSON.stringify(`unknown-${int(random, 1000)}`)}}`
          : r < 0.85
            ? `{${JSON.stringify(entity.name)}:${featureValue(random, { name: entity.name, type: 'float64' })}}`
            : r < 0.92
              ? '{}'
              : `{"other_id":"x"}`;
    parts.push(`"entity":${key}`);
  }
  if (random() < 0.03) parts.push(`"extra":${randomJson(random, 2)}`);
  return `{${parts.join(',')}}`;
}

/** Predict bodies valid in shape, with random values (the most common case). */
function predictBody(random: Random, schema: FuzzSchema): string {
  if (random() < 0.4) return instanceJson(random, schema);
  const r = random();
  const n =
    r < 0.8
      ? 1 + int(random, 8)
      : r < 0.9
        ? schema.maxBatchInstances + int(random, 3) - 1
        : r < 0.95
          ? 0
          : schema.maxBatchInstances * 3;
  return `{"instances":[${Array.from({ length: n }, () => instanceJson(random, schema)).join(',')}]}`;
}

function feedbackBody(random: Random, schema: FuzzSchema): string {
  const fields: string[] = [];
  const known = schema.requestIds ?? [];
  if (random() < 0.9) {
    const r = random();
    const id =
      r < 0.8 && known.length > 0
        ? JSON.stringify(pick(random, known))
        : r < 0.9
          ? JSON.stringify(`req-${int(random, 100)}`)
          : randomJson(random, 1);
    fields.push(`"requestId":${id}`);
  }
  if (random() < 0.9)
    fields.push(
      `"outcome":${random() < 0.7 ? pick(random, ['0', '1', 'true', '"yes"']) : randomJson(random, 1)}`,
    );
  if (random() < 0.4)
    fields.push(`"instance":${pick(random, ['0', '3', '-1', '1.5', '"0"', '1e999', '100000'])}`);
  if (random() < 0.3) fields.push(`"idempotencyKey":${random() < 0.7 ? '"k-1"' : randomJson(random, 1)}`);
  if (random() < 0.05) fields.push('"label":1');
  return `{${fields.join(',')}}`;
}

/** Bodies over the limit, built once (they are big). */
let oversized: { json: string; base64: string } | undefined;
function oversizedBodies() {
  if (oversized === undefined) {
    const filler = 'x'.repeat(MAX_BODY_BYTES);
    const json = `{"features":{"x":"${filler}"}}`;
    oversized = { json, base64: Buffer.from(json).toString('base64') };
  }
  return oversized;
}

const CONTENT_TYPES = [
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/jsonx',
  'json',
  '',
  'multipart/form-data; boundary=x',
  'application/xml',
];

/** Breaks a text: truncates, inserts, or replaces characters. */
function mangle(random: Random, text: string): string {
  const at = int(random, text.length + 1);
  const r = random();
  if (r < 0.4) return text.slice(0, at);
  if (r < 0.7)
    return `${text.slice(0, at)}${pick(random, ['{', '}', '[', ']', ',', ':', '"', '\\', '\ud800', 'NaN', '\u0000'])}${text.slice(at)}`;
  return `${text.slice(0, at)}${text.slice(at + 1 + int(random, 5))}`;
}

/**
 * `count` bodies from `seed`: the same seed gives the same bodies. Roughly: 45% near-valid predict
 * requests, 10% random JSON, 8% broken JSON, 8% feedback, 6% wrong content types, 6% base64,
 * 5% deep nesting, 5% unicode/escapes, 4% wrong top-level shapes, the rest oversized or empty.
 */
export function* fuzzBodies(seed: number, count: number, schema: FuzzSchema): Generator<FuzzBody> {
  const random = prng(seed);
  const json = 'application/json';
  for (let i = 0; i < count; i++) {
    const r = random();
    const make = (kind: string, body: string | null, options: Partial<FuzzBody> = {}): FuzzBody => ({
      kind,
      route: 'predict',
      contentType: json,
      body,
      isBase64Encoded: false,
      ...options,
    });
    if (r < 0.45) yield make('predict', predictBody(random, schema));
    else if (r < 0.55) yield make('random-json', randomJson(random, 5));
    else if (r < 0.63) yield make('broken-json', mangle(random, predictBody(random, schema)));
    else if (r < 0.71)
      yield make('feedback', random() < 0.85 ? feedbackBody(random, schema) : randomJson(random, 3), {
        route: 'feedback',
      });
    else if (r < 0.77)
      yield make('content-type', predictBody(random, schema), {
        contentType: random() < 0.15 ? undefined : pick(random, CONTENT_TYPES),
      });
    else if (r < 0.83) {
      const text = random() < 0.7 ? predictBody(random, schema) : randomJson(random, 3);
      const bytes = Buffer.from(text);
      yield make(
        'base64',
        random() < 0.8 ? bytes.toString('base64') : mangle(random, bytes.toString('base64')),
        {
          isBase64Encoded: true,
        },
      );
    } else if (r < 0.88) {
      const depth = pick(random, [100, 1000, 10_000, 50_000]);
      const open = pick(random, ['[', '{"features":', '{"instances":[', '{"a":']);
      const close = open === '[' ? ']' : open === '{"instances":[' ? ']}' : '}';
      const deep = `${open.repeat(depth)}1${close.repeat(random() < 0.8 ? depth : depth - 1)}`;
      yield make('deep', random() < 0.5 ? deep : `{"features":{"x1":${deep}}}`);
    } else if (r < 0.93) {
      const s = pick(random, ['\\ud800', '\\udfff', '\\u0000', 'é', '\\u202e', '🙂', '\\"', '\\\\']);
      const name = random() < 0.5 ? (schema.features[0]?.name ?? 'x') : `f${s}`;
      yield make('unicode', `{"features":{${JSON.stringify(name)}:"${s.repeat(1 + int(random, 50))}"}}`);
    } else if (r < 0.97) {
      yield make(
        'shape',
        pick(random, [
          '[]',
          '""',
          '1',
          'null',
          'true',
          '{}',
          '{"instances":{}}',
          '{"instances":null}',
          '{"instances":[[]]}',
          '{"instances":[null]}',
          '{"features":[]}',
          '{"entity":"c-1"}',
          '{"features":{},"entity":{}}',
          '{"instances":[],"features":{}}',
        ]),
      );
    } else if (r < 0.985) {
      const big = oversizedBodies();
      yield random() < 0.5
        ? make('oversized', big.json)
        : make('oversized', big.base64, { isBase64Encoded: true });
    } else yield make('empty', random() < 0.5 ? '' : null);
  }
}
