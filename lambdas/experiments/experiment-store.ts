/**
 * A/B experiments over the registry table: definitions, per-variant counters and counted outcomes
 * (keys in lambdas/shared/layout.ts, "A/B experiments").
 *
 * create() is one TransactWriteItems: the definition (put only if absent), the model's index item,
 * zeroed counters per variant, a condition check that each version is still in Staging or
 * Production, and the unit key's overlap lock (`ABSLOT#<unitKey>`: `holder` names a running
 * experiment without a layer, `layers` is the set of layers running experiments declared). An
 * experiment without a layer needs the unit key free; one with layer L needs no layer-less
 * experiment and no other experiment in L. stop() releases the lock in the same transaction that
 * marks the definition and the index stopped.
 *
 * recordOutcome() recomputes the unit's variant from the sticky assignment (a client cannot claim
 * one), then puts the idempotency item (only if absent), ADDs to the variant's counters and checks
 * that the experiment still runs — in ONE TransactWriteItems: a retried feedback never counts twice.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { type ModelStage, parseModelName } from '../registry/model-version.js';
import { ConflictError, ContentionError, NotFoundError } from '../shared/errors.js';
import {
  EXPERIMENT_COUNTER_SK_PREFIX,
  EXPERIMENT_DEFINITION_SK,
  EXPERIMENT_INDEX_SK_PREFIX,
  experimentCounterSk,
  experimentIndexSk,
  experimentOutcomeSk,
  experimentPk,
  experimentSlotSk,
  modelPk,
  versionSk,
} from '../shared/layout.js';
import { parseOrThrow } from '../shared/validation.js';
import { type CompiledAllocation, compileAllocation, variantOf } from './assignment.js';
import { ExperimentConfigError, ExperimentConflictError } from './errors.js';
import { requiredSampleSize, type SampleSizeResult } from './statistics.js';

/** Experiment ids stand in sort keys: no `#`. */
export const EXPERIMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Unit keys and layers: a field name (`userId`, `customer.id`). */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** The variants of a control/treatment experiment, in allocation order. */
export const EXPERIMENT_VARIANTS = ['control', 'treatment'] as const;
export type ExperimentVariant = (typeof EXPERIMENT_VARIANTS)[number];
/** Stages a version must be in to take part in an experiment. */
export const EXPERIMENT_STAGES: readonly ModelStage[] = ['Staging', 'Production'];
/** Metrics the counters hold: conversion (positives / outcomes) and the continuous value's mean. */
export const EXPERIMENT_METRICS = ['conversion', 'value'] as const;
export type ExperimentMetric = (typeof EXPERIMENT_METRICS)[number];
/** Attempts of a transaction that lost a race to a concurrent one. */
const ATTEMPTS = 8;

const id = z
  .string({ error: 'must be a string' })
  .regex(EXPERIMENT_ID_PATTERN, 'must be 1-128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit');
const name = z
  .string({ error: 'must be a string' })
  .regex(NAME_PATTERN, 'must be a field name (a letter or _, then letters, digits, _ . -; at most 64)');
const version = z
  .number({ error: 'must be a positive integer' })
  .int('must be a positive integer')
  .positive('must be a positive integer');
const unitInterval = (field: string) =>
  z
    .number({ error: `must be a number in (0, 1) (${field})` })
    .gt(0, 'must be in (0, 1)')
    .lt(1, 'must be in (0, 1)');
const text = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters');

const guardrailSchema = z.strictObject({
  metric: z.enum(EXPERIMENT_METRICS, { error: `must be one of ${EXPERIMENT_METRICS.join(', ')}` }),
  harmful: z.enum(['increase', 'decrease'], { error: 'must be increase or decrease' }),
  /** Harm tolerated, in the metric's units (absolute difference). @default 0 */
  tolerance: z.number({ error: 'must be a number ≥ 0' }).min(0, 'must be ≥ 0').optional(),
});

