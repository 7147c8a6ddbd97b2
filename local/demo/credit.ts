/**
 * The demo data set `npm start` ingests: credit default, generated from a seed with a known
 * structure, so the model trained on it has a clear answer (ROC-AUC about 0.8, coefficient signs
 * known in advance). The views it fills are the ones mlops.config.ts declares (`customer_profile`,
 * `credit_activity`, `credit_outcome`); test/unit/demo-credit.test.ts checks that every generated
 * row is valid for them and that a logistic regression recovers the signs below.
 *
 * What is generated, for `customers` customers over the `months` before `endMs`:
 * - `customer_profile` (one row per customer, in the first month): income (≈5 % missing: not
 *   reported), age, employment (salaried, self-employed, unemployed), region.
 * - `credit_activity` (one snapshot per customer per month, the last one in the final month):
 *   debt_ratio, utilization (≈3 % missing), late_payments_12m, credit_lines. A customer's latent
 *   risk moves debt, utilization and late payments together, as in real books.
 * - `credit_outcome` (one row per customer, an hour after one of its snapshots at least 90 days
 *   before `endMs`, so its outcome is known): `defaulted_90d`, drawn from
 *   P(default) = σ(logit), logit = {@link CREDIT_INTERCEPT} + Σ {@link CREDIT_EFFECTS} · the
 *   standardized values in the latest snapshot at or before the outcome's time.
 *
 * Runtime-free: no AWS SDK, no I/O (the caller ingests the rows).
 */
import { mulberry32 } from '../../lambdas/shared/random.js';

export const DAY_MS = 86_400_000;
const MONTH_MS = 30 * DAY_MS;
const OUTCOME_HORIZON_MS = 90 * DAY_MS;

export const EMPLOYMENT = ['salaried', 'self-employed', 'unemployed'] as const;
export const REGIONS = ['north', 'south', 'east', 'west'] as const;

/** The views the demo fills (as mlops.config.ts declares them) and the label's column. */
export const CREDIT_VIEWS = {
  profile: 'customer_profile',
  activity: 'credit_activity',
  outcome: 'credit_outcome',
} as const;
export const CREDIT_LABEL = 'defaulted_90d';

/** Log-odds of a default before any feature's effect. */
export const CREDIT_INTERCEPT = -2.1;

/**
 * Each feature's effect on the log-odds of a default: numeric features per standard unit (value −
 * center) / scale, categories against the first (`salaried`; regions have no effect). The sign is
 * what a trained model must find.
 */
export const CREDIT_EFFECTS = {
  debt_ratio: { center: 0.35, scale: 0.15, effect: 0.9 },
  utilization: { center: 0.4, scale: 0.25, effect: 0.7 },
  late_payments_12m: { center: 0, scale: 1, effect: 0.45 },
  /** On log income. */
  income: { center: Math.log(55_000), scale: 0.5, effect: -0.6 },
  age: { center: 42, scale: 12, effect: -0.2 },
  employment: { salaried: 0, 'self-employed': 0.35, unemployed: 1.1 },
} as const;

export type DemoRow = Record<string, string | number | boolean | null>;

export interface CreditDemoOptions {
  /** @default 2000 */
  readonly customers?: number;
  /** @default 7 */
  readonly seed?: number;
  /** The last snapshot falls in the month before this time. @default Date.now() */
  readonly endMs?: number;
  /** Months of history (at least 4: outcomes need 90 days to be known). @default 6 */
  readonly months?: number;
  /** Customer ids are `<idPrefix><5 digits>`. @default 'c' */
  readonly idPrefix?: string;
  /** A population unlike the default one (`npm start -- --scenario drift`). @default none */
  readonly shift?: CreditShift;
}

/**
 * A shifted population: its utilization higher and its incomes lower than the default one's, and
 * utilization weighing more on its defaults (a downturn: the relationship changes, not only the
 * inputs, so a model retrained on it does better than one that never saw it).
 */
export interface CreditShift {
  /** Added to every utilization. */
  readonly utilizationAdd: number;
  /** Multiplies every income. */
  readonly incomeFactor: number;
  /** Replaces utilization's effect on the log-odds (CREDIT_EFFECTS.utilization.effect). */
  readonly utilizationEffect: number;
}

/** The shift `--scenario drift` sends: a downturn. */
export const DOWNTURN: CreditShift = { utilizationAdd: 0.3, incomeFactor: 0.6, utilizationEffect: 1.6 };

