/**
 * The streaming drift check of one capture window against a model version's reference profile
 * (contract: ./contract.ts). `add` takes one captured prediction at a time: a numeric feature's
 * value is counted on arrival into a cell of the grid its profile's reference sample and PSI edges
 * define (./cells.ts: count, sum, min and max per cell; the window is never stored or sorted), a
 * categorical one's counted in a map, nulls, wrong types, out-of-range and unseen values counted.
 * Numeric values are read by a reader compiled once per profile (constant-name property loads,
 * see `numericReader`); the record's key list is checked for names outside the profile only when
 * it changes (records from one writer share it).
 * `finish` computes, per feature, PSI on the profile's bins (and JS), KS (exact) and Wasserstein-1
 * (within a documented bound) against the profile's reference sample from the cells (numeric),
 * chi-square (categorical), then verdicts from effect sizes only (PSI against the thresholds;
 * p-values are reported, never decide), the dataset drift share, prediction drift and data-quality
 * findings.
 *
 * Bad input never throws out of `add`: a value of the wrong type counts as invalid (and null), a
 * feature the profile lacks or the window never names becomes a finding, and the other features
 * are still checked. Memory: O(Q) per numeric feature (2K + 1 cells over the K ≤ Q + bins grid
 * points, Q ≤ 1000 the reference sample's size), whatever the window's length; counts otherwise.
 */

import type { RequestValue } from '../serving/contract.js';
import { parseOrThrow } from '../shared/validation.js';
import type {
  CategoricalProfile,
  NumericProfile,
  PredictionProfile,
} from '../training/evaluate/reference-profile.js';
import { binIndex } from '../training/evaluate/reference-profile.js';
import {
  addManyToCells,
  binCountsFromCells,
  type CellHistogram,
  createCellHistogram,
  gridOf,
  ksFromCells,
  wassersteinFromCells,
} from './cells.js';
import { driftThresholdsSchema } from './config.js';
import {
  type CategoricalFeatureDrift,
  type CheckRecord,
  type DataQuality,
  type DataQualityFinding,
  DRIFT_REPORT_FORMAT_VERSION,
  type DriftCheck,
  type DriftCheckOptions,
  type DriftThresholds,
  type DriftVerdict,
  type FeatureResult,
  type NumericFeatureDrift,
  type PredictionResult,
} from './contract.js';
import { chiSquareTest, jensenShannonDistance, ksPValue, PSI_EPSILON, psiFromCounts } from './statistics.js';

/** Feature names outside the profile reported at most (one finding each). */
const MAX_UNKNOWN_FEATURES = 100;
const UNSEEN_VALUES_LISTED = 10;
/** Values a numeric feature buffers before counting them into its cells (8 bytes each). */
const BATCH = 8192;
/** Records whose key lists are all looked at for names outside the profile, then one in KEY_CHECK_EVERY. */
const KEY_CHECK_ALL = 1024;
const KEY_CHECK_EVERY = 16;

interface Counters {
  /** Records without the feature (undefined). */
  missing: number;
  /** Null, missing, NaN or invalid values. */
  nulls: number;
  invalid: number;
}

interface NumericAccumulator extends Counters {
  readonly kind: 'numeric';
  readonly profile: NumericProfile;
  /** The reference sample sorted (null when the profile keeps none: no KS, no Wasserstein). */
  readonly sample: Float64Array | null;
  /** The window's finite values, counted in the cells of the sample's and edges' grid. */
  readonly cells: CellHistogram;
  /** Values not yet counted into the cells ({@link BATCH} at most: counted a feature at a time). */
  readonly batch: Float64Array;
  batched: number;
  outOfRange: number;
  /** The reference's range (±Infinity when it had no value). */
  readonly min: number;
  readonly max: number;
}

interface CategoricalAccumulator extends Counters {
  readonly kind: 'categorical';
  readonly profile: CategoricalProfile;
  readonly counts: Map<string, number>;
}

type Accumulator = NumericAccumulator | CategoricalAccumulator;

/**
 * The thresholds with defaults filled in, each checked (a bad one names its field): the monitoring
 * configuration's schema (./config.ts), the one home of their rules.
 */
export function resolveThresholds(partial: Partial<DriftThresholds> = {}): DriftThresholds {
  return parseOrThrow(driftThresholdsSchema, partial, 'thresholds');
}

