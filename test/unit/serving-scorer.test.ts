import { describe, expect, it } from 'vitest';
import { scoreRows } from '../../lambdas/serving/scorer.js';
import type { RawRow } from '../../lambdas/training/encoding.js';
import { prng } from '../support/random.js';
import { servedModel } from '../support/serving-model.js';

/** The held-out rows' features (the trainer's in-memory predictions are on these, in this order). */
const heldOut = (rows: readonly RawRow[], test: Uint32Array): RawRow[] =>
  Array.from(test, (i) => {
    const { label: _label, ...features } = rows[i] as RawRow;
    return features;
  });

function shuffled(n: number, seed: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  const random = prng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

describe('scoreRows', () => {
  for (const algorithm of ['linear', 'gbdt'] as const) {
    it(`${algorithm} binary: the trainer's in-memory probabilities (1e-6), labels by threshold, in order`, async () => {
      const { model, rows, trained } = await servedModel('binary', algorithm);
      const batch = heldOut(rows, trained.split.test);
      const predictions = await scoreRows(model, batch);
      const expected = trained.inMemory.probabilities as Float64Array;
      expect(predictions).toHaveLength(batch.length);
      const [negative, positive] = model.contract.classes;
      predictions.forEach((p, i) => {
        expect(Math.abs((p.score as number) - (expected[2 * i + 1] as number))).toBeLessThan(1e-6);
        expect(
          Math.abs((p.probabilities?.[String(negative)] as number) - (expected[2 * i] as number)),
        ).toBeLessThan(1e-6);
        expect(p.label).toBe((p.score as number) >= 0.5 ? positive : negative);
      });
      // A shuffled batch answers each row as it answered it alone in the first batch.
      const order = shuffled(batch.length, 9);
      const again = await scoreRows(
        model,
        order.map((i) => batch[i] as RawRow),
      );
      again.forEach((p, k) => {
        expect(p).toEqual(predictions[order[k] as number]);
      });
    });
  }

  it('multiclass: probabilities of every class (1e-6) and the most probable label', async () => {
    const { model, rows, trained } = await servedModel('multiclass', 'gbdt');
    const batch = heldOut(rows, trained.split.test);
    const predictions = await scoreRows(model, batch);
    const expected = trained.inMemory.probabilities as Float64Array;
    const classes = model.contract.classes;
    const k = classes.length;
    predictions.forEach((p, i) => {
      let best = 0;
      classes.forEach((c, j) => {
        expect(
          Math.abs((p.probabilities?.[String(c)] as number) - (expected[i * k + j] as number)),
        ).toBeLessThan(1e-6);
        if ((expected[i * k + j] as number) > (expected[i * k + best] as number)) best = j;
      });
      expect(p.label).toBe(classes[best]);
      expect(p.score).toBeUndefined();
    });
  });

  it('regression: the trainer’s in-memory predictions (1e-6), in order, for a shuffled batch', async () => {
    const { model, rows, trained } = await servedModel('regression', 'linear');
    const batch = heldOut(rows, trained.split.test);
    const order = shuffled(batch.length, 4);
    const predictions = await scoreRows(
      model,
      order.map((i) => batch[i] as RawRow),
    );
    const expected = trained.inMemory.predictions as Float64Array;
    predictions.forEach((p, k) => {
      expect(Math.abs((p.prediction as number) - (expected[order[k] as number] as number))).toBeLessThan(
        1e-6,
      );
      expect(p.label).toBeUndefined();
    });
  });

  it('scores a batch of one as it scores the same row in a batch', async () => {
    const { model, rows } = await servedModel('binary', 'gbdt');
    const row = { ...(rows[7] as RawRow), label: undefined };
    const [alone] = await scoreRows(model, [row]);
    const batch = await scoreRows(model, [rows[1] as RawRow, row, rows[2] as RawRow]);
    expect(batch[1]).toEqual(alone);
    expect(await scoreRows(model, [])).toEqual([]);
  });
});
