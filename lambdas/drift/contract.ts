/**
 * The drift check's shapes, in one home: what a check of one capture window against a model
 * version's reference profile (lambdas/training/evaluate/reference-profile.ts) finds, the report it
 * stores (`reports/<model>/…`, JSON and HTML) and the thresholds that turn statistics into verdicts.
 * The statistics (./statistics.ts), the streaming check (./check.ts), the HTML report
 * (./report-html.ts), the drift function, the CLI and the tests read these. No AWS SDK.
 *
 * Change rule: add fields, don't rename (stored reports and the HTML renderer read them).
 *
 * Effect sizes decide, not p-values: at thousands of rows a KS or chi-square test calls every
 * feature drifted (the seeds' `ks_2samp` loops did). p-values are reported, never alarmed on.
 */
import type { RequestValue } from '../serving/contract.js';
import type { ReferenceProfile } from '../training/evaluate/reference-profile.js';

export const DRIFT_REPORT_FORMAT_VERSION = 1;

/** What turns a window's statistics into verdicts (per model: config `monitoring`). */
export interface DriftThresholds {
  /** A feature drifts when its PSI is above this. @default 0.2 */
  readonly featurePsi: number;
  /** The dataset drifts when the share of checked features that drift is above this. @default 0.3 */
  readonly driftShare: number;
  /** The predictions drift when their PSI is above this. @default 0.2 */
  readonly predictionPsi: number;
  /** Rows (non-null values, per feature) below which no verdict is given and no drift metric emitted. @default 500 */
  readonly minSamples: number;
  /** Data quality: a null rate more than this above the reference's is a finding. @default 0.05 */
  readonly nullRateIncrease: number;
  /** Data quality: numeric values outside the reference's [min, max], share above which is a finding. @default 0.05 */
  readonly outOfRangeRate: number;
  /** Data quality: categorical values the reference never saw, share above which is a finding. @default 0.01 */
  readonly unseenCategoryRate: number;
}

export const DEFAULT_DRIFT_THRESHOLDS: DriftThresholds = {
  featurePsi: 0.2,
  driftShare: 0.3,
  predictionPsi: 0.2,
  minSamples: 500,
  nullRateIncrease: 0.05,
  outOfRangeRate: 0.05,
  unseenCategoryRate: 0.01,
};

/** A verdict on one feature or on the predictions. */
export type DriftVerdict =
  /** Effect size above its threshold. */
  | 'drift'
  | 'no-drift'
  /** Fewer than `minSamples` values in the window: no verdict, no drift metric (data quality still reported). */
  | 'insufficient-data'
  /** The feature could not be checked (missing from the profile or from every record); see findings. */
  | 'not-checked';

/** A two-sample test's statistic and p-value (reported, not alarmed on). */
export interface TestResult {
  readonly statistic: number;
  readonly pValue: number;
}

/** Reference vs current shares on the reference's bins (what the report's histograms draw). */
export interface BinnedShares {
  /** Numeric: the reference profile's inner edges (bins right-closed, as reference-profile.ts). */
  readonly edges?: readonly number[];
  /** Categorical: the bins' labels (the profile's categories, then `other` and `unseen`). */
  readonly labels?: readonly string[];
  readonly reference: readonly number[];
  readonly current: readonly number[];
}

export interface DataQuality {
  /** Records in the window that named the feature or lacked it (every record counts). */
  readonly rows: number;
  /** Null, missing or NaN values. */
  readonly nullCount: number;
  readonly nullRate: number;
  readonly referenceNullRate: number;
  /** Numeric: values outside the reference's [min, max]. */
  readonly outOfRangeCount?: number;
  readonly outOfRangeRate?: number;
  /** Categorical: values the reference never saw (not even folded into its `other`). */
  readonly unseenCount?: number;
  readonly unseenRate?: number;
  /** Up to 10 unseen values, most frequent first. */
  readonly unseenValues?: readonly string[];
  /** Values of the wrong type (a string for a numeric feature, …): counted as nulls too. */
  readonly invalidCount: number;
}

export interface NumericFeatureDrift {
  readonly kind: 'numeric';
  /** PSI on the reference's quantile bins, empty bins smoothed (lambdas/drift/psi.ts PSI_EPSILON). */
  readonly psi: number;
  /**
   * Two-sample Kolmogorov–Smirnov against the reference's stored quantiles (the profile's `sample`:
   * statistic within 1/(2Q) of the full reference's; the p-value uses n1 = the reference's count,
   * n2 = the window's values, scipy ks_2samp 'auto'). Absent when the profile keeps no sample
   * (written before it did): a `reference-sample-missing` finding says so.
   */
  readonly ks?: TestResult;
  /** Jensen–Shannon distance (base 2, in [0, 1]) on the PSI bins. */
  readonly jensenShannon: number;
  /** Wasserstein-1 (earth mover's) distance, in the feature's units; absent without the profile's sample, as `ks`. */
  readonly wasserstein?: number;
  readonly bins: BinnedShares;
}

export interface CategoricalFeatureDrift {
  readonly kind: 'categorical';
  readonly psi: number;
  /** Pearson chi-square of the window's counts against the reference's shares. */
  readonly chiSquare: TestResult & { readonly dof: number };
  readonly jensenShannon: number;
  readonly bins: BinnedShares;
}

