/**
 * The model registry over DynamoDB (metadata) and S3 (artifacts): a thin adapter whose rules live
 * in ./model-version.ts.
 *
 * Table design: one table, `pk`/`sk` strings, no secondary index. Everything of a model lives in
 * its own partition (`MODEL#<name>`); the catalog is one more partition. Key functions are in
 * lambdas/shared/layout.ts. `v` is a version zero-padded to 10 digits, so key order is version order.
 *
 * | item          | pk             | sk                                | attributes                                    | access pattern it serves                             |
 * |---------------|----------------|-----------------------------------|-----------------------------------------------|------------------------------------------------------|
 * | head          | `MODEL#<name>` | `MODEL`                           | latestVersion, productionVersion?, createdAt, updatedAt, searchIndex? | allocate the next version (compare-and-set); one Production version; model summary |
 * | version       | `MODEL#<name>` | `VERSION#<v>`                     | the record (stage, stageSeq, artifacts, signature, output, metrics, params, tags, lineage, aliases set, createdAt/By, updatedAt, clientToken, requestHash) | get a version; list versions newest first (Query, descending) |
 * | token         | `MODEL#<name>` | `TOKEN#<clientToken>`             | version, requestHash, createdAt               | idempotent registration retries                       |
 * | stage history | `MODEL#<name>` | `HISTORY#<v>#<10-digit seq>`      | from, to, at, by, reason, causedBy?, gates?, gateOverride? | a version's stage history, in order          |
 * | alias         | `MODEL#<name>` | `ALIAS#<alias>`                   | version (absent when deleted), seq            | get by alias; compare-and-set moves; search by alias  |
 * | alias history | `MODEL#<name>` | `ALIASHIST#<alias>#<10-digit seq>`| from, to, at, by, reason                      | an alias's history, in order                          |
 * | stage index   | `MODEL#<name>` | `STAGE#<stage>#<v>`               | (key only)                                    | versions in a stage, newest first                     |
 * | tag index     | `MODEL#<name>` | `TAG#<key>=<value, % and # escaped>#<v>` | (key only)                             | versions with tag key=value, newest first             |
 * | metric index  | `MODEL#<name>` | `METRIC#<metric>#<16 hex: order-preserving float64>#<v>` | (key only)             | `auc > 0.8` as one key range, ordered by the metric (then version) |
 * | catalog       | `CATALOG`      | `MODEL#<name>`                    | modelName                                     | list models by name (summaries read from the heads)   |
 *
 * Index items are written in the same transaction as the change they index: registration puts the
 * catalog item, `STAGE#None#v` and one item per tag and per metric (tags and metrics never change
 * afterwards; at most 90 of them together, because a transaction holds at most 100 actions); a stage
 * transition deletes `STAGE#<from>#v` and puts `STAGE#<to>#v`, and so does the archiving of the
 * previous Production version in a promotion. Reads are consistent Queries, so search never
 * disagrees with get; results are read from the version items (a BatchGetItem, consistent), so they
 * carry the same aliases as every read path. The catalog is a partition rather than a sparse GSI
 * because a GSI is only eventually consistent (a model just registered could be missing) and would
 * change the deployed table; with no local secondary index, its item collection has no size limit.
 * Heads written before search existed carry no `searchIndex`: searching such a model by stage, tag
 * or metric is refused (NotIndexedError, a ConflictError) and it is missing from `listModels` (no
 * catalog item) until `reindexModel` (idempotent; `mlops models reindex`) has indexed it; listing
 * its versions in version order and reading an alias work throughout. No read scans.
 *
 * Versions are allocated with optimistic concurrency: read the head, then one transaction that moves
 * the head from n to n+1 only if it still says n and creates VERSION#n+1 (and TOKEN#t) only if
 * absent. Either all of it is written or none, so there are no gaps, no duplicates and no version
 * without its metadata. A lost race re-reads and retries with jittered backoff.
 *
 * Every read is strongly consistent: a caller that has just registered (or retried) reads what it
 * wrote, never an older replica.
 */

