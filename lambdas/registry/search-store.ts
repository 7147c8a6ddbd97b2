/**
 * Search over the registry table without scans: listing models from the catalog partition,
 * searching a model's versions through its index items (rules in ./search.ts), and the idempotent
 * migration that indexes versions registered before the indexes existed. Every read is a
 * consistent Query or (Batch)GetItem, except {@link ModelSearch.unindexedModels}: a Scan for the
 * explicit migration command only; the table design is in ./registry-store.ts's header.
 *
 * Index items only point at versions; results are the version items themselves, read consistently
 * and checked again against every filter, so a search returns exactly what get returns (aliases
 * included) and never a version that has since left the stage it was found by.
 */
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  ScanCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import {
  ContentionError,
  DependencyError,
  InternalError,
  NotFoundError,
  NotIndexedError,
  ValidationError,
} from '../shared/errors.js';
import {
  CATALOG_PK,
  CATALOG_SK_PREFIX,
  catalogSk,
  MODEL_HEAD_SK as HEAD_SK,
  modelOfPk,
  modelPk,
  SEARCH_INDEX_ATTRIBUTE,
  SEARCH_INDEX_FORMAT,
  stageIndexSk,
  VERSION_SK_PREFIX,
  versionSk,
} from '../shared/layout.js';
import { backoffDelay, sleep } from '../shared/retry.js';
import { ModelAliasReader } from './alias-reader.js';
import { MODEL_STAGES, type ModelVersion, parseModelName, versionFromItem } from './model-version.js';
import type { ModelVersionPage } from './registry-store.js';
import {
  decodeSearchToken,
  encodeSearchToken,
  headIsIndexed,
  matches,
  parseSearchVersions,
  planSearch,
  tagAndMetricIndexKeys,
  versionOfIndexKey,
} from './search.js';

/** One model as the catalog lists it (from its head item). */
export interface ModelSummary {
  readonly name: string;
  readonly latestVersion: number;
  /** The version in Production; absent when none is. */
  readonly productionVersion?: number;
  /** When the model's first version was registered. */
  readonly createdAt?: string;
  /** When its latest version was registered. */
  readonly updatedAt?: string;
}

export interface ListModelsOptions {
  /** Page size, 1-100. @default 50 */
  readonly limit?: number;
  /** Token from the previous page. */
  readonly nextToken?: string;
}

export interface ModelSummaryPage {
  readonly models: ModelSummary[];
  readonly nextToken?: string;
}

export interface ReindexResult {
  readonly modelName: string;
  /** Versions whose index items were (re)written. */
  readonly versions: number;
  /** Index items put (idempotent: the same items again on a second run). */
  readonly indexItems: number;
}

/** Index items a search examines per call at most; a page may then hold fewer versions (and a token). */
export const MAX_EXAMINED_PER_PAGE = 1000;

type Item = Record<string, unknown>;
type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]['TransactItems']
>[number];

export class ModelSearch {
  private readonly aliases: ModelAliasReader;

  constructor(
    private readonly documents: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.aliases = new ModelAliasReader({ documents, tableName });
  }

