import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  binSortedCounts,
  chiSquareTest,
  jensenShannonDistance,
  KS_EXACT_MAX_N,
  kolmogorovSf,
  ksPValue,
  ksStatistic,
  ksTwoSample,
  PSI_EPSILON,
  psiFromCounts,
  smirnovSf,
  sortFloat64,
  wasserstein1,
} from '../../lambdas/drift/statistics.js';
import { binIndex } from '../../lambdas/training/evaluate/reference-profile.js';
import { prng } from '../support/random.js';

/** Recorded by test/fixtures/drift/make_fixtures.py from scipy and numpy. */
const fixture = JSON.parse(
  readFileSync(new URL('../fixtures/drift/scipy-reference.json', import.meta.url), 'utf8'),
) as {
  ks2samp: {
    seed: number;
    a: number[];
    b: number[];
    statistic: number;
    pvalue: number;
    asympStatistic: number;
    asympPvalue: number;
  }[];
  kspvalue: { n1: number; n2: number; d: number; pvalue: number }[];
  kstwo: { n: number; x: number; sf: number }[];
  smirnov: { n: number; x: number; sf: number }[];
  chisquare: { observed: number[]; expected: number[]; statistic: number; pvalue: number }[];
  jensenshannon: { p: number[]; q: number[]; distance: number }[];
  wasserstein: { a: number[]; b: number[]; distance: number }[];
  psi: { reference: number[]; current: number[]; psi: number }[];
};

const sorted = (xs: readonly number[]) => Float64Array.from(xs).sort();

/** |actual − expected| within rel·|expected| + abs. */
function close(actual: number, expected: number, rel: number, abs = 0, label = '') {
  expect(Math.abs(actual - expected), `${label}: ${actual} vs ${expected}`).toBeLessThanOrEqual(
    rel * Math.abs(expected) + abs,
  );
}

describe('PSI on counts', () => {
  it.each(fixture.psi.map((c, i) => [i, c] as const))('matches numpy (case %i)', (_, c) => {
    close(psiFromCounts(c.reference, c.current), c.psi, 1e-12, 1e-15);
  });

  it('is 0 for proportional histograms and smooths an empty bin to a finite value', () => {
    expect(psiFromCounts([1, 2, 3], [10, 20, 30])).toBeCloseTo(0, 15);
    const r = 0.5;
    const expected = (PSI_EPSILON - r) * Math.log(PSI_EPSILON / r) + (1 - r) * Math.log(1 / r);
    expect(psiFromCounts([1, 1], [0, 5])).toBeCloseTo(expected, 12);
  });

  it('refuses different bin counts and empty histograms, naming the field', () => {
    expect(() => psiFromCounts([1, 2], [1])).toThrow(/current: must have 2 bins/);
    expect(() => psiFromCounts([0, 0], [1, 1])).toThrow(/reference: must hold at least one value/);
    expect(() => psiFromCounts([1, 1], [0, 0])).toThrow(/current: must hold at least one value/);
  });
});

describe('Jensen–Shannon distance', () => {
  it.each(fixture.jensenshannon.map((c, i) => [i, c] as const))('matches scipy base 2 (case %i)', (_, c) => {
    close(jensenShannonDistance(c.p, c.q), c.distance, 1e-10, 1e-12);
  });

  it('is 1 for disjoint histograms, 0 for equal ones, NaN when one is empty', () => {
    expect(jensenShannonDistance([1, 0], [0, 3])).toBeCloseTo(1, 14);
    expect(jensenShannonDistance([2, 4], [1, 2])).toBe(0);
    expect(jensenShannonDistance([0, 0], [1, 2])).toBeNaN();
  });
});

describe('chi-square', () => {
  it.each(fixture.chisquare.map((c, i) => [i, c] as const))(
    'matches scipy.stats.chisquare (case %i)',
    (_, c) => {
      const r = chiSquareTest(c.observed, c.expected);
      close(r.statistic, c.statistic, 1e-11);
      close(r.pValue, c.pvalue, 1e-9, 1e-300);
      expect(r.dof).toBe(c.observed.length - 1);
    },
  );

  it('gives one bin statistic 0 and p-value 1, and refuses a non-positive expectation', () => {
    expect(chiSquareTest([5], [5])).toEqual({ statistic: 0, pValue: 1, dof: 0 });
    expect(() => chiSquareTest([1, 2], [3, 0])).toThrow(/expected\[1\]: must be positive/);
  });
});

