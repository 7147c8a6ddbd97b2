/**
 * Aliases (`champion`, `challenger`, user aliases) with compare-and-set, over the registry table.
 *
 * Items (beside registry-store.ts's):
 *   pk = MODEL#<name>  sk = ALIAS#<alias>                      current version, seq (moves so far),
 *                                                             at/by/reason of the last move
 *   pk = MODEL#<name>  sk = ALIASHIST#<alias>#<10 digits>      one append-only entry per move
 *   version items carry `aliases` (a string set), so every read path returns the same aliases.
 *
 * A move is one transaction: the alias item changes only if it still points at the version the
 * caller expects (absent for `expectedVersion: null`), the new version's set gains the alias, the old
 * version's set loses it, the history entry is put only if absent, and a ConditionCheck requires the
 * model head (so an unknown model writes nothing). A loser gets a ConflictError carrying the current
 * version; nothing is written. Deleting an unset alias is a NotFoundError and moving an alias to
 * where it already points writes nothing (no history entry, so no ModelAliasChanged event).
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ConflictError, NotFoundError } from '../shared/errors.js';
import {
  ALIAS_HISTORY_SK_PREFIX,
  aliasHistorySk,
  aliasHistorySkPrefix,
  aliasSk,
  MODEL_HEAD_SK,
  modelPk,
  versionSk,
} from '../shared/layout.js';
import { parseOrThrow } from '../shared/validation.js';
import { type ModelVersion, modelNameSchema } from './model-version.js';

/** Alias names: lowercase, start with a letter, 1-63 of a-z 0-9 - _ (used in keys and Lambda alias names). */
export const ALIAS_PATTERN = /^[a-z][a-z0-9_-]{0,62}$/;

const version = z
  .number({ error: 'must be a positive integer' })
  .int('must be a positive integer')
  .positive('must be a positive integer');

export const setAliasSchema = z.strictObject({
  modelName: modelNameSchema,
  alias: z
    .string({ error: 'must be a string' })
    .regex(ALIAS_PATTERN, 'must be 1-63 of a-z 0-9 - _, starting with a letter'),
  /** Target version; null deletes the alias. */
  version: version.nullable(),
  /** The version the caller read the alias at; null when it expects the alias not to exist. */
  expectedVersion: version.nullable(),
  reason: z.string().max(1024, 'must be at most 1024 characters').default(''),
});

export type SetAliasInput = z.input<typeof setAliasSchema>;

export interface AliasHistoryEntry {
  readonly alias: string;
  readonly sequence: number;
  readonly from: number | null;
  readonly to: number | null;
  readonly at: string;
  readonly by: string;
  readonly reason: string;
}

/** What {@link ModelAliasStore.set} returns: the entry written, or the current state of a no-op. */
export interface AliasSetResult extends AliasHistoryEntry {
  /** False when the alias already pointed at the target version and nothing was written. */
  readonly changed: boolean;
}

export interface ModelAliasStoreProps {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default 'local' */
  readonly principal?: string;
}

export class ModelAliasStore {
  constructor(private readonly props: ModelAliasStoreProps) {}