export const createExperimentSchema = z.strictObject({
  /** @default `<model>-<yyyymmddhhmmss>-<4 hex>` */
  id: id.optional(),
  model: z.string({ error: 'must be a string' }),
  control: version,
  treatment: version,
  /** Percent of units in treatment, in (0, 100), at most two decimals. */
  allocation: z.number({ error: 'must be a number in (0, 100)' }),
  unitKey: name,
  layer: name.optional(),
  primaryMetric: z.enum(['conversion'], { error: 'must be conversion' }).default('conversion'),
  guardrails: z.array(guardrailSchema, { error: 'must be an array' }).max(10, 'at most 10').default([]),
  /** Absolute difference in conversion rate the experiment must detect. */
  minimumDetectableEffect: z
    .number({ error: 'must be a number' })
    .refine((v) => Number.isFinite(v) && v !== 0, 'must be a finite nonzero number'),
  /**
   * The control's expected conversion rate, for the sample size. @default 0.5 — the largest sample
   * any baseline needs for an absolute effect (conservative when the baseline is unknown).
   */
  baselineRate: unitInterval('baselineRate').default(0.5),
  alpha: unitInterval('alpha').default(0.05),
  power: unitInterval('power').default(0.8),
  maxDurationDays: z
    .number({ error: 'must be a number of days' })
    .positive('must be > 0')
    .max(366, 'must be at most 366'),
  /**
   * When the scheduled experiment check (experiment-check.ts) finds a verdict, act on it: ship →
   * start the model's deployment workflow for the treatment and stop with ship; don't ship (or the
   * maximum duration passed without a ship) → stop with dont-ship. Off: the check only reports.
   * @default false
   */
  autoPromote: z.boolean({ error: 'must be true or false' }).default(false),
  /** @default the store's principal */
  createdBy: text.optional(),
});
export type CreateExperimentInput = z.input<typeof createExperimentSchema>;
export type Guardrail = z.output<typeof guardrailSchema>;

export type ExperimentStatus = 'running' | 'stopped';
export type ExperimentDecision = 'ship' | 'dont-ship';

export interface Experiment {
  id: string;
  model: string;
  control: number;
  treatment: number;
  /** Percent of units in treatment. */
  allocation: number;
  unitKey: string;
  layer?: string;
  primaryMetric: 'conversion';
  guardrails: Guardrail[];
  minimumDetectableEffect: number;
  baselineRate: number;
  alpha: number;
  power: number;
  maxDurationDays: number;
  /** Act on the scheduled check's verdict (promote or stop); absent on experiments stored before it. */
  autoPromote?: boolean;
  /** Units per arm the fixed-horizon test needs (statistics.requiredSampleSize). */
  requiredSample: { control: number; treatment: number; total: number };
  status: ExperimentStatus;
  createdAt: string;
  createdBy: string;
  stoppedAt?: string;
  stoppedBy?: string;
  decision?: ExperimentDecision;
}

/** One variant's counters. */
export interface VariantCounters {
  variant: ExperimentVariant;
  /** Units (or requests) served this variant, as the serving path reports them. */
  assignments: number;
  /** Outcomes counted. */
  outcomes: number;
  /** Outcomes that converted (true, or a value > 0). */
  positives: number;
  /** Outcomes with a numeric value, and their sum and sum of squares. */
  values: number;
  sum: number;
  sumSq: number;
}

/** An outcome: converted or not, or a continuous value (a value > 0 also counts as converted). */
export type Outcome = boolean | number;

export interface RecordOutcomeInput {
  experimentId: string;
  unitId: string;
  outcome: Outcome;
  idempotencyKey: string;
  /** The model the caller serves: an experiment of another model is not found. */
  model?: string;
  /**
   * The variant the prediction was served (serving reads it from the verified requestId): a unit
   * whose variant is another is refused, so an outcome counts in the variant that was served.
   */
  servedVariant?: ExperimentVariant;
}

export interface RecordOutcomeResult {
  /** False when this idempotency key was counted before: nothing was written. */
  counted: boolean;
  /** The unit's variant (recomputed from its sticky assignment). */
  variant: ExperimentVariant;
}

