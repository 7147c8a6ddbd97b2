/**
 * One pass over columnar outcome events (the shape an S3 batch of feedback events decodes to):
 * per arm, the unit count, the conversions and a streaming mean/variance of a continuous value —
 * typed arrays in, O(arms) memory, no per-event objects.
 */
import { StatisticsInputError } from './errors.js';
import { MeanVarianceAccumulator } from './statistics.js';

export interface ArmOutcomes {
  total: number;
  successes: number;
  value: MeanVarianceAccumulator;
}

export interface OutcomeColumns {
  /** Arm index per event, 0 ≤ arm < arms. */
  arm: Uint8Array;
  /** 1 when the event converted, else 0. */
  converted: Uint8Array;
  /** The continuous metric per event (e.g. revenue). */
  value: Float64Array;
}

export function summarizeOutcomes(columns: OutcomeColumns, arms: number): ArmOutcomes[] {
  const { arm, converted, value } = columns;
  if (converted.length !== arm.length)
    throw new StatisticsInputError('converted', 'must have one entry per event');
  if (value.length !== arm.length) throw new StatisticsInputError('value', 'must have one entry per event');
  if (!(Number.isInteger(arms) && arms >= 1 && arms <= 255))
    throw new StatisticsInputError('arms', 'must be an integer in [1, 255]');
  const totals = new Float64Array(arms);
  const successes = new Float64Array(arms);
  const shift = new Float64Array(arms);
  const mean = new Float64Array(arms);
  const m2 = new Float64Array(arms);
  for (let i = 0; i < arm.length; i++) {
    const a = arm[i] as number;
    if (a >= arms) throw new StatisticsInputError(`arm[${i}]`, `must be < ${arms}`);
    const x = value[i] as number;
    if (!Number.isFinite(x)) throw new StatisticsInputError(`value[${i}]`, 'must be a finite number');
    const n = (totals[a] as number) + 1;
    totals[a] = n;
    successes[a] = (successes[a] as number) + (converted[i] === 1 ? 1 : 0);
    if (n === 1) shift[a] = x;
    const y = x - (shift[a] as number);
    const delta = y - (mean[a] as number);
    const next = (mean[a] as number) + delta / n;
    mean[a] = next;
    m2[a] = (m2[a] as number) + delta * (y - next);
  }
  return Array.from({ length: arms }, (_, a) => ({
    total: totals[a] as number,
    successes: successes[a] as number,
    value: MeanVarianceAccumulator.fromMoments(
      totals[a] as number,
      shift[a] as number,
      mean[a] as number,
      m2[a] as number,
    ),
  }));
}
