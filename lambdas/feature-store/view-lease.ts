/**
 * A lease per feature view, so materialization of one view never overlaps itself: one function
 * serves every view (reserved concurrency would serialize all views, or none), so the exclusion is
 * per view, in DynamoDB. Taking the lease is one conditional PutItem that succeeds only when no
 * lease exists or the existing one has expired; the lease carries its expiry, so a run that crashed
 * (or timed out) without releasing it blocks the next runs only until then. The holder sets the
 * expiry past the end of its own invocation (Lambda's time limit), so a live run never loses it.
 * Releasing is a delete conditioned on still being the holder.
 *
 * Item: `pk = materialize#<view>`, `holder`, `expiresAtMs`, and `expiresAt` (epoch seconds, the
 * table's TTL attribute, which only tidies up: the condition reads `expiresAtMs`).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../shared/errors.js';

/** The lease table's partition key and TTL attribute (the construct declares the same). */
export const LEASE_TABLE_KEY = 'pk';
export const LEASE_TTL_ATTRIBUTE = 'expiresAt';

export interface Lease {
  readonly view: string;
  readonly holder: string;
  readonly expiresAtMs: number;
}

const leaseKey = (view: string) => `materialize#${view}`;

export class ViewLeases {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Takes the lease on `view` for `durationMs` on behalf of `holder` (e.g. the invocation's request
   * id); undefined when another holder's lease has not expired yet.
   */
  async acquire(view: string, holder: string, durationMs: number): Promise<Lease | undefined> {
    if (!(Number.isFinite(durationMs) && durationMs > 0))
      throw new ValidationError('durationMs', 'must be a positive number of milliseconds');
    if (holder === '') throw new ValidationError('holder', 'must not be empty');
    const now = this.now();
    const expiresAtMs = now + durationMs;
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            [LEASE_TABLE_KEY]: leaseKey(view),
            holder,
            expiresAtMs,
            [LEASE_TTL_ATTRIBUTE]: Math.ceil(expiresAtMs / 1000),
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR expiresAtMs <= :now',
          ExpressionAttributeNames: { '#pk': LEASE_TABLE_KEY },
          ExpressionAttributeValues: { ':now': now },
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
    return { view, holder, expiresAtMs };
  }

  /** Gives the lease back, if `lease.holder` still holds it (an expired, retaken lease is left alone). */
  async release(lease: Lease): Promise<boolean> {
    try {
      await this.documents.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { [LEASE_TABLE_KEY]: leaseKey(lease.view) },
          ConditionExpression: 'holder = :holder',
          ExpressionAttributeValues: { ':holder': lease.holder },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