const recordOutcomeSchema = z.strictObject({
  experimentId: id,
  unitId: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(256, 'at most 256 characters'),
  outcome: z.union([z.boolean(), z.number().refine(Number.isFinite, 'must be finite')], {
    error: 'must be true, false or a finite number',
  }),
  idempotencyKey: z
    .string({ error: 'must be a string' })
    .min(1, 'must not be empty')
    .max(256, 'at most 256 characters'),
  model: z.string({ error: 'must be a string' }).optional(),
  servedVariant: z.enum(EXPERIMENT_VARIANTS, { error: 'must be control or treatment' }).optional(),
});
const stopSchema = z.strictObject({
  decision: z.enum(['ship', 'dont-ship'], { error: 'must be ship or dont-ship' }),
  by: text,
});

export interface ExperimentStoreProps {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Who created or stopped, when the request names no one. @default 'local' */
  readonly principal?: string;
}

type Item = Record<string, unknown>;
type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

/** The compiled allocation of an experiment (control, then treatment). */
export function experimentAllocation(experiment: Pick<Experiment, 'id' | 'allocation'>): CompiledAllocation {
  return compileAllocation({ id: experiment.id, treatmentShare: experiment.allocation });
}

const reasonCodes = (error: TransactionCanceledException): (string | undefined)[] =>
  (error.CancellationReasons ?? []).map((r) => r.Code);

const lostRace = (error: unknown): boolean =>
  (error instanceof TransactionCanceledException && reasonCodes(error).includes('TransactionConflict')) ||
  (error as { name?: string }).name === 'TransactionConflictException';

export class ExperimentStore {
  private readonly now: () => Date;
  readonly principal: string;

  constructor(private readonly props: ExperimentStoreProps) {
    this.now = props.now ?? (() => new Date());
    this.principal = props.principal ?? 'local';
  }