import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, HeadObjectCommand, NoSuchKey, NotFound, type S3Client } from '@aws-sdk/client-s3';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { ConflictError, ContentionError, NotFoundError, ValidationError } from '../shared/errors.js';
import {
  MODEL_HEAD_SK as HEAD_SK,
  modelPk,
  SEARCH_INDEX_ATTRIBUTE,
  SEARCH_INDEX_FORMAT,
  stageIndexSk,
  tokenSk,
  VERSION_SK_PREFIX,
  versionSk,
} from '../shared/layout.js';
import { backoffDelay, sleep } from '../shared/retry.js';
import {
  artifactField,
  assertItemFits,
  type ModelVersion,
  parseModelName,
  parseRegisterModelVersion,
  parseVersion,
  type RegisterModelVersionRequest,
  requestedArtifacts,
  requestFingerprint,
  versionFromItem,
} from './model-version.js';
import { type SearchVersionsOptions, tagAndMetricIndexKeys } from './search.js';
import {
  catalogItem,
  type ListModelsOptions,
  ModelSearch,
  type ModelSummaryPage,
  type ReindexResult,
} from './search-store.js';
import { registeredVersionRef } from './tracking.js';
import { assertRunExists, runLinkUpdate, unknownRunError } from './tracking-link.js';
import type { ArtifactRole, StoredArtifactRef, VersionArtifacts } from './version-record.js';

export type { MetricOp, SearchVersionsOptions } from './search.js';
export type { ListModelsOptions, ModelSummary, ModelSummaryPage, ReindexResult } from './search-store.js';

export interface ModelRegistryStoreProps {
  readonly documents: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly tableName: string;
  readonly artifactBucket: string;
  /** Attempts at allocating a version under contention. @default 100 */
  readonly maxAttempts?: number;
  /** Clock, injectable for tests. @default () => new Date() */
  readonly now?: () => Date;
  /**
   * Who registers (recorded as `createdBy`): the caller's IAM principal in AWS.
   * @default 'local'
   */
  readonly principal?: string;
  /**
   * The experiment-tracking table. Given, a registration whose lineage names a `runId` must name
   * an existing run, and adds `<model>:<version>` to that run's `registeredVersions` in its own
   * transaction (see ./tracking-link.ts).
   * @default none (run ids are recorded, not checked)
   */
  readonly trackingTable?: string;
}

export interface ListModelVersionsOptions {
  /** Page size, 1-100. @default 50 */
  readonly limit?: number;
  /** Token from the previous page. */
  readonly nextToken?: string;
}

export interface ModelVersionPage {
  readonly versions: ModelVersion[];
  readonly nextToken?: string;
}

