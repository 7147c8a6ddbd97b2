/**
 * The local stand-in for Lambda's DynamoDB stream event source: for every
 * `AWS::Lambda::EventSourceMapping` of the template whose source is a table's stream, reads the
 * emulator's stream (DescribeStream, GetShardIterator, GetRecords) and delivers the records, in
 * order, in batches of the mapping's `BatchSize`, to the same bundle in-process (local/lambda-runtime.ts).
 *
 * What it honours, as Lambda does:
 * - `FunctionResponseTypes: [ReportBatchItemFailures]`: a response naming a record in
 *   `batchItemFailures` checkpoints before it and delivers again from it (the lowest one named).
 * - A function error delivers the batch again; with `BisectBatchOnFunctionError` each retry takes
 *   half the records of the failed one.
 * - `MaximumRetryAttempts`: after that many retries of a batch it is given up: recorded in
 *   {@link StreamPoller.failures} (the on-failure destination's message: shard and sequence range;
 *   the harness does not provision SQS queues) and the poller moves past it.
 * - `StartingPosition` TRIM_HORIZON or LATEST (LATEST: from when the poller was made).
 *
 * What it does not: parallelization factor, batching windows, filters, tumbling windows; shards are
 * read one after another (the emulator has one per table).
 */
import {
  type _Record,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import { clients } from '../lambdas/shared/clients.js';
import type { StackArtifact } from './assembly.js';
import type { LocalLambdas } from './lambda-runtime.js';
import type { ProvisionedStack } from './provision.js';

/** One event source mapping of the template, resolved. */
export interface StreamMapping {
  readonly logicalId: string;
  /** The function's name (as the local runtime finds it). */
  readonly functionName: string;
  readonly streamArn: string;
  readonly batchSize: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly bisectOnError: boolean;
  readonly reportBatchItemFailures: boolean;
  /** -1: until the record expires (24 h in DynamoDB streams); here: without end. */
  readonly maxRetries: number;
}

/** A batch given up after its retries, as Lambda sends it to the on-failure destination. */
export interface GivenUpBatch {
  readonly shardId: string;
  readonly startSequenceNumber: string;
  readonly endSequenceNumber: string;
  readonly batchSize: number;
  readonly error: string;
}

/** Delivers one batch (`{ Records }`) to the function; resolves to its response. */
export type Deliver = (event: { Records: unknown[] }) => Promise<unknown>;

/** Reads the event source mappings of a stack whose source is a DynamoDB stream. */
export function streamMappings(stack: StackArtifact, provisioned: ProvisionedStack): StreamMapping[] {
  const out: StreamMapping[] = [];
  for (const [logicalId, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::EventSourceMapping') continue;
    const props = provisioned.resolve(resource.Properties ?? {}, logicalId) as {
      FunctionName?: string;
      EventSourceArn?: string;
      BatchSize?: number;
      StartingPosition?: string;
      BisectBatchOnFunctionError?: boolean;
      FunctionResponseTypes?: string[];
      MaximumRetryAttempts?: number;
    };
    if (typeof props.EventSourceArn !== 'string' || !props.EventSourceArn.includes(':dynamodb:')) continue;
    out.push({
      logicalId,
      functionName: String(props.FunctionName),
      streamArn: props.EventSourceArn,
      batchSize: props.BatchSize ?? 100,
      startingPosition: props.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
      bisectOnError: props.BisectBatchOnFunctionError === true,
      reportBatchItemFailures: (props.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      maxRetries: props.MaximumRetryAttempts ?? -1,
    });
  }
  return out;
}

/** The record as Lambda puts it in the event: `eventSourceARN` added, times in epoch seconds. */
function asLambdaRecord(record: _Record, streamArn: string): Record<string, unknown> {
  const created = record.dynamodb?.ApproximateCreationDateTime;
  return {
    ...record,
    eventSourceARN: streamArn,
    dynamodb: {
      ...record.dynamodb,
      ...(created instanceof Date
        ? { ApproximateCreationDateTime: Math.floor(created.getTime() / 1000) }
        : {}),
    },
  };
}

interface ShardPosition {
  /** Sequence number of the last record handled (checkpoint); undefined: none yet. */
  after?: string;
  /** LATEST mappings: the iterator taken when the poller was made, until the first checkpoint. */
  latest?: string;
  /** The batch being retried: its first record, its size limit and the retries so far. */
  retry?: { from: string; limit: number; attempts: number };
}

/** Reads one mapping's stream and delivers its records (see the module doc). */
export class StreamPoller {
  /** Batches given up after their retries (the on-failure destination's messages). */
  readonly failures: GivenUpBatch[] = [];
  private readonly shards = new Map<string, ShardPosition>();
  private running: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly mapping: StreamMapping,
    private readonly deliver: Deliver,
  ) {}

  /** Delivers at most one batch per shard; resolves to the number of records read (delivered or not). */
  pollOnce(): Promise<number> {
    const next = this.running.then(() => this.round());
    this.running = next.catch(() => undefined);
    return next;
  }

  /**
   * Polls until a round reads nothing: every record in the stream now has been handled or given
   * up. (With `MaximumRetryAttempts` -1 a batch the function always fails keeps it polling.)
   */
  async drain(): Promise<void> {
    while ((await this.pollOnce()) > 0) {
      // records were read: some may be waiting for a retry or come after a given-up batch
    }
  }

  /** Polls in the background every `intervalMs` until {@link stop}. */
  start(intervalMs = 100): void {
    if (this.timer !== undefined) return;
    const tick = () => {
      this.pollOnce()
        .catch((error) => process.stderr.write(`stream poller ${this.mapping.logicalId}: ${String(error)}\n`))
        .finally(() => {
          if (this.timer !== undefined) this.timer = setTimeout(tick, intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  /** Stops background polling; resolves once the round in progress ends. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async round(): Promise<number> {
    const streams = clients.dynamodbStreams();
    const { StreamDescription } = await streams.send(
      new DescribeStreamCommand({ StreamArn: this.mapping.streamArn }),
    );
    let handled = 0;
    for (const shard of StreamDescription?.Shards ?? []) {
      const shardId = shard.ShardId as string;
      let position = this.shards.get(shardId);
      if (position === undefined) {
        position = {};
        if (this.mapping.startingPosition === 'LATEST') {
          const { ShardIterator } = await streams.send(
            new GetShardIteratorCommand({
              StreamArn: this.mapping.streamArn,
              ShardId: shardId,
              ShardIteratorType: 'LATEST',
            }),
          );
          position.latest = ShardIterator;
        }
        this.shards.set(shardId, position);
      }
      handled += await this.deliverFrom(shardId, position);
    }
    return handled;
  }

  private async deliverFrom(shardId: string, position: ShardPosition): Promise<number> {
    const streams = clients.dynamodbStreams();
    const iterator =
      position.retry !== undefined
        ? await this.iterator(shardId, 'AT_SEQUENCE_NUMBER', position.retry.from)
        : position.after !== undefined
          ? await this.iterator(shardId, 'AFTER_SEQUENCE_NUMBER', position.after)
          : (position.latest ?? (await this.iterator(shardId, 'TRIM_HORIZON')));
    const limit = position.retry?.limit ?? this.mapping.batchSize;
    const { Records = [] } = await streams.send(
      new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
    );
    if (Records.length === 0) return 0;
    const seq = (r: _Record | undefined) => r?.dynamodb?.SequenceNumber as string;
    let response: unknown;
    try {
      response = await this.deliver({
        Records: Records.map((r) => asLambdaRecord(r, this.mapping.streamArn)),
      });
    } catch (error) {
      this.failed(shardId, position, Records, String(error), true);
      return Records.length;
    }
    const failures = this.mapping.reportBatchItemFailures
      ? ((response as { batchItemFailures?: { itemIdentifier?: string }[] } | null)?.batchItemFailures ?? [])
      : [];
    const failedAt =
      failures.length === 0
        ? -1
        : Math.min(...failures.map((f) => Records.findIndex((r) => seq(r) === f.itemIdentifier)));
    if (failures.length > 0 && failedAt < 0) {
      // Lambda treats an identifier it cannot find as a failure of the whole batch.
      this.failed(shardId, position, Records, 'batchItemFailures named no record of the batch', false);
      return Records.length;
    }
    if (failedAt >= 0) {
      if (failedAt > 0) {
        position.after = seq(Records[failedAt - 1]);
        position.latest = undefined;
        position.retry = undefined;
      }
      this.failed(shardId, position, Records.slice(failedAt), 'batch item failure', false);
      return Records.length;
    }
    position.after = seq(Records.at(-1));
    position.latest = undefined;
    position.retry = undefined;
    return Records.length;
  }

  /** A batch (from `records[0]`) failed: retry it (bisected on errors if configured) or give it up. */
  private failed(
    shardId: string,
    position: ShardPosition,
    records: _Record[],
    error: string,
    functionError: boolean,
  ): void {
    const from = records[0]?.dynamodb?.SequenceNumber as string;
    const previous = position.retry?.from === from ? position.retry : undefined;
    const attempts = (previous?.attempts ?? 0) + 1;
    if (this.mapping.maxRetries >= 0 && attempts > this.mapping.maxRetries) {
      this.failures.push({
        shardId,
        startSequenceNumber: from,
        endSequenceNumber: records.at(-1)?.dynamodb?.SequenceNumber as string,
        batchSize: records.length,
        error,
      });
      position.after = records.at(-1)?.dynamodb?.SequenceNumber as string;
      position.latest = undefined;
      position.retry = undefined;
      return;
    }
    const size = previous?.limit ?? records.length;
    const limit =
      functionError && this.mapping.bisectOnError ? Math.max(1, Math.ceil(size / 2)) : this.mapping.batchSize;
    position.retry = { from, limit, attempts };
  }

  private async iterator(
    shardId: string,
    type: 'TRIM_HORIZON' | 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER',
    sequenceNumber?: string,
  ): Promise<string> {
    const { ShardIterator } = await clients.dynamodbStreams().send(
      new GetShardIteratorCommand({
        StreamArn: this.mapping.streamArn,
        ShardId: shardId,
        ShardIteratorType: type,
        ...(sequenceNumber !== undefined ? { SequenceNumber: sequenceNumber } : {}),
      }),
    );
    return ShardIterator as string;
  }
}

/** Every stream event source of a local stack, each delivering to its function in-process. */
export class LocalStreams {
  constructor(readonly pollers: readonly StreamPoller[]) {}

  static fromStack(stack: StackArtifact, provisioned: ProvisionedStack, lambdas: LocalLambdas): LocalStreams {
    return new LocalStreams(
      streamMappings(stack, provisioned).map(
        (mapping) => new StreamPoller(mapping, (event) => lambdas.invoke(mapping.functionName, event)),
      ),
    );
  }

  /** Delivers every record now in every stream (retries included) before resolving. */
  async drain(): Promise<void> {
    for (const poller of this.pollers) await poller.drain();
  }

  start(intervalMs?: number): void {
    for (const poller of this.pollers) poller.start(intervalMs);
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
  }

  /** Batches given up by any poller. */
  get failures(): GivenUpBatch[] {
    return this.pollers.flatMap((p) => p.failures);
  }
}
