/**
 * One drift check of one model: which version serves (the registry's `champion`, or the version
 * asked for), its reference profile (integrity-checked against the registry's SHA-256), the capture
 * window read record by record into the streaming check (./check.ts) and the quality join
 * (./quality.ts), then the report — stored as JSON and HTML — and its metrics. The drift function,
 * the local stack and `mlops drift check` call {@link runDriftCheck}; what touches AWS comes in as
 * `deps`.
 *
 * Bad data never crashes the check: unreadable capture objects and lines, a missing or foreign
 * profile, features the profile does not know, an empty window — each is a finding in the report,
 * and the features that could be checked still are.
 */
import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { ModelVersion } from '../registry/model-version.js';
import { predictionValue, readCaptureWindow, unreadableLineCount } from '../serving/capture-window.js';
import { NotFoundError, ValidationError } from '../shared/errors.js';
import { parseReferenceProfile, type ReferenceProfile } from '../training/evaluate/reference-profile.js';
import {
  type DataQualityFinding,
  DEFAULT_DRIFT_THRESHOLDS,
  type DriftCheck,
  type DriftCheckOptions,
  type DriftReport,
  type DriftThresholds,
} from './contract.js';
import { QualityWindow } from './quality.js';

/** The drift function's input (the schedule rule's, or a manual run's). */
export interface DriftCheckEvent {
  readonly model: string;
  /** The end of the window (ISO; the schedule's time). @default now */
  readonly time?: string;
  /** Minutes of capture before `time`. */
  readonly windowMinutes: number;
  /** The window's start (ISO), instead of `windowMinutes` before `time` (a manual check of a span). */
  readonly start?: string;
  readonly thresholds?: Partial<DriftThresholds>;
  /** Labelled predictions needed before model quality is given. @default 100 */
  readonly minLabelled?: number;
  /** Hours before the window whose predictions the window's feedback may answer. @default 0 */
  readonly labelLookbackHours?: number;
  /** Check against this registry version instead of the `champion`. */
  readonly version?: number;
  /**
   * Seconds the window ends before `time` (the schedule's): capture reaches S3 up to Firehose's
   * buffering interval after it is served, so the newest records of a window that ended at `time`
   * are not there yet; the next window would leave them out for good. @default 0
   */
  readonly lagSeconds?: number;
}

export interface DriftJobDeps {
  readonly s3: S3Client;
  readonly captureBucket: string;
  /** The registry version `champion` names (NotFoundError when none). */
  championOf(model: string): Promise<ModelVersion>;
  getVersion(model: string, version: number): Promise<ModelVersion>;
  /** An artifact's bytes (the registry's artifact bucket), undefined when absent. */
  readArtifact(key: string): Promise<Uint8Array | undefined>;
  createCheck(options: DriftCheckOptions): DriftCheck;
  /** Stores the report (JSON and HTML); returns where. */
  writeReport(report: DriftReport): Promise<{ readonly json: string; readonly html: string }>;
  /** Emits the report's metrics. */
  recordMetrics(report: DriftReport): void;
  now(): Date;
}

export interface DriftJobResult {
  readonly report: DriftReport;
  readonly keys: { readonly json: string; readonly html: string };
}

function parseEvent(event: DriftCheckEvent, now: Date): { start: Date; end: Date } {
  if (typeof event.model !== 'string' || event.model === '')
    throw new ValidationError('model', 'must name a served model');
  const time = event.time === undefined ? now : new Date(event.time);
  if (Number.isNaN(time.getTime())) throw new ValidationError('time', 'must be an ISO date-time');
  const lag = event.lagSeconds ?? 0;
  if (!Number.isInteger(lag) || lag < 0 || lag > 3600)
    throw new ValidationError('lagSeconds', 'must be a whole number of seconds from 0 to 3600');
  const end = new Date(time.getTime() - lag * 1000);
  if (event.version !== undefined && (!Number.isInteger(event.version) || event.version < 1))
    throw new ValidationError('version', 'must be a positive whole number');
  if (event.start !== undefined) {
    const start = new Date(event.start);
    if (Number.isNaN(start.getTime())) throw new ValidationError('start', 'must be an ISO date-time');
    if (start.getTime() >= end.getTime()) throw new ValidationError('start', 'must be before time');
    return { start, end };
  }
  if (!Number.isInteger(event.windowMinutes) || event.windowMinutes < 1)
    throw new ValidationError('windowMinutes', 'must be a whole number of minutes, at least 1');
  return { start: new Date(end.getTime() - event.windowMinutes * 60_000), end };
}