describe('Wasserstein-1', () => {
  it.each(fixture.wasserstein.map((c, i) => [i, c] as const))('matches scipy (case %i)', (_, c) => {
    close(wasserstein1(sorted(c.a), sorted(c.b)), c.distance, 1e-11, 1e-14);
  });

  /** Brute force on the quantile functions: W1 = ∫₀¹ |F⁻¹(u) − G⁻¹(u)| du over the merged grid of steps. */
  function bruteWasserstein(a: number[], b: number[]): number {
    const sa = [...a].sort((x, y) => x - y);
    const sb = [...b].sort((x, y) => x - y);
    const grid = new Set<number>([0, 1]);
    for (let i = 1; i < sa.length; i++) grid.add(i / sa.length);
    for (let i = 1; i < sb.length; i++) grid.add(i / sb.length);
    const us = [...grid].sort((x, y) => x - y);
    let sum = 0;
    for (let k = 0; k + 1 < us.length; k++) {
      const mid = ((us[k] as number) + (us[k + 1] as number)) / 2;
      const qa = sa[Math.floor(mid * sa.length)] as number;
      const qb = sb[Math.floor(mid * sb.length)] as number;
      sum += Math.abs(qa - qb) * ((us[k + 1] as number) - (us[k] as number));
    }
    return sum;
  }

  it('agrees with a brute-force quantile integral over 300 random pairs, ties included', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const draw = (n: number, s: number, ties: boolean) =>
        Array.from({ length: n }, () => (ties ? Math.round((rand() + s) * 5) / 5 : rand() + s));
      const ties = seed % 3 === 0;
      const a = draw(1 + Math.floor(rand() * 60), 0, ties);
      const b = draw(1 + Math.floor(rand() * 60), rand(), ties);
      close(wasserstein1(sorted(a), sorted(b)), bruteWasserstein(a, b), 1e-10, 1e-12, `seed ${seed}`);
    }
  });

  it('agrees with the brute force when one sample is far smaller (searches, prefix sums), over 200 pairs', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(9000 + seed);
      const ties = seed % 2 === 0;
      const offset = seed % 5 === 0 ? 1e4 : 0;
      const draw = (n: number, s: number) =>
        Array.from({ length: n }, () => offset + (ties ? Math.round((rand() + s) * 6) / 6 : rand() + s));
      const small = draw(1 + Math.floor(rand() * 8), seed % 3 === 0 ? 0 : rand() - 0.5);
      const large = draw(400 + Math.floor(rand() * 400), 0);
      const [a, b] = seed % 4 < 2 ? [small, large] : [large, small];
      close(wasserstein1(sorted(a), sorted(b)), bruteWasserstein(a, b), 1e-9, 1e-12, `seed ${seed}`);
    }
  });

  it('is the shift for a shifted copy and NaN for an empty sample', () => {
    expect(wasserstein1(sorted([1, 2, 3]), sorted([3, 4, 5]))).toBeCloseTo(2, 14);
    expect(wasserstein1(new Float64Array(0), sorted([1]))).toBeNaN();
  });
});

