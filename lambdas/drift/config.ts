/**
 * The `monitoring` section of the project configuration: how often each served model's capture is
 * checked for drift, over which window, with which thresholds, and the serving and quality alarms
 * (lib/drift-monitor.ts builds them; the drift function reads the thresholds baked into its
 * schedule's input). One schema, its defaults written here once. No AWS SDK, no CDK.
 */
import * as z from 'zod';
import { DEFAULT_DRIFT_THRESHOLDS } from './contract.js';

const share = (fallback: number) =>
  z
    .number({ error: 'must be a number' })
    .gt(0, 'must be above 0')
    .max(1, 'must be at most 1')
    .default(fallback);

/** Minutes in a `rate(N unit)` expression, or undefined for a cron expression. */
export function rateMinutes(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (match === null) return undefined;
  const n = Number(match[1]);
  const unit = match[2] as string;
  return unit.startsWith('minute') ? n : unit.startsWith('hour') ? n * 60 : n * 1440;
}

/**
 * The checks whose alarms start a retraining: the `<check>` of layout.ts `retrainingAlarmName`
 * (lib/drift-monitor.ts names the alarms; the local scenario evaluates them).
 */
export const RETRAINING_CHECKS = {
  featurePsi: 'feature-psi',
  driftShare: 'drift-share',
  predictionPsi: 'prediction-psi',
  modelQuality: 'model-quality',
} as const;

/** The most frequent check the monitor allows (the floor: every 5 minutes). */
export const MIN_CHECK_MINUTES = 5;

export const driftThresholdsSchema = z.strictObject({
  featurePsi: z
    .number({ error: 'must be a number' })
    .positive('must be positive')
    .default(DEFAULT_DRIFT_THRESHOLDS.featurePsi),
  driftShare: share(DEFAULT_DRIFT_THRESHOLDS.driftShare),
  predictionPsi: z
    .number({ error: 'must be a number' })
    .positive('must be positive')
    .default(DEFAULT_DRIFT_THRESHOLDS.predictionPsi),
  minSamples: z
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .default(DEFAULT_DRIFT_THRESHOLDS.minSamples),
  nullRateIncrease: share(DEFAULT_DRIFT_THRESHOLDS.nullRateIncrease),
  outOfRangeRate: share(DEFAULT_DRIFT_THRESHOLDS.outOfRangeRate),
  unseenCategoryRate: share(DEFAULT_DRIFT_THRESHOLDS.unseenCategoryRate),
});

export const monitoringSchema = z.strictObject({
  /** Check served models' capture for drift on a schedule. @default true */
  enabled: z.boolean({ error: 'must be true or false' }).default(true),
  /** EventBridge schedule of the checks: rate(...) no more often than every 5 minutes, or cron(...). */
  schedule: z
    .string()
    .regex(/^(rate|cron)\(.+\)$/, 'must be an EventBridge schedule expression: rate(...) or cron(...)')
    .refine((s) => (rateMinutes(s) ?? MIN_CHECK_MINUTES) >= MIN_CHECK_MINUTES, {
      message: `must not run more often than every ${MIN_CHECK_MINUTES} minutes`,
    })
    .default('rate(1 hour)'),
  /** Minutes of capture each check reads, ending at the scheduled time. @default the rate's period, else 60 */
  windowMinutes: z
    .number({ error: 'must be a number' })
    .int('must be a whole number of minutes')
    .min(MIN_CHECK_MINUTES, `must be at least ${MIN_CHECK_MINUTES}`)
    .max(7 * 1440, 'must be at most 7 days')
    .optional(),
  thresholds: driftThresholdsSchema.prefault({}),
  /** Model quality: alarm when accuracy/AUC falls more than this share below the version's evaluation. */
  qualityDrop: share(0.05),
  /** Labelled predictions a window needs before its model quality is emitted. */
  minLabelled: z.number().int('must be a whole number').min(1, 'must be at least 1').default(100),
  /**
   * Hours before the window whose captured predictions feedback in the window may answer: labels
   * arrive after their predictions (a default is known weeks later), so model quality joins the
   * window's feedback to predictions captured up to this long before it. @default 24
   */
  labelLookbackHours: z
    .number({ error: 'must be a number' })
    .int('must be a whole number of hours')
    .min(0, 'must be 0 or more')
    .max(24 * 14, 'must be at most 14 days (each check reads that much capture)')
    .default(24),
  /** Serving alarms (per served model), from the inference metrics. */
  serving: z
    .strictObject({
      /** p95 predict latency inside the function, ms. */
      latencyP95Ms: z.number({ error: 'must be a number' }).positive('must be positive').default(100),
      /** 5xx share of predict requests, percent. */
      errorRatePercent: z.number({ error: 'must be a number' }).positive('must be positive').default(0.1),
      /** Throughput alarm: requests below the anomaly-detection band this many standard deviations wide. */
      throughputBandStdDevs: z.number({ error: 'must be a number' }).positive('must be positive').default(2),
    })
    .prefault({}),
});

export type MonitoringConfig = z.output<typeof monitoringSchema>;
export type MonitoringConfigInput = z.input<typeof monitoringSchema>;

/** Minutes between two checks: the schedule's rate; a cron schedule counts as hourly (not parsed). */
export function checkIntervalMinutes(config: MonitoringConfig): number {
  return rateMinutes(config.schedule) ?? 60;
}

/** The window a check reads: `windowMinutes`, else the schedule's rate, else 60. */
export function windowMinutesOf(config: MonitoringConfig): number {
  return config.windowMinutes ?? rateMinutes(config.schedule) ?? 60;
}
