/**
 * Experiment tracking over DynamoDB (experiments, runs, metrics) and S3 (run artifacts): a thin
 * adapter whose rules live in ./tracking.ts. Keys are in lambdas/shared/layout.ts.
 *
 * Table design (one partition per run):
 *   pk = EXPERIMENTS  sk = <experiment>            experiment: description, tags, createdAt
 *   pk = RUN#<id>     sk = RUN                     run: status, times, params, tags, metric summaries,
 *                                                  registeredVersions (string set of `<model>:<version>`)
 *   pk = RUN#<id>     sk = METRIC#<key>            latest/min/max, chunk count, points in the last chunk
 *   pk = RUN#<id>     sk = CHUNK#<key>#<10 digits> up to 1000 points of one metric, packed (24 bytes a point)
 *   pk = RUN#<id>     sk = BATCH#<batchId>         a logged batch and its fingerprint
 * Indexes (sparse, projecting all):
 *   runsByExperiment  expKey = EXP#<exp>             startKey = <ISO start>#<id>  list runs, newest first
 *   runsByStatus      statusKey = EXP#<exp>#<status> startKey                     list runs in one status
 *   runsByMetric      metricKey = EXP#<exp>#METRIC#<key>  metricSort = <sortable latest>#<id>
 *                                                  search on a metric's latest value, ordered by it
 *
 * A metric batch is one transaction: the run item (only while RUNNING; its summaries), the batch
 * record (only if absent: a retried batch is recognized, not re-applied), and per key the summary
 * item (only if its point count is still what was read) and the chunk (a new one, or the last one
 * rewritten with the points appended, only if it still holds what was read). All or nothing; a lost
 * race re-reads and retries.
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  ConfigurationError,
  ConflictError,
  ContentionError,
  NotFoundError,
  ValidationError,
} from '../shared/errors.js';
import {
  EXPERIMENTS_PK,
  experimentMetricKey,
  experimentRunsKey,
  experimentStatusKey,
  metricBatchSk,
  metricChunkSk,
  metricChunkSkPrefix,
  metricSortKey,
  RUN_SK,
  runArtifactPrefix,
  runMetricSk,
  runPk,
  runStartKey,
  TRACKING_ITEM,
} from '../shared/layout.js';
import { queryPrefix } from '../shared/query-prefix.js';
import { backoffDelay, sleep } from '../shared/retry.js';
import { parseOrThrow } from '../shared/validation.js';
import { assertItemFits, canonicalJson } from './model-version.js';
import {
  assertRunning,
  assertStatusMove,
  batchFingerprint,
  batchIdSchema,
  type CreateExperimentInput,
  type CreateRunInput,
  compareTable,
  createExperimentSchema,
  createRunSchema,
  type EndRunInput,
  type Experiment,
  encodeChunk,
  experimentNameSchema,
  groupByKey,
  historyFromChunks,
  type MetricPoint,
  type MetricSummary,
  mergeSummary,
  paramsSchema,
  parseArtifactPath,
  parseCompare,
  parseEndRun,
  parseLimit,
  parseMetricBatch,
  parseMetricFilter,
  parseMetricOrder,
  placePoints,
  RUN_STATUSES,
  type RunComparison,
  type RunStatus,
  runIdSchema,
  type TrackedRun,
  tagsSchema,
} from './tracking.js';

export interface TrackingStoreProps {
  readonly documents: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly tableName: string;
  /** Bucket that takes run artifacts (the registry's artifact bucket, under `runs/`); none, no artifacts. */
  readonly artifactBucket?: string;
  /** Clock, injectable for tests. @default () => new Date() */
  readonly now?: () => Date;
  /** Attempts at a metric batch under contention. @default 50 */
  readonly maxAttempts?: number;
}

export interface ListRunsOptions {
  readonly status?: RunStatus;
  /** Only runs with this tag: `{ key, value }`. */
  readonly tag?: { readonly key: string; readonly value: string };
  /** Only children of this run. */
  readonly parentRunId?: string;
  /** Page size, 1-100. @default 50 */
  readonly limit?: number;
  readonly nextToken?: string;
}

export interface SearchRunsOptions {
  /** `<metric> <op> <number>` on the metric's latest value: `val_auc > 0.8`. */
  readonly filter?: string;
  /** `<metric> [ASC|DESC]`; with a filter, the filter's metric. @default the filter's metric, ASC */
  readonly orderBy?: string;
  readonly limit?: number;
  readonly nextToken?: string;
}

