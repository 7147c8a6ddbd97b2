import { randomUUID } from 'node:crypto';
import {
  CreateDeliveryStreamCommand,
  type FirehoseClient,
  PutRecordBatchCommand,
  type PutRecordBatchCommandOutput,
} from '@aws-sdk/client-firehose';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { firehoseCapture } from '../../lambdas/serving/capture.js';
import type { CaptureRecord } from '../../lambdas/serving/contract.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  captureErrorFirehosePrefix,
  captureFirehosePrefix,
  captureHourPrefix,
  capturePrefix,
} from '../../lambdas/shared/layout.js';
import { SERVING_METRICS } from '../../lambdas/shared/metric-names.js';
import { createMetrics } from '../../lambdas/shared/metrics.js';

const bucket = `capture-${randomUUID()}`;
const MODEL = 'churn';
let stream: string;

async function createStream(model: string): Promise<string> {
  const name = `capture-${model}-${randomUUID().slice(0, 8)}`;
  await clients.firehose().send(
    new CreateDeliveryStreamCommand({
      DeliveryStreamName: name,
      ExtendedS3DestinationConfiguration: {
        BucketARN: `arn:aws:s3:::${bucket}`,
        RoleARN: 'arn:aws:iam::000000000000:role/firehose',
        Prefix: captureFirehosePrefix(model),
        ErrorOutputPrefix: captureErrorFirehosePrefix(model),
      },
    }),
  );
  return name;
}

const prediction = (requestId: string, instance: number, extra = ''): CaptureRecord => ({
  kind: 'prediction',
  requestId,
  instance,
  timeMs: Date.now(),
  model: MODEL,
  version: 3,
  variant: 'default',
  features: { x1: instance, segment: 'b', note: extra },
  prediction: { label: 1, score: 0.8, probabilities: { '0': 0.2, '1': 0.8 } },
});

/** Every captured line under `prefix`, parsed, and the objects' keys. */
async function captured(prefix: string): Promise<{ keys: string[]; records: CaptureRecord[] }> {
  const { Contents = [] } = await clients
    .s3()
    .send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  const keys = Contents.map((c) => c.Key ?? '');
  const records: CaptureRecord[] = [];
  for (const key of keys) {
    const object = await clients.s3().send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = (await object.Body?.transformToString()) ?? '';
    expect(text.endsWith('\n')).toBe(true);
    for (const line of text.split('\n').filter((l) => l !== '')) records.push(JSON.parse(line));
  }
  return { keys, records };
}

/** The emulator's Firehose client; `answer` may replace a PutRecordBatch's answer (the 1-based call). */
function firehoseWith(
  answer?: (call: number, command: PutRecordBatchCommand) => Promise<PutRecordBatchCommandOutput> | undefined,
) {
  const firehose = clients.firehose();
  const calls: number[] = [];
  const client = {
    send: (command: PutRecordBatchCommand) => {
      calls.push(command.input.Records?.length ?? 0);
      return answer?.(calls.length, command) ?? firehose.send(command);
    },
  } as unknown as FirehoseClient;
  return { client, calls };
}

/** EMF lines Powertools writes to stdout while `run` runs. */
async function emitted(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.includes('_aws'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  await clients.s3().send(new CreateBucketCommand({ Bucket: bucket }));
  stream = await createStream(MODEL);
});

afterEach(() => vi.restoreAllMocks());