async function loadProfile(
  deps: DriftJobDeps,
  version: ModelVersion,
): Promise<{ profile?: ReferenceProfile; finding?: DataQualityFinding }> {
  const ref = version.artifacts.referenceProfile;
  const subject = `${version.modelName} v${version.version}`;
  if (ref === undefined)
    return {
      finding: {
        code: 'profile-missing',
        subject,
        message: `version ${version.version} was registered without a reference profile: nothing to compare the window with`,
      },
    };
  const bytes = await deps.readArtifact(ref.key);
  if (bytes === undefined)
    return {
      finding: {
        code: 'profile-missing',
        subject,
        message: `its reference profile ${ref.key} is missing`,
      },
    };
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== ref.sha256)
    return {
      finding: {
        code: 'profile-version-mismatch',
        subject,
        message: `the reference profile at ${ref.key} is not the one registered with version ${version.version} (SHA-256 ${sha.slice(0, 12)}…, registered ${ref.sha256.slice(0, 12)}…)`,
      },
    };
  try {
    return { profile: parseReferenceProfile(new TextDecoder().decode(bytes)) };
  } catch (error) {
    return {
      finding: {
        code: 'profile-unreadable',
        subject,
        message: `the reference profile at ${ref.key} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      },
    };
  }
}

/** A report with no verdict: the profile could not be had. */
function blindReport(
  model: string,
  version: number,
  window: { start: string; end: string },
  generatedAt: string,
  thresholds: DriftThresholds,
  findings: DataQualityFinding[],
  rows: number,
): DriftReport {
  return {
    formatVersion: 1,
    model,
    version,
    window,
    generatedAt,
    status: rows === 0 ? 'no-data' : 'insufficient-data',
    thresholds,
    rows,
    features: [],
    prediction: { verdict: 'not-checked', count: rows },
    summary: { features: 0, checked: 0, drifted: 0, driftShare: 0, datasetDrift: false },
    findings,
  };
}

/** Runs one check (see the file header). */
export async function runDriftCheck(deps: DriftJobDeps, event: DriftCheckEvent): Promise<DriftJobResult> {
  const started = performance.now();
  const now = deps.now();
  const { start, end } = parseEvent(event, now);
  const window = { start: start.toISOString(), end: end.toISOString() };
  const generatedAt = now.toISOString();
  let version: ModelVersion;
  try {
    version =
      event.version === undefined
        ? await deps.championOf(event.model)
        : await deps.getVersion(event.model, event.version);
  } catch (error) {
    if (!(error instanceof NotFoundError) || event.version !== undefined) throw error;
    // Served but never promoted: nothing serves a registry version to compare with yet.
    const report = blindReport(
      event.model,
      0,
      window,
      generatedAt,
      { ...DEFAULT_DRIFT_THRESHOLDS, ...event.thresholds },
      [
        {
          code: 'no-serving-version',
          subject: event.model,
          message: `${event.model} has no ${'champion'} version yet: no reference profile to compare the capture with`,
        },
      ],
      0,
    );
    deps.recordMetrics(report);
    return { report, keys: await deps.writeReport(report) };
  }
  const loaded = await loadProfile(deps, version);
  const findings: DataQualityFinding[] = loaded.finding === undefined ? [] : [loaded.finding];
  const profile = loaded.profile;
  const check =
    profile === undefined
      ? undefined
      : deps.createCheck({
          model: event.model,
          version: version.version,
          window,
          profile,
          ...(event.thresholds === undefined ? {} : { thresholds: event.thresholds }),
        });
  const quality =
    profile === undefined
      ? undefined
      : new QualityWindow(profile.prediction, { minLabelled: event.minLabelled ?? 100 });
  let rows = 0;
  let otherVersions = 0;
  const problems = await readCaptureWindow(
    deps.s3,
    {
      bucket: deps.captureBucket,
      model: event.model,
      window: { fromMs: start.getTime(), toMs: end.getTime() - 1 },
    },
    (record) => {
      if (record.kind === 'feedback') {
        quality?.addFeedback(record);
        return;
      }
      if (record.version !== version.version) {
        otherVersions++;
        return;
      }
      rows++;
      if (check === undefined) return;
      const score = predictionValue(record.prediction);
      check.add({ features: record.features, ...(score === undefined ? {} : { score }) });
      quality?.addPrediction(record);
    },
  );
  // Feedback in the window answers predictions captured before it too (labels come late): those
  // predictions join for model quality only, never into the drift statistics.
  const lookbackMs = (event.labelLookbackHours ?? 0) * 3_600_000;
  if (quality !== undefined && lookbackMs > 0 && quality.hasFeedback()) {
    const earlier = await readCaptureWindow(
      deps.s3,
      {
        bucket: deps.captureBucket,
        model: event.model,
        window: { fromMs: start.getTime() - lookbackMs, toMs: start.getTime() - 1 },
      },
      (record) => {
        if (record.kind === 'prediction' && record.version === version.version) quality.addPrediction(record);
      },
    );
    problems.unreadableObjects.push(...earlier.unreadableObjects);
  }
  for (const { key, reason } of problems.unreadableObjects)
    findings.push({
      code: 'malformed-file',
      subject: key,
      message: `capture object could not be read: ${reason}`,
    });
  const badLines = unreadableLineCount(problems);
  if (badLines > 0)
    findings.push({
      code: 'malformed-record',
      subject: [...problems.unreadableLines.keys()].slice(0, 3).join(', '),
      message: `${badLines} capture line(s) in ${problems.unreadableLines.size} object(s) were not capture records (skipped)`,
    });
  // The check records an empty window itself; the blind report (no profile) needs it said here.
  if (rows === 0 && check === undefined)
    findings.push({
      code: 'empty-window',
      message: `no prediction of ${event.model} v${version.version} was captured between ${window.start} and ${window.end}${otherVersions > 0 ? ` (${otherVersions} of other versions)` : ''}`,
    });
  let report: DriftReport;
  if (check === undefined || profile === undefined) {
    const thresholds = { ...DEFAULT_DRIFT_THRESHOLDS, ...event.thresholds };
    report = blindReport(event.model, version.version, window, generatedAt, thresholds, findings, rows);
  } else {
    for (const finding of findings) check.addFinding(finding);
    const measured = quality?.finish(version.metrics);
    report = check.finish({ generatedAt, ...(measured === undefined ? {} : { quality: measured }) });
  }
  report = { ...report, durationMs: Math.round(performance.now() - started) };
  // The metrics first: a report that cannot be stored must not take the verdicts with it.
  deps.recordMetrics(report);
  const keys = await deps.writeReport(report);
  return { report, keys };
}
