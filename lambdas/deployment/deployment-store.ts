/**
 * Deployments (canaries) over the registry table: the model's newest deployment, which is also the
 * per-model deployment lock, and each deployment's history (./contract.ts has the shapes).
 *
 * Items (beside registry-store.ts's, in the model's partition):
 *   pk = MODEL#<name>  sk = DEPLOYMENT                         the newest deployment: DeploymentRecord
 *                                                              fields, + seq (history entries recorded)
 *                                                              and recordedSeqs (their sequence numbers,
 *                                                              a number set: a retried record() never
 *                                                              counts twice)
 *   pk = MODEL#<name>  sk = DEPLOY#<deploymentId>#<10 digits>  one DeploymentEvent per history entry,
 *                                                              + seq; put only if absent
 *
 * The lock: begin() puts the DEPLOYMENT item only if it is absent or its status is not `running`,
 * and never over the same deploymentId (a retried begin of a running deployment returns it as it
 * is; reusing the id of an ended one, or of any deployment with history entries, is a
 * ConflictError: their keys are taken). Another running deployment is a
 * DeploymentInProgressError. Every other write is one conditional UpdateItem of that item naming
 * the deploymentId and the status it needs; no transactions.
 *
 * History sequence numbers are a function of what the entry records, so a retried step writes the
 * same key (and its `attribute_not_exists` put writes nothing the second time) — see
 * {@link deploymentEventSequence}: CanaryStarted 0, CanaryStepPassed round(weight × 10^6) (the
 * step's traffic percent; steps strictly increase, so key order is step order), CanaryPromoted
 * 9000000000, CanaryRolledBack 9000000001. `record()` first marks the sequence on the DEPLOYMENT
 * item (the check that the deployment is the current one and running), then puts the entry: a
 * retry after a crash between the two finds the mark and completes the put.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { parseModelName } from '../registry/model-version.js';
import { ConflictError, ContentionError, NotFoundError, ValidationError } from '../shared/errors.js';
import { DEPLOYMENT_SK, deploymentHistorySk, deploymentHistorySkPrefix, modelPk } from '../shared/layout.js';
import { queryPrefix } from '../shared/query-prefix.js';
import { parseOrThrow } from '../shared/validation.js';
import {
  DEPLOYMENT_EVENTS,
  type DeploymentEvent,
  DeploymentInProgressError,
  type DeploymentRecord,
  type DeploymentStatus,
} from './contract.js';

/** Deployment ids stand in sort keys: no `#`. Step Functions execution names and UUIDs fit. */
export const DEPLOYMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

/** Attempts of begin() when running deployments end while it looks. */
const BEGIN_ATTEMPTS = 5;

/** History sequence of CanaryPromoted (after every step's). */
export const PROMOTED_SEQUENCE = 9_000_000_000;
/** History sequence of CanaryRolledBack. */
export const ROLLED_BACK_SEQUENCE = 9_000_000_001;
/** CanaryStepPassed's sequence is its weight times this (weights to a millionth of a percent). */
const STEP_SEQUENCE_SCALE = 1_000_000;

const deploymentIdSchema = z
  .string({ error: 'must be a string' })
  .regex(DEPLOYMENT_ID_PATTERN, 'must be 1-128 of A-Z a-z 0-9 . _ : -, starting with a letter or digit');
const text = z
  .string({ error: 'must be a string' })
  .min(1, 'must not be empty')
  .max(1024, 'must be at most 1024 characters');
const lambdaVersion = z
  .string({ error: 'must be a Lambda version' })
  .regex(/^(\$LATEST|[0-9]{1,10})$/, 'must be a Lambda version ($LATEST or digits)');
const modelVersion = z
  .number({ error: 'must be a positive integer' })
  .int('must be a positive integer')
  .positive('must be a positive integer');
const weight = z
  .number({ error: 'must be a number' })
  .min(0, 'must be 0 to 100')
  .max(100, 'must be 0 to 100');
const isoTime = z.string({ error: 'must be an ISO time' }).refine((s) => !Number.isNaN(Date.parse(s)), {
  message: 'must be an ISO time',
});

