/**
 * The gradient-boosted trees' hyperparameters: one zod schema (defaults included) that the trainer,
 * the model configuration and the CLI share, so a bad value is refused with the field it names.
 * Names and defaults follow LightGBM's where one exists (in parentheses).
 */
import * as z from 'zod';
import { parseOrThrow } from '../shared/validation.js';
import { MAX_BINS } from './gbdt-binning.js';

const whole = (min: number, rule: string) =>
  z.number({ error: rule }).int(rule).min(min, rule).max(Number.MAX_SAFE_INTEGER, rule);
const fraction = (rule: string) => z.number({ error: rule }).gt(0, rule).lte(1, rule);
const nonNegative = (rule: string) => z.number({ error: rule }).min(0, rule).finite(rule);

export const gbdtParamsSchema = z.strictObject({
  /** binary (log-loss), multiclass (softmax) or regression (L2). */
  task: z.enum(['binary', 'multiclass', 'regression'], { error: 'must be binary, multiclass or regression' }),
  /** Multiclass: the number of classes (labels are 0 … numClasses−1). @default the largest label + 1 */
  numClasses: whole(3, 'must be a whole number >= 3').optional(),
  /** Boosting rounds (num_iterations); multiclass grows one tree per class per round. @default 100 */
  numRounds: whole(1, 'must be a whole number >= 1').default(100),
  /** Shrinkage of every leaf (learning_rate). @default 0.1 */
  learningRate: fraction('must be a number in (0, 1]').default(0.1),
  /**
   * Most leaves per tree, grown best-first (num_leaves). Training keeps one histogram per leaf:
   * numLeaves × (total bins) × 16 bytes. @default 31
   */
  numLeaves: whole(2, 'must be a whole number >= 2').max(4_096, 'must be at most 4096').default(31),
  /** Deepest a leaf may be, the root at depth 0 (max_depth); omitted for no limit. */
  maxDepth: whole(1, 'must be a whole number >= 1').optional(),
  /** Fewest training rows in a leaf (min_child_samples). @default 20 */
  minChildSamples: whole(1, 'must be a whole number >= 1').default(20),
  /** Smallest sum of hessians in a leaf (min_sum_hessian_in_leaf). @default 1e-3 */
  minChildWeight: nonNegative('must be a finite number >= 0').default(1e-3),
  /** L2 regularization of leaf values (lambda_l2). @default 0 */
  lambda: nonNegative('must be a finite number >= 0').default(0),
  /** Smallest gain a split must bring (min_gain_to_split). @default 0 */
  minSplitGain: nonNegative('must be a finite number >= 0').default(0),
  /** Most value bins per feature; missing values get one more (max_bin). @default 255 */
  maxBins: whole(2, `must be a whole number in [2, ${MAX_BINS}]`)
    .max(MAX_BINS, `must be a whole number in [2, ${MAX_BINS}]`)
    .default(MAX_BINS),
  /** Fraction of rows each round trains on, drawn by seed without replacement (bagging_fraction). @default 1 */
  subsample: fraction('must be a number in (0, 1]').default(1),
  /** Fraction of features each tree may split on, drawn by seed (feature_fraction). @default 1 */
  colsample: fraction('must be a number in (0, 1]').default(1),
  /** Stop when the validation loss has not improved for this many rounds; the best round is kept. */
  earlyStoppingRounds: whole(1, 'must be a whole number >= 1').optional(),
  /** Fraction of the training rows held out (by seed) for early stopping when no validation set is given. @default 0 */
  validationFraction: z
    .number({ error: 'must be a number in [0, 1)' })
    .min(0, 'must be a number in [0, 1)')
    .lt(1, 'must be a number in [0, 1)')
    .default(0),
  /** Rows sampled to learn bin boundaries (bin_construct_sample_cnt). @default 200000 */
  binSampleSize: whole(1, 'must be a whole number >= 1').default(200_000),
  /** Seed of every random draw (row and feature sampling, the validation split, the bin sample). @default 0 */
  seed: z
    .number({ error: 'must be a whole number in [0, 2^32)' })
    .int('must be a whole number in [0, 2^32)')
    .min(0, 'must be a whole number in [0, 2^32)')
    .lt(2 ** 32, 'must be a whole number in [0, 2^32)')
    .default(0),
});

export type GbdtParams = z.output<typeof gbdtParamsSchema>;
export type GbdtParamsInput = z.input<typeof gbdtParamsSchema>;

/** The params with defaults filled in; a ValidationError names the first bad field (`params.<name>`). */
export function parseGbdtParams(input: unknown): GbdtParams {
  return parseOrThrow(gbdtParamsSchema, input, 'params');
}