export interface RunPage {
  readonly runs: TrackedRun[];
  readonly nextToken?: string;
}

export interface LogMetricsResult {
  readonly batchId: string;
  readonly points: number;
  /** True when this batch had been logged before (a retry): nothing was written. */
  readonly duplicate: boolean;
}

type Item = Record<string, unknown>;
type TransactItems = NonNullable<ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']>;

export class TrackingStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly now: () => Date;
  private readonly maxAttempts: number;

  constructor(private readonly props: TrackingStoreProps) {
    this.documents = props.documents;
    this.table = props.tableName;
    this.now = props.now ?? (() => new Date());
    this.maxAttempts = props.maxAttempts ?? 50;
  }

  /** Creates an experiment; the same request again returns it, another one with its name is a ConflictError. */
  async createExperiment(input: CreateExperimentInput): Promise<Experiment> {
    const request = parseOrThrow(createExperimentSchema, input);
    const experiment: Experiment = { ...request, createdAt: this.now().toISOString() };
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.table,
          Item: { pk: EXPERIMENTS_PK, sk: request.name, ...experiment },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return experiment;
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      const existing = await this.getExperiment(request.name);
      if (
        existing.description === request.description &&
        canonicalJson(existing.tags) === canonicalJson(request.tags)
      )
        return existing;
      throw new ConflictError(`experiment ${request.name} exists with another description or tags`, {
        current: existing,
      });
    }
  }

  async getExperiment(name: unknown): Promise<Experiment> {
    const experiment = parseOrThrow(experimentNameSchema, name, 'experiment');
    const item = await this.get(EXPERIMENTS_PK, experiment);
    if (item === undefined) throw new NotFoundError(`experiment ${experiment}`);
    return experimentFromItem(item);
  }

  /** Every experiment, by name (one Query). */
  async listExperiments(): Promise<Experiment[]> {
    const experiments: Experiment[] = [];
    let start: Item | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': EXPERIMENTS_PK },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      experiments.push(...(page.Items ?? []).map(experimentFromItem));
      start = page.LastEvaluatedKey;
    } while (start);
    return experiments;
  }

  /**
   * Starts a run (RUNNING) in an existing experiment, under an existing parent run of the same
   * experiment when one is named. With a `runId`, the same request again returns the run.
   */
  async createRun(input: CreateRunInput): Promise<TrackedRun> {
    const request = parseOrThrow(createRunSchema, input);
    const runId = request.runId ?? randomUUID().replaceAll('-', '');
    const startTime = request.startTime ?? this.now().getTime();
    const requestHash = canonicalJson({ ...request, runId: undefined, startTime: request.startTime });
    const run: TrackedRun = {
      runId,
      experiment: request.experiment,
      name: request.name,
      status: 'RUNNING',
      startTime,
      ...(request.parentRunId ? { parentRunId: request.parentRunId } : {}),
      params: request.params,
      tags: request.tags,
      metrics: {},
      artifactPrefix: runArtifactPrefix(request.experiment, runId),
      registeredVersions: [],
    };
    const { registeredVersions: _none, ...stored } = run;
    const item = { pk: runPk(runId), sk: RUN_SK, ...stored, requestHash, ...indexKeys(run) };
    assertItemFits(item);
    try {
      await this.documents.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.table,
                Key: { pk: EXPERIMENTS_PK, sk: request.experiment },
                ConditionExpression: 'attribute_exists(pk)',
              },
            },
            ...(request.parentRunId
              ? [
                  {
                    ConditionCheck: {
                      TableName: this.table,
                      Key: { pk: runPk(request.parentRunId), sk: RUN_SK },
                      ConditionExpression: 'experiment = :experiment',
                      ExpressionAttributeValues: { ':experiment': request.experiment },
                    },
                  },
                ]
              : []),
            { Put: { TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } },
          ],
        }),
      );
      return run;
    } catch (error) {
      const reasons = cancellationCodes(error);
      if (reasons === undefined) throw error;
      if (reasons[0] === 'ConditionalCheckFailed')
        throw new ValidationError(
          'experiment',
          `must name an existing experiment (${request.experiment} is not; create it first)`,
        );
      if (request.parentRunId && reasons[1] === 'ConditionalCheckFailed')
        throw new ValidationError(
          'parentRunId',
          `must name an existing run of experiment ${request.experiment}`,
        );
      const existing = await this.get(runPk(runId), RUN_SK);
      if (existing === undefined) throw error;
      if (existing.requestHash !== requestHash)
        throw new ConflictError(`run ${runId} exists with another request`, {
          current: runFromItem(existing),
        });
      return runFromItem(existing);
    }
  }

  async getRun(runId: unknown): Promise<TrackedRun> {
    return runFromItem(await this.runItem(runId));
  }

  /**
   * Ends a RUNNING run as FINISHED, FAILED (with a reason) or KILLED. Ending it again the same way
   * returns it; any other move out of a final status is refused.
   */
  async endRun(runId: unknown, input: EndRunInput): Promise<TrackedRun> {
    const request = parseEndRun(input);
    const current = runFromItem(await this.runItem(runId));
    if (current.status === request.status && current.reason === request.reason) return current;
    assertStatusMove(current.runId, current.status, request.status);
    const endTime = request.endTime ?? this.now().getTime();
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: runPk(current.runId), sk: RUN_SK },
          UpdateExpression: `SET #status = :to, endTime = :end, statusKey = :statusKey${request.reason ? ', reason = :reason' : ''}`,
          ConditionExpression: '#status = :running',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':to': request.status,
            ':end': endTime,
            ':running': 'RUNNING',
            ':statusKey': experimentStatusKey(current.experiment, request.status),
            ...(request.reason ? { ':reason': request.reason } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return runFromItem(result.Attributes ?? {});
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      return this.endRun(runId, input); // it ended meanwhile: the same answer as a later call
    }
  }

  /**
   * Logs up to 1000 points (at most 40 keys) to a RUNNING run, all or nothing. `batchId` (default:
   * derived from the points) makes a retry safe: a batch already logged is reported as a duplicate
   * and not written again; the same id with other points is a ConflictError.
   */
  async logMetrics(
    runId: unknown,
    input: unknown,
    options: { batchId?: string } = {},
  ): Promise<LogMetricsResult> {
    const id = parseOrThrow(runIdSchema, runId, 'runId');
    const points = parseMetricBatch(input);
    const fingerprint = batchFingerprint(points);
    const batchId =
      options.batchId === undefined ? fingerprint : parseOrThrow(batchIdSchema, options.batchId, 'batchId');
    const groups = groupByKey(points);
    const pk = runPk(id);

    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const [runItem, batch, ...metricItems] = await Promise.all([
        this.get(pk, RUN_SK),
        this.get(pk, metricBatchSk(batchId)),
        ...[...groups.keys()].map((key) => this.get(pk, runMetricSk(key))),
      ]);
      if (runItem === undefined) throw new NotFoundError(`run ${id}`);
      if (batch !== undefined) return this.duplicateBatch(batch, batchId, fingerprint, points.length);
      const run = runFromItem(runItem);
      assertRunning(id, run.status);
      const keys = [...groups.keys()];
      const places = keys.map((key, i) =>
        placePoints(
          {
            chunks: Number(metricItems[i]?.chunks ?? 0),
            lastChunkPoints: Number(metricItems[i]?.lastChunkPoints ?? 0),
          },
          (groups.get(key) as MetricPoint[]).length,
        ),
      );
      // The last chunk of each metric that gets points appended: rewritten whole (no binary append in DynamoDB).
      const openChunks = await Promise.all(
        keys.map((key, i) =>
          places[i]?.append ? this.get(pk, metricChunkSk(key, places[i].chunk)) : undefined,
        ),
      );

      const transact: TransactItems = [];
      const summaries: Record<string, MetricSummary> = { ...run.metrics };
      [...groups.entries()].forEach(([key, group], i) => {
        const previous = metricItems[i];
        const summary = mergeSummary(previous === undefined ? undefined : summaryOf(previous), group);
        summaries[key] = summary;
        const place = places[i] as ReturnType<typeof placePoints>;
        transact.push({
          Put: {
            TableName: this.table,
            Item: {
              pk,
              sk: runMetricSk(key),
              key,
              runId: id,
              ...summary,
              ...place.after,
              [TRACKING_ITEM.metricKey]: experimentMetricKey(run.experiment, key),
              [TRACKING_ITEM.metricSort]: metricSortKey(summary.latest, id),
            },
            ...(previous === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : {
                  ConditionExpression: '#count = :count',
                  ExpressionAttributeNames: { '#count': 'count' },
                  ExpressionAttributeValues: { ':count': previous.count },
                }),
          },
        });
        transact.push(this.chunkWrite(pk, key, place, group, openChunks[i]));
      });
      const runAfter = { ...runItem, metrics: summaries };
      assertItemFits(runAfter);
      const names: Record<string, string> = { '#status': 'status', '#metrics': 'metrics' };
      const values: Record<string, unknown> = { ':running': 'RUNNING' };
      const sets = [...groups.keys()].map((key, i) => {
        names[`#m${i}`] = key;
        values[`:m${i}`] = summaries[key];
        return `#metrics.#m${i} = :m${i}`;
      });
      transact.unshift(
        {
          Update: {
            TableName: this.table,
            Key: { pk, sk: RUN_SK },
            UpdateExpression: `SET ${sets.join(', ')}`,
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: values,
          },
        },
        {
          Put: {
            TableName: this.table,
            Item: {
              pk,
              sk: metricBatchSk(batchId),
              batchId,
              fingerprint,
              points: points.length,
              loggedAt: this.now().toISOString(),
            },
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
      );
      try {
        await this.documents.send(new TransactWriteCommand({ TransactItems: transact }));
        return { batchId, points: points.length, duplicate: false };
      } catch (error) {
        if (
          cancellationCodes(error) === undefined &&
          (error as Error).name !== 'TransactionConflictException'
        )
          throw error;
        // A lost race, a retry racing its original, or the run ended: re-read and decide again.
        await sleep(backoffDelay(attempt + 1, { baseDelayMs: 5, maxDelayMs: 200 }));
      }
    }
    throw new ContentionError(
      `could not log batch ${batchId} to run ${id} after ${this.maxAttempts} attempts`,
    );
  }

  /** A metric's whole history, ordered by step (then timestamp, then logging order). */
  async getMetricHistory(runId: unknown, key: unknown): Promise<MetricPoint[]> {
    const run = await this.getRun(runId);
    if (typeof key !== 'string' || run.metrics[key] === undefined)
      throw new ValidationError('key', `must be a metric of run ${run.runId} (${String(key)} is not)`);
    const items = await queryPrefix(this.documents, {
      tableName: this.table,
      pk: runPk(run.runId),
      prefix: metricChunkSkPrefix(key),
    });
    const chunks = items.map((item) => item.points as Uint8Array);
    return historyFromChunks(key, chunks);
  }

  /** Adds params to a RUNNING run. A param once logged keeps its value: the same value again is fine, another is refused. */
  async logParams(runId: unknown, input: unknown): Promise<TrackedRun> {
    const params = parseOrThrow(paramsSchema, input, 'params');
    const run = runFromItem(await this.runItem(runId));
    assertRunning(run.runId, run.status);
    for (const [key, value] of Object.entries(params))
      if (key in run.params && run.params[key] !== value)
        throw new ValidationError(
          `params.${key}`,
          `is already ${JSON.stringify(run.params[key])}; a param is logged once`,
        );
    return this.updateMap(run, 'params', params, true);
  }

  /** Sets (or overwrites) tags; allowed in any status, so finished runs can be annotated. */
  async setTags(runId: unknown, input: unknown): Promise<TrackedRun> {
    const tags = parseOrThrow(tagsSchema, input, 'tags');
    const run = runFromItem(await this.runItem(runId));
    if (Object.keys({ ...run.tags, ...tags }).length > 200)
      throw new ValidationError('tags', 'a run holds at most 200 tags');
    return this.updateMap(run, 'tags', tags, false);
  }

  /** Uploads an artifact of a RUNNING run to `runs/<experiment>/<runId>/<path>`; returns its key. */
  async logArtifact(
    runId: unknown,
    path: unknown,
    body: Uint8Array | string,
    contentType = 'application/octet-stream',
  ): Promise<{ key: string; sizeBytes: number }> {
    const relative = parseArtifactPath(path);
    const run = runFromItem(await this.runItem(runId));
    assertRunning(run.runId, run.status);
    const key = `${run.artifactPrefix}${relative}`;
    await this.props.s3.send(
      new PutObjectCommand({ Bucket: this.bucket(), Key: key, Body: body, ContentType: contentType }),
    );
    return { key, sizeBytes: typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength };
  }

  /** The artifacts of a run: keys relative to its prefix, with sizes. */
  async listArtifacts(runId: unknown): Promise<{ path: string; sizeBytes: number }[]> {
    const run = await this.getRun(runId);
    const artifacts: { path: string; sizeBytes: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.props.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket(),
          Prefix: run.artifactPrefix,
          ContinuationToken: token,
        }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key) artifacts.push({ path: o.Key.slice(run.artifactPrefix.length), sizeBytes: o.Size ?? 0 });
      token = page.NextContinuationToken;
    } while (token);
    return artifacts;
  }

  /** An experiment's runs, newest first, optionally in one status, with a tag or under a parent. */
  async listRuns(experiment: unknown, options: ListRunsOptions = {}): Promise<RunPage> {
    const name = parseOrThrow(experimentNameSchema, experiment, 'experiment');
    const limit = parseLimit(options.limit);
    if (options.status !== undefined && !RUN_STATUSES.includes(options.status))
      throw new ValidationError('status', `must be one of ${RUN_STATUSES.join(', ')}`);
    if (options.parentRunId !== undefined) parseOrThrow(runIdSchema, options.parentRunId, 'parentRunId');
    if (options.tag !== undefined) parseOrThrow(tagsSchema, { [options.tag.key]: options.tag.value }, 'tag');
    await this.getExperiment(name);
    const [index, keyName, keyValue] =
      options.status === undefined
        ? [TRACKING_ITEM.experimentIndex, TRACKING_ITEM.experimentKey, experimentRunsKey(name)]
        : [TRACKING_ITEM.statusIndex, TRACKING_ITEM.statusKey, experimentStatusKey(name, options.status)];
    const filters: string[] = [];
    const names: Record<string, string> = { '#pk': keyName };
    const values: Record<string, unknown> = { ':pk': keyValue };
    if (options.tag) {
      filters.push('tags.#tag = :tag');
      names['#tag'] = options.tag.key;
      values[':tag'] = options.tag.value;
    }
    if (options.parentRunId) {
      filters.push('parentRunId = :parent');
      values[':parent'] = options.parentRunId;
    }
    const { items, nextToken } = await this.queryPage(
      {
        IndexName: index,
        KeyConditionExpression: '#pk = :pk',
        ...(filters.length > 0 ? { FilterExpression: filters.join(' AND ') } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ScanIndexForward: false,
      },
      keyName,
      keyValue,
      limit,
      options.nextToken,
    );
    return { runs: items.map(runFromItem), ...(nextToken ? { nextToken } : {}) };
  }

  /**
   * Runs of an experiment by a metric's latest value: filtered (`val_auc > 0.8`) and/or ordered by
   * one metric, a page at a time. One Query of that metric's index; runs without the metric are not
   * in it. Filter and order must name the same metric (one index answers both).
   */
  async searchRuns(experiment: unknown, options: SearchRunsOptions): Promise<RunPage> {
    const name = parseOrThrow(experimentNameSchema, experiment, 'experiment');
    const limit = parseLimit(options.limit);
    const filter = options.filter === undefined ? undefined : parseMetricFilter(options.filter);
    const order = options.orderBy === undefined ? undefined : parseMetricOrder(options.orderBy);
    if (filter === undefined && order === undefined)
      throw new ValidationError('filter', 'give a filter or an orderBy (listRuns lists without either)');
    if (filter && order && filter.metric !== order.metric)
      throw new ValidationError(
        'orderBy',
        `must be the filtered metric (${filter.metric}): one index answers both`,
      );
    await this.getExperiment(name);
    const metric = (filter?.metric ?? order?.metric) as string;
    const partition = experimentMetricKey(name, metric);
    const values: Record<string, unknown> = { ':pk': partition };
    let range = '';
    if (filter) {
      const bound = metricSortKey(filter.value, '');
      // `<sortable>#` begins every sort key of that value; `<sortable>~` sorts after all of them.
      const above = `${bound.slice(0, -1)}~`;
      const condition = {
        '>': ['#sort > :v', above],
        '>=': ['#sort >= :v', bound],
        '<': ['#sort < :v', bound],
        '<=': ['#sort < :v', above],
        '=': ['begins_with(#sort, :v)', bound],
      }[filter.op] as [string, string];
      range = ` AND ${condition[0]}`;
      values[':v'] = condition[1];
    }
    const { items, nextToken } = await this.queryPage(
      {
        IndexName: TRACKING_ITEM.metricIndex,
        KeyConditionExpression: `#pk = :pk${range}`,
        ExpressionAttributeNames: {
          '#pk': TRACKING_ITEM.metricKey,
          ...(range ? { '#sort': TRACKING_ITEM.metricSort } : {}),
        },
        ExpressionAttributeValues: values,
        ScanIndexForward: !(order?.descending ?? false),
      },
      TRACKING_ITEM.metricKey,
      partition,
      limit,
      options.nextToken,
    );
    const runs = await this.runsById(
      items.map((i) => String(i.runId)),
      'runId',
    );
    return { runs, ...(nextToken ? { nextToken } : {}) };
  }

  /** Runs × params and metrics (latest values), in the order given. */
  async compareRuns(runIds: unknown, metrics?: unknown): Promise<RunComparison> {
    const request = parseCompare(runIds, metrics);
    return compareTable(await this.runsById(request.runIds, 'runIds'), request.metrics);
  }

  private async runsById(ids: readonly string[], field: string): Promise<TrackedRun[]> {
    const found = new Map<string, Item>();
    for (let i = 0; i < ids.length; i += 100) {
      let keys: Item[] = ids.slice(i, i + 100).map((id) => ({ pk: runPk(id), sk: RUN_SK }));
      for (let round = 0; keys.length > 0; round++) {
        const result = await this.documents.send(
          new BatchGetCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } }),
        );
        for (const item of result.Responses?.[this.table] ?? []) found.set(String(item.runId), item);
        keys = (result.UnprocessedKeys?.[this.table]?.Keys ?? []) as Item[];
        if (keys.length > 0) await sleep(backoffDelay(round + 1, { baseDelayMs: 20, maxDelayMs: 500 }));
      }
    }
    return ids.map((id, i) => {
      const item = found.get(id);
      if (item === undefined)
        throw new ValidationError(
          field === 'runIds' ? `runIds.${i}` : field,
          `must name an existing run (${id} is not)`,
        );
      return runFromItem(item);
    });
  }

  /** One page of a Query that filters: evaluates at most `limit` items per request, so the token is exact. */
  private async queryPage(
    query: Omit<ConstructorParameters<typeof QueryCommand>[0], 'TableName'>,
    partitionAttribute: string,
    partition: string,
    limit: number,
    token: string | undefined,
  ): Promise<{ items: Item[]; nextToken?: string }> {
    const items: Item[] = [];
    let start = token === undefined ? undefined : decodeToken(token, partitionAttribute, partition);
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.table,
          ...query,
          Limit: limit - items.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start && items.length < limit);
    return start ? { items, nextToken: encodeToken(start) } : { items };
  }

  /** A new chunk, or the open one rewritten with `points` appended if it still holds what was read. */
  private chunkWrite(
    pk: string,
    key: string,
    place: { chunk: number; append: boolean; after: { lastChunkPoints: number } },
    points: readonly MetricPoint[],
    open: Item | undefined,
  ): TransactItems[number] {
    const sk = metricChunkSk(key, place.chunk);
    if (place.append && open === undefined)
      throw new ContentionError(`chunk ${sk} of run ${pk} vanished; retry`);
    const before = open?.points as Uint8Array | undefined;
    return {
      Put: {
        TableName: this.table,
        Item: { pk, sk, key, pointCount: place.after.lastChunkPoints, points: encodeChunk(points, before) },
        ...(open === undefined
          ? { ConditionExpression: 'attribute_not_exists(pk)' }
          : {
              ConditionExpression: 'pointCount = :before',
              ExpressionAttributeValues: { ':before': open.pointCount },
            }),
      },
    };
  }

  private duplicateBatch(
    batch: Item,
    batchId: string,
    fingerprint: string,
    points: number,
  ): LogMetricsResult {
    if (batch.fingerprint !== fingerprint)
      throw new ConflictError(`batch ${batchId} was logged with other points`, { current: batch.points });
    return { batchId, points, duplicate: true };
  }

  /** Adds entries to the run's `params` or `tags` map (params: only while RUNNING and not already set otherwise). */
  private async updateMap(
    run: TrackedRun,
    attribute: 'params' | 'tags',
    entries: Record<string, unknown>,
    whileRunning: boolean,
  ): Promise<TrackedRun> {
    const keys = Object.keys(entries);
    if (keys.length === 0) return run;
    const item = await this.runItem(run.runId);
    assertItemFits({ ...item, [attribute]: { ...(item[attribute] as Item), ...entries } });
    const names: Record<string, string> = { '#map': attribute, '#status': 'status' };
    const values: Record<string, unknown> = {};
    const conditions: string[] = whileRunning ? ['#status = :running'] : [];
    if (whileRunning) values[':running'] = 'RUNNING';
    const sets = keys.map((key, i) => {
      names[`#k${i}`] = key;
      values[`:v${i}`] = entries[key];
      // A param is written once: absent, or already this value.
      if (attribute === 'params')
        conditions.push(`(attribute_not_exists(#map.#k${i}) OR #map.#k${i} = :v${i})`);
      return `#map.#k${i} = :v${i}`;
    });
    try {
      const result = await this.documents.send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: runPk(run.runId), sk: RUN_SK },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: ['attribute_exists(pk)', ...conditions].join(' AND '),
          ExpressionAttributeNames: whileRunning
            ? names
            : { '#map': attribute, ...omit(names, '#status', '#map') },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return runFromItem(result.Attributes ?? {});
    } catch (error) {
      if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      // The run ended or another writer set a param meanwhile: the checks above now say which.
      return attribute === 'params' ? this.logParams(run.runId, entries) : this.setTags(run.runId, entries);
    }
  }

  private bucket(): string {
    if (this.props.artifactBucket === undefined)
      throw new ConfigurationError('this tracking store has no artifact bucket (artifactBucket)');
    return this.props.artifactBucket;
  }

  private async runItem(runId: unknown): Promise<Item> {
    const id = parseOrThrow(runIdSchema, runId, 'runId');
    const item = await this.get(runPk(id), RUN_SK);
    if (item === undefined) throw new NotFoundError(`run ${id}`);
    return item;
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.table, Key: { pk, sk }, ConsistentRead: true }),
    );
    return result.Item;
  }
}

