/**
 * The new-data retraining trigger: rows ingested for a model's views are counted, and when the
 * count reaches the model's `retraining.newDataRows` its training pipeline is started once.
 *
 * Items (tracking table, partition layout.ts `trainingPk(model)`):
 *   sk = NEWDATA                  { rows, generation, since?, until?, launch? } — the counter
 *   sk = NEWDATA#BATCH#<manifest> { rows, ingestedAt, countedAt }            — one per counted batch
 *
 * 1. Count: one transaction puts the batch's marker (only if absent) and adds its rows to the
 *    counter, so a redelivered event for a batch adds nothing, and concurrent batches all add up.
 * 2. Claim: when the counter holds ≥ N rows, one conditional update (on the generation and the
 *    exact count read, so no batch slips between read and write) moves to the next generation,
 *    zeroes the count and records the `launch`: the execution's name and input. Of concurrent
 *    claimers one wins; the others see the launch.
 * 3. Start: StartExecution with the launch's name and input, then the launch is removed. A crash in
 *    between leaves the launch recorded; the next count (any batch of the model's views, or the
 *    same event redelivered) starts it again under the same name, which Step Functions refuses
 *    (ExecutionAlreadyExists) or answers with the running execution: either way, one execution.
 *
 * The name is `new-data-<generation>-<hash of the input>`: unique per claim, and a counter item
 * restored from a backup (an older generation) claims a different window, so a different name.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { IngestResult } from '../../feature-store/ingest.js';
import {
  ConfigurationError,
  ContentionError,
  CorruptDataError,
  ValidationError,
} from '../../shared/errors.js';
import { ENV, TRAINING_NEW_DATA_SK, trainingNewDataBatchSk, trainingPk } from '../../shared/layout.js';
import type { ObjectStore } from '../../shared/object-store.js';
import { parseStateMachineArns, startExecutionOnce } from '../../shared/state-machines.js';
import type { TrainingPipelineInput } from './contract.js';
import { batchOfLogKey, type NewDataWatch } from './triggers.js';

/** A batch of accepted rows, identified by its manifest. */
export interface CountedBatch {
  readonly manifestKey: string;
  readonly rows: number;
  /** When it was ingested (ISO). */
  readonly ingestedAt: string;
}

/** A start the counter decided on and recorded before making it. */
export interface Launch {
  readonly name: string;
  readonly input: TrainingPipelineInput;
}

/** The counter item as stored. */
export interface NewDataState {
  readonly rows: number;
  readonly generation: number;
  /** Ingestion time of the first batch counted in this generation. */
  readonly since?: string;
  /** Ingestion time of the last batch counted in this generation. */
  readonly until?: string;
  readonly launch?: Launch;
}

/** Starts a model's training pipeline; `existed` when an execution of that name already was. */
export interface PipelineStarter {
  start(model: string, launch: Launch): Promise<{ readonly existed: boolean }>;
}

export type SettleOutcome =
  | { readonly outcome: 'below'; readonly rows: number; readonly threshold: number }
  | { readonly outcome: 'started'; readonly execution: string; readonly existed: boolean };

/** Step Functions starts, by model (ARNs from ENV.trainingPipelines). */
export class StepFunctionsStarter implements PipelineStarter {
  constructor(
    private readonly client: SFNClient,
    private readonly stateMachines: Readonly<Record<string, string>>,
  ) {}

  async start(model: string, launch: Launch): Promise<{ existed: boolean }> {
    const stateMachineArn = this.stateMachines[model];
    if (stateMachineArn === undefined)
      throw new ConfigurationError(`no training pipeline is configured for model ${model}`);
    const { existed } = await startExecutionOnce(this.client, {
      stateMachineArn,
      name: launch.name,
      input: launch.input,
    });
    return { existed };
  }
}

/** `ENV.trainingPipelines` (JSON object: model → state machine ARN), checked. */
export function parsePipelineArns(text: string): Record<string, string> {
  return parseStateMachineArns(text, ENV.trainingPipelines);
}

const CLAIM_ATTEMPTS = 8;
const isConditionFailure = (error: unknown) =>
  error instanceof ConditionalCheckFailedException ||
  (error as Error).name === 'ConditionalCheckFailedException';

