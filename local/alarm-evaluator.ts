/**
 * The local alarm evaluator: the emulator (moto) stores CloudWatch alarms but never evaluates them.
 * This reads every alarm (or the named ones) from the emulator, reads each metric alarm's data with
 * GetMetricData over its evaluation range, decides the state with ./alarm-evaluation.ts, then the
 * composite alarms from the new states, and writes only the changes (SetAlarmState with a
 * CloudWatch-like reason and reason data). Each change becomes a "CloudWatch Alarm State Change"
 * event (the shape the CloudWatch User Guide documents under "Alarm events and EventBridge"), which
 * `deliver` receives — local/event-router.ts `routeEvent` hands it to the default bus's rules.
 *
 * Not as CloudWatch: moto creates alarms in OK (CloudWatch: INSUFFICIENT_DATA); moto's GetMetricData
 * percentiles are nearest-rank (local/moto_server.py); the anomaly band is a local model; alarm
 * actions (SNS, …) are not run.
 */
import { randomUUID } from 'node:crypto';
import {
  type CompositeAlarm,
  DescribeAlarmsCommand,
  GetMetricDataCommand,
  type MetricAlarm,
  type MetricDataQuery,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { clients } from '../lambdas/shared/clients.js';
import {
  AlarmEvaluationError,
  type AlarmStateValue,
  type AlarmVerdict,
  cloudWatchTimestamp,
  evaluateAlarmRule,
  evaluationRange,
  judgeMetricAlarm,
  lowSampleCountLimit,
} from './alarm-evaluation.js';
import { routeEvent } from './event-router.js';
import { asBand, asSeries, BAND_TRAINING_PERIODS, evaluateExpression, type Series } from './metric-math.js';

/** A "CloudWatch Alarm State Change" event as EventBridge carries it. */
export interface AlarmStateChangeEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': 'CloudWatch Alarm State Change';
  readonly source: 'aws.cloudwatch';
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: {
    readonly alarmName: string;
    readonly state: StateRecord;
    readonly previousState: StateRecord;
    readonly configuration: Readonly<Record<string, unknown>>;
  };
}

interface StateRecord {
  readonly value: string;
  readonly reason: string;
  readonly reasonData?: string;
  readonly timestamp: string;
}

export interface StateChange {
  readonly alarmName: string;
  readonly from: string;
  readonly to: AlarmStateValue;
  readonly reason: string;
  readonly event: AlarmStateChangeEvent;
}

export interface EvaluateOptions {
  /** Only these alarms (metric or composite); default every alarm the emulator holds. */
  readonly alarmNames?: readonly string[];
  /**
   * Receives an alarm the evaluator cannot evaluate (an unsupported expression, a rule naming a
   * missing alarm); the others are still evaluated. Default: after every alarm is done, throw an
   * {@link AlarmEvaluationFailures} naming them.
   */
  readonly onAlarmError?: (alarmName: string, error: unknown) => void;
}

/** Alarms that could not be evaluated; `changes` holds the ones that were (already written). */
export class AlarmEvaluationFailures extends Error {
  constructor(
    readonly failures: readonly { readonly alarmName: string; readonly error: unknown }[],
    readonly changes: readonly StateChange[] = [],
  ) {
    super(
      `could not evaluate ${failures
        .map((f) => `${f.alarmName} (${f.error instanceof Error ? f.error.message : String(f.error)})`)
        .join('; ')}`,
    );
    this.name = 'AlarmEvaluationFailures';
  }
}

const ms = (d: Date | undefined): number => (d ? d.getTime() : 0);

