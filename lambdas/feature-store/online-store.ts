/**
 * The online store over DynamoDB: one item per feature view and entity,
 * `pk = <view>#<JSON array of entity key values>`, holding the latest feature values in a map
 * `features`, the value's `eventTimeMs` and `ingestedAtMs`, and `expiresAt` (epoch seconds) for
 * DynamoDB's TTL (the names: ONLINE_ITEM in ../shared/layout.ts). Writes are conditional so an
 * older value never replaces a newer one; reads enforce the TTL themselves (DynamoDB deletes
 * expired items only eventually).
 *
 * Writes go through TransactWriteItems, up to 100 conditional Puts per request, not BatchWriteItem:
 * BatchWriteItem takes no condition expressions, so two racing materializations could let an older
 * value overwrite a newer one. The trade-off is cost: a transactional write consumes 2 WCU per item
 * (twice a PutItem), in exchange for up to 100 times fewer requests than one conditional PutItem per
 * record. A transaction is all or nothing, so a stale record cancels its whole chunk; the
 * cancellation reasons say which records were stale (skipped, never retried) and the rest go again
 * in a new transaction.
 *
 * A record the table can never take is set aside (returned with its reason), never retried and
 * never allowed to block the others: one whose key, numbers or size break the online store's limits
 * (checked before sending, by the rules ingestion applies: ./online-key.ts), one DynamoDB refuses
 * with a ValidationException (its transaction is split in halves until the record is alone), or one
 * a cancellation names with `ValidationError` or `ItemCollectionSizeLimitExceeded`. Anything else
 * (a missing table, denied access, a network failure) still fails the write.
 */
import type { CancellationReason } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mapLimit } from '../shared/concurrency.js';
import { DependencyError, ValidationError } from '../shared/errors.js';
import { DYNAMODB_ITEM_LIMIT_BYTES, itemSize } from '../shared/item-size.js';
import { ONLINE_ITEM } from '../shared/layout.js';
import { backoffDelay, sleep } from '../shared/retry.js';
import { type FeatureView, viewTtlMs } from './feature-view.js';
import {
  DYNAMODB_PARTITION_KEY_LIMIT_BYTES,
  isOnlineNumber,
  ONLINE_NUMBER_RULE,
  onlineKey,
  utf8ByteLength,
} from './online-key.js';
import type { Value } from './row-validation.js';

/** Most keys one online request may ask for. */
export const MAX_ONLINE_KEYS = 1000;
const BATCH_GET_LIMIT = 100;
/** Most operations DynamoDB accepts in one TransactWriteItems request. */
export const TRANSACT_WRITE_LIMIT = 100;
/** Cancellations in a row that drop no stale record (conflicts, throttling) before a chunk gives up. */
const MAX_WRITE_ATTEMPTS = 8;
const { partitionKey: PK, eventTime: EVENT_TIME, ingestedAt: INGESTED_AT } = ONLINE_ITEM;
const NEWER_OR_ABSENT = `attribute_not_exists(${PK}) OR ${EVENT_TIME} < :t OR (${EVENT_TIME} = :t AND ${INGESTED_AT} < :i)`;
/** Cancellation reasons that say nothing against the record itself: submit it again after a pause. */
const TRANSIENT_CODES = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** Cancellation reasons that say the record itself can never be written: set it aside. */
const REFUSED_CODES = new Set(['ValidationError', 'ItemCollectionSizeLimitExceeded']);

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

/** One view's part of {@link OnlineStore.readViews}: the features to read for the keys. */
export interface OnlineRead {
  readonly view: FeatureView;
  readonly featureNames: readonly string[];
  readonly entityKeys: readonly EntityKey[];
}

export interface OnlineFeatureRow {
  readonly entityKey: EntityKey;
  readonly features: Record<string, OnlineFeatureValue>;
}

export interface WriteLatestOptions {
  /**
   * Records per TransactWriteItems request, 1 to 100.
   * @default 100
   */
  readonly batchSize?: number;
  /**
   * Transactions in flight. Each carries up to `batchSize` records, so 8 keeps up to 800 writes
   * going while leaving the table's capacity (and the Lambda's sockets) room for other work.
   * @default 8
   */
  readonly concurrency?: number;
}

export interface WriteLatestResult {
  /** Records written. */
  readonly written: number;
  /** Records not written because the table already held a value at least as new. */
  readonly skipped: number;
  /** TransactWriteItems requests sent, the cancelled ones included. */
  readonly requests: number;
  /** Records the table can never take, each with the reason: not written, not retried. */
  readonly setAside: readonly SetAsideRecord[];
}