  /**
   * Validates and stores a running experiment with its required sample size. Throws
   * ExperimentConfigError / ValidationError naming the field for bad input (allocation, control =
   * treatment, a version not in Staging or Production), NotFoundError (field control/treatment or
   * model) for an unknown version, ConflictError (field unitKey or layer) for an overlap with a
   * running experiment of the model, and ConflictError (field id) for a taken id.
   */
  async create(input: CreateExperimentInput): Promise<Experiment> {
    const request = parseOrThrow(createExperimentSchema, input);
    const model = parseModelName(request.model, 'model');
    if (request.control === request.treatment)
      throw new ExperimentConfigError('treatment', 'must differ from control');
    const at = this.now();
    const experimentId = request.id ?? defaultId(model, at);
    // Validates the allocation ((0, 100), one basis point) exactly as serving will compile it.
    experimentAllocation({ id: experimentId, allocation: request.allocation });
    const sample: SampleSizeResult = requiredSampleSize({
      alpha: request.alpha,
      power: request.power,
      baselineRate: request.baselineRate,
      allocation: { control: 100 - request.allocation, treatment: request.allocation },
      minimumDetectableEffect: { absolute: request.minimumDetectableEffect },
    });
    const experiment: Experiment = {
      id: experimentId,
      model,
      control: request.control,
      treatment: request.treatment,
      allocation: request.allocation,
      unitKey: request.unitKey,
      ...(request.layer !== undefined ? { layer: request.layer } : {}),
      primaryMetric: request.primaryMetric,
      guardrails: request.guardrails,
      minimumDetectableEffect: request.minimumDetectableEffect,
      baselineRate: request.baselineRate,
      alpha: request.alpha,
      power: request.power,
      maxDurationDays: request.maxDurationDays,
      autoPromote: request.autoPromote,
      requiredSample: { control: sample.control, treatment: sample.treatment, total: sample.total },
      status: 'running',
      createdAt: at.toISOString(),
      createdBy: request.createdBy ?? this.principal,
    };
    for (const field of ['control', 'treatment'] as const)
      await this.checkVersion(model, field, experiment[field]);

    const { tableName } = this.props;
    const slot = experimentSlotSk(experiment.unitKey);
    const slotUpdate: TransactItem =
      experiment.layer === undefined
        ? {
            Update: {
              TableName: tableName,
              Key: { pk: modelPk(model), sk: slot },
              UpdateExpression: 'SET holder = :id',
              ConditionExpression:
                'attribute_not_exists(holder) AND (attribute_not_exists(layers) OR size(layers) = :zero)',
              ExpressionAttributeValues: { ':id': experimentId, ':zero': 0 },
            },
          }
        : {
            Update: {
              TableName: tableName,
              Key: { pk: modelPk(model), sk: slot },
              UpdateExpression: 'ADD layers :layerSet',
              ConditionExpression:
                'attribute_not_exists(holder) AND (attribute_not_exists(layers) OR NOT contains(layers, :layer))',
              ExpressionAttributeValues: {
                ':layerSet': new Set([experiment.layer]),
                ':layer': experiment.layer,
              },
            },
          };
    const items: TransactItem[] = [
      {
        Put: {
          TableName: tableName,
          Item: { pk: experimentPk(experimentId), sk: EXPERIMENT_DEFINITION_SK, ...experiment },
          ConditionExpression: 'attribute_not_exists(pk)',
        },
      },
      {
        Put: {
          TableName: tableName,
          Item: { pk: modelPk(model), sk: experimentIndexSk(experimentId), ...indexOf(experiment) },
        },
      },
      slotUpdate,
      ...EXPERIMENT_VARIANTS.map(
        (variant): TransactItem => ({
          Put: {
            TableName: tableName,
            Item: {
              pk: experimentPk(experimentId),
              sk: experimentCounterSk(variant),
              ...zeroCounters(variant),
            },
          },
        }),
      ),
      ...(['control', 'treatment'] as const).map(
        (field): TransactItem => ({
          ConditionCheck: {
            TableName: tableName,
            Key: { pk: modelPk(model), sk: versionSk(experiment[field]) },
            ConditionExpression: '#stage IN (:staging, :production)',
            ExpressionAttributeNames: { '#stage': 'stage' },
            ExpressionAttributeValues: { ':staging': 'Staging', ':production': 'Production' },
          },
        }),
      ),
    ];
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        await this.props.documents.send(new TransactWriteCommand({ TransactItems: items }));
        return experiment;
      } catch (error) {
        if (lostRace(error)) continue;
        if (!(error instanceof TransactionCanceledException)) throw error;
        const codes = reasonCodes(error);
        if (codes[0] === 'ConditionalCheckFailed')
          throw new ExperimentConflictError('id', `id: experiment ${experimentId} already exists`, {
            current: 'exists',
          });
        if (codes[2] === 'ConditionalCheckFailed') throw await this.overlap(experiment);
        for (const [i, field] of [
          [5, 'control'],
          [6, 'treatment'],
        ] as const)
          if (codes[i] === 'ConditionalCheckFailed') await this.checkVersion(model, field, experiment[field]);
        throw error;
      }
    }
    throw new ContentionError(`could not create experiment ${experimentId} after ${ATTEMPTS} attempts`);
  }

  /** The experiment, or NotFoundError (field experimentId). */
  async get(experimentId: string): Promise<Experiment> {
    const key = parseOrThrow(id, experimentId, 'experimentId');
    const result = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk: experimentPk(key), sk: EXPERIMENT_DEFINITION_SK },
        ConsistentRead: true,
      }),
    );
    if (result.Item === undefined) throw new NotFoundError(`experiment ${key}`, { field: 'experimentId' });
    return definitionOf(result.Item);
  }

  /** The model's experiments (index items: id, status, unit key, layer), oldest id first. */
  async list(model: string): Promise<ExperimentIndexEntry[]> {
    const name = parseModelName(model, 'model');
    const entries: ExperimentIndexEntry[] = [];
    let start: Item | undefined;
    do {
      const page = await this.props.documents.send(
        new QueryCommand({
          TableName: this.props.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': modelPk(name), ':prefix': EXPERIMENT_INDEX_SK_PREFIX },
          ConsistentRead: true,
          ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const { pk: _pk, sk: _sk, ...rest } of page.Items ?? [])
        entries.push(rest as unknown as ExperimentIndexEntry);
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return entries;
  }

  /** The model's running experiments, in full, oldest first. */
  async running(model: string): Promise<Experiment[]> {
    const entries = (await this.list(model)).filter((e) => e.status === 'running');
    const experiments = await Promise.all(entries.map((e) => this.get(e.id)));
    return experiments
      .filter((e) => e.status === 'running')
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /**
   * Stops a running experiment with its decision, and frees its unit key (or layer). Stopping it
   * again with the same decision returns it as it is; NotFoundError for an unknown id,
   * ConflictError (current: the decision) when it was stopped with another decision.
   */
  async stop(
    experimentId: string,
    request: { decision: ExperimentDecision; by?: string },
  ): Promise<Experiment> {
    const experiment = await this.get(experimentId);
    const { decision, by } = parseOrThrow(stopSchema, { by: this.principal, ...request });
    if (experiment.status === 'stopped') {
      if (experiment.decision === decision) return experiment;
      throw new ConflictError(
        `status: experiment ${experiment.id} was already stopped with decision ${experiment.decision}`,
        { current: experiment.decision },
      );
    }
    const at = this.now().toISOString();
    const { tableName } = this.props;
    const set = {
      UpdateExpression: 'SET #status = :stopped, stoppedAt = :at, stoppedBy = :by, decision = :decision',
      ConditionExpression: '#status = :running',
      ExpressionAttributeNames: { '#status': 'status' },
      ExpressionAttributeValues: {
        ':stopped': 'stopped',
        ':running': 'running',
        ':at': at,
        ':by': by,
        ':decision': decision,
      },
    };
    const release: TransactItem =
      experiment.layer === undefined
        ? {
            Update: {
              TableName: tableName,
              Key: { pk: modelPk(experiment.model), sk: experimentSlotSk(experiment.unitKey) },
              UpdateExpression: 'REMOVE holder',
              ConditionExpression: 'holder = :id',
              ExpressionAttributeValues: { ':id': experiment.id },
            },
          }
        : {
            Update: {
              TableName: tableName,
              Key: { pk: modelPk(experiment.model), sk: experimentSlotSk(experiment.unitKey) },
              UpdateExpression: 'DELETE layers :layerSet',
              ExpressionAttributeValues: { ':layerSet': new Set([experiment.layer]) },
            },
          };
    try {
      await this.props.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              Update: {
                TableName: tableName,
                Key: { pk: experimentPk(experiment.id), sk: EXPERIMENT_DEFINITION_SK },
                ...set,
              },
            },
            {
              Update: {
                TableName: tableName,
                Key: { pk: modelPk(experiment.model), sk: experimentIndexSk(experiment.id) },
                ...set,
              },
            },
            release,
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException || lostRace(error))) throw error;
      // Stopped concurrently: answer as a repeat would.
      const now = await this.get(experiment.id);
      if (now.status === 'stopped') return this.stop(experiment.id, { decision, by });
      throw error;
    }
    return { ...experiment, status: 'stopped', stoppedAt: at, stoppedBy: by, decision };
  }

  /** Each variant's counters, control first. */
  async counters(experimentId: string): Promise<VariantCounters[]> {
    const key = parseOrThrow(id, experimentId, 'experimentId');
    const page = await this.props.documents.send(
      new QueryCommand({
        TableName: this.props.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': experimentPk(key), ':prefix': EXPERIMENT_COUNTER_SK_PREFIX },
        ConsistentRead: true,
      }),
    );
    const found = new Map<string, Item>();
    for (const item of page.Items ?? []) found.set(String(item.variant), item);
    if (found.size === 0) await this.get(key); // NotFoundError for an unknown experiment
    return EXPERIMENT_VARIANTS.map((variant) => {
      const item = found.get(variant) ?? {};
      const n = (k: keyof VariantCounters) => (typeof item[k] === 'number' ? (item[k] as number) : 0);
      return {
        variant,
        assignments: n('assignments'),
        outcomes: n('outcomes'),
        positives: n('positives'),
        values: n('values'),
        sum: n('sum'),
        sumSq: n('sumSq'),
      };
    });
  }

  /**
   * Adds served assignments per variant (the serving path flushes what an instance counted).
   * Unknown variants are refused (ExperimentConfigError, field variant).
   */
  async recordAssignments(
    experimentId: string,
    counts: Partial<Record<ExperimentVariant, number>>,
  ): Promise<void> {
    const key = parseOrThrow(id, experimentId, 'experimentId');
    for (const [variant, count] of Object.entries(counts)) {
      if (!(EXPERIMENT_VARIANTS as readonly string[]).includes(variant))
        throw new ExperimentConfigError('variant', `must be one of ${EXPERIMENT_VARIANTS.join(', ')}`);
      if (!(Number.isInteger(count) && (count as number) >= 0))
        throw new ExperimentConfigError(`counts.${variant}`, 'must be an integer ≥ 0');
      if (count === 0) continue;
      await this.props.documents.send(
        new UpdateCommand({
          TableName: this.props.tableName,
          Key: { pk: experimentPk(key), sk: experimentCounterSk(variant) },
          UpdateExpression: 'ADD assignments :n',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':n': count },
        }),
      );
    }
  }

  /**
   * Counts one outcome of `unitId` in the variant its sticky assignment gives, once per
   * idempotency key. NotFoundError (field experimentId) for an unknown experiment, ConflictError
   * (field experimentId, current 'stopped') for a stopped one, ConflictError (field
   * idempotencyKey) when the key was counted with another unit or outcome.
   */
  async recordOutcome(input: RecordOutcomeInput, known?: Experiment): Promise<RecordOutcomeResult> {
    const request = parseOrThrow(recordOutcomeSchema, input);
    const experiment =
      known !== undefined && known.id === request.experimentId ? known : await this.get(request.experimentId);
    if (request.model !== undefined && experiment.model !== request.model)
      throw new NotFoundError(`experiment ${experiment.id} of model ${request.model}`, {
        field: 'experimentId',
      });
    if (experiment.status !== 'running') throw stoppedError(experiment);
    const variant = variantOf(
      experiment.id,
      experimentAllocation(experiment),
      request.unitId,
    ) as ExperimentVariant;
    if (request.servedVariant !== undefined && request.servedVariant !== variant)
      throw new ExperimentConflictError(
        'unitId',
        `unitId: unit ${JSON.stringify(request.unitId.slice(0, 64))} is in ${variant} of experiment ${experiment.id}, but the prediction was served ${request.servedVariant}; its outcome counts for the unit that was served`,
      );
    const { outcome } = request;
    const positive = outcome === true || (typeof outcome === 'number' && outcome > 0) ? 1 : 0;
    const values: Item = { ':one': 1, ':positive': positive };
    let update = 'ADD outcomes :one, positives :positive';
    if (typeof outcome === 'number') {
      update += ', #values :one, #sum :value, sumSq :square';
      values[':value'] = outcome;
      values[':square'] = outcome * outcome;
    }
    const { tableName } = this.props;
    const pk = experimentPk(experiment.id);
    const transaction = new TransactWriteCommand({
      TransactItems: [
        {
          Put: {
            TableName: tableName,
            Item: {
              pk,
              sk: experimentOutcomeSk(request.idempotencyKey),
              unitId: request.unitId,
              outcome,
              variant,
              at: this.now().toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        {
          Update: {
            TableName: tableName,
            Key: { pk, sk: experimentCounterSk(variant) },
            UpdateExpression: update,
            ...(typeof outcome === 'number'
              ? { ExpressionAttributeNames: { '#values': 'values', '#sum': 'sum' } }
              : {}),
            ExpressionAttributeValues: values,
          },
        },
        {
          ConditionCheck: {
            TableName: tableName,
            Key: { pk, sk: EXPERIMENT_DEFINITION_SK },
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':running': 'running' },
          },
        },
      ],
    });
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      try {
        await this.props.documents.send(transaction);
        return { counted: true, variant };
      } catch (error) {
        if (lostRace(error)) {
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * (attempt + 1)));
          continue;
        }
        if (!(error instanceof TransactionCanceledException)) throw error;
        const codes = reasonCodes(error);
        if (codes[0] === 'ConditionalCheckFailed') return this.repeated(request, variant);
        if (codes[2] === 'ConditionalCheckFailed') throw stoppedError(await this.get(experiment.id));
        throw error;
      }
    }
    // Lost every race: the key may have been counted by a concurrent copy of this request.
    return this.repeated(request, variant);
  }

  private async repeated(
    request: z.output<typeof recordOutcomeSchema>,
    variant: ExperimentVariant,
  ): Promise<RecordOutcomeResult> {
    const result = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk: experimentPk(request.experimentId), sk: experimentOutcomeSk(request.idempotencyKey) },
        ConsistentRead: true,
      }),
    );
    const item = result.Item;
    if (item === undefined)
      throw new ContentionError(
        `outcome ${request.idempotencyKey} of experiment ${request.experimentId} was not recorded`,
      );
    if (item.unitId !== request.unitId || item.outcome !== request.outcome)
      throw new ExperimentConflictError(
        item.unitId !== request.unitId ? 'unitId' : 'outcome',
        `${item.unitId !== request.unitId ? 'unitId' : 'outcome'}: ${request.idempotencyKey} already counted another outcome (unit ${String(item.unitId)}, outcome ${String(item.outcome)}); one outcome counts per key`,
        { current: { unitId: item.unitId, outcome: item.outcome } },
      );
    return { counted: false, variant };
  }

  private async checkVersion(model: string, field: 'control' | 'treatment', version: number): Promise<void> {
    const result = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk: modelPk(model), sk: versionSk(version) },
        ConsistentRead: true,
      }),
    );
    if (result.Item === undefined) throw new NotFoundError(`version ${version} of model ${model}`, { field });
    const stage = result.Item.stage as ModelStage;
    if (!EXPERIMENT_STAGES.includes(stage))
      throw new ExperimentConfigError(
        field,
        `must be a version in ${EXPERIMENT_STAGES.join(' or ')}`,
        `${field}: version ${version} of ${model} is in ${stage}; an experiment needs ${EXPERIMENT_STAGES.join(' or ')}`,
      );
  }

  /** The ConflictError for an overlap, naming the running experiment(s) in the way. */
  private async overlap(experiment: Experiment): Promise<ConflictError> {
    const running = (await this.list(experiment.model)).filter(
      (e) => e.status === 'running' && e.unitKey === experiment.unitKey,
    );
    const blocking = running.filter(
      (e) => experiment.layer === undefined || e.layer === undefined || e.layer === experiment.layer,
    );
    const field = experiment.layer === undefined ? 'unitKey' : 'layer';
    const names = blocking
      .map((e) => `${e.id}${e.layer !== undefined ? ` (layer ${e.layer})` : ''}`)
      .join(', ');
    return new ExperimentConflictError(
      field,
      `${field}: experiment ${names || '(another)'} already runs on ${experiment.model} with unit key ${experiment.unitKey}; ` +
        (experiment.layer === undefined
          ? 'declare a distinct layer for both, or stop it first'
          : `layer ${experiment.layer} is taken or the other experiment declares no layer`),
      { current: blocking.map((e) => e.id) },
    );
  }
}

/** What a model's index item holds of an experiment. */
export interface ExperimentIndexEntry {
  id: string;
  status: ExperimentStatus;
  unitKey: string;
  layer?: string;
  control: number;
  treatment: number;
  createdAt: string;
}

function indexOf(e: Experiment): ExperimentIndexEntry {
  return {
    id: e.id,
    status: e.status,
    unitKey: e.unitKey,
    ...(e.layer !== undefined ? { layer: e.layer } : {}),
    control: e.control,
    treatment: e.treatment,
    createdAt: e.createdAt,
  };
}

function zeroCounters(variant: ExperimentVariant): VariantCounters {
  return { variant, assignments: 0, outcomes: 0, positives: 0, values: 0, sum: 0, sumSq: 0 };
}

function definitionOf(item: Item): Experiment {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return rest as unknown as Experiment;
}

function stoppedError(experiment: Experiment): ConflictError {
  return new ExperimentConflictError(
    'experimentId',
    `experimentId: experiment ${experiment.id} is stopped (decision ${String(experiment.decision)}); it counts no more outcomes`,
    { current: 'stopped' },
  );
}

function defaultId(model: string, at: Date): string {
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const suffix = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  return `${model}-${stamp}-${suffix}`;
}