/** A problem with the data that is not drift, recorded instead of crashing the check. */
export interface DataQualityFinding {
  readonly code:
    | 'malformed-file'
    | 'malformed-record'
    | 'empty-window'
    | 'feature-missing-from-profile'
    | 'feature-missing-from-window'
    /** The profile read is not the one registered with the version (its SHA-256 differs). */
    | 'profile-version-mismatch'
    /** The version was registered without a reference profile, or its object is gone. */
    | 'profile-missing'
    /** The profile object is not a reference profile this code reads. */
    | 'profile-unreadable'
    /** The model has no `champion` version yet (nothing promoted): nothing to compare with. */
    | 'no-serving-version'
    | 'null-rate'
    | 'out-of-range'
    | 'unseen-categories'
    | 'invalid-values'
    /** A numeric feature's profile keeps no reference sample: KS and Wasserstein not computed. */
    | 'reference-sample-missing';
  /** The feature, file or record it is about. */
  readonly subject?: string;
  readonly message: string;
}

export interface FeatureResult {
  readonly name: string;
  readonly kind: 'numeric' | 'categorical';
  readonly verdict: DriftVerdict;
  readonly quality: DataQuality;
  /** Absent when not checked; present (statistics computed) but verdict `insufficient-data` below minSamples. */
  readonly drift?: NumericFeatureDrift | CategoricalFeatureDrift;
}

export interface PredictionResult {
  readonly verdict: DriftVerdict;
  /** Predictions in the window. */
  readonly count: number;
  /** PSI of the scores (binary: positive-class probability; regressors: the prediction) on the profile's bins. */
  readonly psi?: number;
  readonly jensenShannon?: number;
  readonly bins?: BinnedShares;
}

/** The stored report (`reports/<model>/…/report.json`; the HTML beside it renders this). */
export interface DriftReport {
  readonly formatVersion: typeof DRIFT_REPORT_FORMAT_VERSION;
  readonly model: string;
  /** The model version whose reference profile the window was compared with. */
  readonly version: number;
  /** The capture window checked: [start, end) ISO times. */
  readonly window: { readonly start: string; readonly end: string };
  readonly generatedAt: string;
  /** `checked`: verdicts given; `insufficient-data`: too few rows for any verdict; `no-data`: no record. */
  readonly status: 'checked' | 'insufficient-data' | 'no-data';
  readonly thresholds: DriftThresholds;
  /** Prediction records read (other versions' records and feedback are not counted). */
  readonly rows: number;
  readonly features: readonly FeatureResult[];
  readonly prediction: PredictionResult;
  readonly summary: {
    readonly features: number;
    /** Features with a verdict (drift or no-drift). */
    readonly checked: number;
    readonly drifted: number;
    /** drifted / checked (0 when none checked). */
    readonly driftShare: number;
    readonly datasetDrift: boolean;
  };
  readonly findings: readonly DataQualityFinding[];
  /** Model quality from feedback joined to its prediction (absent without labelled feedback). */
  readonly quality?: ModelQuality;
  /** Wall time of the check. */
  readonly durationMs?: number;
}

/** Model quality on the window's labelled predictions, against the version's evaluation. */
export interface ModelQuality {
  readonly metric: 'accuracy' | 'auc' | 'rmse';
  readonly labelled: number;
  readonly value: number | null;
  /** The version's evaluation value (registry metrics). */
  readonly baseline: number | null;
  /** (baseline − value) / baseline for accuracy/AUC; (value − baseline)/baseline for RMSE. */
  readonly relativeDrop: number | null;
}

/** One captured prediction as the check consumes it (from a CaptureRecord of kind `prediction`). */
export interface CheckRecord {
  readonly features: Readonly<Record<string, RequestValue>>;
  /** The score PSI is computed on (see PredictionResult.psi); undefined when the prediction has none. */
  readonly score?: number;
}

/** What starts a check of one window (./check.ts `createDriftCheck`). */
export interface DriftCheckOptions {
  readonly model: string;
  readonly version: number;
  readonly window: { readonly start: string; readonly end: string };
  /** The version's reference profile (parsed: `parseReferenceProfile`). */
  readonly profile: ReferenceProfile;
  readonly thresholds?: Partial<DriftThresholds>;
}

/**
 * A streaming check: records are added one at a time (the capture window is read file by file,
 * never whole), then `finish` computes the statistics and verdicts. Memory: O(Q) per numeric
 * feature whatever the window's length — its values are counted on arrival into the cells of the
 * grid the reference sample (Q ≤ 1000 quantiles) and the PSI edges define (./cells.ts: count, sum,
 * min, max per cell, plus a batch of a few thousand values awaiting counting), never stored or
 * sorted; PSI and KS from the cells are exact, Wasserstein-1 within a bound ./cells.ts documents;
 * counts for the rest.
 */
export interface DriftCheck {
  add(record: CheckRecord): void;
  addFinding(finding: DataQualityFinding): void;
  finish(options?: { readonly generatedAt?: string; readonly quality?: ModelQuality }): DriftReport;
}
