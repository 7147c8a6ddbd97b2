/**
 * How a CloudWatch alarm's state follows from its datapoints, as plain functions (no AWS SDK):
 * comparisons (static thresholds and anomaly bands), M-out-of-N with the four missing-data
 * treatments, percentile low-sample handling, composite alarm rules, reasons; metric math is in
 * ./metric-math.ts. local/alarm-evaluator.ts reads the
 * alarms and metric data from the emulator and writes the states these functions decide.
 *
 * Sources (CloudWatch User Guide): "Evaluating an alarm" (Period, EvaluationPeriods,
 * DatapointsToAlarm: M out of the last N datapoints, not necessarily consecutive); "Configuring how
 * CloudWatch alarms treat missing data" with its two tables (3 of 3 and 2 of 3 over an evaluation
 * range of 5 datapoints), which test/unit/alarm-evaluation.test.ts reproduces row by row; "Metric
 * math syntax and functions"; "Composite alarms" (AlarmRule syntax).
 *
 * Choices where CloudWatch publishes no rule:
 * - The evaluation range (how many periods CloudWatch retrieves) "depends on the period and the
 *   resolution"; the documented example retrieves 5 for N = 3. We use N + 2.
 * - With fewer real datapoints than N and treatment `missing` or `ignore`, the documented rows fit
 *   this rule, which we follow: M breaching real datapoints → ALARM; any non-breaching real
 *   datapoint → OK; only breaching ones (fewer than M) → ALARM if the newest period is missing
 *   (the metric stopped after breaching, the table's `X - - - -`), else INSUFFICIENT_DATA for
 *   `missing` (`- - - - X`); `ignore` keeps the current state in that case and when all are missing.
 */
import type { MetricAlarm } from '@aws-sdk/client-cloudwatch';
import type { Band, Series } from './metric-math.js';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'missing' | 'notBreaching' | 'breaching' | 'ignore';

export class AlarmEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AlarmEvaluationError';
  }
}

const TREATMENTS: readonly TreatMissingData[] = ['missing', 'notBreaching', 'breaching', 'ignore'];

/** The alarm's TreatMissingData (`missing` when absent, as CloudWatch defaults). */
export function treatmentOf(value: string | undefined): TreatMissingData {
  if (value === undefined) return 'missing';
  if (!(TREATMENTS as readonly string[]).includes(value))
    throw new AlarmEvaluationError(`TreatMissingData must be one of ${TREATMENTS.join(', ')}; got ${value}`);
  return value as TreatMissingData;
}

/** Whether `value` breaches: a static threshold, or a band for the three band operators. */
export function breaches(
  operator: string,
  value: number,
  threshold: number | { lower: number; upper: number },
) {
  const band = typeof threshold === 'number' ? undefined : threshold;
  const t = typeof threshold === 'number' ? threshold : Number.NaN;
  switch (operator) {
    case 'GreaterThanOrEqualToThreshold':
      return value >= t;
    case 'GreaterThanThreshold':
      return value > t;
    case 'LessThanThreshold':
      return value < t;
    case 'LessThanOrEqualToThreshold':
      return value <= t;
    case 'LessThanLowerOrGreaterThanUpperThreshold':
      return band !== undefined && (value < band.lower || value > band.upper);
    case 'LessThanLowerThreshold':
      return band !== undefined && value < band.lower;
    case 'GreaterThanUpperThreshold':
      return band !== undefined && value > band.upper;
    default:
      throw new AlarmEvaluationError(`ComparisonOperator ${operator} is not one CloudWatch defines`);
  }
}

export const isBandOperator = (operator: string): boolean =>
  [
    'LessThanLowerOrGreaterThanUpperThreshold',
    'LessThanLowerThreshold',
    'GreaterThanUpperThreshold',
  ].includes(operator);

/** The number of periods CloudWatch retrieves for N evaluation periods (our model: N + 2). */
export const evaluationRange = (evaluationPeriods: number): number => evaluationPeriods + 2;

export interface Decision {
  readonly state: AlarmStateValue;
  /** Indices (into the range) of the real datapoints the decision used, oldest first. */
  readonly evaluated: readonly number[];
  /** How many missing datapoints were filled in by the treatment. */
  readonly filled: number;
  readonly breachingCount: number;
}