  /** The version `alias` points at, or undefined. */
  async current(modelName: string, alias: string): Promise<{ version: number; seq: number } | undefined> {
    const result = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk: modelPk(modelName), sk: aliasSk(alias) },
        ConsistentRead: true,
      }),
    );
    const item = result.Item;
    return typeof item?.version === 'number'
      ? { version: item.version, seq: Number(item.seq ?? 0) }
      : undefined;
  }

  /**
   * Sets, moves (version) or deletes (version null) an alias if it still points at `expectedVersion`,
   * and returns the history entry written (`changed: true`).
   *
   * Refused with nothing written: ConflictError when the alias is not at `expectedVersion`;
   * NotFoundError with `field` `modelName` (unknown model), `alias` (deleting an alias that is not
   * set) or `version` (unknown target version). Moving an alias to the version it already points at
   * is a no-op: nothing is written (no history entry, no ModelAliasChanged event) and the current
   * state comes back with `changed: false` (`from` = `to` = that version, `sequence` = moves so far,
   * `at`/`by`/`reason` of the last move).
   */
  async set(input: unknown): Promise<AliasSetResult> {
    const request = parseOrThrow(setAliasSchema, input);
    const pk = modelPk(request.modelName);
    const aliasItem = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk, sk: aliasSk(request.alias) },
        ConsistentRead: true,
      }),
    );
    const seq = Number(aliasItem.Item?.seq ?? 0);
    const current = typeof aliasItem.Item?.version === 'number' ? aliasItem.Item.version : null;
    const conflict = (now: number | null) =>
      new ConflictError(
        `alias ${request.alias} of ${request.modelName} points at ${now ?? 'nothing'}, not ${request.expectedVersion ?? 'nothing'}`,
        { current: now },
      );
    const unknownModel = () => new NotFoundError(`model ${request.modelName}`, { field: 'modelName' });
    if (current !== request.expectedVersion) {
      // An unset alias of a model that does not exist: say so rather than "points at nothing".
      if (current === null && !(await this.modelExists(pk))) throw unknownModel();
      throw conflict(current);
    }
    if (current === null && request.version === null) {
      if (!(await this.modelExists(pk))) throw unknownModel();
      throw new NotFoundError(`alias ${request.alias} of model ${request.modelName}`, { field: 'alias' });
    }
    if (current !== null && current === request.version) {
      return {
        alias: request.alias,
        sequence: seq,
        from: current,
        to: current,
        at: String(aliasItem.Item?.at ?? ''),
        by: String(aliasItem.Item?.by ?? ''),
        reason: String(aliasItem.Item?.reason ?? ''),
        changed: false,
      };
    }
    const entry: AliasHistoryEntry = {
      alias: request.alias,
      sequence: seq + 1,
      from: current,
      to: request.version,
      at: new Date().toISOString(),
      by: this.props.principal ?? 'local',
      reason: request.reason,
    };
    const table = this.props.tableName;
    const items: NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']> = [
      // The model must exist, or nothing is written.
      {
        ConditionCheck: {
          TableName: table,
          Key: { pk, sk: MODEL_HEAD_SK },
          ConditionExpression: 'attribute_exists(pk)',
        },
      },
      {
        Put: {
          TableName: table,
          Item: {
            pk,
            sk: aliasSk(request.alias),
            alias: request.alias,
            seq: entry.sequence,
            ...(request.version === null ? {} : { version: request.version }),
            // Who moved it and why, so the stream record of this change carries them.
            at: entry.at,
            by: entry.by,
            reason: entry.reason,
          },
          ConditionExpression: seq === 0 ? 'attribute_not_exists(pk)' : 'seq = :seq',
          ...(seq === 0 ? {} : { ExpressionAttributeValues: { ':seq': seq } }),
        },
      },
      {
        Put: {
          TableName: table,
          Item: { pk, sk: aliasHistorySk(request.alias, entry.sequence), ...entry },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
    ];
    const HEAD = 0;
    const ALIAS = 1;
    if (current !== null) {
      items.push({
        Update: {
          TableName: table,
          Key: { pk, sk: versionSk(current) },
          UpdateExpression: 'DELETE aliases :a',
          ExpressionAttributeValues: { ':a': new Set([request.alias]) },
        },
      });
    }
    let target = -1;
    if (request.version !== null) {
      target = items.length;
      items.push({
        Update: {
          TableName: table,
          Key: { pk, sk: versionSk(request.version) },
          UpdateExpression: 'ADD aliases :a',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':a': new Set([request.alias]) },
        },
      });
    }
    try {
      await this.props.documents.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (error) {
      if (
        error instanceof TransactionCanceledException ||
        (error as Error).name === 'TransactionConflictException'
      ) {
        const reasons =
          error instanceof TransactionCanceledException ? (error.CancellationReasons ?? []) : [];
        const failed = (i: number) => i >= 0 && reasons[i]?.Code === 'ConditionalCheckFailed';
        if (failed(HEAD)) throw unknownModel();
        if (failed(target) && !failed(ALIAS)) {
          throw new NotFoundError(`version ${request.version} of model ${request.modelName}`, {
            field: 'version',
          });
        }
        throw conflict((await this.current(request.modelName, request.alias))?.version ?? null);
      }
      throw error;
    }
    return { ...entry, changed: true };
  }

  private async modelExists(pk: string): Promise<boolean> {
    const head = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk, sk: MODEL_HEAD_SK },
        ConsistentRead: true,
        ProjectionExpression: 'pk',
      }),
    );
    return head.Item !== undefined;
  }

  /** The version an alias points at; NotFoundError when the alias is not set. */
  async getByAlias(
    getVersion: (name: string, v: number) => Promise<ModelVersion>,
    modelName: string,
    alias: string,
  ): Promise<ModelVersion> {
    const now = await this.current(modelName, alias);
    if (now === undefined) throw new NotFoundError(`alias ${alias} of model ${modelName}`);
    return getVersion(modelName, now.version);
  }

  /** An alias's moves, oldest first. */
  async history(modelName: string, alias: string): Promise<AliasHistoryEntry[]> {
    return this.query(modelName, aliasHistorySkPrefix(alias));
  }

  /** Every alias's moves of a model, by alias name, each alias's oldest first. */
  async modelHistory(modelName: string): Promise<AliasHistoryEntry[]> {
    return this.query(modelName, ALIAS_HISTORY_SK_PREFIX);
  }

  private async query(modelName: string, prefix: string): Promise<AliasHistoryEntry[]> {
    const out: AliasHistoryEntry[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.props.documents.send(
        new QueryCommand({
          TableName: this.props.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :p)',
          ExpressionAttributeValues: { ':pk': modelPk(modelName), ':p': prefix },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const { pk: _pk, sk: _sk, ...rest } of page.Items ?? [])
        out.push(rest as unknown as AliasHistoryEntry);
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }
}
