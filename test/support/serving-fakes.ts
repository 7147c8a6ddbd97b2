/**
 * In-memory stand-ins for the serving function's seams (lambdas/serving/ports.ts), for unit tests
 * of the request path: an online feature source over a table of entities, and a capture sink that
 * keeps what it is given and can be made slow or failing. The real ones (DynamoDB, Firehose) are
 * tested against the emulator in the integration tests.
 */
import type { Value } from '../../lambdas/feature-store/row-validation.js';
import type { CaptureRecord } from '../../lambdas/serving/contract.js';
import { entityRefusal } from '../../lambdas/serving/online-features.js';
import type { CaptureSink, EntityKeyValues, OnlineFeatureSource } from '../../lambdas/serving/ports.js';

export interface StoredEntity {
  /** Event time of the stored values. */
  readonly eventMs: number;
  readonly values: Readonly<Record<string, Value>>;
}

/**
 * An online feature source over one view keyed by one string entity. Its refusals are the real
 * source's (entityRefusal of lambdas/serving/online-features.ts): same codes, fields and messages.
 */
export class MemoryFeatureSource implements OnlineFeatureSource {
  /** Every read's keys, in call order. */
  readonly calls: EntityKeyValues[][] = [];

  constructor(
    private readonly options: {
      readonly entity: string;
      /** The signature inputs the view holds. */
      readonly features: readonly string[];
      readonly ttlMs: number;
      readonly entities: Readonly<Record<string, StoredEntity>>;
    },
  ) {}

  async read(keys: readonly EntityKeyValues[], nowMs: number) {
    this.calls.push([...keys]);
    const { entity, features, ttlMs, entities } = this.options;
    return keys.map((key, i) => {
      for (const name of Object.keys(key)) {
        if (name !== entity)
          throw entityRefusal('InvalidEntity', i, name, "is not an entity of this model's feature views");
      }
      const id = key[entity];
      if (typeof id !== 'string')
        throw entityRefusal('InvalidEntity', i, entity, 'must be a non-empty string');
      const stored = Object.hasOwn(entities, id) ? entities[id] : undefined;
      const ageMs = stored === undefined ? null : nowMs - stored.eventMs;
      if (stored === undefined || (ageMs as number) > ttlMs)
        throw entityRefusal(
          'UnknownEntity',
          i,
          'entity',
          `the online store holds no unexpired features for ${JSON.stringify(key)}`,
        );
      return Object.fromEntries(
        features.map((name) => {
          const value = stored.values[name];
          return [name, value === undefined ? { value: null, ageMs: null } : { value, ageMs }];
        }),
      );
    });
  }
}

/** A capture sink that keeps its records; `delayMs` makes it slow, `fail` makes it fail. */
export class MemoryCapture implements CaptureSink {
  readonly records: CaptureRecord[] = [];
  delayMs = 0;
  /** 'count': reports every record failed; 'throw': rejects (a sink that breaks its contract). */
  fail: 'no' | 'count' | 'throw' = 'no';
  /** Puts started and settled. */
  started = 0;
  settled = 0;

  async put(records: readonly CaptureRecord[]) {
    this.started++;
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
      if (this.fail === 'throw') throw new Error('capture stream unavailable');
      if (this.fail === 'count') return { delivered: 0, failed: records.length };
      this.records.push(...records);
      return { delivered: records.length, failed: 0 };
    } finally {
      this.settled++;
    }
  }
}