/**
 * The state from the evaluation range's datapoints (oldest first: true breaching, false not,
 * undefined missing), following "How alarm state is evaluated when data is missing".
 */
export function decideState(input: {
  readonly points: readonly (boolean | undefined)[];
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: TreatMissingData;
  readonly current: AlarmStateValue;
}): Decision {
  const { points, evaluationPeriods: n, datapointsToAlarm: m, treatMissingData: treat, current } = input;
  if (!(Number.isInteger(n) && n >= 1))
    throw new AlarmEvaluationError('EvaluationPeriods must be an integer ≥ 1');
  if (!(Number.isInteger(m) && m >= 1 && m <= n))
    throw new AlarmEvaluationError('DatapointsToAlarm must be an integer from 1 to EvaluationPeriods');
  const real = points.flatMap((p, i) => (p === undefined ? [] : [i]));
  if (real.length >= n) {
    // Enough real datapoints: the most recent N of them; the treatment is not needed.
    const evaluated = real.slice(-n);
    const breachingCount = evaluated.filter((i) => points[i]).length;
    return { state: breachingCount >= m ? 'ALARM' : 'OK', evaluated, filled: 0, breachingCount };
  }
  const breachingReal = real.filter((i) => points[i]).length;
  const fill = n - real.length;
  if (treat === 'breaching' || treat === 'notBreaching') {
    // Every real datapoint in the range counts, and missing ones fill up to N.
    const breachingCount = breachingReal + (treat === 'breaching' ? fill : 0);
    return { state: breachingCount >= m ? 'ALARM' : 'OK', evaluated: real, filled: fill, breachingCount };
  }
  const keep = treat === 'ignore' ? current : 'INSUFFICIENT_DATA';
  const decided = (state: AlarmStateValue): Decision => ({
    state,
    evaluated: real,
    filled: 0,
    breachingCount: breachingReal,
  });
  if (real.length === 0) return decided(keep);
  if (breachingReal >= m) return decided('ALARM');
  if (breachingReal < real.length) return decided('OK');
  const newestMissing = points[points.length - 1] === undefined;
  return decided(treat === 'missing' && newestMissing ? 'ALARM' : keep);
}

// ---------------------------------------------------------------- composite rules

/**
 * Whether a composite alarm's AlarmRule holds: ALARM(x), OK(x), INSUFFICIENT_DATA(x) (x an alarm
 * name, quoted or not, or its ARN), AND, OR, NOT, parentheses, TRUE, FALSE. `stateOf` answers an
 * alarm's current state; an alarm it does not know is an error, as CloudWatch refuses such a rule.
 */
export function evaluateAlarmRule(
  rule: string,
  stateOf: (alarm: string) => AlarmStateValue | undefined,
): boolean {
  const re =
    /\s*(?:(ALARM|OK|INSUFFICIENT_DATA)\s*\(\s*(?:"((?:[^"\\]|\\.)*)"|([^()"\s][^()]*?))\s*\)|(AND|OR|NOT|TRUE|FALSE)\b|([()]))/y;
  const tokens: { kind: string; value: string }[] = [];
  let at = 0;
  while (at < rule.length && !/^\s*$/.test(rule.slice(at))) {
    re.lastIndex = at;
    const m = re.exec(rule);
    if (m === null) throw new AlarmEvaluationError(`cannot read the alarm rule "${rule}" at ${at}`);
    at = re.lastIndex;
    if (m[1] !== undefined) {
      const ref = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
      const name = ref.startsWith('arn:') ? ref.slice(ref.indexOf(':alarm:') + ':alarm:'.length) : ref;
      const state = stateOf(name);
      if (state === undefined)
        throw new AlarmEvaluationError(`the alarm rule names ${name}, which does not exist`);
      tokens.push({ kind: 'bool', value: String(state === m[1]) });
    } else tokens.push({ kind: 'op', value: (m[4] ?? m[5]) as string });
  }
  let i = 0;
  const isTok = (v: string) => tokens[i]?.kind === 'op' && tokens[i]?.value === v;
  const parseOr = (): boolean => {
    let v = parseAnd();
    while (isTok('OR')) {
      i++;
      v = parseAnd() || v;
    }
    return v;
  };
  const parseAnd = (): boolean => {
    let v = parseNot();
    while (isTok('AND')) {
      i++;
      v = parseNot() && v;
    }
    return v;
  };
  const parseNot = (): boolean => {
    if (isTok('NOT')) {
      i++;
      return !parseNot();
    }
    const t = tokens[i++];
    if (t === undefined) throw new AlarmEvaluationError(`the alarm rule "${rule}" ends early`);
    if (t.kind === 'bool') return t.value === 'true';
    if (t.value === 'TRUE' || t.value === 'FALSE') return t.value === 'TRUE';
    if (t.value === '(') {
      const v = parseOr();
      if (!isTok(')')) throw new AlarmEvaluationError(`the alarm rule "${rule}" lacks a ")"`);
      i++;
      return v;
    }
    throw new AlarmEvaluationError(`unexpected ${t.value} in the alarm rule "${rule}"`);
  };
  const result = parseOr();
  if (i !== tokens.length) throw new AlarmEvaluationError(`unexpected text in the alarm rule "${rule}"`);
  return result;
}

