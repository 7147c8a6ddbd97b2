/**
 * Per-row inference latency summary. Percentiles are nearest-rank: the p-th percentile of n sorted
 * timings is the value at rank ceil(p / 100 * n) (1-based), so it is always a measured timing and
 * p100 is the maximum. (Not numpy's default linear interpolation.)
 */
import { ValidationError } from '../../shared/errors.js';

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p95: number;
  readonly max: number;
  readonly mean: number;
}

/** Nearest-rank percentile of ascending `sorted` (p in (0, 100]). */
export function nearestRank(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new ValidationError('timings', 'must not be empty');
  if (!(p > 0 && p <= 100)) throw new ValidationError('percentile', 'must be in (0, 100]');
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** p50, p95, max and mean of per-row timings in milliseconds. */
export function latencySummary(timingsMs: ArrayLike<number>): LatencySummary {
  if (timingsMs.length === 0) throw new ValidationError('timings', 'must not be empty');
  const sorted = Float64Array.from(timingsMs);
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i] as number;
    if (!(Number.isFinite(v) && v >= 0))
      throw new ValidationError('timings', `must be finite durations >= 0, not ${v} (row ${i})`);
    sum += v;
  }
  sorted.sort();
  return {
    count: sorted.length,
    p50: nearestRank(sorted, 50),
    p95: nearestRank(sorted, 95),
    max: sorted[sorted.length - 1] as number,
    mean: sum / sorted.length,
  };
}