describe('Kolmogorov–Smirnov', () => {
  it.each(fixture.ks2samp.map((c) => [c.seed, c] as const))(
    'matches scipy ks_2samp, exact and asymptotic (seed %i)',
    (_, c) => {
      const a = sorted(c.a);
      const b = sorted(c.b);
      const exact = ksTwoSample(a, b);
      expect(exact.method).toBe('exact');
      close(exact.statistic, c.statistic, 1e-14, 1e-15);
      close(exact.pValue, c.pvalue, 1e-9, 1e-14);
      const asymp = ksTwoSample(a, b, { method: 'asymp' });
      close(asymp.statistic, c.asympStatistic, 1e-14, 1e-15);
      close(asymp.pValue, c.asympPvalue, 1e-8, 1e-14);
    },
  );

  it.each(fixture.kspvalue.map((c) => [c.n1, c.n2, c.d, c] as const))(
    'gives ks_2samp auto p-value for n1=%i, n2=%i, d=%f',
    (_, __, ___, c) => {
      const r = ksPValue(c.d, c.n1, c.n2);
      expect(r.method).toBe(Math.max(c.n1, c.n2) <= KS_EXACT_MAX_N ? 'exact' : 'asymp');
      // Exact p-values are 1 − (share of paths inside): below ~1e-12 both scipy's and ours are cancellation.
      close(r.pValue, c.pvalue, 1e-8, r.method === 'exact' ? 1e-12 : 1e-14);
    },
  );

  it.each(fixture.kstwo.map((c) => [c.n, c.x, c] as const))(
    'gives kstwo.sf(x, n) for n=%i, x=%f',
    (_, __, c) => {
      close(kolmogorovSf(c.n, c.x), c.sf, 1e-8, 1e-14);
    },
  );

  it.each(fixture.smirnov.map((c) => [c.n, c.x, c] as const))(
    'gives smirnov(n, x) for n=%i, x=%f',
    (_, __, c) => {
      close(smirnovSf(c.n, c.x), c.sf, 1e-8, 1e-14);
    },
  );

  /** Brute force: the CDFs evaluated at every value of both samples. */
  function bruteKs(a: number[], b: number[]): number {
    let d = 0;
    for (const v of [...a, ...b]) {
      const fa = a.filter((x) => x <= v).length / a.length;
      const fb = b.filter((x) => x <= v).length / b.length;
      d = Math.max(d, Math.abs(fa - fb));
    }
    return d;
  }

  it('agrees with a brute-force statistic over 300 random pairs, ties included', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(1000 + seed);
      const ties = seed % 2 === 0;
      const draw = (n: number, s: number) =>
        Array.from({ length: n }, () => (ties ? Math.round((rand() + s) * 4) / 4 : rand() + s));
      const a = draw(1 + Math.floor(rand() * 80), 0);
      const b = draw(1 + Math.floor(rand() * 80), seed % 3 === 0 ? 0 : rand() / 2);
      expect(ksStatistic(sorted(a), sorted(b)), `seed ${seed}`).toBeCloseTo(bruteKs(a, b), 14);
    }
  });

  it('agrees with the brute force when one sample is far smaller (binary searches), over 200 pairs', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = prng(5000 + seed);
      const ties = seed % 2 === 0;
      const draw = (n: number, s: number) =>
        Array.from({ length: n }, () => (ties ? Math.round((rand() + s) * 6) / 6 : rand() + s));
      const small = draw(1 + Math.floor(rand() * 8), seed % 3 === 0 ? 0 : rand() / 2);
      const large = draw(400 + Math.floor(rand() * 400), 0);
      const [a, b] = seed % 4 < 2 ? [small, large] : [large, small];
      expect(ksStatistic(sorted(a), sorted(b)), `seed ${seed}`).toBeCloseTo(bruteKs(a, b), 14);
    }
  });

  it('is 0 with p-value 1 for identical samples and 1 for disjoint ones', () => {
    const a = sorted([1, 2, 3, 4]);
    expect(ksTwoSample(a, a)).toEqual({ statistic: 0, pValue: 1, method: 'exact' });
    const r = ksTwoSample(a, sorted([5, 6, 7, 8]));
    expect(r.statistic).toBe(1);
    expect(r.pValue).toBeCloseTo(2 / 70, 14); // 2 / binom(8, 4)
  });

  it('refuses empty samples and bad sizes, and passes NaN through', () => {
    expect(() => ksTwoSample(new Float64Array(0), sorted([1]))).toThrow(/a: must hold at least one value/);
    expect(() => ksTwoSample(sorted([1]), new Float64Array(0))).toThrow(/b: must hold at least one value/);
    expect(() => ksPValue(0.1, 0, 3)).toThrow(/n: sample sizes/);
    expect(ksPValue(Number.NaN, 3, 3).pValue).toBeNaN();
  });
});

describe('binning sorted values', () => {
  it('agrees with binIndex on every value over 100 random cases', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const rand = prng(seed);
      const values = sorted(Array.from({ length: Math.floor(rand() * 200) }, () => Math.round(rand() * 20)));
      const edges = [
        ...new Set(Array.from({ length: Math.floor(rand() * 8) }, () => Math.round(rand() * 20))),
      ].sort((x, y) => x - y);
      const expected = new Float64Array(edges.length + 1);
      for (const v of values) expected[binIndex(edges, v)] = (expected[binIndex(edges, v)] as number) + 1;
      expect([...binSortedCounts(values, edges)], `seed ${seed}`).toEqual([...expected]);
    }
  });
});

describe('sorting doubles', () => {
  it('sorts as Float64Array.prototype.sort does over 50 random arrays (signs, zeros, ties, extremes)', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const rand = prng(seed);
      const n = Math.floor(rand() * 5000);
      const values = Float64Array.from({ length: n }, () => {
        const u = rand();
        if (u < 0.05) return rand() < 0.5 ? 0 : -0;
        if (u < 0.1) return Math.round(rand() * 4) - 2;
        if (u < 0.12) return (rand() < 0.5 ? -1 : 1) * Number.MAX_VALUE * rand();
        if (u < 0.14) return (rand() < 0.5 ? -1 : 1) * 5e-324 * Math.ceil(rand() * 100);
        return (rand() - 0.5) * 10 ** Math.floor(rand() * 12 - 6);
      });
      const expected = values.slice().sort();
      const actual = sortFloat64(values.slice(), seed % 2 ? new Float64Array(n) : undefined);
      expect(
        actual.every((v, i) => Object.is(v, expected[i])),
        `seed ${seed}`,
      ).toBe(true);
    }
  });

  it('skips the passes of a constant digit: a constant column stays itself', () => {
    expect([...sortFloat64(new Float64Array(1000).fill(3.5))]).toEqual(new Array(1000).fill(3.5));
  });
});
