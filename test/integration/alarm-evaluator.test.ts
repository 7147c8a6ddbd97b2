/**
 * The local alarm evaluator against the emulator: alarms and metric data go in through the real
 * APIs (PutMetricAlarm, PutCompositeAlarm, PutMetricData), the evaluator decides and writes the
 * states, DescribeAlarms reads them back. Every alarm here has its own namespace and name, and each
 * evaluation names its alarms, so parallel test files do not meet.
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeAlarmsCommand,
  type MetricDatum,
  PutCompositeAlarmCommand,
  PutMetricAlarmCommand,
  type PutMetricAlarmCommandInput,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { describe, expect, it } from 'vitest';
import { clients } from '../../lambdas/shared/clients.js';
import {
  AlarmEvaluationFailures,
  evaluateAlarmsOnce,
  startAlarmEvaluator,
} from '../../local/alarm-evaluator.js';

const cloudwatch = () => clients.cloudwatch();
const MINUTE = 60_000;
/** A recent minute boundary plus 10 s: periods ending at it are complete. */
const NOW = Math.floor(Date.now() / MINUTE) * MINUTE + 10_000;
/** The start of the period `back` periods before the last complete one (0 = the last complete). */
const periodStart = (back: number) => Math.floor(NOW / MINUTE) * MINUTE - (back + 1) * MINUTE;

function fresh() {
  const namespace = `AlarmEval/${randomUUID()}`;
  const name = (what: string) => `${namespace}/${what}`;
  return { namespace, name };
}

async function putData(namespace: string, data: MetricDatum[]) {
  await cloudwatch().send(new PutMetricDataCommand({ Namespace: namespace, MetricData: data }));
}

const datum = (metric: string, back: number, values: number[]): MetricDatum => ({
  MetricName: metric,
  Dimensions: [{ Name: 'model', Value: 'churn' }],
  Timestamp: new Date(periodStart(back) + 5_000),
  Values: values,
  Counts: values.map(() => 1),
});

async function putAlarm(input: PutMetricAlarmCommandInput) {
  await cloudwatch().send(new PutMetricAlarmCommand(input));
}

async function describe1(name: string) {
  const { MetricAlarms = [], CompositeAlarms = [] } = await cloudwatch().send(
    new DescribeAlarmsCommand({ AlarmNames: [name], AlarmTypes: ['MetricAlarm', 'CompositeAlarm'] }),
  );
  const found = MetricAlarms[0] ?? CompositeAlarms[0];
  if (found === undefined) throw new Error(`no alarm ${name}`);
  return found;
}

const latency = (namespace: string, name: string, extra: Partial<PutMetricAlarmCommandInput> = {}) =>
  putAlarm({
    AlarmName: name,
    Namespace: namespace,
    MetricName: 'Latency',
    Dimensions: [{ Name: 'model', Value: 'churn' }],
    Statistic: 'Average',
    Period: 60,
    EvaluationPeriods: 3,
    DatapointsToAlarm: 2,
    Threshold: 5,
    ComparisonOperator: 'GreaterThanThreshold',
    ...extra,
  });