const shares = (counts: ArrayLike<number>): number[] => {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) sum += counts[i] as number;
  return Array.from(counts, (c) => (sum > 0 ? c / sum : 0));
};

/** The score bins of the profile's predictions: regressors' scores, binary classifiers' positive class. */
function predictionBins(
  profile: PredictionProfile,
): { edges: readonly number[]; counts: readonly number[] } | null {
  if (profile.kind === 'score') return { edges: profile.edges, counts: profile.counts };
  if (profile.classes.length !== 2) return null;
  const counts = profile.counts[1];
  return counts === undefined ? null : { edges: profile.edges, counts };
}

function verdictOf(values: number, psi: number, threshold: number, minSamples: number): DriftVerdict {
  if (values < minSamples) return 'insufficient-data';
  return psi > threshold ? 'drift' : 'no-drift';
}

/**
 * A reader of the numeric features of a record into `row` (its value where a number, else NaN),
 * compiled once per profile: one property load by a constant name per feature, so that V8 reads
 * records of one shape (one writer's JSON) monomorphically, doubles without boxing them — a loop
 * over the names (a keyed load each) costs several times as much and allocates a number per value.
 * The names enter the source as JSON string literals (never as code).
 */
function numericReader(names: readonly string[]): (features: object, row: Float64Array) => void {
  const body = names
    .map((name, j) => `v = f[${JSON.stringify(name)}]; row[${j}] = typeof v === 'number' ? v : NaN;`)
    .join('\n');
  return new Function('f', 'row', `let v;\n${body}`) as (features: object, row: Float64Array) => void;
}

/** A numeric feature's sorted reference sample and the cells over it and its PSI edges. */
function numericCells(feature: NumericProfile): { sample: Float64Array | null; cells: CellHistogram } {
  const sample =
    feature.sample !== undefined && feature.sample.length > 0
      ? Float64Array.from(feature.sample).sort()
      : null;
  return { sample, cells: createCellHistogram(gridOf(sample ?? [], feature.edges)) };
}