/** The index keys a run item carries (experiment listing, status listing). */
function indexKeys(run: TrackedRun): Item {
  const start = runStartKey(new Date(run.startTime).toISOString(), run.runId);
  return {
    [TRACKING_ITEM.experimentKey]: experimentRunsKey(run.experiment),
    [TRACKING_ITEM.statusKey]: experimentStatusKey(run.experiment, run.status),
    [TRACKING_ITEM.startKey]: start,
  };
}

export function runFromItem(item: Item): TrackedRun {
  return {
    runId: String(item.runId),
    experiment: String(item.experiment),
    name: String(item.name ?? ''),
    status: item.status as RunStatus,
    startTime: Number(item.startTime),
    ...(item.endTime !== undefined ? { endTime: Number(item.endTime) } : {}),
    ...(item.reason !== undefined ? { reason: String(item.reason) } : {}),
    ...(item.parentRunId !== undefined ? { parentRunId: String(item.parentRunId) } : {}),
    params: (item.params ?? {}) as TrackedRun['params'],
    tags: (item.tags ?? {}) as TrackedRun['tags'],
    metrics: (item.metrics ?? {}) as TrackedRun['metrics'],
    artifactPrefix: String(item.artifactPrefix),
    registeredVersions: [...((item.registeredVersions as Set<string> | undefined) ?? [])].sort(),
  };
}