export class ModelRegistryStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly s3: S3Client;
  private readonly tableName: string;
  private readonly artifactBucket: string;
  private readonly maxAttempts: number;
  private readonly now: () => Date;
  private readonly principal: string;
  private readonly search: ModelSearch;
  private readonly trackingTable: string | undefined;

  constructor(props: ModelRegistryStoreProps) {
    this.search = new ModelSearch(props.documents, props.tableName);
    this.trackingTable = props.trackingTable;
    this.documents = props.documents;
    this.s3 = props.s3;
    this.tableName = props.tableName;
    this.artifactBucket = props.artifactBucket;
    this.maxAttempts = props.maxAttempts ?? 100;
    this.now = props.now ?? (() => new Date());
    this.principal = props.principal ?? 'local';
  }

  /**
   * Registers a new version of a model whose artifact is already in the artifact bucket. Validates
   * everything before writing anything; with a `clientToken` a repeated call with the same payload
   * returns the version the first call created, and one with a different payload is refused with
   * {@link ConflictError}.
   */
  async registerModelVersion(input: unknown): Promise<ModelVersion> {
    const request = parseRegisterModelVersion(input);
    const pk = modelPk(request.modelName);
    const requestHash = requestFingerprint(request);
    if (request.clientToken !== undefined) {
      const existing = await this.findByToken(request, requestHash);
      if (existing !== undefined) return existing;
    }
    const verified = await Promise.all(
      requestedArtifacts(request).map(
        async ([role, ref]) => [role, await this.verifyArtifact(role, ref)] as const,
      ),
    );
    const artifacts = Object.fromEntries(verified) as unknown as VersionArtifacts;
    const runId = request.lineage.runId;
    const linkRun = this.trackingTable !== undefined && runId !== undefined;
    if (linkRun) await assertRunExists(this.documents, this.trackingTable as string, runId as string);

    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const head = await this.documents.send(
        new GetCommand({ TableName: this.tableName, Key: { pk, sk: HEAD_SK }, ConsistentRead: true }),
      );
      const latest = typeof head.Item?.latestVersion === 'number' ? head.Item.latestVersion : 0;
      const createdAt = this.now().toISOString();
      const version: ModelVersion = {
        modelName: request.modelName,
        version: latest + 1,
        stage: 'None',
        artifact: artifacts.model,
        artifacts,
        ...(request.signature !== undefined ? { signature: request.signature } : {}),
        ...(request.output !== undefined ? { output: request.output } : {}),
        metrics: request.metrics,
        params: request.params,
        tags: request.tags,
        lineage: request.lineage,
        description: request.description,
        createdAt,
        createdBy: this.principal,
        aliases: [],
        ...(request.clientToken !== undefined ? { clientToken: request.clientToken } : {}),
      };
      // `aliases` is a string set the alias store adds to; a new version has none (no empty list stored).
      const { aliases: _none, ...stored } = version;
      const versionItem = { pk, sk: versionSk(version.version), ...stored };
      assertItemFits(versionItem);
      // Search-index items, in the same transaction: the stage item, one per tag and per metric.
      const indexPuts = [stageIndexSk('None', version.version), ...tagAndMetricIndexKeys(version)].map(
        (sk) => ({ Put: { TableName: this.tableName, Item: { pk, sk } } }),
      );

      const transactItems = [
        {
          Update: {
            TableName: this.tableName,
            Key: { pk, sk: HEAD_SK },
            // A new model is indexed from its first version; an older one once reindexModel ran.
            UpdateExpression: `SET latestVersion = :next, modelName = :name, updatedAt = :now, createdAt = if_not_exists(createdAt, :now)${latest === 0 ? ', #index = :format' : ''}`,
            ConditionExpression: latest === 0 ? 'attribute_not_exists(pk)' : 'latestVersion = :latest',
            ...(latest === 0 ? { ExpressionAttributeNames: { '#index': SEARCH_INDEX_ATTRIBUTE } } : {}),
            ExpressionAttributeValues: {
              ':next': version.version,
              ':name': request.modelName,
              ':now': createdAt,
              ...(latest === 0 ? { ':format': SEARCH_INDEX_FORMAT } : { ':latest': latest }),
            },
          },
        },
        { Put: { TableName: this.tableName, Item: catalogItem(request.modelName) } },
        ...indexPuts,
        {
          Put: {
            TableName: this.tableName,
            Item: versionItem,
            ConditionExpression: 'attribute_not_exists(pk)',
          },
        },
        ...(request.clientToken !== undefined
          ? [
              {
                Put: {
                  TableName: this.tableName,
                  Item: {
                    pk,
                    sk: tokenSk(request.clientToken),
                    version: version.version,
                    requestHash,
                    createdAt,
                  },
                  ConditionExpression: 'attribute_not_exists(pk)',
                },
              },
            ]
          : []),
        ...(linkRun
          ? [
              runLinkUpdate(
                this.trackingTable as string,
                runId as string,
                registeredVersionRef(request.modelName, version.version),
              ),
            ]
          : []),
      ];
      // The run link is the last action: its condition failing means the run vanished since it was
      // checked, which no retry can fix.
      const runLinkIndex = linkRun ? transactItems.length - 1 : -1;
      try {
        await this.documents.send(new TransactWriteCommand({ TransactItems: transactItems }));
        return version;
      } catch (error) {
        if (
          error instanceof TransactionCanceledException &&
          runLinkIndex >= 0 &&
          error.CancellationReasons?.[runLinkIndex]?.Code === 'ConditionalCheckFailed'
        ) {
          throw unknownRunError(runId as string);
        }
        if (!isRetryableTransactionError(error)) throw error;
        if (request.clientToken !== undefined) {
          const existing = await this.findByToken(request, requestHash);
          if (existing !== undefined) return existing;
        }
        // Full jitter, capped: spreads contending writers out instead of retrying in lockstep.
        await sleep(backoffDelay(attempt + 1, { baseDelayMs: 5, maxDelayMs: 250 }));
      }
    }
    throw new ContentionError(
      `could not allocate a version of ${request.modelName} after ${this.maxAttempts} attempts under contention`,
    );
  }

  /** Reads one version; throws {@link NotFoundError} when the model or version does not exist. */
  async getModelVersion(modelName: unknown, version: unknown): Promise<ModelVersion> {
    const name = parseModelName(modelName);
    const number = parseVersion(version);
    const result = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: modelPk(name), sk: versionSk(number) },
        ConsistentRead: true,
      }),
    );
    if (result.Item === undefined) throw new NotFoundError(`version ${number} of model ${name}`);
    return versionFromItem(result.Item);
  }

  /** Lists a model's versions, newest first, a page at a time. */
  async listModelVersions(
    modelName: unknown,
    options: ListModelVersionsOptions = {},
  ): Promise<ModelVersionPage> {
    const name = parseModelName(modelName);
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new ValidationError('limit', 'must be an integer from 1 to 100');
    }
    const pk = modelPk(name);
    const result = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': pk, ':prefix': VERSION_SK_PREFIX },
        ScanIndexForward: false,
        ConsistentRead: true,
        Limit: limit,
        ...(options.nextToken !== undefined ? { ExclusiveStartKey: decodeToken(options.nextToken, pk) } : {}),
      }),
    );
    const versions = (result.Items ?? []).map(versionFromItem);
    return result.LastEvaluatedKey === undefined
      ? { versions }
      : { versions, nextToken: encodeToken(result.LastEvaluatedKey) };
  }

  /**
   * Lists every registered model by name, a page at a time (a Query of the catalog partition). A
   * model registered before the catalog existed is listed once `reindexModel` has run on it.
   */
  async listModels(options: ListModelsOptions = {}): Promise<ModelSummaryPage> {
    return this.search.listModels(options);
  }

  /**
   * A model's versions filtered by stage, alias, tag and a metric comparison, ordered by version
   * (newest first) or by a metric, a page at a time: Queries of the model's index items, never a
   * scan (see ./search.ts for which index answers). Same page shape as {@link listModelVersions};
   * every version is read from its item, so it carries the same aliases as every other read path.
   */
  async searchVersions(modelName: unknown, options: SearchVersionsOptions = {}): Promise<ModelVersionPage> {
    return this.search.searchVersions(modelName, options);
  }

  /**
   * Indexes a model registered before search existed (its versions' tag, metric and stage items,
   * its catalog item), then marks it searchable. Idempotent; safe while the model is in use.
   */
  async reindexModel(modelName: unknown): Promise<ReindexResult> {
    return this.search.reindexModel(modelName);
  }

  /**
   * The models {@link reindexModel} has yet to index, by name: a paginated Scan of the head items,
   * for the explicit migration (`mlops models reindex --all`) only. No read path scans.
   */
  async unindexedModels(): Promise<string[]> {
    return this.search.unindexedModels();
  }

  /**
   * The version a client token already registered, or undefined when the token is new. A token
   * recorded with another payload is a {@link ConflictError} (tokens written before payloads were
   * fingerprinted carry no hash and count as the same request).
   */
  private async findByToken(
    request: RegisterModelVersionRequest,
    requestHash: string,
  ): Promise<ModelVersion | undefined> {
    const token = request.clientToken;
    if (token === undefined) return undefined;
    const result = await this.documents.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: modelPk(request.modelName), sk: tokenSk(token) },
        ConsistentRead: true,
      }),
    );
    const version = result.Item?.version;
    if (typeof version !== 'number') return undefined;
    const recorded = result.Item?.requestHash;
    if (typeof recorded === 'string' && recorded !== requestHash) {
      throw new ConflictError(
        `clientToken ${token} already registered version ${version} of ${request.modelName} with a different payload`,
        { current: version },
      );
    }
    return this.getModelVersion(request.modelName, version);
  }

  /**
   * Checks the artifact exists and its SHA-256 is the one given; returns it as the record stores it
   * (with size and S3 version id). Uses the checksum S3 keeps when the object was uploaded with one
   * (no download); otherwise streams the object (the version just checked) and hashes it, so a wrong
   * digest is caught whatever the uploader did.
   */
  private async verifyArtifact(
    role: ArtifactRole,
    ref: { key: string; sha256: string },
  ): Promise<StoredArtifactRef> {
    const mismatch = () =>
      new ValidationError(artifactField(role, 'sha256'), 'must match the SHA-256 of the stored artifact');
    const stored = (sizeBytes: number, versionId: string | undefined): StoredArtifactRef => ({
      bucket: this.artifactBucket,
      key: ref.key,
      sha256: ref.sha256,
      sizeBytes,
      ...(versionId !== undefined && versionId !== 'null' ? { s3VersionId: versionId } : {}),
    });
    try {
      const head = await this.s3.send(
        new HeadObjectCommand({ Bucket: this.artifactBucket, Key: ref.key, ChecksumMode: 'ENABLED' }),
      );
      const checksum = head.ChecksumSHA256;
      if (checksum !== undefined && head.ChecksumType !== 'COMPOSITE' && !checksum.includes('-')) {
        if (Buffer.from(checksum, 'base64').toString('hex') !== ref.sha256) throw mismatch();
        return stored(head.ContentLength ?? 0, head.VersionId);
      }
      const object = await this.s3.send(
        new GetObjectCommand({
          Bucket: this.artifactBucket,
          Key: ref.key,
          ...(head.VersionId !== undefined && head.VersionId !== 'null' ? { VersionId: head.VersionId } : {}),
        }),
      );
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of object.Body as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        size += chunk.byteLength;
      }
      if (hash.digest('hex') !== ref.sha256) throw mismatch();
      return stored(size, object.VersionId);
    } catch (error) {
      if (
        error instanceof NotFound ||
        error instanceof NoSuchKey ||
        ['NotFound', 'NoSuchKey'].includes((error as Error).name)
      ) {
        throw new ValidationError(
          artifactField(role, 'key'),
          `must name an object in the artifact bucket (no object at ${ref.key})`,
        );
      }
      throw error;
    }
  }
}

export function isRetryableTransactionError(error: unknown): boolean {
  if (error instanceof TransactionCanceledException) {
    // Retry only lost races (a condition failed or a concurrent transaction touched the items).
    return (error.CancellationReasons ?? []).some(
      (reason) => reason.Code === 'ConditionalCheckFailed' || reason.Code === 'TransactionConflict',
    );
  }
  return (error as { name?: string }).name === 'TransactionConflictException';
}

function encodeToken(key: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeToken(token: string, pk: string): Record<string, unknown> {
  try {
    const key = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Record<string, unknown>;
    if (key.pk === pk && typeof key.sk === 'string' && key.sk.startsWith(VERSION_SK_PREFIX)) return key;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('nextToken', 'must be a token returned by the previous page of this model');
}
