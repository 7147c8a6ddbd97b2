/**
 * The online store over DynamoDB: one item per feature view and entity,
 * `pk = <view>#<JSON array of entity key values>`, holding the latest feature values in a map
 * `features`, the value's `eventTimeMs` and `ingestedAtMs`, and `expiresAt` (epoch seconds) for
 * DynamoDB's TTL. Writes are conditional so an older value never replaces a newer one; reads
 * enforce the TTL themselves (DynamoDB deletes expired items only eventually).
 */
import { BatchGetCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../shared/errors.js';
import type { FeatureView } from './feature-view.js';
import type { Value } from './row-validation.js';

/** Most keys one online request may ask for. */
export const MAX_ONLINE_KEYS = 1000;
const BATCH_GET_LIMIT = 100;

export type EntityKey = Record<string, string | number>;

export interface OnlineRecord {
  readonly entityKey: readonly (string | number)[];
  readonly eventTimeMs: number;
  readonly ingestedAtMs: number;
  readonly features: Record<string, Value>;
}

export interface OnlineFeatureValue {
  readonly value: Value;
  /** Milliseconds since the value's event time; null when there is no (unexpired) value. */
  readonly ageMs: number | null;
}

export interface OnlineFeatureRow {
  readonly entityKey: EntityKey;
  readonly features: Record<string, OnlineFeatureValue>;
}

export const onlineKey = (view: string, entityKey: readonly (string | number)[]) =>
  `${view}#${JSON.stringify(entityKey)}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `work` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export class OnlineStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Writes the latest value of each entity unless the table already holds one at least as new
   * (by event time, then ingestion time). Returns how many items were written and how many were
   * skipped because a newer value was already there.
   */
  async writeLatest(
    view: FeatureView,
    records: readonly OnlineRecord[],
    concurrency = 16,
  ): Promise<{ written: number; skipped: number }> {
    let written = 0;
    let skipped = 0;
    await mapLimit(records, concurrency, async (record) => {
      try {
        await this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              pk: onlineKey(view.name, record.entityKey),
              view: view.name,
              features: record.features,
              eventTimeMs: record.eventTimeMs,
              ingestedAtMs: record.ingestedAtMs,
              expiresAt: Math.ceil((record.eventTimeMs + view.ttlSeconds * 1000) / 1000),
            },
            ConditionExpression:
              'attribute_not_exists(pk) OR eventTimeMs < :t OR (eventTimeMs = :t AND ingestedAtMs < :i)',
            ExpressionAttributeValues: { ':t': record.eventTimeMs, ':i': record.ingestedAtMs },
          }),
        );
        written++;
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
        skipped++;
      }
    });
    return { written, skipped };
  }

  /**
   * Reads the named features of `entityKeys` (at most 1000): BatchGetItem in chunks of 100, in
   * parallel, projecting only what was asked, retrying unprocessed keys. A missing or expired
   * entity gives explicit nulls.
   */
  async getOnlineFeatures(
    view: FeatureView,
    featureNames: readonly string[],
    entityKeys: readonly EntityKey[],
  ): Promise<OnlineFeatureRow[]> {
    const known = new Set(view.features.map((f) => f.name));
    for (const [i, name] of featureNames.entries()) {
      if (!known.has(name))
        throw new ValidationError(
          `featureNames.${i}`,
          `must be a feature of view ${view.name} (${name} is not)`,
        );
    }
    if (entityKeys.length > MAX_ONLINE_KEYS) {
      throw new ValidationError(
        'entityKeys',
        `must hold at most ${MAX_ONLINE_KEYS} keys (got ${entityKeys.length})`,
      );
    }
    const keys = entityKeys.map((key, i) => this.keyValues(view, key, i));
    const pks = [...new Set(keys.map((k) => onlineKey(view.name, k)))];
    const names: Record<string, string> = {
      '#pk': 'pk',
      '#t': 'eventTimeMs',
      '#x': 'expiresAt',
      '#f': 'features',
    };
    const projection = [
      '#pk',
      '#t',
      '#x',
      ...featureNames.map((name, i) => {
        names[`#f${i}`] = name;
        return `#f.#f${i}`;
      }),
    ].join(', ');

    const items = new Map<string, Record<string, unknown>>();
    const chunks: string[][] = [];
    for (let i = 0; i < pks.length; i += BATCH_GET_LIMIT) chunks.push(pks.slice(i, i + BATCH_GET_LIMIT));
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending: Record<string, unknown>[] = chunk.map((pk) => ({ pk }));
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt > 0) {
            if (attempt > 8)
              throw new Error(
                `online read: ${pending.length} keys still unprocessed after ${attempt} attempts`,
              );
            await sleep(Math.random() * Math.min(1000, 20 * 2 ** attempt));
          }
          const result = await this.documents.send(
            new BatchGetCommand({
              RequestItems: {
                [this.tableName]: {
                  Keys: pending,
                  ProjectionExpression: projection,
                  ExpressionAttributeNames: names,
                },
              },
            }),
          );
          for (const item of result.Responses?.[this.tableName] ?? []) items.set(String(item.pk), item);
          pending =
            (result.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
        }
      }),
    );

    const now = this.now();
    return entityKeys.map((entityKey, i) => {
      const item = items.get(onlineKey(view.name, keys[i] ?? []));
      const live = item !== undefined && Number(item.expiresAt) * 1000 > now;
      const stored = (live ? item?.features : undefined) as Record<string, Value> | undefined;
      const ageMs = live ? now - Number(item?.eventTimeMs) : null;
      const features: Record<string, OnlineFeatureValue> = {};
      for (const name of featureNames) {
        features[name] =
          stored === undefined ? { value: null, ageMs: null } : { value: stored[name] ?? null, ageMs };
      }
      return { entityKey, features };
    });
  }

  private keyValues(view: FeatureView, key: EntityKey, index: number): (string | number)[] {
    if (key === null || typeof key !== 'object')
      throw new ValidationError(`entityKeys.${index}`, 'must be an object of entity key values');
    const names = Object.keys(key);
    if (names.length !== view.entities.length) {
      throw new ValidationError(
        `entityKeys.${index}`,
        `must hold exactly ${view.entities.map((e) => e.name).join(', ')}`,
      );
    }
    return view.entities.map((entity) => {
      const value = key[entity.name];
      const ok =
        entity.type === 'int64' ? Number.isInteger(value) : typeof value === 'string' && value.length > 0;
      if (!ok)
        throw new ValidationError(
          `entityKeys.${index}.${entity.name}`,
          `must be ${entity.type === 'int64' ? 'an integer' : 'a non-empty string'}`,
        );
      return value as string | number;
    });
  }
}
