/**
 * The demo data set `npm start` ingests (local/demo/credit.ts): valid for the views mlops.config.ts
 * declares, reproducible from its seed, shaped as documented (months of event times, nulls,
 * outcomes known 90 days before the end), and with the known structure a model must find: a
 * logistic regression fitted on the point-in-time rows recovers every effect's sign and scores a
 * ROC-AUC near 0.8.
 */
import { describe, expect, it } from 'vitest';
import { defineFeatureView } from '../../lambdas/feature-store/feature-view.js';
import { compileRowValidator } from '../../lambdas/feature-store/row-validation.js';
import { rowsToFrame } from '../../lambdas/training/encoding.js';
import { rocAuc } from '../../lambdas/training/evaluate/metrics.js';
import { scoreRows, trainLinearModel } from '../../lambdas/training/linear/linear-model.js';
import { isTrained } from '../../lambdas/training/model-config.js';
import { resolveConfig } from '../../lib/project-config.js';
import {
  CREDIT_EFFECTS,
  CREDIT_LABEL,
  CREDIT_VIEWS,
  DAY_MS,
  type DemoRow,
  generateCreditDemo,
  latestFeatures,
} from '../../local/demo/credit.js';

const END = Date.parse('2026-12-01T00:00:00Z');
const config = resolveConfig();
const data = generateCreditDemo({ customers: 3000, seed: 7, endMs: END });

/** Each outcome with the latest profile and snapshot at or before its time (what training joins). */
function joined(): DemoRow[] {
  const byCustomer = (rows: readonly DemoRow[]) => {
    const map = new Map<unknown, DemoRow[]>();
    for (const r of rows) map.set(r.customer_id, [...(map.get(r.customer_id) ?? []), r]);
    return map;
  };
  const asOf = (rows: readonly DemoRow[] | undefined, at: number) =>
    (rows ?? [])
      .filter((r) => (r.event_time as number) <= at)
      .sort((a, b) => (b.event_time as number) - (a.event_time as number))[0];
  const profiles = byCustomer(data.rows[CREDIT_VIEWS.profile]);
  const activity = byCustomer(data.rows[CREDIT_VIEWS.activity]);
  return data.rows[CREDIT_VIEWS.outcome].map((o) => {
    const at = o.event_time as number;
    const { customer_id: _p, event_time: _pt, ...profile } = asOf(profiles.get(o.customer_id), at) ?? {};
    const { customer_id: _a, event_time: _at, ...snapshot } = asOf(activity.get(o.customer_id), at) ?? {};
    return { ...profile, ...snapshot, [CREDIT_LABEL]: o[CREDIT_LABEL] as boolean };
  });
}

