/**
 * Reading one model's captured records over a time window from the capture bucket's hourly
 * partitions (`capture/<model>/date=…/hour=…/`, JSON lines written by Firehose): the one reader the
 * canary analysis (lambdas/deployment/observations.ts) and the drift check (lambdas/drift/job.ts)
 * share. Streaming: one object's text at a time (a few fetched at once), each record handed to the
 * caller and dropped; a window of millions of records is never held.
 *
 * Firehose writes an object after it buffers (up to its buffering interval later than the records'
 * times), into the partition of the time it wrote, so the partitions an hour before and after the
 * window are listed too and the records are filtered by their own `timeMs`. Objects last modified
 * before the window (less a minute: S3 keeps whole seconds and clocks differ) cannot hold its
 * records and are not read.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { captureHourPrefix } from '../shared/layout.js';
import type { CaptureRecord, Prediction } from './contract.js';

/** [fromMs, toMs] in epoch milliseconds, both ends included. */
export interface CaptureWindow {
  readonly fromMs: number;
  readonly toMs: number;
}

/** S3 keeps LastModified in whole seconds and clocks differ: objects up to a minute older are read too. */
export const LAST_MODIFIED_SLACK_MS = 60_000;

/** Capture objects read at once. */
const READS_AT_ONCE = 8;

const HOUR_MS = 3_600_000;

/** What a window's reading met that was not a usable record. */
export interface CaptureProblems {
  /** Lines that were not JSON or not capture records, by object key (counted; skipped). */
  readonly unreadableLines: Map<string, number>;
  /** Objects that could not be read at all (their key and why). */
  readonly unreadableObjects: { readonly key: string; readonly reason: string }[];
  /** Objects read. */
  objects: number;
}

function isCaptureRecord(value: unknown): value is CaptureRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as { kind?: unknown; timeMs?: unknown; requestId?: unknown };
  return (
    (record.kind === 'prediction' || record.kind === 'feedback') &&
    typeof record.timeMs === 'number' &&
    typeof record.requestId === 'string'
  );
}

/**
 * Calls `onRecord` for every captured record of `model` whose time is inside the window, object by
 * object. Lines that are not capture records and objects that cannot be read are counted in the
 * returned problems, never thrown: one bad object does not hide the rest of the window.
 */
export async function readCaptureWindow(
  s3: S3Client,
  options: { readonly bucket: string; readonly model: string; readonly window: CaptureWindow },
  onRecord: (record: CaptureRecord) => void,
): Promise<CaptureProblems> {
  const { window, bucket } = options;
  const problems: CaptureProblems = { unreadableLines: new Map(), unreadableObjects: [], objects: 0 };
  const prefixes = new Set<string>();
  for (let t = window.fromMs - HOUR_MS; t <= window.toMs + HOUR_MS; t += HOUR_MS)
    prefixes.add(captureHourPrefix(options.model, t));
  prefixes.add(captureHourPrefix(options.model, window.toMs + HOUR_MS));
  for (const prefix of [...prefixes].sort()) {
    let token: string | undefined;
    do {
      const listed = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      const keys = (listed.Contents ?? [])
        .filter(
          (o) =>
            o.Key !== undefined &&
            (o.LastModified?.getTime() ?? Number.POSITIVE_INFINITY) >= window.fromMs - LAST_MODIFIED_SLACK_MS,
        )
        .map((o) => o.Key as string);
      for (let i = 0; i < keys.length; i += READS_AT_ONCE) {
        const texts = await Promise.all(
          keys.slice(i, i + READS_AT_ONCE).map(async (key) => {
            try {
              const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
              return { key, text: (await body.Body?.transformToString('utf8')) ?? '' };
            } catch (error) {
              problems.unreadableObjects.push({
                key,
                reason: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
              });
              return undefined;
            }
          }),
        );
        for (const read of texts) {
          if (read === undefined) continue;
          problems.objects++;
          let bad = 0;
          for (const line of read.text.split('\n')) {
            if (line.trim() === '') continue;
            let record: unknown;
            try {
              record = JSON.parse(line);
            } catch {
              bad++;
              continue;
            }
            if (!isCaptureRecord(record)) {
              bad++;
              continue;
            }
            if (record.timeMs < window.fromMs || record.timeMs > window.toMs) continue;
            onRecord(record);
          }
          if (bad > 0) problems.unreadableLines.set(read.key, bad);
        }
      }
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    } while (token !== undefined);
  }
  return problems;
}

/** Lines counted in {@link CaptureProblems.unreadableLines}, all objects together. */
export function unreadableLineCount(problems: CaptureProblems): number {
  let total = 0;
  for (const n of problems.unreadableLines.values()) total += n;
  return total;
}

/** The number a prediction is compared by: its score, the regression value, or its top probability. */
export function predictionValue(prediction: Prediction): number | undefined {
  if (typeof prediction.score === 'number') return prediction.score;
  if (typeof prediction.prediction === 'number') return prediction.prediction;
  const probabilities = Object.values(prediction.probabilities ?? {});
  return probabilities.length === 0 ? undefined : Math.max(...probabilities);
}