/** A record the online store could not write, and why (naming the field or DynamoDB's answer). */
export interface SetAsideRecord {
  readonly record: OnlineRecord;
  readonly reason: string;
}

interface Tally {
  written: number;
  skipped: number;
  requests: number;
  setAside: SetAsideRecord[];
}

/** A chunk that still failed after {@link MAX_WRITE_ATTEMPTS} transient cancellations. */
class WriteAttemptsExhausted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WriteAttemptsExhausted';
  }
}

type Put = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
/** A conditional Put and the record it writes. */
interface Pending {
  readonly put: Put;
  readonly record: OnlineRecord;
}

export { onlineKey };

export class OnlineStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Writes the latest value of each entity unless the table already holds one at least as new
   * (by event time, then ingestion time): conditional Puts in transactions of `batchSize`, at most
   * `concurrency` in flight. Records must name distinct entities (a transaction may not touch an item
   * twice). Stale records are skipped; records cancelled for another reason are submitted again.
   * Rejects, naming how many records were not written, when a chunk keeps being cancelled by
   * conflicts or throttling; any other error propagates as it is.
   */
  async writeLatest(
    view: FeatureView,
    records: readonly OnlineRecord[],
    options: WriteLatestOptions = {},
  ): Promise<WriteLatestResult> {
    const batchSize = options.batchSize ?? TRANSACT_WRITE_LIMIT;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > TRANSACT_WRITE_LIMIT)
      throw new ValidationError('batchSize', `must be an integer from 1 to ${TRANSACT_WRITE_LIMIT}`);
    const concurrency = options.concurrency ?? 8;
    if (!Number.isInteger(concurrency) || concurrency < 1)
      throw new ValidationError('concurrency', 'must be a positive integer');
    const seen = new Map<string, number>();
    const tally: Tally = { written: 0, skipped: 0, requests: 0, setAside: [] };
    const puts: Pending[] = [];
    records.forEach((record, i) => {
      const pk = onlineKey(view.name, record.entityKey);
      const first = seen.get(pk);
      if (first !== undefined)
        throw new ValidationError(`records.${i}`, `must name another entity than records.${first}`);
      seen.set(pk, i);
      const ttlMs = viewTtlMs(view);
      const item: Record<string, unknown> = {
        [PK]: pk,
        [ONLINE_ITEM.view]: view.name,
        [ONLINE_ITEM.features]: record.features,
        [EVENT_TIME]: record.eventTimeMs,
        [INGESTED_AT]: record.ingestedAtMs,
        // No expiry attribute for a view that never expires: DynamoDB's TTL passes the item over.
        ...(Number.isFinite(ttlMs)
          ? { [ONLINE_ITEM.ttl]: Math.ceil((record.eventTimeMs + ttlMs) / 1000) }
          : {}),
      };
      const reason = unwritable(record, item);
      if (reason !== undefined) {
        tally.setAside.push({ record, reason });
        return;
      }
      puts.push({
        record,
        put: {
          Put: {
            TableName: this.tableName,
            Item: item,
            ConditionExpression: NEWER_OR_ABSENT,
            ExpressionAttributeValues: { ':t': record.eventTimeMs, ':i': record.ingestedAtMs },
          },
        },
      });
    });

    const chunks: Pending[][] = [];
    for (let i = 0; i < puts.length; i += batchSize) chunks.push(puts.slice(i, i + batchSize));
    let failure: { error: unknown } | undefined;
    await mapLimit(chunks, concurrency, async (chunk) => {
      if (failure !== undefined) return; // one chunk failed: start no more, let those in flight finish
      try {
        await this.writeChunk(chunk, tally);
      } catch (error) {
        failure ??= { error };
      }
    });
    if (failure !== undefined) {
      if (!(failure.error instanceof WriteAttemptsExhausted)) throw failure.error;
      const unwritten = records.length - tally.written - tally.skipped - tally.setAside.length;
      throw new DependencyError(
        'dynamodb',
        `online write of ${view.name}: ${unwritten} of ${records.length} records not written (${failure.error.message})`,
        { cause: failure.error },
      );
    }
    return tally;
  }

  /**
   * Writes one chunk in as many transactions as it takes. A cancellation that names stale records
   * (`ConditionalCheckFailed`) drops them and resubmits the rest at once: the chunk shrinks, so this
   * ends. Conflicts and throttling resubmit after a pause (full jitter); {@link MAX_WRITE_ATTEMPTS}
   * cancellations in a row that drop nothing give up. A transaction over DynamoDB's 4 MB limit, or
   * one DynamoDB refuses as invalid, is split in halves; an invalid record alone is set aside, as
   * are the records a cancellation names as invalid.
   */
  private async writeChunk(chunk: readonly Pending[], tally: Tally): Promise<void> {
    let pending = chunk;
    let stalled = 0;
    for (;;) {
      try {
        tally.requests++;
        await this.documents.send(new TransactWriteCommand({ TransactItems: pending.map((p) => p.put) }));
        tally.written += pending.length;
        return;
      } catch (error) {
        const refused = isRefused(error);
        if ((refused || isTooLarge(error)) && pending.length > 1) {
          const half = Math.ceil(pending.length / 2);
          await this.writeChunk(pending.slice(0, half), tally);
          await this.writeChunk(pending.slice(half), tally);
          return;
        }
        if (refused) {
          const { name, message } = error as Error;
          tally.setAside.push({
            record: (pending[0] as Pending).record,
            reason: `DynamoDB refused the item: ${name}: ${message}`,
          });
          return;
        }
        const reasons = cancellationReasons(error, pending.length);
        if (reasons === undefined) throw error;
        const again: Pending[] = [];
        const transient = new Set<string>();
        for (const [i, reason] of reasons.entries()) {
          const code = reason.Code ?? 'None';
          if (code === 'ConditionalCheckFailed') {
            tally.skipped++;
            continue;
          }
          if (REFUSED_CODES.has(code)) {
            tally.setAside.push({
              record: (pending[i] as Pending).record,
              reason: `DynamoDB refused the item: ${code}${reason.Message ? `: ${reason.Message}` : ''}`,
            });
            continue;
          }
          if (code !== 'None' && !TRANSIENT_CODES.has(code)) throw error;
          if (code !== 'None') transient.add(code);
          again.push(pending[i] as Pending);
        }
        stalled = again.length < pending.length ? 0 : stalled + 1;
        pending = again;
        if (pending.length === 0) return;
        if (stalled >= MAX_WRITE_ATTEMPTS)
          throw new WriteAttemptsExhausted(
            `${pending.length} still cancelled (${[...transient].join(', ') || 'None'}) after ${stalled} attempts in a row`,
          );
        if (transient.size > 0) await sleep(backoffDelay(stalled + 1, { baseDelayMs: 25, maxDelayMs: 1000 }));
      }
    }
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
    if (entityKeys.length > MAX_ONLINE_KEYS) {
      throw new ValidationError(
        'entityKeys',
        `must hold at most ${MAX_ONLINE_KEYS} keys (got ${entityKeys.length})`,
      );
    }
    const [rows] = await this.readViews([{ view, featureNames, entityKeys }]);
    return rows ?? [];
  }

  /**
   * Reads several views at once (what a prediction over features of several views needs): every
   * key of every read in the same BatchGetItem requests (chunks of 100, in parallel, projecting the
   * union of the features asked, retrying unprocessed keys), rows per read in its keys' order, by
   * {@link getOnlineFeatures}' rules (a missing or expired entity gives explicit nulls). `nowMs` is
   * the clock the TTL and ages are judged at (default: the store's).
   */
  async readViews(reads: readonly OnlineRead[], nowMs?: number): Promise<OnlineFeatureRow[][]> {
    for (const { view, featureNames } of reads) {
      const known = new Set(view.features.map((f) => f.name));
      for (const [i, name] of featureNames.entries()) {
        if (!known.has(name))
          throw new ValidationError(
            `featureNames.${i}`,
            `must be a feature of view ${view.name} (${name} is not)`,
          );
      }
    }
    const keys = reads.map(({ view, entityKeys }) =>
      entityKeys.map((key, i) => entityKeyValues(view, key, `entityKeys.${i}`)),
    );
    const pks = [
      ...new Set(reads.flatMap(({ view }, r) => (keys[r] ?? []).map((k) => onlineKey(view.name, k)))),
    ];
    const names: Record<string, string> = {
      '#pk': PK,
      '#t': EVENT_TIME,
      '#f': ONLINE_ITEM.features,
    };
    const featureNames = [...new Set(reads.flatMap((r) => r.featureNames))];
    const projection = [
      '#pk',
      '#t',
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
        let pending: Record<string, unknown>[] = chunk.map((pk) => ({ [PK]: pk }));
        for (let attempt = 0; pending.length > 0; attempt++) {
          if (attempt > 0) {
            if (attempt > 8)
              throw new DependencyError(
                'dynamodb',
                `online read: ${pending.length} keys still unprocessed after ${attempt} attempts`,
              );
            await sleep(backoffDelay(attempt, { baseDelayMs: 40, maxDelayMs: 1000 }));
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
          for (const item of result.Responses?.[this.tableName] ?? []) items.set(String(item[PK]), item);
          pending =
            (result.UnprocessedKeys?.[this.tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
        }
      }),
    );

    const now = nowMs ?? this.now();
    return reads.map(({ view, featureNames: wanted, entityKeys }, r) =>
      entityKeys.map((entityKey, i) => {
        const item = items.get(onlineKey(view.name, keys[r]?.[i] ?? []));
        // The offline rule, at `now`: stamped at or before now and at most TTL old (inclusive).
        // expiresAt only tells DynamoDB when it may delete the item.
        const age = item === undefined ? Number.NaN : now - Number(item[EVENT_TIME]);
        const live = age >= 0 && age <= viewTtlMs(view);
        const stored = (live ? item?.[ONLINE_ITEM.features] : undefined) as Record<string, Value> | undefined;
        const ageMs = live ? age : null;
        const features: Record<string, OnlineFeatureValue> = {};
        for (const name of wanted) {
          features[name] =
            stored === undefined ? { value: null, ageMs: null } : { value: stored[name] ?? null, ageMs };
        }
        return { entityKey, features };
      }),
    );
  }
}