describe('credit demo data (local/demo/credit.ts)', () => {
  it('is valid, row for row, for the views mlops.config.ts declares', () => {
    for (const name of Object.values(CREDIT_VIEWS)) {
      const input = config.featureViews.find((v) => v.name === name);
      expect(input, `mlops.config.ts declares view ${name}`).toBeDefined();
      const validate = compileRowValidator(defineFeatureView(input as NonNullable<typeof input>), 'typed', {
        maxEventTimeMs: END,
      });
      const rejected = data.rows[name].map(validate).filter((v) => !v.ok);
      expect(rejected).toEqual([]);
    }
  });

  it('feeds every input and the label of the configured model', () => {
    const model = config.models.filter(isTrained).find((m) => m.name === 'credit-default');
    expect(model).toBeDefined();
    const [labelView, label] = (model?.label ?? '').split(':');
    expect([labelView, label]).toEqual([CREDIT_VIEWS.outcome, CREDIT_LABEL]);
    for (const ref of model?.features ?? []) {
      const [view, feature] = ref.split(':') as [keyof typeof data.rows, string];
      expect(
        data.rows[view]?.some((r) => r[feature] !== undefined),
        ref,
      ).toBe(true);
    }
  });

  it('is reproducible from its seed, and another seed draws other rows', () => {
    const again = generateCreditDemo({ customers: 3000, seed: 7, endMs: END });
    expect(again.rows).toEqual(data.rows);
    const other = generateCreditDemo({ customers: 3000, seed: 8, endMs: END });
    expect(other.rows[CREDIT_VIEWS.outcome]).not.toEqual(data.rows[CREDIT_VIEWS.outcome]);
  });

  it('spans six months with monthly snapshots, some nulls, and outcomes known 90 days before the end', () => {
    const profiles = data.rows[CREDIT_VIEWS.profile];
    const activity = data.rows[CREDIT_VIEWS.activity];
    const outcomes = data.rows[CREDIT_VIEWS.outcome];
    expect(profiles).toHaveLength(3000);
    expect(activity).toHaveLength(3000 * 6);
    expect(outcomes).toHaveLength(3000);
    const times = [...profiles, ...activity, ...outcomes].map((r) => r.event_time as number);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(END - 180 * DAY_MS);
    expect(Math.max(...times)).toBeLessThan(END);
    // Every customer's last snapshot is in the final month (fresh for a 45-day TTL).
    const last = new Map<unknown, number>();
    for (const r of activity)
      last.set(r.customer_id, Math.max(last.get(r.customer_id) ?? 0, r.event_time as number));
    expect(Math.min(...last.values())).toBeGreaterThan(END - 31 * DAY_MS);
    expect(data.lastOutcomeMs).toBeLessThanOrEqual(END - 90 * DAY_MS);
    const nullShare = (rows: readonly DemoRow[], column: string) =>
      rows.filter((r) => r[column] === null).length / rows.length;
    expect(nullShare(profiles, 'income')).toBeGreaterThan(0.02);
    expect(nullShare(profiles, 'income')).toBeLessThan(0.1);
    expect(nullShare(activity, 'utilization')).toBeGreaterThan(0.01);
    expect(new Set(profiles.map((r) => r.employment))).toEqual(
      new Set(['salaried', 'self-employed', 'unemployed']),
    );
    expect(data.defaultRate).toBeGreaterThan(0.1);
    expect(data.defaultRate).toBeLessThan(0.4);
  });

  it('has the known structure: logistic regression recovers every sign, with a ROC-AUC near 0.8', () => {
    const rows = joined();
    const features = [
      { name: 'income', type: 'float64' as const },
      { name: 'age', type: 'int64' as const },
      {
        name: 'employment',
        type: 'string' as const,
        categories: ['salaried', 'self-employed', 'unemployed'],
      },
      { name: 'debt_ratio', type: 'float64' as const },
      { name: 'utilization', type: 'float64' as const },
      { name: 'late_payments_12m', type: 'int64' as const },
    ];
    const model = trainLinearModel({
      task: 'binary',
      frame: rowsToFrame([...features, { name: CREDIT_LABEL, type: 'bool' }], rows),
      label: CREDIT_LABEL,
      features,
      params: { l2: 1e-3 },
    });
    // The encoded columns: one per numeric feature, one per category (plus <other> if any).
    const columns = new Map<string, number>();
    let at = 0;
    for (const f of model.encoding.features)
      if (f.kind === 'numeric') columns.set(f.name, at++);
      else
        for (const c of [...f.categories, ...(f.unknown === 'other' ? ['<other>'] : [])])
          columns.set(`${f.name}=${c}`, at++);
    const w = Array.from(model.coefficients);
    const coefficient = (name: string) => w[columns.get(name) ?? -1] as number;
    expect(model.classes).toEqual([0, 1]); // bool labels: 1 is true, the positive class
    expect(Math.sign(coefficient('income'))).toBe(Math.sign(CREDIT_EFFECTS.income.effect));
    expect(Math.sign(coefficient('age'))).toBe(Math.sign(CREDIT_EFFECTS.age.effect));
    expect(Math.sign(coefficient('debt_ratio'))).toBe(Math.sign(CREDIT_EFFECTS.debt_ratio.effect));
    expect(Math.sign(coefficient('utilization'))).toBe(Math.sign(CREDIT_EFFECTS.utilization.effect));
    expect(Math.sign(coefficient('late_payments_12m'))).toBe(
      Math.sign(CREDIT_EFFECTS.late_payments_12m.effect),
    );
    // Employment: unemployed > self-employed > salaried, as generated.
    const [salaried, selfEmployed, unemployed] = ['salaried', 'self-employed', 'unemployed'].map((c) =>
      coefficient(`employment=${c}`),
    ) as [number, number, number];
    expect(unemployed).toBeGreaterThan(selfEmployed);
    expect(selfEmployed).toBeGreaterThan(salaried);
    // Late payments: the generated effect per payment, recovered within a factor of two.
    expect(coefficient('late_payments_12m')).toBeGreaterThan(CREDIT_EFFECTS.late_payments_12m.effect / 2);
    expect(coefficient('late_payments_12m')).toBeLessThan(CREDIT_EFFECTS.late_payments_12m.effect * 2);

    const y = rows.map((r) => (r[CREDIT_LABEL] ? 1 : 0));
    const probabilities = Array.from(scoreRows(model, rows).probabilities ?? []);
    const auc = rocAuc(
      y,
      probabilities.filter((_, i) => i % 2 === 1),
    ).value;
    expect(auc).toBeGreaterThan(0.75);
    expect(auc).toBeLessThan(0.9);
    expect(auc).toBeLessThanOrEqual(data.bayesAuc + 0.02);
  });

  it('gives a customer’s latest raw features, the shape of a prediction request instance', () => {
    const features = latestFeatures(data, 'c00001');
    expect(Object.keys(features).sort()).toEqual(
      [
        'age',
        'credit_lines',
        'debt_ratio',
        'employment',
        'income',
        'late_payments_12m',
        'region',
        'utilization',
      ].sort(),
    );
    expect(() => latestFeatures(data, 'nobody')).toThrow(/no customer nobody/);
  });

  it('refuses sizes it cannot generate, naming the option', () => {
    expect(() => generateCreditDemo({ customers: 0 })).toThrow(/customers must be a positive whole number/);
    expect(() => generateCreditDemo({ customers: 1.5 })).toThrow(/customers/);
    expect(() => generateCreditDemo({ months: 3 })).toThrow(/months must be a whole number of at least 4/);
  });
});