/** The new-data counters of every model, in the tracking table. */
export class NewDataCounter {
  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly starter: PipelineStarter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The model's counter (zero rows, generation 0 before its first batch). */
  async state(model: string): Promise<NewDataState> {
    const { Item } = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: trainingPk(model), sk: TRAINING_NEW_DATA_SK },
        ConsistentRead: true,
      }),
    );
    return (Item as NewDataState | undefined) ?? { rows: 0, generation: 0 };
  }

  /** Adds the batch's rows to the model's counter; false when the batch was counted before. */
  async add(model: string, batch: CountedBatch): Promise<boolean> {
    if (!Number.isInteger(batch.rows) || batch.rows < 0)
      throw new ValidationError('rows', `must be a whole number >= 0 (got ${batch.rows})`);
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  pk: trainingPk(model),
                  sk: trainingNewDataBatchSk(batch.manifestKey),
                  rows: batch.rows,
                  ingestedAt: batch.ingestedAt,
                  countedAt: this.now().toISOString(),
                },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: { pk: trainingPk(model), sk: TRAINING_NEW_DATA_SK },
                UpdateExpression:
                  'ADD #rows :rows SET #generation = if_not_exists(#generation, :zero), #since = if_not_exists(#since, :at), #until = :at',
                ExpressionAttributeNames: {
                  '#rows': 'rows',
                  '#generation': 'generation',
                  '#since': 'since',
                  '#until': 'until',
                },
                ExpressionAttributeValues: { ':rows': batch.rows, ':zero': 0, ':at': batch.ingestedAt },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      )
        return false;
      throw error;
    }
  }

  /**
   * Starts the model's pipeline if its counter reached `threshold` (or a recorded launch is still
   * to be made); see the file header for why this starts at most one execution per generation.
   */
  async settle(model: string, threshold: number): Promise<SettleOutcome> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const state = await this.state(model);
      if (state.launch !== undefined) return this.launch(model, state.launch);
      if (state.rows < threshold) return { outcome: 'below', rows: state.rows, threshold };
      const input: TrainingPipelineInput = {
        trigger: {
          kind: 'new-data',
          rows: state.rows,
          reason: `${state.rows} rows ingested for ${model}'s views since its last new-data training (threshold ${threshold})`,
          ...(state.since !== undefined && state.until !== undefined
            ? { window: { start: state.since, end: state.until } }
            : {}),
        },
      };
      const digest = createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16);
      const launch: Launch = { name: `new-data-${state.generation}-${digest}`, input };
      try {
        await this.documents.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: trainingPk(model), sk: TRAINING_NEW_DATA_SK },
            ConditionExpression:
              '#generation = :generation AND #rows = :rows AND attribute_not_exists(#launch)',
            UpdateExpression:
              'SET #generation = :next, #rows = :zero, #launch = :launch REMOVE #since, #until',
            ExpressionAttributeNames: {
              '#generation': 'generation',
              '#rows': 'rows',
              '#launch': 'launch',
              '#since': 'since',
              '#until': 'until',
            },
            ExpressionAttributeValues: {
              ':generation': state.generation,
              ':next': state.generation + 1,
              ':rows': state.rows,
              ':zero': 0,
              ':launch': launch,
            },
          }),
        );
      } catch (error) {
        if (isConditionFailure(error)) continue; // a batch or another claimer came between: read again
        throw error;
      }
      return this.launch(model, launch);
    }
    throw new ContentionError(`the new-data counter of ${model} kept changing over ${CLAIM_ATTEMPTS} claims`);
  }

  /** Counts the batch, then settles: what one ingested batch does to one model's trigger. */
  async count(model: string, batch: CountedBatch, threshold: number): Promise<SettleOutcome> {
    await this.add(model, batch);
    // Settled even when the batch was counted before: its first delivery may have died before starting.
    return this.settle(model, threshold);
  }

  /**
   * Zeroes the count (next generation), e.g. after a training started another way; false when a
   * launch is still to be made (it is left to finish).
   */
  async reset(model: string): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: trainingPk(model), sk: TRAINING_NEW_DATA_SK },
          ConditionExpression: 'attribute_not_exists(#launch)',
          UpdateExpression:
            'SET #rows = :zero, #generation = if_not_exists(#generation, :zero) + :one REMOVE #since, #until',
          ExpressionAttributeNames: {
            '#rows': 'rows',
            '#generation': 'generation',
            '#launch': 'launch',
            '#since': 'since',
            '#until': 'until',
          },
          ExpressionAttributeValues: { ':zero': 0, ':one': 1 },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  private async launch(model: string, launch: Launch): Promise<SettleOutcome> {
    const { existed } = await this.starter.start(model, launch);
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: trainingPk(model), sk: TRAINING_NEW_DATA_SK },
          ConditionExpression: '#launch.#name = :name',
          UpdateExpression: 'REMOVE #launch',
          ExpressionAttributeNames: { '#launch': 'launch', '#name': 'name' },
          ExpressionAttributeValues: { ':name': launch.name },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error; // a concurrent settler removed it first
    }
    return { outcome: 'started', execution: launch.name, existed };
  }
}

/** What one model's trigger did with a batch. */
export interface ModelTriggerResult {
  readonly model: string;
  readonly result: SettleOutcome;
}

/**
 * Handles one ingestion-log entry: reads its batch's manifest and counts the accepted rows for each
 * watching model. A key that is not a log entry is a ValidationError (the rule routes only those);
 * a log entry without its manifest is corrupt data (ingestion writes the manifest first).
 */
export async function countIngestedBatch(
  logKey: string,
  options: {
    readonly store: ObjectStore;
    readonly counter: NewDataCounter;
    readonly watches: readonly NewDataWatch[];
  },
): Promise<ModelTriggerResult[]> {
  const batch = batchOfLogKey(logKey);
  if (batch === undefined)
    throw new ValidationError('detail.object.key', `must be an ingestion-log entry key (got ${logKey})`);
  const watching = options.watches.filter((w) => w.views.includes(batch.view));
  if (watching.length === 0) return [];
  const body = await options.store.get(batch.manifestKey);
  if (body === undefined)
    throw new CorruptDataError(batch.manifestKey, `is missing, yet its ingestion-log entry ${logKey} exists`);
  let manifest: Partial<IngestResult>;
  try {
    manifest = JSON.parse(new TextDecoder().decode(body)) as Partial<IngestResult>;
  } catch (error) {
    throw new CorruptDataError(batch.manifestKey, 'is not JSON', { cause: error });
  }
  if (!Number.isInteger(manifest.accepted) || typeof manifest.ingestedAtMs !== 'number')
    throw new CorruptDataError(batch.manifestKey, 'has no whole `accepted` count or no `ingestedAtMs`');
  const counted: CountedBatch = {
    manifestKey: batch.manifestKey,
    rows: manifest.accepted as number,
    ingestedAt: new Date(manifest.ingestedAtMs).toISOString(),
  };
  const results: ModelTriggerResult[] = [];
  for (const watch of watching)
    results.push({
      model: watch.model,
      result: await options.counter.count(watch.model, counted, watch.rows),
    });
  return results;
}
