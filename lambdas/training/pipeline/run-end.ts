/** Ending a training run from a step that may be retried. Plain code over the tracking store. */
import type { TrackingStore } from '../../registry/tracking-store.js';

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
