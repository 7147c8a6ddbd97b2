/**
 * How a CloudWatch alarm's state follows from its datapoints, as plain functions (no AWS SDK):
 * comparisons, M-out-of-N with the four missing-data treatments, metric math over aligned series,
 * a local anomaly-detection band, and composite alarm rules. local/alarm-evaluator.ts reads the
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
 * - ANOMALY_DETECTION_BAND: CloudWatch's model is not public (it is trained on up to two weeks of
 *   the metric). Ours: at each period, the mean ± k · standard deviation (sample, n − 1) of the
 *   metric's real values over the {@link BAND_TRAINING_PERIODS} periods before it; with fewer than
 *   two such values the band, and so the datapoint, is missing.
 */
import type { MetricAlarm } from '@aws-sdk/client-cloudwatch';

export type AlarmStateValue = 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
export type TreatMissingData = 'missing' | 'notBreaching' | 'breaching' | 'ignore';
/** One value per period, oldest first; undefined where the period has no datapoint. */
export type Series = readonly (number | undefined)[];
/** An anomaly-detection band: lower and upper thresholds per period. */
export interface Band {
  readonly lower: Series;
  readonly upper: Series;
}

/** How many trailing periods the local anomaly band is computed over. */
export const BAND_TRAINING_PERIODS = 60;

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

// ---------------------------------------------------------------- metric math

type Value = number | Series | Band | readonly Value[];

type Token = { kind: 'num'; value: number } | { kind: 'id'; value: string } | { kind: 'op'; value: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re =
    /\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(>=|<=|==|!=|&&|\|\||[-+*/^(),[\]<>]))/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    re.lastIndex = at;
    const match = re.exec(text);
    if (match === null) throw new AlarmEvaluationError(`cannot read the expression "${text}" at ${at}`);
    at = re.lastIndex;
    if (match[1] !== undefined) tokens.push({ kind: 'num', value: Number(match[1]) });
    else if (match[2] !== undefined) tokens.push({ kind: 'id', value: match[2] });
    else tokens.push({ kind: 'op', value: match[3] as string });
  }
  return tokens;
}

const isSeries = (v: Value): v is Series =>
  Array.isArray(v) && (v.length === 0 || (!Array.isArray(v[0]) && typeof v[0] !== 'object'));
const isBand = (v: Value): v is Band => typeof v === 'object' && !Array.isArray(v);

function pointwise(
  a: Value,
  b: Value,
  length: number,
  f: (x: number, y: number) => number | undefined,
): Series {
  const at = (v: Value, i: number): number | undefined => {
    if (typeof v === 'number') return v;
    if (isSeries(v)) return v[i];
    throw new AlarmEvaluationError('arithmetic takes numbers and time series only');
  };
  return Array.from({ length }, (_, i) => {
    const x = at(a, i);
    const y = at(b, i);
    if (x === undefined || y === undefined) return undefined;
    const r = f(x, y);
    return r === undefined || Number.isNaN(r) ? undefined : r;
  });
}

function binary(op: string, a: Value, b: Value, length: number): Value {
  const f: Record<string, (x: number, y: number) => number | undefined> = {
    '+': (x, y) => x + y,
    '-': (x, y) => x - y,
    '*': (x, y) => x * y,
    '/': (x, y) => (y === 0 ? undefined : x / y),
    '^': (x, y) => x ** y,
    '>': (x, y) => Number(x > y),
    '<': (x, y) => Number(x < y),
    '>=': (x, y) => Number(x >= y),
    '<=': (x, y) => Number(x <= y),
    '==': (x, y) => Number(x === y),
    '!=': (x, y) => Number(x !== y),
    AND: (x, y) => Number(x !== 0 && y !== 0),
    OR: (x, y) => Number(x !== 0 || y !== 0),
  };
  const fn = f[op];
  if (fn === undefined) throw new AlarmEvaluationError(`operator ${op} is not supported`);
  if (typeof a === 'number' && typeof b === 'number') {
    const r = fn(a, b);
    return r === undefined ? Number.NaN : r;
  }
  return pointwise(a, b, length, fn);
}