function experimentFromItem(item: Item): Experiment {
  return {
    name: String(item.name),
    description: String(item.description ?? ''),
    tags: (item.tags ?? {}) as Experiment['tags'],
    createdAt: String(item.createdAt),
  };
}

function summaryOf(item: Item): MetricSummary {
  return {
    latest: Number(item.latest),
    step: Number(item.step),
    timestamp: Number(item.timestamp),
    min: Number(item.min),
    max: Number(item.max),
    count: Number(item.count),
  };
}

/** The cancellation reason codes of a cancelled transaction, in item order; undefined for any other error. */
function cancellationCodes(error: unknown): (string | undefined)[] | undefined {
  if (
    !(error instanceof TransactionCanceledException) &&
    (error as Error).name !== 'TransactionCanceledException'
  )
    return undefined;
  return ((error as TransactionCanceledException).CancellationReasons ?? []).map((r) => r.Code);
}

function omit(record: Record<string, string>, ...keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)));
}

function encodeToken(key: Item): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeToken(token: string, attribute: string, partition: string): Item {
  try {
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Item;
    if (key[attribute] === partition && typeof key.pk === 'string' && typeof key.sk === 'string') return key;
  } catch {
    // fall through
  }
  throw new ValidationError('nextToken', 'must be a token returned by the previous page of this listing');
}
