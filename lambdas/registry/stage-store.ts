/**
 * Stage transitions over the registry table: a thin adapter whose rules live in ./stages.ts.
 *
 * Items (beside registry-store.ts's):
 *   pk = MODEL#<name>  sk = MODEL                          head: + productionVersion (absent: none)
 *   pk = MODEL#<name>  sk = VERSION#<10 digits>            version: + stageSeq (history length),
 *                                                          lastStageChange (a copy of its newest entry,
 *                                                          so the stream record carries who and why)
 *   pk = MODEL#<name>  sk = HISTORY#<10 digits>#<10 digits> one append-only entry per stage change
 *
 * A transition is one TransactWriteItems: the version moves only if its stage is still the one the
 * caller read and its history length is unchanged; the history entry is put only if absent; a
 * promotion to Production moves the head's productionVersion from the previous one (checked) and
 * archives that version with its own history entry. Each moved version's stage index item
 * (STAGE#<stage>#<version>, read by search) moves in the same transaction. Nothing is written when
 * any check fails.
 */
import { type DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, ContentionError, NotFoundError } from '../shared/errors.js';
import {
  MODEL_HEAD_SK as HEAD_SK,
  modelPk,
  REGISTRY_ITEM,
  stageHistorySk,
  stageHistorySkPrefix,
  stageIndexSk,
  versionSk,
} from '../shared/layout.js';
import { queryPrefix } from '../shared/query-prefix.js';
import { evaluateGates, GateFailedError, type GateResult, gatesApply, type ModelGates } from './gates.js';
import {
  type ModelStage,
  type ModelVersion,
  parseModelName,
  parseVersion,
  versionFromItem,
} from './model-version.js';
import { isRetryableTransactionError } from './registry-store.js';
import { parseTransitionStage, type StageHistoryEntry, type TransitionStageRequest } from './stages.js';

export interface ModelStageStoreProps {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Recorded as `by` in history entries. @default 'local' */
  readonly principal?: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Attempts when a concurrent promotion of another version moved the head. @default 20 */
  readonly maxAttempts?: number;
  /**
   * Promotion gates by model (the configuration's `models`); a model without an entry is ungated.
   * @default []
   */
  readonly models?: readonly { readonly name: string; readonly gates: ModelGates }[];
}

export interface StageTransitionResult {
  readonly version: ModelVersion;
  /** History entries this transition appended (the version's, then an archived predecessor's). */
  readonly history: StageHistoryEntry[];
}

type Item = Record<string, unknown>;
type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

export class ModelStageStore {
  private readonly principal: string;
  private readonly now: () => Date;
  private readonly maxAttempts: number;

  constructor(private readonly props: ModelStageStoreProps) {
    this.principal = props.principal ?? 'local';
    this.now = props.now ?? (() => new Date());
    this.maxAttempts = props.maxAttempts ?? 20;
  }

