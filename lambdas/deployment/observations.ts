/**
 * What the Analyze step reads about a canary and its stable version over a window: the serving
 * metrics per model version (CloudWatch GetMetricData: the EMF the predict function writes, under
 * the same names and dimensions: lambdas/shared/metric-names.ts), the watched alarms' states, and
 * the captured predictions and feedback (the capture bucket's JSON lines). Thin adapters over the
 * SDK; the judgement is ./analysis.ts's.
 *
 * The metric dimension `version` is the registry model version each Lambda version is pinned to,
 * so canary and stable are told apart by their model versions (a deployment of the version already
 * serving changes nothing and is never analysed).
 */
import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  type CaptureWindow,
  predictionValue,
  readCaptureWindow,
  unreadableLineCount,
} from '../serving/capture-window.js';
import { DIMENSIONS, SERVICES, SERVING_METRICS } from '../shared/metric-names.js';
import type { BusinessOutcomes, VersionWindow } from './analysis.js';

/** The analysis window (the capture reader's: [fromMs, toMs]). */
export type Window = CaptureWindow;

/** The period GetMetricData sums over: the window, in whole minutes (CloudWatch's rule for old data). */
function periodOf(window: Window): number {
  return Math.max(60, Math.ceil((window.toMs - window.fromMs) / 60_000) * 60);
}

/** Each version's requests, server errors and p95/p99 latency over the window. */
export async function servingWindows(
  cloudwatch: CloudWatchClient,
  options: { namespace: string; model: string; versions: readonly number[]; window: Window },
): Promise<Map<number, VersionWindow>> {
  const period = periodOf(options.window);
  const queries = options.versions.flatMap((version, v) => {
    const dimensions = [
      { Name: DIMENSIONS.service, Value: SERVICES.inference },
      { Name: DIMENSIONS.model, Value: options.model },
      { Name: DIMENSIONS.version, Value: String(version) },
    ];
    const stat = (id: string, metric: string, statName: string) => ({
      Id: `${id}${v}`,
      MetricStat: {
        Metric: { Namespace: options.namespace, MetricName: metric, Dimensions: dimensions },
        Period: period,
        Stat: statName,
      },
      ReturnData: true,
    });
    return [
      stat('requests', SERVING_METRICS.requests.name, 'Sum'),
      stat('errors', SERVING_METRICS.serverErrors.name, 'Sum'),
      stat('pninetyfive', SERVING_METRICS.latency.name, 'p95'),
      stat('pninetynine', SERVING_METRICS.latency.name, 'p99'),
    ];
  });
  const values = new Map<string, number[]>();
  let nextToken: string | undefined;
  do {
    const out = await cloudwatch.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(options.window.fromMs),
        EndTime: new Date(options.window.toMs),
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      }),
    );
    for (const result of out.MetricDataResults ?? [])
      if (result.Id !== undefined)
        values.set(result.Id, [...(values.get(result.Id) ?? []), ...(result.Values ?? [])]);
    nextToken = out.NextToken;
  } while (nextToken !== undefined);
  const sum = (id: string) => (values.get(id) ?? []).reduce((a, b) => a + b, 0);
  // One period spans the window; should the service split it, the highest percentile stands.
  const max = (id: string) => {
    const found = values.get(id) ?? [];
    return found.length === 0 ? undefined : Math.max(...found);
  };
  const windows = new Map<number, VersionWindow>();
  options.versions.forEach((version, v) => {
    const p95 = max(`pninetyfive${v}`);
    const p99 = max(`pninetynine${v}`);
    windows.set(version, {
      requests: sum(`requests${v}`),
      serverErrors: sum(`errors${v}`),
      ...(p95 === undefined ? {} : { p95 }),
      ...(p99 === undefined ? {} : { p99 }),
    });
  });
  return windows;
}

/** The watched alarms now in ALARM (names; an unknown name is not in ALARM). */
export async function alarmsInAlarm(
  cloudwatch: CloudWatchClient,
  names: readonly string[],
): Promise<string[]> {
  const firing: string[] = [];
  for (let i = 0; i < names.length; i += 100) {
    let nextToken: string | undefined;
    do {
      const out = await cloudwatch.send(
        new DescribeAlarmsCommand({
          AlarmNames: names.slice(i, i + 100),
          // Without AlarmTypes, DescribeAlarms answers metric alarms only.
          AlarmTypes: ['MetricAlarm', 'CompositeAlarm'],
          StateValue: 'ALARM',
          ...(nextToken === undefined ? {} : { NextToken: nextToken }),
        }),
      );
      for (const alarm of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])])
        if (alarm.AlarmName !== undefined && alarm.StateValue === 'ALARM') firing.push(alarm.AlarmName);
      nextToken = out.NextToken;
    } while (nextToken !== undefined);
  }
  return firing.sort();
}

/** A feedback outcome counted as positive (the business metric: the positive-outcome rate). */
const positive = (outcome: unknown): boolean => outcome === true || outcome === 1 || outcome === '1';

export interface CapturedWindow {
  /** Prediction values by model version. */
  readonly predictions: Map<number, number[]>;
  /** Feedback outcomes joined to the version that answered the request. */
  readonly outcomes: BusinessOutcomes;
  /** Lines that were not capture records (counted, skipped). */
  readonly unreadable: number;
}

/**
 * The captured predictions of the canary and stable model versions in the window, and the feedback
 * outcomes of their requests (joined on the request id), from the capture bucket's hourly partitions.
 */
export async function capturedWindow(
  s3: S3Client,
  options: { bucket: string; model: string; canary: number; stable: number; window: Window },
): Promise<CapturedWindow> {
  const predictions = new Map<number, number[]>([
    [options.canary, []],
    [options.stable, []],
  ]);
  // By served instance (`requestId#instance`): a batch's instances may be served by several
  // versions, and a feedback sent twice is one outcome (the last one sent counts).
  const versionOf = new Map<string, number>();
  const feedback = new Map<string, unknown>();
  const problems = await readCaptureWindow(s3, options, (record) => {
    const key = `${record.requestId}#${record.instance}`;
    if (record.kind === 'prediction') {
      const values = predictions.get(record.version);
      if (values === undefined) return;
      versionOf.set(key, record.version);
      const value = predictionValue(record.prediction);
      if (value !== undefined && Number.isFinite(value)) values.push(value);
    } else {
      feedback.delete(key);
      feedback.set(key, record.outcome);
    }
  });
  const unreadable = unreadableLineCount(problems) + problems.unreadableObjects.length;
  const outcomes = { canary: { positives: 0, total: 0 }, stable: { positives: 0, total: 0 } };
  for (const [key, outcome] of feedback) {
    const version = versionOf.get(key);
    const side =
      version === options.canary ? outcomes.canary : version === options.stable ? outcomes.stable : undefined;
    if (side === undefined) continue;
    side.total++;
    if (positive(outcome)) side.positives++;
  }
  return { predictions, outcomes, unreadable };
}
