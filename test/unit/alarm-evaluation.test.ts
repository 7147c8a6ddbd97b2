/**
 * The alarm state logic against CloudWatch's documented semantics (CloudWatch User Guide):
 * "Evaluating an alarm" (M out of N), "Configuring how CloudWatch alarms treat missing data" (the
 * two tables, reproduced row by row), the comparison operators of PutMetricAlarm, "Metric math
 * syntax and functions", and composite alarms' AlarmRule.
 */
import { describe, expect, it } from 'vitest';
import {
  type AlarmStateValue,
  breaches,
  decideState,
  evaluateAlarmRule,
  judgeMetricAlarm,
  lowSampleCountLimit,
  type TreatMissingData,
} from '../../local/alarm-evaluation.js';
import { anomalyBand, evaluateExpression } from '../../local/metric-math.js';

/** `0` not breaching, `X` breaching, `-` missing; oldest first, as the tables write them. */
const parse = (row: string) => row.split(' ').map((c) => (c === 'X' ? true : c === '0' ? false : undefined));

const RETAIN = 'retain';
type Expected = AlarmStateValue | typeof RETAIN;

// [data points, MISSING, IGNORE, BREACHING, NOT BREACHING]
const THREE_OF_THREE: readonly [string, Expected, Expected, Expected, Expected][] = [
  ['0 - X - X', 'OK', 'OK', 'OK', 'OK'],
  ['0 - - - -', 'OK', 'OK', 'OK', 'OK'],
  ['- - - - -', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
  ['0 X X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
  ['- - - - X', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
  ['X - - - -', 'ALARM', RETAIN, 'ALARM', 'OK'],
];
const TWO_OF_THREE: readonly [string, Expected, Expected, Expected, Expected][] = [
  ['0 - X - X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
  ['0 0 X 0 X', 'ALARM', 'ALARM', 'ALARM', 'ALARM'],
  ['0 - X - -', 'OK', 'OK', 'ALARM', 'OK'],
  ['- - - - 0', 'OK', 'OK', 'ALARM', 'OK'],
  ['- - - - X', 'INSUFFICIENT_DATA', RETAIN, 'ALARM', 'OK'],
];
const TREATMENTS: readonly TreatMissingData[] = ['missing', 'ignore', 'breaching', 'notBreaching'];

function documentedCases(table: typeof THREE_OF_THREE, m: number) {
  return table.flatMap(([row, ...states]) =>
    TREATMENTS.map((treat, i) => ({ row, treat, m, expected: states[i] as Expected })),
  );
}

describe('M out of N with missing data: the documented tables', () => {
  it.each([...documentedCases(THREE_OF_THREE, 3), ...documentedCases(TWO_OF_THREE, 2)])(
    '$m of 3, $row, treat missing as $treat → $expected',
    ({ row, treat, m, expected }) => {
      // Retaining is told apart from deciding by starting from a state no row decides to.
      for (const current of ['OK', 'ALARM', 'INSUFFICIENT_DATA'] as const) {
        const { state } = decideState({
          points: parse(row),
          evaluationPeriods: 3,
          datapointsToAlarm: m,
          treatMissingData: treat,
          current,
        });
        expect(state).toBe(expected === RETAIN ? current : expected);
      }
    },
  );
});

describe('M out of N with every datapoint present', () => {
  const decide = (row: string, n: number, m: number) =>
    decideState({
      points: parse(row),
      evaluationPeriods: n,
      datapointsToAlarm: m,
      treatMissingData: 'missing',
      current: 'OK',
    });

  it('counts breaching datapoints that are not consecutive', () => {
    expect(decide('0 0 X 0 X', 3, 2).state).toBe('ALARM');
    expect(decide('0 0 X 0 0', 3, 2).state).toBe('OK');
  });

  it('reads only the most recent N datapoints: older breaches do not count', () => {
    expect(decide('0 0 X 0 0', 3, 1).state).toBe('ALARM');
    expect(decide('X X 0 0 0', 3, 1).state).toBe('OK');
  });

  it("N of N needs every one of the last N breaching (the guide's figure: back to OK when one dips)", () => {
    expect(decide('0 X X X', 3, 3).state).toBe('ALARM');
    expect(decide('X X X 0', 3, 3).state).toBe('OK');
  });

  it('refuses DatapointsToAlarm above EvaluationPeriods, naming the field', () => {
    expect(() => decide('X X X', 2, 3)).toThrow(/DatapointsToAlarm/);
  });
});

describe('comparison operators', () => {
  it.each([
    ['GreaterThanOrEqualToThreshold', 5, true],
    ['GreaterThanThreshold', 5, false],
    ['GreaterThanThreshold', 5.0001, true],
    ['LessThanThreshold', 5, false],
    ['LessThanThreshold', 4.9, true],
    ['LessThanOrEqualToThreshold', 5, true],
    ['LessThanOrEqualToThreshold', 5.1, false],
  ] as const)('%s with value %d against 5 → %s', (operator, value, expected) => {
    expect(breaches(operator, value, 5)).toBe(expected);
  });

  it.each([
    ['LessThanLowerOrGreaterThanUpperThreshold', 0.5, true],
    ['LessThanLowerOrGreaterThanUpperThreshold', 3.5, true],
    ['LessThanLowerOrGreaterThanUpperThreshold', 2, false],
    ['LessThanLowerOrGreaterThanUpperThreshold', 1, false],
    ['LessThanLowerThreshold', 0.5, true],
    ['LessThanLowerThreshold', 3.5, false],
    ['GreaterThanUpperThreshold', 3.5, true],
    ['GreaterThanUpperThreshold', 0.5, false],
  ] as const)('%s with value %d against the band [1, 3] → %s', (operator, value, expected) => {
    expect(breaches(operator, value, { lower: 1, upper: 3 })).toBe(expected);
  });

  it('refuses an operator CloudWatch does not define', () => {
    expect(() => breaches('GreaterThan', 1, 0)).toThrow(/ComparisonOperator/);
  });
});

describe('metric math', () => {
  const m1 = [1, 2, undefined, 4];
  const m2 = [10, undefined, 30, 40];
  const run = (e: string) => evaluateExpression(e, { m1, m2 }, 4);

  it('does arithmetic per period, with precedence, and a missing operand gives a missing result', () => {
    expect(run('m1 + m2 * 2')).toEqual([21, undefined, undefined, 84]);
    expect(run('(m1 + 1) / 2')).toEqual([1, 1.5, undefined, 2.5]);
    expect(run('-m1 ^ 2')).toEqual([-1, -4, undefined, -16]);
    expect(run('100 * m1 / m2')).toEqual([10, undefined, undefined, 10]);
  });

  it('leaves a division by zero missing', () => {
    expect(evaluateExpression('m1 / m2', { m1: [1, 1], m2: [0, 2] }, 2)).toEqual([undefined, 0.5]);
  });

  it('SUM, MAX, MIN, AVG over an array of series skip missing values per period', () => {
    expect(run('SUM([m1, m2])')).toEqual([11, 2, 30, 44]);
    expect(run('MAX([m1, m2])')).toEqual([10, 2, 30, 40]);
    expect(run('MIN([m1, m2])')).toEqual([1, 2, 30, 4]);
    expect(run('AVG([m1, m2])')).toEqual([5.5, 2, 30, 22]);
  });

  it('SUM, MAX over one series give a scalar over its datapoints', () => {
    expect(run('SUM(m1)')).toBe(7);
    expect(run('MAX(m2)')).toBe(40);
  });

  it('FILL replaces missing values with a number, or repeats the last one with REPEAT', () => {
    expect(run('FILL(m1, 0)')).toEqual([1, 2, 0, 4]);
    expect(run('FILL(m2, REPEAT)')).toEqual([10, 10, 30, 40]);
  });

  it('IF picks per period; without a third argument a false condition gives no datapoint', () => {
    expect(run('IF(m1 > 1, m2, 0)')).toEqual([0, undefined, undefined, 40]);
    expect(run('IF(m1 >= 2 AND m2 > 0, 1)')).toEqual([undefined, undefined, undefined, 1]);
    expect(run('IF(m1 == 1 || m1 == 4, m1)')).toEqual([1, undefined, undefined, 4]);
  });

  it('names the query an expression refers to but nothing defines', () => {
    expect(() => run('m1 + m3')).toThrow(/m3/);
  });

  it('refuses functions the local evaluator does not implement, naming them', () => {
    expect(() => run('RATE(m1)')).toThrow(/RATE/);
  });
});

describe("the local anomaly-detection band (trailing mean ± k·sd; CloudWatch's model is not public)", () => {
  it('matches a brute-force mean and sample deviation of the preceding values', () => {
    const series = [3, 5, undefined, 4, 8, 6, 7];
    const band = anomalyBand(series, 2, 4);
    for (let i = 0; i < series.length; i++) {
      const window = series.slice(Math.max(0, i - 4), i).filter((v): v is number => v !== undefined);
      if (window.length < 2) {
        expect(band.lower[i]).toBeUndefined();
        continue;
      }
      const mean = window.reduce((s, v) => s + v, 0) / window.length;
      const sd = Math.sqrt(window.reduce((s, v) => s + (v - mean) ** 2, 0) / (window.length - 1));
      expect(band.lower[i]).toBeCloseTo(mean - 2 * sd, 12);
      expect(band.upper[i]).toBeCloseTo(mean + 2 * sd, 12);
    }
  });

  it('comes out of ANOMALY_DETECTION_BAND(m, k) in an expression', () => {
    const m = [10, 12, 11, 13, 12];
    expect(evaluateExpression('ANOMALY_DETECTION_BAND(m, 3)', { m }, 5)).toEqual(anomalyBand(m, 3));
  });

  it('alarms when throughput falls below the band, and not while it stays inside', () => {
    const alarm = {
      AlarmName: 'throughput',
      StateValue: 'OK' as const,
      EvaluationPeriods: 1,
      ComparisonOperator: 'LessThanLowerThreshold' as const,
      TreatMissingData: 'missing',
    };
    const judge = (value: number) =>
      judgeMetricAlarm({
        alarm,
        timestamps: [0, 60_000, 120_000],
        values: [100, 100, value],
        band: { lower: [90, 90, 90], upper: [110, 110, 110] },
        now: 180_000,
        period: 60,
      });
    expect(judge(50).state).toBe('ALARM');
    expect(judge(95).state).toBe('OK');
  });
});

describe("a metric alarm's verdict, reason and reason data", () => {
  const alarm = {
    AlarmName: 'p95-latency',
    StateValue: 'OK' as const,
    ExtendedStatistic: 'p95',
    Period: 60,
    EvaluationPeriods: 3,
    DatapointsToAlarm: 2,
    Threshold: 100,
    ComparisonOperator: 'GreaterThanThreshold' as const,
  };
  const t0 = Date.UTC(2026, 11, 3, 12, 0);
  const timestamps = [0, 1, 2, 3, 4].map((i) => t0 + i * 60_000);

  it('writes CloudWatch\'s "Threshold Crossed" reason and the reason data with the statistic', () => {
    const verdict = judgeMetricAlarm({
      alarm,
      timestamps,
      values: [50, 50, 150, 90, 120],
      now: t0 + 5 * 60_000,
      period: 60,
      statistic: 'p95',
    });
    expect(verdict.state).toBe('ALARM');
    expect(verdict.reason).toBe(
      'Threshold Crossed: 2 out of the last 3 datapoints [150 (03/12/26 12:02:00), 90 (03/12/26 12:03:00), 120 (03/12/26 12:04:00)] were greater than the threshold (100.0) (minimum 2 datapoints for OK -> ALARM transition).',
    );
    expect(JSON.parse(verdict.reasonData)).toMatchObject({
      version: '1.0',
      queryDate: '2026-12-03T12:05:00.000+0000',
      startDate: '2026-12-03T12:02:00.000+0000',
      statistic: 'p95',
      period: 60,
      recentDatapoints: [150, 90, 120],
      threshold: 100,
    });
  });

  it('says how many missing datapoints the treatment filled in', () => {
    const verdict = judgeMetricAlarm({
      alarm: { ...alarm, TreatMissingData: 'breaching' },
      timestamps,
      values: [],
      now: t0 + 5 * 60_000,
      period: 60,
    });
    expect(verdict).toMatchObject({
      state: 'ALARM',
      reason:
        'Threshold Crossed: 3 out of the last 3 datapoints (3 missing, treated as breaching) were greater than the threshold (100.0) (minimum 2 datapoints for OK -> ALARM transition).',
    });
  });

  it('reports INSUFFICIENT_DATA as "Insufficient Data" when every datapoint is missing', () => {
    const verdict = judgeMetricAlarm({ alarm, timestamps, values: [], now: t0, period: 60 });
    expect(verdict).toMatchObject({
      state: 'INSUFFICIENT_DATA',
      reason: 'Insufficient Data: 3 datapoints were unknown.',
    });
  });
});

describe('composite alarm rules', () => {
  const states: Record<string, AlarmStateValue> = {
    a: 'ALARM',
    b: 'OK',
    'my alarm': 'INSUFFICIENT_DATA',
  };
  const holds = (rule: string) => evaluateAlarmRule(rule, (name) => states[name]);

  it('reads ALARM(), OK() and INSUFFICIENT_DATA() of names quoted or not, and of ARNs', () => {
    expect(holds('ALARM(a)')).toBe(true);
    expect(holds('ALARM("b")')).toBe(false);
    expect(holds('OK(b)')).toBe(true);
    expect(holds('INSUFFICIENT_DATA("my alarm")')).toBe(true);
    expect(holds('ALARM("arn:aws:cloudwatch:us-east-1:123456789012:alarm:a")')).toBe(true);
  });

  it('combines with AND, OR, NOT and parentheses, NOT binding tightest and AND before OR', () => {
    expect(holds('ALARM(b) OR ALARM(a) AND OK(b)')).toBe(true);
    expect(holds('(ALARM(b) OR ALARM(a)) AND NOT OK(b)')).toBe(false);
    expect(holds('NOT ALARM(b) AND NOT NOT ALARM(a)')).toBe(true);
  });

  it('takes TRUE and FALSE', () => {
    expect(holds('TRUE')).toBe(true);
    expect(holds('FALSE OR ALARM(b)')).toBe(false);
  });

  it('names an alarm the rule refers to that does not exist', () => {
    expect(() => holds('ALARM(ghost)')).toThrow(/ghost/);
  });
});

describe('percentile alarms with low sample counts (EvaluateLowSampleCountPercentile)', () => {
  it('needs 10/(1-p) samples from p50 up and 10/p below (p99: 1000, as the guide says)', () => {
    expect(lowSampleCountLimit('p99')).toBeCloseTo(1000, 9);
    expect(lowSampleCountLimit('p95')).toBeCloseTo(200, 9);
    expect(lowSampleCountLimit('p50')).toBeCloseTo(20, 9);
    expect(lowSampleCountLimit('p10')).toBeCloseTo(100, 9);
    expect(lowSampleCountLimit('Average')).toBeUndefined();
  });

  const judge = (evaluate: 'ignore' | 'evaluate', count: number) =>
    judgeMetricAlarm({
      alarm: {
        AlarmName: 'p95',
        StateValue: 'OK',
        ExtendedStatistic: 'p95',
        EvaluationPeriods: 1,
        Threshold: 100,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluateLowSampleCountPercentile: evaluate,
      },
      timestamps: [0, 60_000, 120_000],
      values: [150, 150, 150],
      sampleCounts: [count, count, count],
      now: 180_000,
      period: 60,
    }).state;

  it('"ignore" keeps the state while the evaluated period has too few samples', () => {
    expect(judge('ignore', 199)).toBe('OK');
    expect(judge('ignore', 200)).toBe('ALARM');
  });

  it('"evaluate" decides whatever the sample count', () => {
    expect(judge('evaluate', 5)).toBe('ALARM');
  });
});