/** Mean ± k·sd of the real values in the {@link BAND_TRAINING_PERIODS} periods before each one. */
export function anomalyBand(series: Series, k: number, training = BAND_TRAINING_PERIODS): Band {
  const lower: (number | undefined)[] = [];
  const upper: (number | undefined)[] = [];
  for (let i = 0; i < series.length; i++) {
    const window = series.slice(Math.max(0, i - training), i).filter((v): v is number => v !== undefined);
    if (window.length < 2) {
      lower.push(undefined);
      upper.push(undefined);
      continue;
    }
    const mean = window.reduce((s, v) => s + v, 0) / window.length;
    const sd = Math.sqrt(window.reduce((s, v) => s + (v - mean) ** 2, 0) / (window.length - 1));
    lower.push(mean - k * sd);
    upper.push(mean + k * sd);
  }
  return { lower, upper };
}

function aggregate(name: string, values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  switch (name) {
    case 'SUM':
      return values.reduce((s, v) => s + v, 0);
    case 'AVG':
      return values.reduce((s, v) => s + v, 0) / values.length;
    case 'MAX':
      return Math.max(...values);
    default:
      return Math.min(...values);
  }
}

function callFunction(name: string, args: Value[], length: number): Value {
  const arg = (i: number): Value => {
    const v = args[i];
    if (v === undefined) throw new AlarmEvaluationError(`${name} needs argument ${i + 1}`);
    return v;
  };
  switch (name) {
    case 'SUM':
    case 'AVG':
    case 'MAX':
    case 'MIN': {
      const a = arg(0);
      if (isSeries(a)) {
        // One series: a scalar over its datapoints (CloudWatch: "MAX(m1) returns a scalar").
        return (
          aggregate(
            name,
            a.filter((v): v is number => v !== undefined),
          ) ?? Number.NaN
        );
      }
      if (!Array.isArray(a))
        throw new AlarmEvaluationError(`${name} takes a time series or an array of them`);
      const list = a as readonly Value[];
      return Array.from({ length }, (_, i) =>
        aggregate(
          name,
          list.flatMap((s) => {
            const v = typeof s === 'number' ? s : isSeries(s) ? s[i] : undefined;
            return v === undefined ? [] : [v];
          }),
        ),
      );
    }
    case 'ABS': {
      const a = arg(0);
      if (typeof a === 'number') return Math.abs(a);
      if (isSeries(a)) return a.map((v) => (v === undefined ? undefined : Math.abs(v)));
      throw new AlarmEvaluationError('ABS takes a number or a time series');
    }
    case 'FILL': {
      const s = arg(0);
      const fill = arg(1);
      if (!isSeries(s)) throw new AlarmEvaluationError('FILL takes a time series first');
      if (fill === REPEAT) {
        let last: number | undefined;
        return s.map((v) => {
          if (v !== undefined) last = v;
          return v ?? last;
        });
      }
      return s.map((v, i) => v ?? (typeof fill === 'number' ? fill : isSeries(fill) ? fill[i] : undefined));
    }
    case 'IF': {
      const condition = arg(0);
      const yes = arg(1);
      const no = args[2];
      const at = (v: Value | undefined, i: number) =>
        v === undefined ? undefined : typeof v === 'number' ? v : isSeries(v) ? v[i] : undefined;
      return Array.from({ length }, (_, i) => {
        const c = at(condition, i);
        if (c === undefined) return undefined;
        return c !== 0 ? at(yes, i) : at(no, i);
      });
    }
    case 'ANOMALY_DETECTION_BAND': {
      const s = arg(0);
      if (!isSeries(s)) throw new AlarmEvaluationError('ANOMALY_DETECTION_BAND takes a time series first');
      const k = args[1] ?? 2;
      if (typeof k !== 'number')
        throw new AlarmEvaluationError('ANOMALY_DETECTION_BAND takes a number of deviations');
      return anomalyBand(s, k);
    }
    default:
      throw new AlarmEvaluationError(`metric math function ${name} is not supported by the local evaluator`);
  }
}

const REPEAT: Series = Object.freeze([]) as Series;

/**
 * Evaluates a metric math expression over series aligned on one grid of `length` periods: `env`
 * holds each query id's series. Supports + - * / ^, comparisons, AND/OR (&&, ||), parentheses,
 * arrays `[a, b]`, SUM/AVG/MAX/MIN, ABS, FILL (a value, a series or REPEAT), IF and
 * ANOMALY_DETECTION_BAND. Missing operands give missing results (division by zero too).
 */
