import { describe, expect, it } from 'vitest';
import {
  addToCells,
  binCountsFromCells,
  cellCounts,
  createCellHistogram,
  gridOf,
  ksFromCells,
  wassersteinFromCells,
} from '../../lambdas/drift/cells.js';
import { binSortedCounts, ksStatistic, wasserstein1 } from '../../lambdas/drift/statistics.js';
import { referenceSample } from '../../lambdas/training/evaluate/reference-profile.js';
import { prng } from '../support/random.js';

/** A random case: a reference (its quantile sample and some of its values as PSI edges) and a window. */
function randomCase(seed: number) {
  const rand = prng(seed);
  const ties = seed % 3 === 0;
  const offset = seed % 7 === 0 ? 1e5 : 0;
  const spread = seed % 5 === 0 ? 1e-3 : 1;
  const draw = (shift: number, scale: number) => {
    // Normal-ish (sum of uniforms), sometimes heavy-tailed, sometimes rounded to a lattice (ties).
    let v = (rand() + rand() + rand() - 1.5) * scale + shift;
    if (seed % 4 === 1) v = Math.exp(2 * v);
    if (ties) v = Math.round(v * 4) / 4;
    return offset + v * spread;
  };
  const referenceRows = 5 + Math.floor(rand() * 4000);
  const reference = Float64Array.from({ length: referenceRows }, () => draw(0, 1)).sort();
  const sample = Float64Array.from(referenceSample(reference, 10 + Math.floor(rand() * 300))).sort();
  const edges: number[] = [];
  const bins = 2 + Math.floor(rand() * 12);
  for (let k = 1; k < bins; k++) {
    const e = reference[Math.floor((referenceRows - 1) * (k / bins))] as number;
    if (e < (reference.at(-1) as number) && e !== edges.at(-1)) edges.push(e);
  }
  const drifted = seed % 2 === 0;
  const n = 1 + Math.floor(rand() * (seed % 10 === 0 ? 20 : 5000));
  const window = Float64Array.from({ length: n }, () =>
    // Some values exactly on sample points and edges.
    rand() < 0.05
      ? (sample[Math.floor(rand() * sample.length)] as number)
      : rand() < 0.02 && edges.length > 0
        ? (edges[Math.floor(rand() * edges.length)] as number)
        : draw(drifted ? rand() * 0.5 : 0, drifted ? 1 + rand() : 1),
  );
  return { sample, edges, window, sorted: window.slice().sort() };
}

function cellsOf(sample: Float64Array, edges: readonly number[], window: Float64Array) {
  const h = createCellHistogram(gridOf(sample, edges));
  for (const v of window) addToCells(h, v);
  return h;
}

describe('cell histogram of a window', () => {
  it('puts every value in the cell a linear scan of the grid gives, over 200 seeds', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { sample, edges, window } = randomCase(seed);
      const h = cellsOf(sample, edges, window);
      const points = h.points;
      const expected = new Float64Array(2 * points.length + 1);
      for (const v of window) {
        let i = 0;
        while (i < points.length && (points[i] as number) < v) i++;
        const cell = i < points.length && points[i] === v ? 2 * i + 1 : 2 * i;
        expected[cell] = (expected[cell] as number) + 1;
      }
      expect(cellCounts(h), `seed ${seed}`).toEqual(expected);
      expect(h.n).toBe(window.length);
    }
  });

  it('gives the PSI bin counts of the sorted window (binSortedCounts) over 200 seeds', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const { sample, edges, window, sorted } = randomCase(seed);
      expect(binCountsFromCells(cellsOf(sample, edges, window), edges), `seed ${seed}`).toEqual(
        binSortedCounts(sorted, edges),
      );
    }
  });

  it('gives exactly the KS statistic of the sorted window against the sample (ksStatistic) over 500 seeds', () => {
    for (let seed = 1; seed <= 500; seed++) {
      const { sample, edges, window, sorted } = randomCase(seed);
      expect(ksFromCells(cellsOf(sample, edges, window), sample), `seed ${seed}`).toBe(
        ksStatistic(sample, sorted),
      );
    }
  });

  it('gives Wasserstein-1 within its bound of the exact value (wasserstein1) over 500 seeds', () => {
    let bounded = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const { sample, edges, window, sorted } = randomCase(seed);
      const h = cellsOf(sample, edges, window);
      const { value, bound } = wassersteinFromCells(h, sample);
      const exact = wasserstein1(sample, sorted);
      const scale = Math.max(Math.abs(sample[0] as number), Math.abs(sample.at(-1) as number), 1);
      expect(Math.abs(value - exact), `seed ${seed}: ${value} vs ${exact} ± ${bound}`).toBeLessThanOrEqual(
        bound + 1e-9 * scale,
      );
      // The documented bound: each crossing cell's width × its count / (2n), summed.
      let widths = 0;
      const counts = cellCounts(h);
      for (let i = 0; i + 1 < h.points.length; i++)
        widths += ((h.points[i + 1] as number) - (h.points[i] as number)) * (counts[2 * i + 2] as number);
      expect(bound).toBeLessThanOrEqual(widths / (2 * window.length) + 1e-12 * scale);
      if (bound > 0) bounded++;
    }
    expect(bounded).toBeGreaterThan(50); // the crossing case is exercised
  });

  it('is exact for Wasserstein when the window lies beyond the sample (no crossing) and for a constant', () => {
    const sample = Float64Array.from([1, 2, 3, 4]);
    const h = cellsOf(sample, [2], Float64Array.from([5, 6, 7.5, 0.5]));
    const w = wassersteinFromCells(h, sample);
    expect(w.bound).toBe(0);
    expect(w.value).toBeCloseTo(wasserstein1(sample, Float64Array.from([0.5, 5, 6, 7.5])), 12);
    const constant = Float64Array.from([1, 1, 1]);
    const same = cellsOf(constant, [], Float64Array.from([1, 1]));
    expect(wassersteinFromCells(same, constant)).toEqual({ value: 0, bound: 0 });
    expect(ksFromCells(same, constant)).toBe(0);
    const moved = cellsOf(constant, [], Float64Array.from([2, 2]));
    expect(wassersteinFromCells(moved, constant).value).toBe(1);
    expect(ksFromCells(moved, constant)).toBe(1);
  });

  it('keeps counts only, without a grid (a profile without sample or edges)', () => {
    const h = cellsOf(new Float64Array(0), [], Float64Array.from([3, 1, 2]));
    expect(cellCounts(h)).toEqual(Float64Array.from([3]));
    expect(binCountsFromCells(h, [])).toEqual(Float64Array.from([3]));
    expect(ksFromCells(h, [])).toBeNaN();
  });
});
