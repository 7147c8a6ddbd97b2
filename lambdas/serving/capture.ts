/**
 * Capture: a sample of predictions (and every feedback) delivered as JSON lines to the capture
 * bucket through Kinesis Data Firehose, which buffers them into objects under
 * `capture/<model>/date=…/hour=…/` (the delivery stream's prefix: captureFirehosePrefix in
 * ../shared/layout.ts). Firehose rather than writing S3 objects from the function: it batches
 * records from every concurrent instance into few large objects (a PutObject per request would
 * make millions of tiny objects, each a request charge and a slow read for drift monitoring), and
 * a PutRecordBatch is one quick call whatever the buffering.
 *
 * The sink never throws and never blocks longer than its call: records Firehose refuses are sent
 * once more, and what still fails is counted (CaptureFailures) and logged, never felt by the
 * prediction.
 */
import { createHash } from 'node:crypto';
import { type _Record, type FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { logger } from '../shared/logger.js';
import { type ProjectMetrics, recordCapture } from '../shared/metrics.js';
import type { CaptureRecord } from './contract.js';
import type { CaptureSink } from './ports.js';

/** Most records one PutRecordBatch takes. */
export const FIREHOSE_BATCH_RECORDS = 500;
/** Most bytes one PutRecordBatch takes (data of all its records). */
export const FIREHOSE_BATCH_BYTES = 4 * 1024 * 1024;
/** Most bytes of one Firehose record. */
export const FIREHOSE_RECORD_BYTES = 1000 * 1024;

/**
 * Whether a request is captured at `rate` (0 to 1): decided by a hash of its id (the signed
 * requestId the predict answers), so the same answer is sampled the same way wherever it is judged.
 */
export function sampleRequest(requestId: string, rate: number): boolean {
  if (!(rate > 0)) return false;
  if (rate >= 1) return true;
  const digest = createHash('sha256').update(requestId).digest();
  return digest.readUIntBE(0, 6) / 2 ** 48 < rate;
}

/** One record as Firehose takes it: a JSON line ending in a newline (objects are JSON Lines). */
export function captureLine(record: CaptureRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(record)}\n`);
}

/** Lines in PutRecordBatch-sized groups (≤ 500 records, ≤ 4 MiB each). */
function batches(lines: readonly Uint8Array[]): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let bytes = 0;
  for (const line of lines) {
    if (current.length === FIREHOSE_BATCH_RECORDS || bytes + line.byteLength > FIREHOSE_BATCH_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(line);
    bytes += line.byteLength;
  }
  if (current.length > 0) out.push(current);
  return out;
}

export interface FirehoseCaptureProps {
  readonly firehose: FirehoseClient;
  /** The delivery stream; empty: capture is off (a sink that takes nothing). */
  readonly streamName: string;
  /** Where CaptureRecords and CaptureFailures go (per model); absent: not recorded. */
  readonly metrics?: ProjectMetrics;
}

/** A sink that captures nothing (capture off). */
export const noCapture: CaptureSink = { put: async () => ({ delivered: 0, failed: 0 }) };

/** A {@link CaptureSink} over a Firehose delivery stream (a no-op one when `streamName` is empty). */
export function firehoseCapture(props: FirehoseCaptureProps): CaptureSink {
  const { firehose, streamName, metrics } = props;
  if (streamName === '') return noCapture;

  /** Sends one group, then once more what Firehose refused; the lines still refused. */
  async function send(lines: readonly Uint8Array[]): Promise<{ failed: number; reason?: string }> {
    let pending = lines;
    let reason: string | undefined;
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++) {
      try {
        const records: _Record[] = pending.map((Data) => ({ Data }));
        const result = await firehose.send(
          new PutRecordBatchCommand({ DeliveryStreamName: streamName, Records: records }),
        );
        if (!result.FailedPutCount) return { failed: 0 };
        const responses = result.RequestResponses ?? [];
        const refused = pending.filter((_, i) => responses[i]?.ErrorCode !== undefined);
        const first = responses.find((r) => r.ErrorCode !== undefined);
        reason = `${first?.ErrorCode}: ${first?.ErrorMessage ?? ''}`;
        // Responses that do not line up with the records: count them all as refused.
        pending = responses.length === pending.length ? refused : pending;
      } catch (error) {
        // The SDK already retried what it could (throttling, network): the group is lost.
        return { failed: pending.length, reason: `${(error as Error).name}: ${(error as Error).message}` };
      }
    }
    return { failed: pending.length, ...(reason === undefined ? {} : { reason }) };
  }

  return {
    async put(records) {
      let failed = 0;
      const reasons: string[] = [];
      const lines: Uint8Array[] = [];
      for (const record of records) {
        const line = captureLine(record);
        if (line.byteLength > FIREHOSE_RECORD_BYTES) {
          failed++;
          reasons.push(`a record of ${line.byteLength} bytes is over Firehose's ${FIREHOSE_RECORD_BYTES}`);
        } else lines.push(line);
      }
      try {
        const results = await Promise.all(batches(lines).map(send));
        for (const r of results) {
          failed += r.failed;
          if (r.reason !== undefined) reasons.push(r.reason);
        }
      } catch (error) {
        // send() does not throw; this is belt and braces for a sink that must never throw.
        failed = records.length;
        reasons.push((error as Error).message);
      }
      const delivered = records.length - failed;
      if (failed > 0)
        logger.warn('capture records not delivered', {
          streamName,
          failed,
          delivered,
          reasons: reasons.slice(0, 3),
        });
      if (metrics !== undefined && records.length > 0) {
        try {
          // Records carry their model (one per function); count under the first record's.
          recordCapture(metrics, (records[0] as CaptureRecord).model, delivered, failed);
        } catch (error) {
          logger.warn('capture metrics not recorded', { error: (error as Error).message });
        }
      }
      return { delivered, failed };
    },
  };
}
