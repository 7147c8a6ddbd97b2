/**
 * The canary analysis's business outcomes read from the capture bucket on the emulator
 * (lambdas/deployment/observations.ts capturedWindow): feedback joins the served instance it
 * follows, and a feedback sent twice is one outcome.
 */
import { randomUUID } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { capturedWindow } from '../../lambdas/deployment/observations.js';
import type { CaptureRecord } from '../../lambdas/serving/contract.js';
import { clients } from '../../lambdas/shared/clients.js';
import { captureHourPrefix } from '../../lambdas/shared/layout.js';

const BUCKET = `canary-observations-${randomUUID()}`;
const MODEL = 'churn';

beforeAll(async () => {
  await clients.s3().send(new CreateBucketCommand({ Bucket: BUCKET }));
});

const prediction = (requestId: string, instance: number, version: number): CaptureRecord => ({
  kind: 'prediction',
  requestId,
  instance,
  timeMs: Date.now(),
  model: MODEL,
  version,
  variant: 'default',
  features: {},
  prediction: { label: 1, score: 0.5 },
});

const feedback = (requestId: string, instance: number, outcome: boolean): CaptureRecord => ({
  kind: 'feedback',
  requestId,
  instance,
  timeMs: Date.now(),
  model: MODEL,
  outcome,
});

describe('capturedWindow: business outcomes of canary and stable', () => {
  it('joins feedback to its served instance and counts a repeated feedback once', async () => {
    const records: CaptureRecord[] = [
      // A batch whose instances two versions served (an experiment's mixed answer).
      prediction('batch', 0, 2),
      prediction('batch', 1, 1),
      prediction('single', 0, 2),
      feedback('batch', 0, true),
      feedback('batch', 1, false),
      // The same feedback sent three times, the last one changing its mind.
      feedback('single', 0, true),
      feedback('single', 0, true),
      feedback('single', 0, false),
      // Feedback for a request this window did not capture: joins nothing.
      feedback('elsewhere', 0, true),
    ];
    const now = Date.now();
    await clients.s3().send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: `${captureHourPrefix(MODEL, now)}window-${randomUUID()}.json`,
        Body: `${records.map((r) => JSON.stringify(r)).join('\n')}\n`,
      }),
    );
    const window = await capturedWindow(clients.s3(), {
      bucket: BUCKET,
      model: MODEL,
      canary: 2,
      stable: 1,
      window: { fromMs: now - 60_000, toMs: now + 60_000 },
    });
    expect(window.outcomes).toEqual({
      canary: { positives: 1, total: 2 },
      stable: { positives: 0, total: 1 },
    });
    expect(window.predictions.get(2)).toHaveLength(2);
    expect(window.predictions.get(1)).toHaveLength(1);
  });
});
