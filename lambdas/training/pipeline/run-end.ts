/** Ending a training run from a step that may be retried. Plain code over the tracking store. */
import { createHash } from 'node:crypto';
import type { TrackingStore } from '../../registry/tracking-store.js';

/**
 * The run id of an execution: 32 hex digits of the sha256 of its ARN, so a retried step finds the
 * same run, and FinishTraining finds it from the execution alone (a Catch after a failed Prepare has
 * no runId to pass).
 */
export const runIdOf = (execution: string): string =>
  createHash('sha256').update(execution).digest('hex').slice(0, 32);

/** Ends a RUNNING run; a run already ended (a retried step) is left as it is. */
export async function endOnce(
  tracking: TrackingStore,
  runId: string,
  status: 'FINISHED' | 'FAILED' | 'KILLED',
  reason?: string,
): Promise<void> {
  const run = await tracking.getRun(runId);
  if (run.status !== 'RUNNING') return;
  await tracking.endRun(runId, { status, ...(reason !== undefined ? { reason } : {}) });
}