describe('capture through Firehose', () => {
  it('delivers records as JSON lines under capture/<model>/date=…/hour=…/', async () => {
    const sink = firehoseCapture({ firehose: clients.firehose(), streamName: stream });
    const records = [prediction('r1', 0), prediction('r1', 1), prediction('r1', 2)];
    const before = Date.now();
    expect(await sink.put(records)).toEqual({ delivered: 3, failed: 0 });
    const after = Date.now();
    const { keys, records: stored } = await captured(capturePrefix(MODEL));
    expect(stored).toEqual(records);
    const hours = [captureHourPrefix(MODEL, before), captureHourPrefix(MODEL, after)];
    for (const key of keys)
      expect(
        hours.some((h) => key.startsWith(h)),
        key,
      ).toBe(true);
  });

  it('sends at most 500 records and 4 MiB per PutRecordBatch', async () => {
    const model = 'capture-sizes';
    const name = await createStream(model);
    const { client, calls } = firehoseWith();
    const sink = firehoseCapture({ firehose: client, streamName: name });
    const many = Array.from({ length: 1200 }, (_, i) => ({ ...prediction('r2', i), model }));
    expect(await sink.put(many)).toEqual({ delivered: 1200, failed: 0 });
    expect(calls).toEqual([500, 500, 200]);
    const big = 'x'.repeat(900 * 1024); // 10 records of ~900 KiB: 4 fit in 4 MiB
    const { client: bigClient, calls: bigCalls } = firehoseWith();
    const bigSink = firehoseCapture({ firehose: bigClient, streamName: name });
    const large = Array.from({ length: 10 }, (_, i) => ({ ...prediction('r3', i, big), model }));
    expect(await bigSink.put(large)).toEqual({ delivered: 10, failed: 0 });
    expect(bigCalls).toEqual([4, 4, 2]);
    expect((await captured(capturePrefix(model))).records).toHaveLength(1210);
  });

  it('sends the records Firehose refused once more, and counts what it refuses again', async () => {
    // The first call: Firehose takes the first two records and refuses the rest.
    const refuseTail = (take: number) => async (_call: number, command: PutRecordBatchCommand) => {
      const records = command.input.Records ?? [];
      if (take > 0)
        await clients
          .firehose()
          .send(new PutRecordBatchCommand({ ...command.input, Records: records.slice(0, take) }));
      return {
        $metadata: {},
        FailedPutCount: records.length - take,
        RequestResponses: records.map((_, i) =>
          i < take
            ? { RecordId: `ok-${i}` }
            : { ErrorCode: 'ServiceUnavailableException', ErrorMessage: 'slow down' },
        ),
      };
    };
    const model = 'capture-retry';
    const name = await createStream(model);
    const once = firehoseWith((call, command) => (call === 1 ? refuseTail(2)(call, command) : undefined));
    const records = Array.from({ length: 5 }, (_, i) => ({ ...prediction('r4', i), model }));
    expect(await firehoseCapture({ firehose: once.client, streamName: name }).put(records)).toEqual({
      delivered: 5,
      failed: 0,
    });
    expect(once.calls).toEqual([5, 3]);
    expect((await captured(capturePrefix(model))).records.map((r) => r.instance).sort()).toEqual([
      0, 1, 2, 3, 4,
    ]);

    const always = firehoseWith((call, command) => refuseTail(call === 1 ? 1 : 0)(call, command));
    expect(await firehoseCapture({ firehose: always.client, streamName: name }).put(records)).toEqual({
      delivered: 1,
      failed: 4,
    });
    expect(always.calls).toEqual([5, 4]);
  });

  it('counts a failing stream in CaptureFailures and never throws', async () => {
    const metrics = createMetrics({ namespace: 'serving-test', serviceName: 'inference' });
    const sink = firehoseCapture({ firehose: clients.firehose(), streamName: 'no-such-stream', metrics });
    let result: unknown;
    const emf = await emitted(async () => {
      result = await sink.put([prediction('r5', 0), prediction('r5', 1)]);
    });
    expect(result).toEqual({ delivered: 0, failed: 2 });
    const failures = emf.find((e) => SERVING_METRICS.captureFailures.name in e);
    expect(failures).toMatchObject({
      [SERVING_METRICS.captureFailures.name]: 2,
      model: MODEL,
      service: 'inference',
    });
    expect(emf.some((e) => SERVING_METRICS.captured.name in e)).toBe(false);

    const ok = firehoseCapture({ firehose: clients.firehose(), streamName: stream, metrics });
    const delivered = await emitted(() => ok.put([prediction('r6', 0)]));
    expect(delivered.find((e) => SERVING_METRICS.captured.name in e)).toMatchObject({
      [SERVING_METRICS.captured.name]: 1,
      model: MODEL,
    });
  });

  it('takes nothing when capture is off (no stream name)', async () => {
    const { client, calls } = firehoseWith();
    expect(await firehoseCapture({ firehose: client, streamName: '' }).put([prediction('r7', 0)])).toEqual({
      delivered: 0,
      failed: 0,
    });
    expect(calls).toEqual([]);
  });
});