export const beginDeploymentSchema = z.strictObject({
  deploymentId: deploymentIdSchema,
  model: z.string({ error: 'must be a string' }),
  modelVersion,
  /** @default the store's principal */
  requestedBy: text.optional(),
  hotfix: z.boolean({ error: 'must be true or false' }),
  requireApproval: z.boolean({ error: 'must be true or false' }),
  execution: text.optional(),
});
export type BeginDeploymentInput = z.input<typeof beginDeploymentSchema>;

export const deploymentPatchSchema = z
  .strictObject({
    canaryVersion: lambdaVersion.optional(),
    stableVersion: lambdaVersion.optional(),
    weight: weight.optional(),
  })
  .refine((p) => Object.values(p).some((v) => v !== undefined), {
    message: 'must set canaryVersion, stableVersion or weight',
  });
export type DeploymentPatch = z.input<typeof deploymentPatchSchema>;

const eventSchema = z
  .object({
    type: z.enum(
      [
        DEPLOYMENT_EVENTS.started,
        DEPLOYMENT_EVENTS.stepPassed,
        DEPLOYMENT_EVENTS.promoted,
        DEPLOYMENT_EVENTS.rolledBack,
      ],
      { error: `must be one of ${Object.values(DEPLOYMENT_EVENTS).join(', ')}` },
    ),
    deploymentId: deploymentIdSchema,
    model: z.string({ error: 'must be a string' }),
    modelVersion,
    at: isoTime,
    by: text,
    weight: weight.optional(),
    hotfix: z.boolean({ error: 'must be true or false' }).optional(),
    reason: text.optional(),
    analysis: z.record(z.string(), z.unknown(), { error: 'must be an object' }).optional(),
    canaryVersion: lambdaVersion,
    stableVersion: lambdaVersion,
  })
  .superRefine((event, ctx) => {
    if (event.type === DEPLOYMENT_EVENTS.stepPassed && (event.weight === undefined || event.weight <= 0))
      ctx.addIssue({ code: 'custom', path: ['weight'], message: 'a passed step needs its weight above 0' });
    if (event.type === DEPLOYMENT_EVENTS.rolledBack && event.reason === undefined)
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'a rollback needs its reason' });
  });

const actorSchema = z.strictObject({ by: text });
const rollbackRequestSchema = z.strictObject({ by: text, reason: text });

/**
 * The history sequence number of an event (the last part of its sort key): a function of what it
 * records, so a retried step writes the same key. See the module doc for the rule.
 */
export function deploymentEventSequence(event: Pick<DeploymentEvent, 'type' | 'weight'>): number {
  switch (event.type) {
    case DEPLOYMENT_EVENTS.started:
      return 0;
    case DEPLOYMENT_EVENTS.stepPassed:
      if (event.weight === undefined || !(event.weight > 0 && event.weight <= 100))
        throw new ValidationError('weight', 'a passed step needs its weight, above 0 and at most 100');
      return Math.round(event.weight * STEP_SEQUENCE_SCALE);
    case DEPLOYMENT_EVENTS.promoted:
      return PROMOTED_SEQUENCE;
    case DEPLOYMENT_EVENTS.rolledBack:
      return ROLLED_BACK_SEQUENCE;
  }
}

export interface DeploymentStoreProps {
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Who asked, when begin() names no one (`requestedBy`). @default 'local' */
  readonly principal?: string;
}

/** What record() did. */
export interface RecordResult {
  /** The entry's history sequence number (see {@link deploymentEventSequence}). */
  readonly sequence: number;
  /** False when the entry was already there (a retried step): nothing was written. */
  readonly written: boolean;
}

type Item = Record<string, unknown>;

/** Attributes of the DEPLOYMENT item that are not DeploymentRecord fields. */
const INTERNAL = new Set(['pk', 'sk', 'seq', 'recordedSeqs']);

const RECORD_STATUS: Partial<Record<DeploymentEvent['type'], { status: DeploymentStatus; weight: number }>> =
  {
    [DEPLOYMENT_EVENTS.promoted]: { status: 'promoted', weight: 100 },
    [DEPLOYMENT_EVENTS.rolledBack]: { status: 'rolled-back', weight: 0 },
  };

export class DeploymentStore {
  private readonly now: () => Date;
  readonly principal: string;

  constructor(private readonly props: DeploymentStoreProps) {
    this.now = props.now ?? (() => new Date());
    this.principal = props.principal ?? 'local';
  }