// ---------------------------------------------------------------- a whole metric alarm

/** The fields of an alarm (DescribeAlarms' MetricAlarm) the evaluation reads. */
export type AlarmDefinition = Pick<
  MetricAlarm,
  | 'AlarmName'
  | 'StateValue'
  | 'Statistic'
  | 'ExtendedStatistic'
  | 'Period'
  | 'EvaluationPeriods'
  | 'DatapointsToAlarm'
  | 'Threshold'
  | 'ComparisonOperator'
  | 'TreatMissingData'
  | 'Metrics'
  | 'ThresholdMetricId'
  | 'EvaluateLowSampleCountPercentile'
>;

/**
 * The sample count below which a percentile is "not statistically significant" (User Guide,
 * "Percentile-based alarms and low data samples"): 10 / (1 − p) for p in [0.5, 1), 10 / p for p in
 * (0, 0.5); undefined for a statistic that is not a percentile.
 */
export function lowSampleCountLimit(statistic: string | undefined): number | undefined {
  const match = /^p(\d{1,3}(?:\.\d+)?)$/.exec(statistic ?? '');
  if (match === null) return undefined;
  const p = Number(match[1]) / 100;
  return p >= 0.5 ? 10 / (1 - p) : 10 / p;
}

export interface AlarmVerdict {
  readonly state: AlarmStateValue;
  readonly reason: string;
  /** CloudWatch's reasonData shape: version, queryDate, startDate, statistic, period, recentDatapoints, threshold. */
  readonly reasonData: string;
}

/** CloudWatch's timestamp form in alarm events and reason data: `2019-10-02T17:04:40.989+0000`. */
export const cloudWatchTimestamp = (ms: number): string => new Date(ms).toISOString().replace('Z', '+0000');

const reasonDate = (ms: number): string => {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCFullYear() % 100)} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
};

const PHRASE: Record<string, string> = {
  GreaterThanOrEqualToThreshold: 'greater than or equal to the threshold',
  GreaterThanThreshold: 'greater than the threshold',
  LessThanThreshold: 'less than the threshold',
  LessThanOrEqualToThreshold: 'less than or equal to the threshold',
  LessThanLowerOrGreaterThanUpperThreshold: 'outside the band',
  LessThanLowerThreshold: 'less than the lower threshold',
  GreaterThanUpperThreshold: 'greater than the upper threshold',
};

const formatNumber = (v: number): string => (Number.isInteger(v) ? v.toFixed(1) : String(v));

/**
 * Decides a metric alarm's state from its values over the evaluation range (oldest first,
 * `timestamps` the periods' starts in ms) and, for band operators, the band; writes the reason and
 * reason data as CloudWatch does ("Threshold Crossed: …", "Insufficient Data: …").
 */