export function createDriftCheck(options: DriftCheckOptions): DriftCheck {
  const started = performance.now();
  const thresholds = resolveThresholds(options.thresholds);
  const { profile } = options;
  const accumulators: Accumulator[] = profile.features.map((feature) =>
    feature.kind === 'numeric'
      ? {
          kind: 'numeric',
          profile: feature,
          ...numericCells(feature),
          batch: new Float64Array(BATCH),
          batched: 0,
          outOfRange: 0,
          min: feature.min ?? Number.NEGATIVE_INFINITY,
          max: feature.max ?? Number.POSITIVE_INFINITY,
          missing: 0,
          nulls: 0,
          invalid: 0,
        }
      : { kind: 'categorical', profile: feature, counts: new Map(), missing: 0, nulls: 0, invalid: 0 },
  );
  // Numeric and categorical accumulators apart (monomorphic accesses), names beside them.
  const numerics = accumulators.filter((a): a is NumericAccumulator => a.kind === 'numeric');
  const readNumerics = numericReader(numerics.map((a) => a.profile.name));
  const row = new Float64Array(numerics.length);
  const categoricals = accumulators.filter((a): a is CategoricalAccumulator => a.kind === 'categorical');
  const categoricalNames = categoricals.map((a) => a.profile.name);
  const known = new Set(profile.features.map((f) => f.name));
  /** The last key list checked for names outside the profile. */
  let lastKeys: readonly string[] = [];
  const unknown = new Set<string>();
  const findings: DataQualityFinding[] = [];
  const scoring = predictionBins(profile.prediction);
  const scoreCounts = new Float64Array(scoring === null ? 0 : scoring.edges.length + 1);
  let scores = 0;
  let rows = 0;

  function push(acc: NumericAccumulator, v: number): void {
    acc.batch[acc.batched++] = v;
    if (acc.batched === BATCH) flush(acc);
  }

  /** Counts a feature's buffered values into its cells (and those outside the reference's range). */
  function flush(acc: NumericAccumulator): void {
    const { batch, batched, min, max } = acc;
    let out = 0;
    for (let i = 0; i < batched; i++) {
      const v = batch[i] as number;
      if (v < min || v > max) out++;
    }
    acc.outOfRange += out;
    addManyToCells(acc.cells, batch, batched);
    acc.batched = 0;
  }

  /** Notes the names outside the profile of a record's key list (a new writer or another shape). */
  function noteKeys(features: object): void {
    lastKeys = Object.keys(features);
    for (const name of lastKeys)
      if (!known.has(name) && unknown.size < MAX_UNKNOWN_FEATURES && !unknown.has(name)) unknown.add(name);
  }

  /** Everything but a finite number: booleans as 0/1, the rest null or invalid. */
  function addOther(acc: NumericAccumulator, raw: RequestValue | undefined): void {
    let v: number;
    if (typeof raw === 'number') v = raw;
    else if (typeof raw === 'boolean') v = raw ? 1 : 0;
    else {
      if (raw === undefined) acc.missing++;
      else if (raw !== null) acc.invalid++;
      acc.nulls++;
      return;
    }
    if (Number.isNaN(v)) {
      acc.nulls++;
      return;
    }
    if (!Number.isFinite(v)) {
      acc.invalid++;
      acc.nulls++;
      return;
    }
    push(acc, v);
  }

  function addCategorical(acc: CategoricalAccumulator, raw: RequestValue | undefined): void {
    if (typeof raw === 'string') acc.counts.set(raw, (acc.counts.get(raw) ?? 0) + 1);
    else {
      if (raw === undefined) acc.missing++;
      else if (raw !== null) acc.invalid++;
      acc.nulls++;
    }
  }

  function add(record: CheckRecord): void {
    rows++;
    const features = record.features ?? {};
    readNumerics(features, row);
    for (let j = 0; j < numerics.length; j++) {
      const v = row[j] as number;
      // The common case inline: a finite number (NaN and ±Infinity fail v − v === 0).
      if (v - v === 0) push(numerics[j] as NumericAccumulator, v);
      else {
        const acc = numerics[j] as NumericAccumulator;
        addOther(acc, features[acc.profile.name]);
      }
    }
    for (let j = 0; j < categoricals.length; j++)
      addCategorical(categoricals[j] as CategoricalAccumulator, features[categoricalNames[j] as string]);
    // Names outside the profile: looked for in the first KEY_CHECK_ALL records and every
    // KEY_CHECK_EVERY-th after (walking 20 keys of every record was 18 % of the whole check, and
    // the serving handler captures only the model's inputs: a foreign name comes from another
    // writer, whose records are many). A record's key list is compared with the last one checked
    // (`for … in` walks the keys without copying them; interned keys compare by reference).
    if (rows <= KEY_CHECK_ALL || rows % KEY_CHECK_EVERY === 0) {
      let i = 0;
      let same = true;
      for (const key in features)
        if (key !== lastKeys[i++]) {
          same = false;
          break;
        }
      if (!same || i !== lastKeys.length) noteKeys(features);
    }
    const score = record.score;
    if (scoring !== null && typeof score === 'number' && Number.isFinite(score)) {
      const bin = binIndex(scoring.edges, score);
      scoreCounts[bin] = (scoreCounts[bin] as number) + 1;
      scores++;
    }
  }

  function quality(acc: Accumulator): DataQuality {
    const nullRate = rows > 0 ? acc.nulls / rows : 0;
    return {
      rows,
      nullCount: acc.nulls,
      nullRate,
      referenceNullRate: acc.profile.nullRate,
      invalidCount: acc.invalid,
    };
  }

  function qualityFindings(name: string, q: DataQuality): void {
    if (rows === 0) return;
    if (q.nullRate - q.referenceNullRate > thresholds.nullRateIncrease)
      findings.push({
        code: 'null-rate',
        subject: name,
        message: `${name}: null rate ${q.nullRate.toFixed(4)} against ${q.referenceNullRate.toFixed(4)} in the reference (allowed increase ${thresholds.nullRateIncrease})`,
      });
    if ((q.outOfRangeRate ?? 0) > thresholds.outOfRangeRate)
      findings.push({
        code: 'out-of-range',
        subject: name,
        message: `${name}: ${q.outOfRangeCount} values (${((q.outOfRangeRate ?? 0) * 100).toFixed(2)}%) outside the reference's range (threshold ${thresholds.outOfRangeRate})`,
      });
    if ((q.unseenRate ?? 0) > thresholds.unseenCategoryRate)
      findings.push({
        code: 'unseen-categories',
        subject: name,
        message: `${name}: ${q.unseenCount} values (${((q.unseenRate ?? 0) * 100).toFixed(2)}%) the reference never saw, e.g. ${(q.unseenValues ?? []).slice(0, 3).join(', ')} (threshold ${thresholds.unseenCategoryRate})`,
      });
    if (q.invalidCount > 0)
      findings.push({
        code: 'invalid-values',
        subject: name,
        message: `${name}: ${q.invalidCount} values of the wrong type or infinite (counted as nulls)`,
      });
  }

  /** The feature cannot be checked at all: absent from every record, or the reference has no value. */
  function unchecked(acc: Accumulator): string | null {
    if (rows > 0 && acc.missing === rows) return `${acc.profile.name}: no record in the window names it`;
    if (acc.profile.count === 0) return `${acc.profile.name}: the reference profile holds no value of it`;
    return null;
  }

  function finishNumeric(acc: NumericAccumulator): FeatureResult {
    const p = acc.profile;
    flush(acc);
    const n = acc.cells.n;
    const base = quality(acc);
    const q: DataQuality = {
      ...base,
      outOfRangeCount: acc.outOfRange,
      outOfRangeRate: n > 0 ? acc.outOfRange / n : 0,
    };
    qualityFindings(p.name, q);
    const why = unchecked(acc);
    if (why !== null) {
      findings.push({
        code: acc.missing === rows ? 'feature-missing-from-window' : 'feature-missing-from-profile',
        subject: p.name,
        message: why,
      });
      return { name: p.name, kind: 'numeric', verdict: 'not-checked', quality: q };
    }
    if (n === 0) return { name: p.name, kind: 'numeric', verdict: 'insufficient-data', quality: q };
    const current = binCountsFromCells(acc.cells, p.edges);
    const psi = psiFromCounts(p.counts, current);
    const sample = acc.sample;
    if (sample === null)
      findings.push({
        code: 'reference-sample-missing',
        subject: p.name,
        message: `${p.name}: the reference profile keeps no sample of it (written before profiles did); KS and Wasserstein not computed`,
      });
    // KS p-value as ks_2samp's on the reference's size (n1 = its count) and the window's.
    const ks = sample === null ? null : ksPValue(ksFromCells(acc.cells, sample), p.count, n);
    const drift: NumericFeatureDrift = {
      kind: 'numeric',
      psi,
      ...(ks === null ? {} : { ks: { statistic: ks.statistic, pValue: ks.pValue } }),
      jensenShannon: jensenShannonDistance(p.counts, current),
      ...(sample === null ? {} : { wasserstein: wassersteinFromCells(acc.cells, sample).value }),
      bins: { edges: [...p.edges], reference: shares(p.counts), current: shares(current) },
    };
    return {
      name: p.name,
      kind: 'numeric',
      verdict: verdictOf(n, psi, thresholds.featurePsi, thresholds.minSamples),
      quality: q,
      drift,
    };
  }

  function finishCategorical(acc: CategoricalAccumulator): FeatureResult {
    const p = acc.profile;
    const listed = new Map(p.categories.map((c, i) => [c.value, i]));
    const folded = p.otherValues === undefined ? null : new Set(p.otherValues);
    // Without the folded values listed, a value outside the categories may be one folded into other.
    const foldsUnknown = folded === null && p.otherCategories > 0;
    const k = p.categories.length;
    const reference = [...p.categories.map((c) => c.count), p.otherCount, 0];
    const current = new Array<number>(k + 2).fill(0);
    const unseen: [string, number][] = [];
    let n = 0;
    for (const [value, count] of acc.counts) {
      n += count;
      const at = listed.get(value);
      if (at !== undefined) current[at] = (current[at] as number) + count;
      else if (foldsUnknown || folded?.has(value)) current[k] = (current[k] as number) + count;
      else {
        current[k + 1] = (current[k + 1] as number) + count;
        unseen.push([value, count]);
      }
    }
    const unseenCount = current[k + 1] as number;
    unseen.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const q: DataQuality = {
      ...quality(acc),
      unseenCount,
      unseenRate: n > 0 ? unseenCount / n : 0,
      unseenValues: unseen.slice(0, UNSEEN_VALUES_LISTED).map(([v]) => v),
    };
    qualityFindings(p.name, q);
    const why = unchecked(acc);
    if (why !== null) {
      findings.push({
        code: acc.missing === rows ? 'feature-missing-from-window' : 'feature-missing-from-profile',
        subject: p.name,
        message: why,
      });
      return { name: p.name, kind: 'categorical', verdict: 'not-checked', quality: q };
    }
    if (n === 0) return { name: p.name, kind: 'categorical', verdict: 'insufficient-data', quality: q };
    const psi = psiFromCounts(reference, current);
    // Chi-square over the bins either side fills; the reference's shares floored at PSI_EPSILON
    // (an unseen value would otherwise expect 0) and renormalised.
    const kept = reference.map((r, i) => r > 0 || (current[i] as number) > 0);
    const refTotal = p.count;
    const floored = reference.map((r, i) => (kept[i] ? Math.max(r / refTotal, PSI_EPSILON) : 0));
    const flooredTotal = floored.reduce((a, b) => a + b, 0);
    const observed = current.filter((_, i) => kept[i]);
    const expected = floored.filter((_, i) => kept[i]).map((r) => (n * r) / flooredTotal);
    const chi = chiSquareTest(observed, expected);
    const drift: CategoricalFeatureDrift = {
      kind: 'categorical',
      psi,
      chiSquare: { statistic: chi.statistic, pValue: chi.pValue, dof: chi.dof },
      jensenShannon: jensenShannonDistance(reference, current),
      bins: {
        labels: [...p.categories.map((c) => c.value), 'other', 'unseen'],
        reference: shares(reference),
        current: shares(current),
      },
    };
    return {
      name: p.name,
      kind: 'categorical',
      verdict: verdictOf(n, psi, thresholds.featurePsi, thresholds.minSamples),
      quality: q,
      drift,
    };
  }

  function finishPrediction(): PredictionResult {
    if (scoring === null) return { verdict: 'not-checked', count: 0 };
    if (scores === 0) return { verdict: 'insufficient-data', count: 0 };
    const psi = psiFromCounts(scoring.counts, scoreCounts);
    return {
      verdict: verdictOf(scores, psi, thresholds.predictionPsi, thresholds.minSamples),
      count: scores,
      psi,
      jensenShannon: jensenShannonDistance(scoring.counts, scoreCounts),
      bins: { edges: [...scoring.edges], reference: shares(scoring.counts), current: shares(scoreCounts) },
    };
  }

  function finish(finishOptions: Parameters<DriftCheck['finish']>[0] = {}) {
    if (rows === 0)
      findings.push({
        code: 'empty-window',
        message: `no prediction record in ${options.window.start} – ${options.window.end}`,
      });
    for (const name of unknown)
      findings.push({
        code: 'feature-missing-from-profile',
        subject: name,
        message: `${name}: the window names it but the reference profile does not (not checked)`,
      });
    const features = accumulators.map((acc) =>
      acc.kind === 'numeric' ? finishNumeric(acc) : finishCategorical(acc),
    );
    const checked = features.filter((f) => f.verdict === 'drift' || f.verdict === 'no-drift').length;
    const drifted = features.filter((f) => f.verdict === 'drift').length;
    const driftShare = checked > 0 ? drifted / checked : 0;
    return {
      formatVersion: DRIFT_REPORT_FORMAT_VERSION,
      model: options.model,
      version: options.version,
      window: { start: options.window.start, end: options.window.end },
      generatedAt: finishOptions.generatedAt ?? new Date().toISOString(),
      status: rows === 0 ? 'no-data' : checked === 0 ? 'insufficient-data' : 'checked',
      thresholds,
      rows,
      features,
      prediction: finishPrediction(),
      summary: {
        features: features.length,
        checked,
        drifted,
        driftShare,
        datasetDrift: checked > 0 && driftShare > thresholds.driftShare,
      },
      findings: [...findings],
      ...(finishOptions.quality === undefined ? {} : { quality: finishOptions.quality }),
      durationMs: performance.now() - started,
    } as const;
  }

  return {
    add,
    addFinding: (finding) => {
      findings.push(finding);
    },
    finish,
  };
}