export function evaluateExpression(
  expression: string,
  env: Readonly<Record<string, Value>>,
  length: number,
): Value {
  const tokens = tokenize(expression);
  let at = 0;
  const peek = () => tokens[at];
  const isOp = (v: string) => {
    const t = peek();
    return (
      t !== undefined &&
      ((t.kind === 'op' && t.value === v) || (t.kind === 'id' && t.value.toUpperCase() === v))
    );
  };
  const expect = (v: string) => {
    if (!isOp(v)) throw new AlarmEvaluationError(`expected "${v}" in "${expression}"`);
    at++;
  };
  const levels: readonly (readonly string[])[] = [
    ['OR', '||'],
    ['AND', '&&'],
    ['>', '<', '>=', '<=', '==', '!='],
    ['+', '-'],
    ['*', '/'],
  ];
  const normal = (op: string) => (op === '||' ? 'OR' : op === '&&' ? 'AND' : op);
  const parseLevel = (level: number): Value => {
    if (level === levels.length) return parseUnary();
    let left = parseLevel(level + 1);
    for (;;) {
      const op = (levels[level] as readonly string[]).find((o) => isOp(o));
      if (op === undefined) return left;
      at++;
      left = binary(normal(op), left, parseLevel(level + 1), length);
    }
  };
  // Unary minus binds looser than ^ (-m1 ^ 2 is -(m1 ^ 2)); ^ is right-associative.
  const parseUnary = (): Value => {
    if (isOp('-')) {
      at++;
      return binary('*', -1, parseUnary(), length);
    }
    return parsePower();
  };
  const parsePower = (): Value => {
    const base = parsePrimary();
    if (isOp('^')) {
      at++;
      return binary('^', base, parseUnary(), length);
    }
    return base;
  };
  const parsePrimary = (): Value => {
    const t = peek();
    if (t === undefined) throw new AlarmEvaluationError(`"${expression}" ends early`);
    at++;
    if (t.kind === 'num') return t.value;
    if (t.kind === 'op' && t.value === '(') {
      const v = parseLevel(0);
      expect(')');
      return v;
    }
    if (t.kind === 'op' && t.value === '[') {
      const items: Value[] = [parseLevel(0)];
      while (isOp(',')) {
        at++;
        items.push(parseLevel(0));
      }
      expect(']');
      return items;
    }
    if (t.kind === 'id') {
      if (isOp('(')) {
        at++;
        const args: Value[] = [];
        if (!isOp(')')) {
          args.push(parseLevel(0));
          while (isOp(',')) {
            at++;
            args.push(parseLevel(0));
          }
        }
        expect(')');
        return callFunction(t.value.toUpperCase(), args, length);
      }
      if (t.value === 'REPEAT') return REPEAT;
      const v = env[t.value];
      if (v === undefined)
        throw new AlarmEvaluationError(`"${expression}" names ${t.value}, which no query defines`);
      return v;
    }
    throw new AlarmEvaluationError(`unexpected "${t.value}" in "${expression}"`);
  };
  const result = parseLevel(0);
  if (at !== tokens.length)
    throw new AlarmEvaluationError(`unexpected text after position ${at} in "${expression}"`);
  return result;
}

/** A value as a series on the grid (a scalar repeats); bands and arrays are not series. */
export function asSeries(value: Value, length: number): Series {
  if (typeof value === 'number')
    return Array.from({ length }, () => (Number.isNaN(value) ? undefined : value));
  if (isSeries(value)) return value;
  throw new AlarmEvaluationError('the alarm expression must produce one time series');
}

export function asBand(value: Value): Band {
  if (isBand(value)) return value as Band;
  throw new AlarmEvaluationError('ThresholdMetricId must name an ANOMALY_DETECTION_BAND expression');
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
      `Threshold Crossed: ${shown} out of the last ${total} datapoints [${list}]` +
      `${decision.filled > 0 ? ` and ${decision.filled} missing datapoint${decision.filled === 1 ? '' : 's'} treated as ${input.alarm.TreatMissingData}` : ''}` +
      ` ${verb} ${alarming ? '' : 'not '}${PHRASE[operator]}${against}` +
      ` (minimum ${minimum} datapoint${minimum === 1 ? '' : 's'} for ${transition} transition).`,
    reasonData,
  };
}
