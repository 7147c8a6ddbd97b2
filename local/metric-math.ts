/**
 * CloudWatch metric math over series aligned on one grid of periods, as plain functions (no AWS
 * SDK), for the local alarm evaluator (./alarm-evaluation.ts, ./alarm-evaluator.ts). Source:
 * CloudWatch User Guide, "Metric math syntax and functions". The subset alarms here use:
 * arithmetic, comparisons, AND/OR, arrays, SUM/AVG/MAX/MIN, ABS, FILL, IF and
 * ANOMALY_DETECTION_BAND; anything else is a {@link MetricMathError} naming it.
 *
 * ANOMALY_DETECTION_BAND: CloudWatch's model is not public (it is trained on up to two weeks of
 *   the metric). Ours: at each period, the mean ± k · standard deviation (sample, n − 1) of the
 *   metric's real values over the {@link BAND_TRAINING_PERIODS} periods before it; with fewer than
 *   two such values the band, and so the datapoint, is missing.
 */

/** One value per period, oldest first; undefined where the period has no datapoint. */
export type Series = readonly (number | undefined)[];
/** An anomaly-detection band: lower and upper thresholds per period. */
export interface Band {
  readonly lower: Series;
  readonly upper: Series;
}

/** How many trailing periods the local anomaly band is computed over. */
export const BAND_TRAINING_PERIODS = 60;

export class MetricMathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricMathError';
  }
}

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
    if (match === null) throw new MetricMathError(`cannot read the expression "${text}" at ${at}`);
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
    throw new MetricMathError('arithmetic takes numbers and time series only');
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
  if (fn === undefined) throw new MetricMathError(`operator ${op} is not supported`);
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
    if (v === undefined) throw new MetricMathError(`${name} needs argument ${i + 1}`);
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
      if (!Array.isArray(a)) throw new MetricMathError(`${name} takes a time series or an array of them`);
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
      throw new MetricMathError('ABS takes a number or a time series');
    }
    case 'FILL': {
      const s = arg(0);
      const fill = arg(1);
      if (!isSeries(s)) throw new MetricMathError('FILL takes a time series first');
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
      if (!isSeries(s)) throw new MetricMathError('ANOMALY_DETECTION_BAND takes a time series first');
      const k = args[1] ?? 2;
      if (typeof k !== 'number')
        throw new MetricMathError('ANOMALY_DETECTION_BAND takes a number of deviations');
      return anomalyBand(s, k);
    }
    default:
      throw new MetricMathError(`metric math function ${name} is not supported by the local evaluator`);
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
    if (!isOp(v)) throw new MetricMathError(`expected "${v}" in "${expression}"`);
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
    if (t === undefined) throw new MetricMathError(`"${expression}" ends early`);
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
        throw new MetricMathError(`"${expression}" names ${t.value}, which no query defines`);
      return v;
    }
    throw new MetricMathError(`unexpected "${t.value}" in "${expression}"`);
  };
  const result = parseLevel(0);
  if (at !== tokens.length)
    throw new MetricMathError(`unexpected text after position ${at} in "${expression}"`);
  return result;
}

/** A value as a series on the grid (a scalar repeats); bands and arrays are not series. */
export function asSeries(value: Value, length: number): Series {
  if (typeof value === 'number')
    return Array.from({ length }, () => (Number.isNaN(value) ? undefined : value));
  if (isSeries(value)) return value;
  throw new MetricMathError('the alarm expression must produce one time series');
}

export function asBand(value: Value): Band {
  if (isBand(value)) return value as Band;
  throw new MetricMathError('ThresholdMetricId must name an ANOMALY_DETECTION_BAND expression');
}