  /**
   * Lists every registered model, by name, a page at a time (one Query of the catalog partition).
   * A model registered before the catalog existed has no catalog item and is not listed until
   * {@link reindexModel} (`mlops models reindex`) has written it.
   */
  async listModels(options: ListModelsOptions = {}): Promise<ModelSummaryPage> {
    const limit = options.limit ?? 50;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
      throw new ValidationError('limit', 'must be an integer from 1 to 100');
    }
    const start = options.nextToken === undefined ? undefined : decodeCatalogToken(options.nextToken);
    const page = await this.documents.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
        ExpressionAttributeValues: { ':pk': CATALOG_PK, ':prefix': CATALOG_SK_PREFIX },
        ConsistentRead: true,
        Limit: limit,
        ...(start !== undefined ? { ExclusiveStartKey: { pk: CATALOG_PK, sk: start } } : {}),
      }),
    );
    const names = (page.Items ?? []).map((item) => String(item.modelName));
    const heads = await this.batchGet(names.map((name) => modelPk(name)).map((pk) => ({ pk, sk: HEAD_SK })));
    const models = names.map((name) => {
      const head = heads.get(`${modelPk(name)}\n${HEAD_SK}`);
      if (head === undefined)
        throw new InternalError(`catalog lists model ${name} but its head item is missing`);
      return summaryOf(name, head);
    });
    const last = page.LastEvaluatedKey?.sk;
    return typeof last === 'string'
      ? { models, nextToken: Buffer.from(JSON.stringify({ sk: last })).toString('base64url') }
      : { models };
  }

  /**
   * A model's versions that pass every filter given, in the order asked, a page at a time (see
   * ./search.ts for which index answers). NotFoundError for an unknown model; ValidationError naming
   * the field for bad options or a token this search did not issue; NotIndexedError (a
   * ConflictError) for a stage, tag or metric-order search of a model registered before indexes
   * existed, until {@link reindexModel} has run on it (version order and alias work without it).
   */
  async searchVersions(modelName: unknown, options: unknown = {}): Promise<ModelVersionPage> {
    const name = parseModelName(modelName);
    const request = parseSearchVersions(options);
    const plan = planSearch(request);
    const pk = modelPk(name);
    const startAfter =
      request.nextToken === undefined ? undefined : decodeSearchToken(name, request, plan, request.nextToken);
    const head = await this.get(pk, HEAD_SK);
    if (head === undefined) throw new NotFoundError(`model ${name}`);
    // Only the stage, tag and metric-order plans read index items; the version plan (a metric
    // filter in version order included) pages over the version items and the alias plan reads the
    // alias, which every model has had from the start.
    if (plan.kind !== 'version' && plan.kind !== 'alias' && !headIsIndexed(head)) {
      throw new NotIndexedError(
        name,
        `model ${name} has versions registered before search indexes existed: run reindexModel('${name}') once (idempotent) to search it by ${plan.kind === 'metric' ? 'metric order' : plan.kind}`,
      );
    }

    if (plan.kind === 'alias') {
      // The alias reader re-reads the alias when it moved between reading it and its version (a
      // bounded loop, then ContentionError), so a set alias never comes back as [].
      let version: ModelVersion;
      try {
        version = await this.aliases.get(name, request.alias);
      } catch (error) {
        if (error instanceof NotFoundError) return { versions: [] }; // the alias is not set
        throw error;
      }
      return { versions: matches(version, request) ? [version] : [] };
    }

    const filtered = plan.kind !== 'version' || hasFilters(request);
    const versions: ModelVersion[] = [];
    let after = startAfter;
    let examined = 0;
    let exhausted = false;
    while (versions.length < request.limit && examined < MAX_EXAMINED_PER_PAGE) {
      const want = request.limit - versions.length;
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND sk BETWEEN :low AND :high',
          ExpressionAttributeValues: { ':pk': pk, ':low': plan.low, ':high': plan.high },
          ScanIndexForward: plan.ascending,
          ConsistentRead: true,
          Limit: Math.min(100, filtered ? want * 4 : want),
          ...(after !== undefined ? { ExclusiveStartKey: { pk, sk: after } } : {}),
        }),
      );
      const items = page.Items ?? [];
      const found =
        plan.kind === 'version'
          ? new Map(items.map((item) => [String(item.sk), item]))
          : await this.versionItems(pk, items);
      let index = 0;
      for (; index < items.length; index++) {
        const sk = String(items[index]?.sk);
        const item = found.get(sk);
        if (item === undefined)
          throw new InternalError(`index item ${sk} of ${name} points at a missing version`);
        const version = versionFromItem(item);
        examined++;
        after = sk;
        if (matches(version, request)) versions.push(version);
        if (versions.length === request.limit) break;
      }
      if (index >= items.length - 1 && page.LastEvaluatedKey === undefined) {
        exhausted = true;
        break;
      }
      // An empty page that still has a key (DynamoDB may stop early): continue after that key.
      if (items.length === 0) after = String(page.LastEvaluatedKey?.sk);
    }
    return exhausted || after === undefined
      ? { versions }
      : { versions, nextToken: encodeSearchToken(name, request, after) };
  }

  /**
   * Writes the search-index items of every version of a model (tags, metrics, stage) and the
   * model's catalog item, then marks its head indexed. Idempotent: a second run puts the same items.
   * A version's stage item is written only if the version is still in the stage just read (and any
   * other stage item of it deleted), so a concurrent transition cannot leave a stale one.
   */
  async reindexModel(modelName: unknown): Promise<ReindexResult> {
    const name = parseModelName(modelName);
    const pk = modelPk(name);
    if ((await this.get(pk, HEAD_SK)) === undefined) throw new NotFoundError(`model ${name}`);
    let versions = 0;
    let indexItems = 0;
    let start: Item | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)',
          ExpressionAttributeValues: { ':pk': pk, ':prefix': VERSION_SK_PREFIX },
          ConsistentRead: true,
          Limit: 100,
          ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const version = versionFromItem(item);
        // Tags and metrics never change: plain puts, up to 100 per transaction.
        const keys = tagAndMetricIndexKeys(version);
        for (let i = 0; i < keys.length; i += 100) {
          await this.documents.send(
            new TransactWriteCommand({
              TransactItems: keys
                .slice(i, i + 100)
                .map((sk) => ({ Put: { TableName: this.tableName, Item: { pk, sk } } })),
            }),
          );
        }
        await this.indexStage(pk, item);
        versions++;
        indexItems += keys.length + 1;
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    await this.documents.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: { pk, sk: HEAD_SK },
              UpdateExpression: 'SET #index = :format',
              ConditionExpression: 'attribute_exists(pk)',
              ExpressionAttributeNames: { '#index': SEARCH_INDEX_ATTRIBUTE },
              ExpressionAttributeValues: { ':format': SEARCH_INDEX_FORMAT },
            },
          },
          { Put: { TableName: this.tableName, Item: catalogItem(name) } },
        ],
      }),
    );
    return { modelName: name, versions, indexItems };
  }

  /**
   * The models whose head lacks the search-index marker (registered before search existed), by
   * name. They have no catalog item, so nothing but a Scan finds them: this is the registry's ONE
   * Scan (paginated, head items only), for the explicit migration `mlops models reindex --all`;
   * no read path calls it.
   */
  async unindexedModels(): Promise<string[]> {
    const names: string[] = [];
    let start: Item | undefined;
    do {
      const page = await this.documents.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'sk = :head AND begins_with(pk, :model) AND attribute_not_exists(#index)',
          ExpressionAttributeNames: { '#index': SEARCH_INDEX_ATTRIBUTE },
          ExpressionAttributeValues: { ':head': HEAD_SK, ':model': modelPk('') },
          ProjectionExpression: 'pk',
          ConsistentRead: true,
          ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) names.push(modelOfPk(String(item.pk)));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return names.sort();
  }

  /** Puts a version's stage item for the stage it is in now, deleting any other stage item of it. */
  private async indexStage(pk: string, first: Item): Promise<void> {
    let item: Item | undefined = first;
    for (let attempt = 0; attempt < 20 && item !== undefined; attempt++) {
      const version = versionFromItem(item);
      const seq = typeof item.stageSeq === 'number' ? item.stageSeq : undefined;
      const writes: TransactItem[] = [
        {
          ConditionCheck: {
            TableName: this.tableName,
            Key: { pk, sk: versionSk(version.version) },
            ConditionExpression:
              seq === undefined
                ? 'stage = :stage AND attribute_not_exists(stageSeq)'
                : 'stage = :stage AND stageSeq = :seq',
            ExpressionAttributeValues: {
              ':stage': version.stage,
              ...(seq === undefined ? {} : { ':seq': seq }),
            },
          },
        },
        {
          Put: { TableName: this.tableName, Item: { pk, sk: stageIndexSk(version.stage, version.version) } },
        },
        ...MODEL_STAGES.filter((stage) => stage !== version.stage).map((stage) => ({
          Delete: { TableName: this.tableName, Key: { pk, sk: stageIndexSk(stage, version.version) } },
        })),
      ];
      try {
        await this.documents.send(new TransactWriteCommand({ TransactItems: writes }));
        return;
      } catch (error) {
        const lost =
          error instanceof TransactionCanceledException ||
          (error as Error).name === 'TransactionConflictException';
        if (!lost) throw error;
        await sleep(backoffDelay(attempt + 1, { baseDelayMs: 5, maxDelayMs: 250 }));
        item = await this.get(pk, String(first.sk)); // a transition moved it: index the stage it is in now
      }
    }
    if (item !== undefined)
      throw new ContentionError(`could not index the stage of ${pk} ${String(first.sk)}`);
  }

  /** The version items the index items of one page point at, keyed by the index item's sort key. */
  private async versionItems(pk: string, indexItems: Item[]): Promise<Map<string, Item>> {
    const keys = indexItems.map((item) => ({ pk, sk: versionSk(versionOfIndexKey(String(item.sk))) }));
    const found = await this.batchGet(keys);
    const out = new Map<string, Item>();
    for (const [i, item] of indexItems.entries()) {
      const key = keys[i];
      const version = key === undefined ? undefined : found.get(`${key.pk}\n${key.sk}`);
      if (version !== undefined) out.set(String(item.sk), version);
    }
    return out;
  }

  /** Consistent BatchGetItem of up to any number of keys; unprocessed keys are retried with backoff. */
  private async batchGet(keys: { pk: string; sk: string }[]): Promise<Map<string, Item>> {
    const out = new Map<string, Item>();
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, unknown>[] = keys.slice(i, i + 100);
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt >= 10)
          throw new DependencyError('dynamodb', `BatchGetItem left ${pending.length} keys unprocessed`);
        if (attempt > 0) await sleep(backoffDelay(attempt, { baseDelayMs: 10, maxDelayMs: 500 }));
        const result = await this.documents.send(
          new BatchGetCommand({
            RequestItems: { [this.tableName]: { Keys: pending, ConsistentRead: true } },
          }),
        );
        for (const item of result.Responses?.[this.tableName] ?? [])
          out.set(`${String(item.pk)}\n${String(item.sk)}`, item);
        pending = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return out;
  }

  private async get(pk: string, sk: string): Promise<Item | undefined> {
    const result = await this.documents.send(
      new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true }),
    );
    return result.Item;
  }
}

/** The catalog item of a model (a pointer: the summary is read from the model's head). */
export function catalogItem(modelName: string): Item {
  return { pk: CATALOG_PK, sk: catalogSk(modelName), modelName };
}

function summaryOf(name: string, head: Item): ModelSummary {
  return {
    name,
    latestVersion: typeof head.latestVersion === 'number' ? head.latestVersion : 0,
    ...(typeof head.productionVersion === 'number' ? { productionVersion: head.productionVersion } : {}),
    ...(typeof head.createdAt === 'string' ? { createdAt: head.createdAt } : {}),
    ...(typeof head.updatedAt === 'string' ? { updatedAt: head.updatedAt } : {}),
  };
}

function hasFilters(request: ReturnType<typeof parseSearchVersions>): boolean {
  return request.stage !== undefined || request.tag !== undefined || request.metric !== undefined;
}

function decodeCatalogToken(token: string): string {
  try {
    const { sk } = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { sk?: unknown };
    if (typeof sk === 'string' && sk.startsWith(CATALOG_SK_PREFIX)) return sk;
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('nextToken', 'must be a token returned by the previous page of listModels');
}