describe('evaluateAlarmsOnce against the emulator', () => {
  it('moves a 2-of-3 alarm to ALARM with a CloudWatch reason, then writes and emits nothing when re-run', async () => {
    const { namespace, name } = fresh();
    const alarm = name('latency');
    await latency(namespace, alarm);
    await putData(namespace, [
      datum('Latency', 2, [9]),
      datum('Latency', 1, [1]),
      datum('Latency', 0, [7, 9]),
    ]);

    const changes = await evaluateAlarmsOnce(NOW, { alarmNames: [alarm] });

    expect(changes.map((c) => [c.alarmName, c.from, c.to])).toEqual([[alarm, 'OK', 'ALARM']]);
    const stored = await describe1(alarm);
    expect(stored.StateValue).toBe('ALARM');
    expect(stored.StateReason).toMatch(
      /^Threshold Crossed: 2 out of the last 3 datapoints \[9 \(.+\), 1 \(.+\), 8 \(.+\)\] were greater than the threshold \(5\.0\)/,
    );
    expect(JSON.parse(stored.StateReasonData ?? '{}')).toMatchObject({
      statistic: 'Average',
      period: 60,
      recentDatapoints: [9, 1, 8],
      threshold: 5,
    });

    const again = await evaluateAlarmsOnce(NOW + 5_000, { alarmNames: [alarm] });
    expect(again).toEqual([]);
    expect((await describe1(alarm)).StateUpdatedTimestamp).toEqual(stored.StateUpdatedTimestamp);
  });

  it("evaluates a percentile statistic (p95 over the period's values), not the average", async () => {
    const { namespace, name } = fresh();
    const values = Array.from({ length: 100 }, (_, i) => i + 1); // p95 by nearest rank: 95; average 50.5
    await putData(namespace, [datum('Latency', 0, values)]);
    const p95Above94 = name('p95>94');
    const p95Above95 = name('p95>95');
    const one = {
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Statistic: undefined,
      ExtendedStatistic: 'p95',
    };
    await latency(namespace, p95Above94, { ...one, Threshold: 94 });
    await latency(namespace, p95Above95, { ...one, Threshold: 95 });
    // 100 samples are fewer than p95's 10 / (1 − 0.95) = 200: with "ignore" the state stays.
    const lowSamples = name('p95>94-ignoring-low-samples');
    await latency(namespace, lowSamples, {
      ...one,
      Threshold: 94,
      EvaluateLowSampleCountPercentile: 'ignore',
    });

    const changes = await evaluateAlarmsOnce(NOW, { alarmNames: [p95Above94, p95Above95, lowSamples] });

    expect(changes.map((c) => [c.alarmName, c.to])).toEqual([[p95Above94, 'ALARM']]);
    expect(JSON.parse((await describe1(p95Above94)).StateReasonData ?? '{}')).toMatchObject({
      statistic: 'p95',
      recentDatapoints: [95],
    });
  });

  it('evaluates a metric math alarm (error rate with FILL) and a composite alarm over the new states', async () => {
    const { namespace, name } = fresh();
    const rate = name('error-rate');
    const composite = name('composite');
    await putData(namespace, [
      datum('Requests', 1, [100]),
      datum('Requests', 0, [100]),
      datum('Errors', 0, [3]), // no Errors datapoint in the older period: FILL(errors, 0)
    ]);
    const stat = (metric: string) => ({
      Metric: { Namespace: namespace, MetricName: metric, Dimensions: [{ Name: 'model', Value: 'churn' }] },
      Period: 60,
      Stat: 'Sum',
    });
    await putAlarm({
      AlarmName: rate,
      Metrics: [
        // Listed before what it reads, as CloudWatch allows.
        { Id: 'rate', Expression: '100 * filled / requests', ReturnData: true },
        { Id: 'filled', Expression: 'FILL(errors, 0)', ReturnData: false },
        { Id: 'errors', MetricStat: stat('Errors'), ReturnData: false },
        { Id: 'requests', MetricStat: stat('Requests'), ReturnData: false },
      ],
      EvaluationPeriods: 2,
      DatapointsToAlarm: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    await cloudwatch().send(
      new PutCompositeAlarmCommand({ AlarmName: composite, AlarmRule: `ALARM("${rate}") AND NOT FALSE` }),
    );

    const changes = await evaluateAlarmsOnce(NOW, { alarmNames: [rate, composite] });

    expect(changes.map((c) => [c.alarmName, c.to])).toEqual([
      [rate, 'ALARM'],
      [composite, 'ALARM'],
    ]);
    expect(JSON.parse((await describe1(rate)).StateReasonData ?? '{}').recentDatapoints).toEqual([0, 3]);
    expect((await describe1(composite)).StateValue).toBe('ALARM');
  });

  it('alarms when throughput drops below its anomaly-detection band (the local trailing model)', async () => {
    const { namespace, name } = fresh();
    const alarm = name('throughput-band');
    const history = Array.from({ length: 30 }, (_, i) => datum('Requests', i + 1, [100 + ((i % 5) - 2)]));
    await putData(namespace, [...history, datum('Requests', 0, [40])]);
    await putAlarm({
      AlarmName: alarm,
      Metrics: [
        {
          Id: 'm1',
          MetricStat: {
            Metric: {
              Namespace: namespace,
              MetricName: 'Requests',
              Dimensions: [{ Name: 'model', Value: 'churn' }],
            },
            Period: 60,
            Stat: 'Sum',
          },
          ReturnData: true,
        },
        { Id: 'ad1', Expression: 'ANOMALY_DETECTION_BAND(m1, 2)', ReturnData: true },
      ],
      ThresholdMetricId: 'ad1',
      EvaluationPeriods: 1,
      ComparisonOperator: 'LessThanLowerThreshold',
    });

    const changes = await evaluateAlarmsOnce(NOW, { alarmNames: [alarm] });

    expect(changes.map((c) => [c.alarmName, c.to])).toEqual([[alarm, 'ALARM']]);
    const data = JSON.parse((await describe1(alarm)).StateReasonData ?? '{}');
    expect(data.recentDatapoints).toEqual([40]);
    // 30 values 98..102 evenly: mean 100, sample sd √(60/29) ≈ 1.438; lower = mean − 2 sd.
    expect(data.recentLowerThresholds[0]).toBeCloseTo(100 - 2 * Math.sqrt(60 / 29), 9);
  });

  it('goes to INSUFFICIENT_DATA when every datapoint is missing and missing data is "missing"', async () => {
    const { namespace, name } = fresh();
    const alarm = name('silent');
    await latency(namespace, alarm);

    const [change] = await evaluateAlarmsOnce(NOW, { alarmNames: [alarm] });

    expect(change).toMatchObject({
      to: 'INSUFFICIENT_DATA',
      reason: 'Insufficient Data: 3 datapoints were unknown.',
    });
    expect((await describe1(alarm)).StateValue).toBe('INSUFFICIENT_DATA');
  });

  it('emits the documented state-change event for a change', async () => {
    const { namespace, name } = fresh();
    const alarm = name('event');
    await latency(namespace, alarm, { EvaluationPeriods: 1, DatapointsToAlarm: 1 });
    await putData(namespace, [datum('Latency', 0, [50])]);
    const before = await describe1(alarm);

    const [change] = await evaluateAlarmsOnce(NOW, { alarmNames: [alarm] });

    expect(change?.event).toMatchObject({
      version: '0',
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      region: 'us-east-1',
      resources: [before.AlarmArn],
      detail: {
        alarmName: alarm,
        state: { value: 'ALARM', timestamp: new Date(NOW).toISOString().replace('Z', '+0000') },
        previousState: { value: 'OK', reason: before.StateReason },
        configuration: {
          metrics: [
            {
              metricStat: {
                metric: { namespace, name: 'Latency', dimensions: { model: 'churn' } },
                period: 60,
                stat: 'Average',
              },
            },
          ],
        },
      },
    });
    expect(Date.parse(change?.event.detail.previousState.timestamp ?? '')).toBe(
      before.StateUpdatedTimestamp?.getTime(),
    );
  });
});

describe('startAlarmEvaluator', () => {
  it('evaluates at once and on its interval, hands each change to deliver, and stops', async () => {
    const { namespace, name } = fresh();
    const alarm = name('periodic');
    await latency(namespace, alarm, { EvaluationPeriods: 1, DatapointsToAlarm: 1 });
    await putData(namespace, [datum('Latency', 0, [50])]);
    const delivered: string[] = [];
    const errors: unknown[] = [];

    const stop = startAlarmEvaluator({
      intervalMs: 200,
      deliver: async (event) => {
        if (event.detail.alarmName === alarm) delivered.push(event.detail.state.value);
      },
      onError: (e) => errors.push(e),
      alarmNames: [alarm],
    });
    await new Promise((resolve) => setTimeout(resolve, 700));
    await stop();

    expect(errors).toEqual([]);
    expect(delivered).toEqual(['ALARM']);
  });

  it('reports an alarm it cannot evaluate to onError and still evaluates and delivers the others', async () => {
    const { namespace, name } = fresh();
    const good = name('good');
    const bad = name('unsupported');
    await latency(namespace, good, { EvaluationPeriods: 1, DatapointsToAlarm: 1 });
    await putData(namespace, [datum('Latency', 0, [50])]);
    await putAlarm({
      AlarmName: bad,
      Metrics: [
        {
          Id: 'm1',
          MetricStat: { Metric: { Namespace: namespace, MetricName: 'Latency' }, Period: 60, Stat: 'Sum' },
          ReturnData: false,
        },
        { Id: 'r', Expression: 'RATE(m1)', ReturnData: true },
      ],
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    });
    const delivered: string[] = [];
    const errors: unknown[] = [];

    const stop = startAlarmEvaluator({
      intervalMs: 60_000,
      deliver: async (event) => {
        delivered.push(event.detail.alarmName);
        throw new Error('the target is down'); // a failing delivery does not stop the evaluator
      },
      onError: (e) => errors.push(e),
      alarmNames: [good, bad],
    });
    await stop();

    expect(delivered).toEqual([good]);
    expect(errors.map((e) => (e instanceof Error ? e.message : String(e)))).toEqual([
      expect.stringMatching(new RegExp(`${bad}.*RATE`)),
      'the target is down',
    ]);
  });

  it('evaluateAlarmsOnce rejects with the failures and the changes it did write', async () => {
    const { namespace, name } = fresh();
    const good = name('good');
    await latency(namespace, good, { EvaluationPeriods: 1, DatapointsToAlarm: 1 });
    await putData(namespace, [datum('Latency', 0, [50])]);
    const composite = name('dangling');
    await cloudwatch().send(
      new PutCompositeAlarmCommand({ AlarmName: composite, AlarmRule: 'ALARM("no-such-alarm")' }),
    );

    const failure = await evaluateAlarmsOnce(NOW, { alarmNames: [good, composite] }).catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(AlarmEvaluationFailures);
    expect((failure as AlarmEvaluationFailures).failures.map((f) => f.alarmName)).toEqual([composite]);
    expect((failure as AlarmEvaluationFailures).changes.map((c) => [c.alarmName, c.to])).toEqual([
      [good, 'ALARM'],
    ]);
  });
});
