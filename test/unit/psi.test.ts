import { describe, expect, it } from 'vitest';
import { PSI_EPSILON, populationStabilityIndex } from '../../lambdas/drift/psi.js';
import { prng } from '../support/random.js';

/** Brute force: edges by sorting and indexing, bins by a linear scan, the sum as written. */
function reference(ref: number[], cur: number[], bins = 10): number {
  const sorted = [...ref].sort((a, b) => a - b);
  const edges: number[] = [];
  for (let q = 1; q < bins; q++) {
    const e = sorted[
      Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / bins) * sorted.length) - 1))
    ] as number;
    if (!edges.includes(e)) edges.push(e);
  }
  const bin = (v: number) => {
    for (let i = 0; i < edges.length; i++) if (v <= (edges[i] as number)) return i;
    return edges.length;
  };
  const share = (xs: number[]) => {
    const counts = new Array<number>(edges.length + 1).fill(0);
    for (const x of xs) counts[bin(x)] = (counts[bin(x)] as number) + 1;
    return counts.map((c) => Math.max(c / xs.length, PSI_EPSILON));
  };
  const r = share(ref);
  const c = share(cur);
  return r.reduce((sum, rb, i) => sum + ((c[i] as number) - rb) * Math.log((c[i] as number) / rb), 0);
}

describe('populationStabilityIndex', () => {
  it('agrees with a brute-force reference over 200 random pairs, ties and shifts included', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(seed);
      const n = 1 + Math.floor(rand() * 300);
      const m = 1 + Math.floor(rand() * 300);
      const shift = rand() < 0.5 ? 0 : rand();
      const round = rand() < 0.3; // heavy ties
      const draw = (s: number) => {
        const v = rand() + s;
        return round ? Math.round(v * 4) / 4 : v;
      };
      const ref = Array.from({ length: n }, () => draw(0));
      const cur = Array.from({ length: m }, () => draw(shift));
      expect(populationStabilityIndex(ref, cur), `seed ${seed}`).toBeCloseTo(reference(ref, cur), 12);
    }
  });

  it('is 0 for identical samples and grows with the shift', () => {
    const rand = prng(7);
    const ref = Array.from({ length: 5000 }, () => rand());
    expect(populationStabilityIndex(ref, ref)).toBe(0);
    const small = populationStabilityIndex(
      ref,
      ref.map((v) => v + 0.05),
    );
    const large = populationStabilityIndex(
      ref,
      ref.map((v) => v + 0.5),
    );
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThan(0.25);
    expect(large).toBeGreaterThan(1);
  });

  it('sees a constant reference move: two bins, the constant and above it', () => {
    expect(populationStabilityIndex([3, 3, 3], [3, 3])).toBe(0);
    expect(populationStabilityIndex([3, 3, 3], [4, 4])).toBeGreaterThan(5);
  });

  it('refuses empty samples, non-finite values and fewer than 2 bins, naming the field', () => {
    expect(() => populationStabilityIndex([], [1])).toThrow(/reference: must hold at least one value/);
    expect(() => populationStabilityIndex([1], [])).toThrow(/current: must hold at least one value/);
    expect(() => populationStabilityIndex([1, Number.NaN], [1])).toThrow(
      /reference\[1\]: must be a finite number/,
    );
    expect(() => populationStabilityIndex([1], [Number.POSITIVE_INFINITY])).toThrow(/current\[0\]/);
    expect(() => populationStabilityIndex([1], [1], 1)).toThrow(/bins/);
  });
});