  /**
   * Takes the model's deployment lock and records the deployment as `running` (weight 0). A
   * retried begin of the running deployment with the same id writes nothing and returns it.
   * Throws DeploymentInProgressError when another deployment of the model runs, ConflictError when
   * the id names a deployment that already ended, ValidationError naming the field for bad input.
   */
  async begin(input: BeginDeploymentInput): Promise<DeploymentRecord> {
    const request = parseOrThrow(beginDeploymentSchema, input);
    const model = parseModelName(request.model, 'model');
    const at = this.now().toISOString();
    const record: DeploymentRecord = {
      deploymentId: request.deploymentId,
      model,
      modelVersion: request.modelVersion,
      status: 'running',
      startedAt: at,
      updatedAt: at,
      requestedBy: request.requestedBy ?? this.principal,
      weight: 0,
      hotfix: request.hotfix,
      requireApproval: request.requireApproval,
      ...(request.execution !== undefined ? { execution: request.execution } : {}),
    };
    // An id whose history exists was used before (possibly not by the newest deployment): its
    // entries' keys are taken, so only a retried begin of that very deployment may use it.
    const used = await this.hasHistory(model, request.deploymentId);
    for (let attempt = 0; attempt < BEGIN_ATTEMPTS; attempt++) {
      if (!used) {
        try {
          await this.props.documents.send(
            new PutCommand({
              TableName: this.props.tableName,
              Item: { pk: modelPk(model), sk: DEPLOYMENT_SK, ...record, seq: 0 },
              ConditionExpression:
                '(attribute_not_exists(pk) OR #status <> :running) AND (attribute_not_exists(deploymentId) OR deploymentId <> :id)',
              ExpressionAttributeNames: { '#status': 'status' },
              ExpressionAttributeValues: { ':running': 'running', ':id': request.deploymentId },
            }),
          );
          return record;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
      const head = await this.current(model);
      if (head?.deploymentId === request.deploymentId) {
        if (head.status === 'running') return head; // a retried begin
        throw new ConflictError(
          `deploymentId: deployment ${head.deploymentId} of ${model} already ended (${head.status}); start a new one with a new id`,
          { current: head.status },
        );
      }
      if (used)
        throw new ConflictError(
          `deploymentId: ${request.deploymentId} was already used by an earlier deployment of ${model}; start a new one with a new id`,
          { current: 'used' },
        );
      if (head?.status === 'running') throw new DeploymentInProgressError(model, head.deploymentId);
      // The running deployment ended between the put and the read: try again.
    }
    throw new ContentionError(`could not begin deployment of ${model} after ${BEGIN_ATTEMPTS} attempts`);
  }

  private async hasHistory(model: string, deploymentId: string): Promise<boolean> {
    const page = await this.props.documents.send(
      new QueryCommand({
        TableName: this.props.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: {
          ':pk': modelPk(model),
          ':prefix': deploymentHistorySkPrefix(deploymentId),
        },
        ConsistentRead: true,
        Limit: 1,
      }),
    );
    return (page.Items ?? []).length > 0;
  }

  /**
   * Sets the canary and stable Lambda versions and the traffic weight of the running deployment
   * `deploymentId`, and returns the record. NotFoundError when the model has no deployment;
   * ConflictError (current = its status) when that deployment is not the current one or not running.
   */
  async update(model: string, deploymentId: string, patch: DeploymentPatch): Promise<DeploymentRecord> {
    const name = parseModelName(model, 'model');
    const id = parseOrThrow(deploymentIdSchema, deploymentId, 'deploymentId');
    const changes = parseOrThrow(deploymentPatchSchema, patch, 'patch');
    const values: Item = {};
    const sets: string[] = ['updatedAt = :at'];
    for (const [key, value] of Object.entries(changes)) {
      if (value === undefined) continue;
      sets.push(`${key} = :${key}`);
      values[`:${key}`] = value;
    }
    return this.updateRunning(name, id, `SET ${sets.join(', ')}`, values);
  }

  /**
   * Records one history entry (put only if absent) and, for CanaryPromoted and CanaryRolledBack,
   * ends the deployment with that status (weight 100 or 0, the event's reason). The deployment
   * must be the model's current one and running, unless this very entry was already recorded (a
   * retried step: nothing more is written). ConflictError names the status otherwise.
   */
  async record(event: DeploymentEvent): Promise<RecordResult> {
    const parsed = parseOrThrow(eventSchema, event) as DeploymentEvent;
    const model = parseModelName(parsed.model, 'model');
    const sequence = deploymentEventSequence(parsed);
    const ending = RECORD_STATUS[parsed.type];
    const at = this.now().toISOString();
    const sets = ['updatedAt = :at'];
    const values: Item = {
      ':at': at,
      ':id': parsed.deploymentId,
      ':running': 'running',
      ':seqSet': new Set([sequence]),
      ':seq': sequence,
      ':one': 1,
    };
    if (ending !== undefined) {
      sets.push(
        '#status = :ending',
        'weight = :weight',
        'canaryVersion = :canary',
        'stableVersion = :stable',
      );
      Object.assign(values, {
        ':ending': ending.status,
        ':weight': ending.weight,
        ':canary': parsed.canaryVersion,
        ':stable': parsed.stableVersion,
      });
      if (parsed.reason !== undefined) {
        sets.push('reason = :reason');
        values[':reason'] = parsed.reason;
      }
    }
    try {
      await this.props.documents.send(
        new UpdateCommand({
          TableName: this.props.tableName,
          Key: { pk: modelPk(model), sk: DEPLOYMENT_SK },
          UpdateExpression: `SET ${sets.join(', ')} ADD seq :one, recordedSeqs :seqSet`,
          ConditionExpression:
            'deploymentId = :id AND #status = :running AND (attribute_not_exists(recordedSeqs) OR NOT contains(recordedSeqs, :seq))',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const head = await this.head(model);
      const recorded = head?.recordedSeqs instanceof Set && head.recordedSeqs.has(sequence);
      if (head === undefined || head.deploymentId !== parsed.deploymentId || !recorded)
        throw this.notRunning(model, parsed.deploymentId, head);
      // Recorded before (a retry, perhaps after a crash before the entry's put): complete the put.
    }
    try {
      await this.props.documents.send(
        new PutCommand({
          TableName: this.props.tableName,
          Item: {
            pk: modelPk(model),
            sk: deploymentHistorySk(parsed.deploymentId, sequence),
            ...parsed,
            seq: sequence,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { sequence, written: true };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { sequence, written: false };
      throw error;
    }
  }

  /**
   * Asks the running deployment to roll back at its next check. A second request keeps the first
   * (returned as it is). NotFoundError without a deployment; ConflictError naming the status when
   * the newest deployment is not running.
   */
  async requestRollback(model: string, request: { by: string; reason: string }): Promise<DeploymentRecord> {
    const name = parseModelName(model, 'model');
    const { by, reason } = parseOrThrow(rollbackRequestSchema, request);
    const head = await this.requireRunning(name);
    if (head.rollbackRequested !== undefined) return head;
    try {
      return await this.updateRunning(
        name,
        head.deploymentId,
        'SET rollbackRequested = :request, updatedAt = :at',
        { ':request': { by, reason, at: this.now().toISOString() } },
        'attribute_not_exists(rollbackRequested)',
      );
    } catch (error) {
      const now = await this.current(name);
      if (error instanceof ConflictError && now?.rollbackRequested !== undefined && now.status === 'running')
        return now;
      throw error;
    }
  }

  /**
   * Approves the running deployment's promotion. ConflictError when it is not running or does not
   * wait for an approval (requireApproval false); approving twice keeps the first approver.
   */
  async approve(model: string, request: { by: string }): Promise<DeploymentRecord> {
    const name = parseModelName(model, 'model');
    const { by } = parseOrThrow(actorSchema, request);
    const head = await this.requireRunning(name);
    if (!head.requireApproval)
      throw new ConflictError(
        `model: deployment ${head.deploymentId} of ${name} does not wait for an approval (requireApproval is false)`,
        { current: 'requireApproval: false' },
      );
    if (head.approvedBy !== undefined) return head;
    try {
      return await this.updateRunning(
        name,
        head.deploymentId,
        'SET approvedBy = :by, updatedAt = :at',
        { ':by': by, ':true': true },
        'requireApproval = :true AND attribute_not_exists(approvedBy)',
      );
    } catch (error) {
      const now = await this.current(name);
      if (error instanceof ConflictError && now?.approvedBy !== undefined && now.status === 'running')
        return now;
      throw error;
    }
  }

  /**
   * Ends the running deployment `deploymentId` as `failed` with its reason (the lock is released).
   * Failing it again is a no-op; ConflictError when it ended otherwise or is not the current one.
   */
  async fail(model: string, deploymentId: string, reason: string): Promise<DeploymentRecord> {
    const name = parseModelName(model, 'model');
    const id = parseOrThrow(deploymentIdSchema, deploymentId, 'deploymentId');
    const why = parseOrThrow(text, reason, 'reason');
    try {
      return await this.updateRunning(name, id, 'SET #status = :failed, reason = :reason, updatedAt = :at', {
        ':failed': 'failed',
        ':reason': why,
      });
    } catch (error) {
      const now = await this.current(name);
      if (error instanceof ConflictError && now?.deploymentId === id && now.status === 'failed') return now;
      throw error;
    }
  }

  /** The model's newest deployment, or undefined when it has none. */
  async current(model: string): Promise<DeploymentRecord | undefined> {
    const item = await this.head(parseModelName(model, 'model'));
    return item === undefined ? undefined : recordOf(item);
  }

  /**
   * A deployment's history entries in order (started, steps, then promoted or rolled back); the
   * newest deployment's when no id is given ([] when the model has none).
   */
  async history(model: string, deploymentId?: string): Promise<DeploymentEvent[]> {
    const name = parseModelName(model, 'model');
    const id =
      deploymentId === undefined
        ? (await this.current(name))?.deploymentId
        : parseOrThrow(deploymentIdSchema, deploymentId, 'deploymentId');
    if (id === undefined) return [];
    const items = await queryPrefix(this.props.documents, {
      tableName: this.props.tableName,
      pk: modelPk(name),
      prefix: deploymentHistorySkPrefix(id),
    });
    return items.map(({ pk: _pk, sk: _sk, seq: _seq, ...rest }) => rest as unknown as DeploymentEvent);
  }

  private async head(model: string): Promise<Item | undefined> {
    const result = await this.props.documents.send(
      new GetCommand({
        TableName: this.props.tableName,
        Key: { pk: modelPk(model), sk: DEPLOYMENT_SK },
        ConsistentRead: true,
      }),
    );
    return result.Item;
  }

  private async requireRunning(model: string): Promise<DeploymentRecord> {
    const head = await this.current(model);
    if (head === undefined) throw new NotFoundError(`deployment of model ${model}`, { field: 'model' });
    if (head.status !== 'running')
      throw new ConflictError(
        `model: deployment ${head.deploymentId} of ${model} is ${head.status}, not running`,
        { current: head.status },
      );
    return head;
  }

  /** One conditional update of the running deployment `deploymentId`; typed errors when refused. */
  private async updateRunning(
    model: string,
    deploymentId: string,
    update: string,
    values: Item,
    extraCondition?: string,
  ): Promise<DeploymentRecord> {
    try {
      const result = await this.props.documents.send(
        new UpdateCommand({
          TableName: this.props.tableName,
          Key: { pk: modelPk(model), sk: DEPLOYMENT_SK },
          UpdateExpression: update,
          ConditionExpression: `deploymentId = :id AND #status = :running${extraCondition ? ` AND ${extraCondition}` : ''}`,
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ...values,
            ':id': deploymentId,
            ':running': 'running',
            ':at': this.now().toISOString(),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return recordOf(result.Attributes as Item);
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      throw this.notRunning(model, deploymentId, await this.head(model));
    }
  }

  private notRunning(model: string, deploymentId: string, head: Item | undefined): Error {
    if (head === undefined) return new NotFoundError(`deployment of model ${model}`, { field: 'model' });
    if (head.deploymentId !== deploymentId)
      return new ConflictError(
        `deploymentId: ${deploymentId} is not the current deployment of ${model} (${String(head.deploymentId)} is, ${String(head.status)})`,
        { current: head.status },
      );
    return new ConflictError(
      `status: deployment ${deploymentId} of ${model} is ${String(head.status)}, not running`,
      { current: head.status },
    );
  }
}

function recordOf(item: Item): DeploymentRecord {
  const record: Item = {};
  for (const [key, value] of Object.entries(item)) if (!INTERNAL.has(key)) record[key] = value;
  return record as unknown as DeploymentRecord;
}
