/**
 * Training state per model in the tracking table (partition `TRAINING#<model>`, keys in
 * ../../shared/layout.ts): the lease that keeps one execution per model running, and what each
 * execution concluded per (dataset hash, config fingerprint), which a duplicate trigger reuses.
 *
 * Lease: taking it is one conditional PutItem that succeeds when no lease exists, the existing one
 * has expired (`expiresAtMs <= now`), or the caller already holds it (a retried Prepare of the same
 * execution takes it again). The lease carries its expiry, so an execution that crashed or timed out
 * without releasing it blocks the next ones only until then. Releasing is a delete conditioned on
 * still being the holder: releasing twice, or after another holder took an expired lease, is a
 * no-op answered `false`. The tracking table has no TTL attribute, so nothing else is written.
 *
 * Results are written once (attribute_not_exists): a second write of the same run is a no-op, and
 * another run's write keeps the first result (both trained on the same data and configuration).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ContentionError, ValidationError } from '../../shared/errors.js';
import { TRAINING_LEASE_SK, trainingPk, trainingResultSk } from '../../shared/layout.js';
import type { LeaseRef, TrainingResultRecord } from './contract.js';

/** Another execution holds the lease until `expiresAtMs`. */
export interface LeaseHeld {
  readonly heldBy: string;
  readonly expiresAtMs: number;
}

/** What {@link TrainingStateStore.acquireLease} answers: the lease taken, or who holds it. */
export type LeaseAttempt = LeaseRef | LeaseHeld;

export const leaseTaken = (attempt: LeaseAttempt): attempt is LeaseRef => 'holder' in attempt;

/** Attempts at taking a lease that vanishes or expires between the refused put and the read. */
const MAX_LEASE_ATTEMPTS = 5;

type Item = Record<string, unknown>;

export class TrainingStateStore {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes the training lease of `model` for `holder` (the execution) for `durationMs`; when another
   * holder's lease has not expired, answers who holds it and until when.
   */
  async acquireLease(model: string, holder: string, durationMs: number): Promise<LeaseAttempt> {
    if (!(Number.isFinite(durationMs) && durationMs > 0))
      throw new ValidationError('durationMs', 'must be a positive number of milliseconds');
    if (typeof holder !== 'string' || holder === '') throw new ValidationError('holder', 'must not be empty');
    for (let attempt = 0; attempt < MAX_LEASE_ATTEMPTS; attempt++) {
      const now = this.now();
      const expiresAtMs = now + durationMs;
      try {
        await this.documents.send(
          new PutCommand({
            TableName: this.tableName,
            Item: {
              pk: trainingPk(model),
              sk: TRAINING_LEASE_SK,
              holder,
              expiresAtMs,
              acquiredAt: new Date(now).toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk) OR expiresAtMs <= :now OR holder = :holder',
            ExpressionAttributeValues: { ':now': now, ':holder': holder },
          }),
        );
        return { holder, expiresAtMs };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const current = await this.get(trainingPk(model), TRAINING_LEASE_SK);
      // Released or expired since the refusal: try again.
      if (current === undefined || Number(current.expiresAtMs) <= this.now()) continue;
      return { heldBy: String(current.holder), expiresAtMs: Number(current.expiresAtMs) };
    }
    throw new ContentionError(`the training lease of ${model} kept changing hands; retry`);
  }

  /** The lease of `model` as stored (expired or not); undefined when none. */
  async getLease(model: string): Promise<LeaseRef | undefined> {
    const item = await this.get(trainingPk(model), TRAINING_LEASE_SK);
    return item === undefined
      ? undefined
      : { holder: String(item.holder), expiresAtMs: Number(item.expiresAtMs) };
  }

  /** Gives the lease back if `holder` still holds it; false when it was released or taken by another. */
  async releaseLease(model: string, holder: string): Promise<boolean> {
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: trainingPk(model), sk: TRAINING_LEASE_SK },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': holder },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** What an earlier execution concluded for this data and configuration; undefined when none did. */
  async getResult(
    model: string,
    datasetHash: string,
    fingerprint: string,
  ): Promise<TrainingResultRecord | undefined> {
    const item = await this.get(trainingPk(model), trainingResultSk(datasetHash, fingerprint));
    return item === undefined ? undefined : resultFromItem(item);
  }

  /**
   * Records what an execution concluded, once: returns the stored record, which is `record` when
   * this call wrote it (or an earlier call of the same run did), else the first run's record.
   */
  async putResult(
    model: string,
    datasetHash: string,
    fingerprint: string,
    record: TrainingResultRecord,
  ): Promise<TrainingResultRecord> {
    const key = { pk: trainingPk(model), sk: trainingResultSk(datasetHash, fingerprint) };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...key, model, datasetHash, fingerprint, ...record },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return resultFromItem({ ...record });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const existing = await this.get(key.pk, key.sk);
    if (existing === undefined)
      throw new ContentionError(`the training result ${key.sk} of ${model} vanished after a refused write`);
    return resultFromItem(existing);
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true }),
    );
    return result.Item;
  }
}

function resultFromItem(item: Item): TrainingResultRecord {
  return {
    outcome: item.outcome as TrainingResultRecord['outcome'],
    runId: String(item.runId),
    execution: String(item.execution),
    ...(item.version !== undefined ? { version: Number(item.version) } : {}),
    ...(item.reasons !== undefined ? { reasons: (item.reasons as unknown[]).map(String) } : {}),
    finishedAt: String(item.finishedAt),
  };
}