async function describeAll(): Promise<{ metric: MetricAlarm[]; composite: CompositeAlarm[] }> {
  const metric: MetricAlarm[] = [];
  const composite: CompositeAlarm[] = [];
  let NextToken: string | undefined;
  do {
    const page = await clients
      .cloudwatch()
      .send(new DescribeAlarmsCommand({ AlarmTypes: ['MetricAlarm', 'CompositeAlarm'], NextToken }));
    metric.push(...(page.MetricAlarms ?? []));
    composite.push(...(page.CompositeAlarms ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return { metric, composite };
}

/** The alarm's data queries (one for a single-metric alarm) and its period. */
function queriesOf(alarm: MetricAlarm): { queries: MetricDataQuery[]; period: number; statistic?: string } {
  if (alarm.Metrics && alarm.Metrics.length > 0) {
    const stats = alarm.Metrics.filter((q) => q.MetricStat);
    const period = stats[0]?.MetricStat?.Period ?? alarm.Metrics[0]?.Period ?? 60;
    return {
      queries: stats.map((q) => ({ Id: q.Id, MetricStat: q.MetricStat, ReturnData: true })),
      period,
    };
  }
  const statistic = alarm.ExtendedStatistic ?? alarm.Statistic ?? 'Average';
  const stat = (Stat: string, Id: string): MetricDataQuery => ({
    Id,
    MetricStat: {
      Metric: { Namespace: alarm.Namespace, MetricName: alarm.MetricName, Dimensions: alarm.Dimensions },
      Period: alarm.Period,
      Stat,
      ...(alarm.Unit ? { Unit: alarm.Unit } : {}),
    },
    ReturnData: true,
  });
  const countSamples =
    alarm.EvaluateLowSampleCountPercentile === 'ignore' &&
    lowSampleCountLimit(alarm.ExtendedStatistic) !== undefined;
  return {
    queries: [stat(statistic, 'm'), ...(countSamples ? [stat('SampleCount', 'samples')] : [])],
    period: alarm.Period ?? 60,
    statistic,
  };
}

/** Decides one metric alarm's state at `now` from the emulator's data. */
export async function judgeAlarm(alarm: MetricAlarm, now: number): Promise<AlarmVerdict> {
  const { queries, period, statistic } = queriesOf(alarm);
  const range = evaluationRange(alarm.EvaluationPeriods ?? 1);
  const usesBand = (alarm.Metrics ?? []).some((q) => /ANOMALY_DETECTION_BAND/i.test(q.Expression ?? ''));
  const length = range + (usesBand ? BAND_TRAINING_PERIODS : 0);
  const periodMs = period * 1000;
  const end = Math.floor(now / periodMs) * periodMs;
  const start = end - length * periodMs;
  const timestamps = Array.from({ length }, (_, i) => start + i * periodMs);
  const env: Record<string, Series> = {};
  let NextToken: string | undefined;
  const grid = new Map<string, (number | undefined)[]>(
    queries.map((q) => [q.Id as string, Array(length).fill(undefined)]),
  );
  do {
    const page = await clients.cloudwatch().send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(start),
        EndTime: new Date(end),
        NextToken,
      }),
    );
    for (const result of page.MetricDataResults ?? []) {
      const series = grid.get(result.Id ?? '');
      (result.Timestamps ?? []).forEach((t, i) => {
        const index = Math.round((t.getTime() - start) / periodMs);
        if (series && index >= 0 && index < length) series[index] = result.Values?.[i];
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  for (const [id, series] of grid) env[id] = series;

  let values: Series;
  let band: ReturnType<typeof asBand> | undefined;
  if (alarm.Metrics && alarm.Metrics.length > 0) {
    const computed: Record<string, ReturnType<typeof evaluateExpression>> = { ...env };
    // Expressions may name expressions listed after them: evaluate each once its inputs exist.
    const pending = alarm.Metrics.filter((q) => q.Expression !== undefined && q.Id !== undefined);
    while (pending.length > 0) {
      const waiting = new Set(pending.map((q) => q.Id));
      const next = pending.findIndex((q) =>
        (q.Expression?.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []).every((id) => id === q.Id || !waiting.has(id)),
      );
      if (next < 0)
        throw new AlarmEvaluationError(
          `the expressions ${[...waiting].join(', ')} of ${alarm.AlarmName} depend on each other`,
        );
      const [q] = pending.splice(next, 1) as [(typeof pending)[number]];
      computed[q.Id as string] = evaluateExpression(q.Expression as string, computed, length);
    }
    const returned =
      alarm.Metrics.find((q) => q.ReturnData !== false && q.Id !== alarm.ThresholdMetricId) ??
      alarm.Metrics.find((q) => q.Id !== alarm.ThresholdMetricId);
    values = asSeries(computed[returned?.Id ?? ''] ?? Number.NaN, length);
    if (alarm.ThresholdMetricId) band = asBand(computed[alarm.ThresholdMetricId] ?? Number.NaN);
  } else values = env.m ?? [];
  const tail = <T>(s: readonly T[]) => s.slice(length - range);
  return judgeMetricAlarm({
    alarm,
    timestamps: tail(timestamps),
    values: tail(values),
    ...(band ? { band: { lower: tail(band.lower), upper: tail(band.upper) } } : {}),
    now,
    period,
    ...(statistic ? { statistic } : {}),
    ...(env.samples ? { sampleCounts: tail(env.samples) } : {}),
  });
}

function arnParts(arn: string): { region: string; account: string } {
  const [, , , region = 'us-east-1', account = '123456789012'] = arn.split(':');
  return { region, account };
}

/** The documented state-change event for an alarm moving from its stored state to `verdict`. */
export function stateChangeEvent(
  alarm: MetricAlarm | CompositeAlarm,
  verdict: AlarmVerdict,
  now: number,
): AlarmStateChangeEvent {
  const arn = alarm.AlarmArn ?? '';
  const configuration: Record<string, unknown> =
    'AlarmRule' in alarm && alarm.AlarmRule !== undefined
      ? { alarmRule: alarm.AlarmRule, description: alarm.AlarmDescription }
      : {
          description: alarm.AlarmDescription,
          metrics: metricsConfiguration(alarm as MetricAlarm),
        };
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    ...arnParts(arn),
    time: new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    resources: [arn],
    detail: {
      alarmName: alarm.AlarmName ?? '',
      state: {
        value: verdict.state,
        reason: verdict.reason,
        reasonData: verdict.reasonData,
        timestamp: cloudWatchTimestamp(now),
      },
      previousState: {
        value: alarm.StateValue ?? 'INSUFFICIENT_DATA',
        reason: alarm.StateReason ?? '',
        ...(alarm.StateReasonData ? { reasonData: alarm.StateReasonData } : {}),
        timestamp: cloudWatchTimestamp(ms(alarm.StateUpdatedTimestamp)),
      },
      configuration,
    },
  };
}

/** The event's `configuration.metrics`, in the event's lower-camel form. */
function metricsConfiguration(alarm: MetricAlarm): unknown[] {
  const dims = (d: { Name?: string; Value?: string }[] | undefined) =>
    Object.fromEntries((d ?? []).map((x) => [x.Name, x.Value]));
  if (alarm.Metrics && alarm.Metrics.length > 0)
    return alarm.Metrics.map((q) => ({
      id: q.Id,
      ...(q.Expression ? { expression: q.Expression } : {}),
      ...(q.MetricStat
        ? {
            metricStat: {
              metric: {
                namespace: q.MetricStat.Metric?.Namespace,
                name: q.MetricStat.Metric?.MetricName,
                dimensions: dims(q.MetricStat.Metric?.Dimensions),
              },
              period: q.MetricStat.Period,
              stat: q.MetricStat.Stat,
            },
          }
        : {}),
      returnData: q.ReturnData ?? true,
    }));
  return [
    {
      id: 'm1',
      metricStat: {
        metric: { namespace: alarm.Namespace, name: alarm.MetricName, dimensions: dims(alarm.Dimensions) },
        period: alarm.Period,
        stat: alarm.ExtendedStatistic ?? alarm.Statistic,
      },
      returnData: true,
    },
  ];
}

async function writeState(alarmName: string, verdict: AlarmVerdict): Promise<void> {
  await clients.cloudwatch().send(
    new SetAlarmStateCommand({
      AlarmName: alarmName,
      StateValue: verdict.state,
      StateReason: verdict.reason.slice(0, 1023),
      StateReasonData: verdict.reasonData,
    }),
  );
}

/**
 * Evaluates the alarms at `now` (ms): metric alarms first, then composite alarms over the states
 * just decided. Writes and returns only the changes, each with its state-change event.
 */
export async function evaluateAlarmsOnce(
  now = Date.now(),
  options: EvaluateOptions = {},
): Promise<StateChange[]> {
  const { metric, composite } = await describeAll();
  const wanted = (name: string | undefined) =>
    options.alarmNames === undefined || options.alarmNames.includes(name ?? '');
  const states = new Map<string, AlarmStateValue>();
  for (const a of [...metric, ...composite])
    states.set(a.AlarmName ?? '', (a.StateValue ?? 'INSUFFICIENT_DATA') as AlarmStateValue);
  const changes: StateChange[] = [];
  const record = async (alarm: MetricAlarm | CompositeAlarm, verdict: AlarmVerdict) => {
    const name = alarm.AlarmName ?? '';
    states.set(name, verdict.state);
    if (verdict.state === alarm.StateValue) return;
    await writeState(name, verdict);
    changes.push({
      alarmName: name,
      from: alarm.StateValue ?? 'INSUFFICIENT_DATA',
      to: verdict.state,
      reason: verdict.reason,
      event: stateChangeEvent(alarm, verdict, now),
    });
  };
  const failures: { alarmName: string; error: unknown }[] = [];
  const attempt = async (alarm: MetricAlarm | CompositeAlarm, judge: () => Promise<AlarmVerdict>) => {
    try {
      await record(alarm, await judge());
    } catch (error) {
      if (options.onAlarmError) options.onAlarmError(alarm.AlarmName ?? '', error);
      else failures.push({ alarmName: alarm.AlarmName ?? '', error });
    }
  };
  for (const alarm of metric.filter((a) => wanted(a.AlarmName)))
    await attempt(alarm, () => judgeAlarm(alarm, now));
  for (const alarm of composite.filter((a) => wanted(a.AlarmName))) {
    await attempt(alarm, async () => {
      const rule = alarm.AlarmRule ?? 'FALSE';
      const holds = evaluateAlarmRule(rule, (name) => states.get(name));
      return {
        state: holds ? 'ALARM' : 'OK',
        reason: `The alarm rule ${rule} evaluated to ${holds ? 'TRUE' : 'FALSE'}.`,
        reasonData: JSON.stringify({
          triggeringAlarms: [...metric, ...composite]
            .filter((a) => rule.includes(a.AlarmName ?? '\u0000'))
            .map((a) => ({ arn: a.AlarmArn, state: { value: states.get(a.AlarmName ?? '') } })),
        }),
      };
    });
  }
  if (failures.length > 0) throw new AlarmEvaluationFailures(failures, changes);
  return changes;
}

/**
 * Runs {@link evaluateAlarmsOnce} every `intervalMs` and hands each state-change event to `deliver`
 * (default: the default bus's rules through local/event-router.ts, SQS targets only). Returns a
 * stop function that waits for a running evaluation. Errors go to `onError` (default: stderr).
 */
export function startAlarmEvaluator(options: {
  readonly intervalMs: number;
  readonly deliver?: (event: AlarmStateChangeEvent) => Promise<unknown>;
  readonly onError?: (error: unknown) => void;
  /** Only these alarms; default every alarm the emulator holds. */
  readonly alarmNames?: readonly string[];
}): () => Promise<void> {
  const deliver = options.deliver ?? ((event) => routeEvent({ ...event }));
  const onError = options.onError ?? ((e) => process.stderr.write(`alarm evaluator: ${String(e)}\n`));
  let running: Promise<void> = Promise.resolve();
  // A state is written before its event is delivered, so neither a failing alarm nor a failing
  // delivery may stop the others: each is reported to onError and the rest go on.
  const tick = () => {
    running = running.then(async () => {
      let changes: StateChange[] = [];
      try {
        changes = await evaluateAlarmsOnce(Date.now(), {
          ...(options.alarmNames ? { alarmNames: options.alarmNames } : {}),
          onAlarmError: (alarmName, error) => onError(new AlarmEvaluationFailures([{ alarmName, error }])),
        });
      } catch (error) {
        onError(error);
      }
      for (const change of changes) {
        try {
          await deliver(change.event);
        } catch (error) {
          onError(error);
        }
      }
    });
  };
  const timer = setInterval(tick, options.intervalMs);
  tick();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

// `tsx local/alarm-evaluator.ts --once`: one evaluation against AWS_ENDPOINT_URL, changes printed
// and routed to the default bus's rules (SQS targets); alarms it cannot evaluate go to stderr.
if (process.argv[1]?.endsWith('alarm-evaluator.ts') && process.argv.includes('--once')) {
  const changes = await evaluateAlarmsOnce(Date.now(), {
    onAlarmError: (alarmName, error) => {
      process.stderr.write(`${alarmName}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  });
  for (const change of changes) {
    await routeEvent({ ...change.event });
    process.stdout.write(`${change.alarmName}: ${change.from} -> ${change.to} (${change.reason})\n`);
  }
}