export function judgeMetricAlarm(input: {
  readonly alarm: AlarmDefinition;
  readonly timestamps: readonly number[];
  readonly values: Series;
  readonly band?: Band;
  readonly now: number;
  readonly period: number;
  readonly statistic?: string;
  /** Per period, the number of samples (read when a percentile alarm ignores low sample counts). */
  readonly sampleCounts?: Series;
}): AlarmVerdict {
  const { alarm, timestamps, values, band, now } = input;
  const n = alarm.EvaluationPeriods ?? 1;
  const m = alarm.DatapointsToAlarm ?? n;
  const operator = alarm.ComparisonOperator ?? '';
  if (isBandOperator(operator) !== (band !== undefined))
    throw new AlarmEvaluationError(
      `${operator} needs ${band ? 'a static threshold' : 'ThresholdMetricId (a band)'}`,
    );
  const present = values.map((v, i) => {
    if (v === undefined) return undefined;
    if (band === undefined) return v;
    return band.lower[i] === undefined || band.upper[i] === undefined ? undefined : v;
  });
  const points = present.map((v, i) =>
    v === undefined
      ? undefined
      : breaches(
          operator,
          v,
          band
            ? { lower: band.lower[i] as number, upper: band.upper[i] as number }
            : (alarm.Threshold ?? Number.NaN),
        ),
  );
  const current = (alarm.StateValue ?? 'INSUFFICIENT_DATA') as AlarmStateValue;
  const limit = lowSampleCountLimit(alarm.ExtendedStatistic);
  if (alarm.EvaluateLowSampleCountPercentile === 'ignore' && limit !== undefined && input.sampleCounts) {
    // "ignore": the state does not change while a period of the evaluation has too few samples.
    const low = input.sampleCounts.slice(-n).filter((c) => c !== undefined && c < limit).length;
    if (low > 0)
      return {
        state: current,
        reason: `Low sample count: ${low} of the last ${n} periods had fewer than ${Math.ceil(limit)} samples for ${alarm.ExtendedStatistic}; the state is kept (EvaluateLowSampleCountPercentile ignore).`,
        reasonData: JSON.stringify({
          version: '1.0',
          queryDate: cloudWatchTimestamp(now),
          sampleCounts: input.sampleCounts.slice(-n),
        }),
      };
  }
  const decision = decideState({
    points,
    evaluationPeriods: n,
    datapointsToAlarm: m,
    treatMissingData: treatmentOf(alarm.TreatMissingData),
    current,
  });
  const evaluated = decision.evaluated;
  const recent = evaluated.map((i) => present[i] as number);
  const startMs =
    evaluated.length > 0 ? (timestamps[evaluated[0] as number] as number) : (timestamps[0] ?? now);
  const reasonData = JSON.stringify({
    version: '1.0',
    queryDate: cloudWatchTimestamp(now),
    startDate: cloudWatchTimestamp(startMs),
    ...(input.statistic ? { statistic: input.statistic } : {}),
    period: input.period,
    recentDatapoints: recent,
    ...(band
      ? {
          recentLowerThresholds: evaluated.map((i) => band.lower[i]),
          recentUpperThresholds: evaluated.map((i) => band.upper[i]),
        }
      : { threshold: alarm.Threshold }),
    evaluatedDatapoints: evaluated.map((i) => ({
      timestamp: cloudWatchTimestamp(timestamps[i] as number),
      value: present[i],
    })),
  });
  if (decision.state === 'INSUFFICIENT_DATA' || (evaluated.length === 0 && decision.filled === 0)) {
    const unknown = points.slice(-n).filter((p) => p === undefined).length || n;
    return {
      state: decision.state,
      reason: `Insufficient Data: ${unknown} datapoint${unknown === 1 ? ' was' : 's were'} unknown.`,
      reasonData,
    };
  }
  const list = evaluated.map((i) => `${present[i]} (${reasonDate(timestamps[i] as number)})`).join(', ');
  const alarming = decision.state === 'ALARM';
  const shown = alarming
    ? decision.breachingCount
    : evaluated.length + decision.filled - decision.breachingCount;
  const total = evaluated.length + decision.filled;
  const verb = shown === 1 ? 'was' : 'were';
  const against = band ? '' : ` (${formatNumber(alarm.Threshold ?? Number.NaN)})`;
  const transition = alarming ? 'OK -> ALARM' : 'ALARM -> OK';
  const minimum = alarming ? m : total - m + 1;
  return {
    state: decision.state,
    reason:
      `Threshold Crossed: ${shown} out of the last ${total} datapoints${list ? ` [${list}]` : ''}` +
      `${decision.filled > 0 ? ` (${decision.filled} missing, treated as ${input.alarm.TreatMissingData})` : ''}` +
      ` ${verb} ${alarming ? '' : 'not '}${PHRASE[operator]}${against}` +
      ` (minimum ${minimum} datapoint${minimum === 1 ? '' : 's'} for ${transition} transition).`,
    reasonData,
  };
}