  /**
   * Moves a version from `expectedStage` to `toStage` (see LEGAL_TRANSITIONS). Throws
   * ValidationError for an illegal transition, NotFoundError for an unknown version and
   * ConflictError (with `current` = the stage it is in) when the version is no longer in
   * `expectedStage`. When the target stage is gated for the model (configuration `models`), every
   * gate is evaluated against the version's record: a failure throws GateFailedError listing every
   * failed gate unless the request carries `gateOverride` with a reason. Refusals write nothing.
   */
  async transition(input: unknown): Promise<StageTransitionResult> {
    const request = parseTransitionStage(input);
    const pk = modelPk(request.modelName);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const item = await this.get(pk, versionSk(request.version));
      if (item === undefined)
        throw new NotFoundError(`version ${request.version} of model ${request.modelName}`);
      const current = item.stage as ModelStage;
      if (current !== request.expectedStage) {
        throw new ConflictError(
          `version ${request.version} of ${request.modelName} is in ${current}, not ${request.expectedStage}`,
          { current },
        );
      }
      const gateRecord = this.checkGates(request, versionFromItem(item));
      const at = this.now().toISOString();
      const entry = (version: number, sequence: number, from: ModelStage, to: ModelStage, extra = {}) =>
        ({
          modelName: request.modelName,
          version,
          sequence,
          from,
          to,
          at,
          by: this.principal,
          reason: request.reason,
          ...extra,
        }) as StageHistoryEntry;
      const own = entry(request.version, seqOf(item) + 1, current, request.toStage, gateRecord);
      const history = [own];
      const writes: TransactItem[] = [
        this.moveVersion(pk, item, own),
        this.appendHistory(pk, own),
        ...this.moveStageIndex(pk, own),
      ];

      if (request.toStage === 'Production') {
        const head = await this.get(pk, HEAD_SK);
        const previous = typeof head?.productionVersion === 'number' ? head.productionVersion : undefined;
        writes.push(this.setProduction(pk, previous, request.version));
        if (previous !== undefined && previous !== request.version) {
          const prevItem = await this.get(pk, versionSk(previous));
          if (prevItem !== undefined && prevItem.stage === 'Production') {
            const archived = entry(previous, seqOf(prevItem) + 1, 'Production', 'Archived', {
              causedBy: { version: request.version },
            });
            history.push(archived);
            writes.push(
              this.moveVersion(pk, prevItem, archived),
              this.appendHistory(pk, archived),
              ...this.moveStageIndex(pk, archived),
            );
          }
        }
      } else if (current === 'Production') {
        writes.push(this.clearProduction(pk, request.version));
      }

      try {
        await this.props.documents.send(new TransactWriteCommand({ TransactItems: writes }));
      } catch (error) {
        if (!isRetryableTransactionError(error)) throw error;
        continue; // re-read: a changed stage becomes a ConflictError above, a moved head is retried
      }
      const version = versionFromItem({ ...item, stage: request.toStage, updatedAt: at });
      return { version, history };
    }
    throw new ContentionError(
      `could not move version ${request.version} of ${request.modelName} after ${this.maxAttempts} attempts under contention`,
    );
  }

  /** A version's stage history, oldest first. */
  async history(modelName: unknown, version: unknown): Promise<StageHistoryEntry[]> {
    const name = parseModelName(modelName);
    const number = parseVersion(version);
    const items = await queryPrefix(this.props.documents, {
      tableName: this.props.tableName,
      pk: modelPk(name),
      prefix: stageHistorySkPrefix(number),
    });
    return items.map(({ pk: _pk, sk: _sk, ...rest }) => rest as unknown as StageHistoryEntry);
  }

  /** The gate fields of the history entry; throws GateFailedError when gates fail un-overridden. */
  private checkGates(
    request: TransitionStageRequest,
    version: ModelVersion,
  ): { gates?: GateResult[]; gateOverride?: { reason: string } } {
    const gates = this.props.models?.find((m) => m.name === request.modelName)?.gates;
    if (gates === undefined || !gatesApply(gates, request.toStage)) return {};
    const results = evaluateGates(gates, version);
    if (results.every((r) => r.passed)) return { gates: results };
    if (request.gateOverride === undefined)
      throw new GateFailedError(request.modelName, request.version, request.toStage, results);
    return { gates: results, gateOverride: { reason: request.gateOverride.reason } };
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const result = await this.props.documents.send(
      new GetCommand({ TableName: this.props.tableName, Key: { pk, sk }, ConsistentRead: true }),
    );
    return result.Item;
  }

  /** The version's stage index item moves with it (search by stage reads these). */
  private moveStageIndex(pk: string, entry: StageHistoryEntry): TransactItem[] {
    const table = this.props.tableName;
    return [
      { Delete: { TableName: table, Key: { pk, sk: stageIndexSk(entry.from, entry.version) } } },
      { Put: { TableName: table, Item: { pk, sk: stageIndexSk(entry.to, entry.version) } } },
    ];
  }

  private moveVersion(pk: string, item: Item, entry: StageHistoryEntry): TransactItem {
    const seq = seqOf(item);
    return {
      Update: {
        TableName: this.props.tableName,
        Key: { pk, sk: versionSk(entry.version) },
        UpdateExpression: 'SET stage = :to, stageSeq = :next, updatedAt = :at, #change = :entry',
        ConditionExpression:
          seq === 0
            ? 'stage = :from AND attribute_not_exists(stageSeq)'
            : 'stage = :from AND stageSeq = :seq',
        ExpressionAttributeNames: { '#change': REGISTRY_ITEM.lastStageChange },
        ExpressionAttributeValues: {
          ':entry': entry,
          ':to': entry.to,
          ':from': entry.from,
          ':next': entry.sequence,
          ':at': entry.at,
          ...(seq === 0 ? {} : { ':seq': seq }),
        },
      },
    };
  }

  private appendHistory(pk: string, entry: StageHistoryEntry): TransactItem {
    return {
      Put: {
        TableName: this.props.tableName,
        Item: { pk, sk: stageHistorySk(entry.version, entry.sequence), ...entry },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
    };
  }

  private setProduction(pk: string, previous: number | undefined, version: number): TransactItem {
    return {
      Update: {
        TableName: this.props.tableName,
        Key: { pk, sk: HEAD_SK },
        UpdateExpression: 'SET productionVersion = :v',
        ConditionExpression:
          previous === undefined
            ? 'attribute_exists(pk) AND attribute_not_exists(productionVersion)'
            : 'productionVersion = :prev',
        ExpressionAttributeValues: {
          ':v': version,
          ...(previous === undefined ? {} : { ':prev': previous }),
        },
      },
    };
  }

  private clearProduction(pk: string, version: number): TransactItem {
    return {
      Update: {
        TableName: this.props.tableName,
        Key: { pk, sk: HEAD_SK },
        UpdateExpression: 'REMOVE productionVersion',
        ConditionExpression: 'productionVersion = :v',
        ExpressionAttributeValues: { ':v': version },
      },
    };
  }
}

function seqOf(item: Item): number {
  return typeof item.stageSeq === 'number' ? item.stageSeq : 0;
}