/**
 * The key values of `key` in the view's entity order, checked (exactly the view's entities; an
 * int64 entity an integer, a string one a non-empty string). A ValidationError names `field` and
 * the entity at fault.
 */
export function entityKeyValues(view: FeatureView, key: EntityKey, field: string): (string | number)[] {
  if (key === null || typeof key !== 'object')
    throw new ValidationError(field, 'must be an object of entity key values');
  const names = Object.keys(key);
  if (names.length !== view.entities.length) {
    throw new ValidationError(field, `must hold exactly ${view.entities.map((e) => e.name).join(', ')}`);
  }
  return view.entities.map((entity) => {
    const value = key[entity.name];
    const ok =
      entity.type === 'int64' ? Number.isInteger(value) : typeof value === 'string' && value.length > 0;
    if (!ok)
      throw new ValidationError(
        `${field}.${entity.name}`,
        `must be ${entity.type === 'int64' ? 'an integer' : 'a non-empty string'}`,
      );
    return value as string | number;
  });
}

/**
 * Why the online store can never write `record` (as `item`), naming the field and the rule; undefined
 * when it can. The same limits ingestion enforces (./online-key.ts), for records it did not check:
 * rows ingested before a rule existed, or files written by other tools.
 */
function unwritable(record: OnlineRecord, item: Record<string, unknown>): string | undefined {
  const keyBytes = utf8ByteLength(item[PK] as string);
  if (keyBytes > DYNAMODB_PARTITION_KEY_LIMIT_BYTES)
    return `${PK}: the online key (view, entity keys as JSON) must be at most ${DYNAMODB_PARTITION_KEY_LIMIT_BYTES} UTF-8 bytes, got ${keyBytes}`;
  for (const [i, part] of record.entityKey.entries()) {
    if (typeof part === 'number' && !Number.isSafeInteger(part))
      return `entityKey.${i}: must be an integer within ±(2^53−1)`;
  }
  for (const [name, value] of Object.entries(record.features)) {
    if (typeof value === 'number' && !isOnlineNumber(value)) return `features.${name}: ${ONLINE_NUMBER_RULE}`;
  }
  const { eventTimeMs, ingestedAtMs } = record;
  for (const [name, ms] of Object.entries({ eventTimeMs, ingestedAtMs })) {
    if (!Number.isSafeInteger(ms)) return `${name}: must be whole epoch milliseconds`;
  }
  const { total } = itemSize(item);
  return total > DYNAMODB_ITEM_LIMIT_BYTES
    ? `item: must be at most ${DYNAMODB_ITEM_LIMIT_BYTES} bytes, got ${total}`
    : undefined;
}

/**
 * DynamoDB refused the request as invalid (`ValidationException`, an answer from the service, so it
 * carries `$metadata`), other than for a transaction's aggregate size: something in its items.
 */
function isRefused(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: unknown };
  return name === 'ValidationException' && $metadata !== undefined && !isTooLarge(error);
}

/** A transaction refused for its aggregate size (DynamoDB: "Transaction request cannot be larger than 4 MB"). */
function isTooLarge(error: unknown): boolean {
  const { name, message } = error as { name?: string; message?: string };
  return name === 'ValidationException' && /larger than 4 ?MB/i.test(message ?? '');
}

/**
 * The reasons of a cancelled transaction, one per operation; undefined for any other error, or when
 * the reasons do not line up with the operations (then nothing can be told about single records).
 */
function cancellationReasons(error: unknown, operations: number): CancellationReason[] | undefined {
  if ((error as { name?: string }).name !== 'TransactionCanceledException') return undefined;
  const reasons = (error as { CancellationReasons?: CancellationReason[] }).CancellationReasons;
  return reasons?.length === operations ? reasons : undefined;
}