export interface CreditDemoData {
  /** Rows by view name, event times as epoch milliseconds in `event_time`. */
  readonly rows: Readonly<Record<(typeof CREDIT_VIEWS)[keyof typeof CREDIT_VIEWS], readonly DemoRow[]>>;
  readonly startMs: number;
  readonly endMs: number;
  /** The latest outcome's time: a training run as of after it sees every example. */
  readonly lastOutcomeMs: number;
  /** Share of outcomes that are defaults. */
  readonly defaultRate: number;
  /** ROC-AUC of the true probabilities on the outcomes drawn: what no model can beat on average. */
  readonly bayesAuc: number;
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const round = (x: number, digits: number) => Number(x.toFixed(digits));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** A standard normal draw (Box–Muller). */
function normal(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

function poisson(random: () => number, lambda: number): number {
  const limit = Math.exp(-lambda);
  let k = 0;
  for (let p = random(); p > limit; p *= random()) k++;
  return k;
}

function pick<T>(random: () => number, items: readonly T[], weights: readonly number[]): T {
  let u = random() * weights.reduce((a, b) => a + b, 0);
  for (const [i, item] of items.entries()) {
    u -= weights[i] as number;
    if (u < 0) return item;
  }
  return items[items.length - 1] as T;
}

/** The true log-odds of a default for a profile and a snapshot (values as generated, none missing). */
export function creditLogit(
  values: {
    income: number;
    age: number;
    employment: (typeof EMPLOYMENT)[number];
    debt_ratio: number;
    utilization: number;
    late_payments_12m: number;
  },
  utilizationEffect: number = CREDIT_EFFECTS.utilization.effect,
): number {
  const e = { ...CREDIT_EFFECTS, utilization: { ...CREDIT_EFFECTS.utilization, effect: utilizationEffect } };
  const std = (x: number, f: { center: number; scale: number; effect: number }) =>
    (f.effect * (x - f.center)) / f.scale;
  return (
    CREDIT_INTERCEPT +
    std(values.debt_ratio, e.debt_ratio) +
    std(values.utilization, e.utilization) +
    std(values.late_payments_12m, e.late_payments_12m) +
    std(Math.log(values.income), e.income) +
    std(values.age, e.age) +
    e.employment[values.employment]
  );
}

/** ROC-AUC of scores against booleans (ties averaged); for the data set's own summary. */
function auc(labels: readonly boolean[], scores: readonly number[]): number {
  const order = scores.map((s, i) => [s, labels[i] === true] as const).sort((a, b) => a[0] - b[0]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && order[j]?.[0] === order[i]?.[0]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++)
      if (order[k]?.[1]) {
        positives++;
        rankSum += rank;
      }
    i = j;
  }
  const negatives = order.length - positives;
  return positives === 0 || negatives === 0
    ? Number.NaN
    : (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Generates the demo data set (see the module doc). Same options, same rows. */
export function generateCreditDemo(options: CreditDemoOptions = {}): CreditDemoData {
  const customers = options.customers ?? 2000;
  const months = options.months ?? 6;
  if (!Number.isInteger(customers) || customers < 1)
    throw new RangeError(`customers must be a positive whole number, not ${customers}`);
  if (!Number.isInteger(months) || months < 4)
    throw new RangeError(`months must be a whole number of at least 4, not ${months}`);
  const random = mulberry32(options.seed ?? 7);
  const shift = options.shift;
  // Whole minutes, so every time prints the same way.
  const endMs = Math.floor((options.endMs ?? Date.now()) / 60_000) * 60_000;
  const startMs = endMs - months * MONTH_MS;

  const profiles: DemoRow[] = [];
  const activity: DemoRow[] = [];
  const outcomes: DemoRow[] = [];
  const truth: number[] = [];
  for (let c = 0; c < customers; c++) {
    const id = `${options.idPrefix ?? 'c'}${String(c + 1).padStart(5, '0')}`;
    const risk = normal(random);
    const employment = pick(random, EMPLOYMENT, [0.72, 0.2, 0.08]);
    const region = pick(random, REGIONS, [0.3, 0.25, 0.25, 0.2]);
    const age = Math.round(clamp(42 + 12 * normal(random), 18, 85));
    const income = Math.round(
      clamp(
        (shift?.incomeFactor ?? 1) *
          Math.exp(
            Math.log(55_000) + 0.45 * normal(random) - 0.1 * risk - (employment === 'unemployed' ? 0.7 : 0),
          ),
        6_000,
        900_000,
      ),
    );
    const offset = Math.floor((random() * (MONTH_MS - DAY_MS) + DAY_MS / 2) / 60_000) * 60_000;
    profiles.push({
      customer_id: id,
      event_time: startMs + Math.floor(offset / 120_000) * 60_000,
      income: random() < 0.05 ? null : income,
      age,
      employment,
      region,
    });

    let debt = clamp(0.35 + 0.1 * risk + 0.1 * normal(random), 0.01, 1.5);
    let utilization = clamp((shift?.utilizationAdd ?? 0) + 0.4 + 0.12 * risk + 0.15 * normal(random), 0, 1.2);
    const lateRate = 0.35 * Math.exp(0.6 * risk);
    const lines = 1 + poisson(random, 3);
    const snapshots: { at: number; debt: number; utilization: number; late: number }[] = [];
    for (let m = 0; m < months; m++) {
      debt = clamp(debt + 0.03 * normal(random), 0.01, 1.5);
      utilization = clamp(utilization + 0.05 * normal(random), 0, 1.2);
      const snapshot = {
        at: startMs + m * MONTH_MS + offset,
        debt: round(debt, 3),
        utilization: round(utilization, 3),
        late: poisson(random, lateRate),
      };
      snapshots.push(snapshot);
      activity.push({
        customer_id: id,
        event_time: snapshot.at,
        debt_ratio: snapshot.debt,
        utilization: random() < 0.03 ? null : snapshot.utilization,
        late_payments_12m: snapshot.late,
        credit_lines: lines + (m > 2 && random() < 0.1 ? 1 : 0),
      });
    }

    // An outcome an hour after a snapshot whose 90 days have passed (from the second month on).
    const eligible = snapshots.filter((s, m) => m >= 1 && s.at + 3_600_000 + OUTCOME_HORIZON_MS <= endMs);
    const observed =
      eligible[Math.floor(random() * eligible.length)] ?? (snapshots[0] as (typeof snapshots)[0]);
    const logit = creditLogit(
      {
        income,
        age,
        employment,
        debt_ratio: observed.debt,
        utilization: observed.utilization,
        late_payments_12m: observed.late,
      },
      shift?.utilizationEffect,
    );
    const p = sigmoid(logit);
    truth.push(p);
    outcomes.push({ customer_id: id, event_time: observed.at + 3_600_000, [CREDIT_LABEL]: random() < p });
  }
  const labels = outcomes.map((o) => o[CREDIT_LABEL] === true);
  return {
    rows: {
      [CREDIT_VIEWS.profile]: profiles,
      [CREDIT_VIEWS.activity]: activity,
      [CREDIT_VIEWS.outcome]: outcomes,
    } as CreditDemoData['rows'],
    startMs,
    endMs,
    lastOutcomeMs: Math.max(...outcomes.map((o) => o.event_time as number)),
    defaultRate: labels.filter(Boolean).length / labels.length,
    bayesAuc: auc(labels, truth),
  };
}

/** Rows as JSON lines (what `mlops ingest` and the ingestion function read). */
export function toJsonLines(rows: readonly DemoRow[]): Uint8Array {
  return new TextEncoder().encode(rows.map((row) => JSON.stringify(row)).join('\n'));
}

/** A customer's raw features as of the end of the data (its latest snapshot): a request body's instance. */
export function latestFeatures(data: CreditDemoData, customerId: string): DemoRow {
  const latest = (view: readonly DemoRow[]) =>
    view
      .filter((r) => r.customer_id === customerId)
      .reduce<DemoRow | undefined>(
        (best, r) =>
          best === undefined || (r.event_time as number) > (best.event_time as number) ? r : best,
        undefined,
      );
  const profile = latest(data.rows[CREDIT_VIEWS.profile]);
  const activity = latest(data.rows[CREDIT_VIEWS.activity]);
  if (profile === undefined || activity === undefined) throw new RangeError(`no customer ${customerId}`);
  const { customer_id: _a, event_time: _b, ...p } = profile;
  const { customer_id: _c, event_time: _d, ...a } = activity;
  return { ...p, ...a };
}
