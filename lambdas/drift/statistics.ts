/**
 * The drift statistics, plain code on typed arrays (no AWS SDK, no allocation per value):
 * - PSI on bin counts, empty bins smoothed to a share of {@link PSI_EPSILON} (./psi.ts computes its
 *   PSI on raw samples with the same core);
 * - two-sample Kolmogorov–Smirnov: the statistic on two sorted samples and its p-value with
 *   `scipy.stats.ks_2samp(method='auto')` semantics — exact when both samples hold at most 10,000
 *   values (lattice-path counts; the statistic rounded to h / lcm(n1, n2) as scipy does), otherwise
 *   `kstwo.sf(d, round(n1·n2 / (n1 + n2)))`, the one-sample two-sided distribution computed as scipy's
 *   `_kolmogn` (Simard & L'Ecuyer: Ruben–Gambino, Durbin matrix, Pomeranz, Pelz–Good, Smirnov);
 * - Jensen–Shannon distance (base 2, in [0, 1]) on counts, as `scipy.spatial.distance.jensenshannon`;
 * - Wasserstein-1 between two sorted samples (∫ |F − G| dx, as `scipy.stats.wasserstein_distance`);
 * - Pearson chi-square against expected counts with its p-value (regularised upper incomplete gamma).
 * Reference values come from scipy: test/fixtures/drift/make_fixtures.py.
 */
import { chiSquareSf } from '../experiments/distributions.js';
import { ValidationError } from '../shared/errors.js';

/** Share a bin counts as when it holds nothing (keeps ln finite). */
export const PSI_EPSILON = 1e-4;

/** Above this many values in either sample, ks_2samp's 'auto' method is asymptotic (scipy's MAX_AUTO_N). */
export const KS_EXACT_MAX_N = 10_000;

function total(counts: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < counts.length; i++) sum += counts[i] as number;
  return sum;
}

/**
 * PSI between two histograms on the same bins: Σ (c_i − r_i) · ln(c_i / r_i) over the shares, each
 * share at least {@link PSI_EPSILON}. Both must have the same length and a positive total.
 */
export function psiFromCounts(reference: ArrayLike<number>, current: ArrayLike<number>): number {
  if (reference.length !== current.length)
    throw new ValidationError('current', `must have ${reference.length} bins, not ${current.length}`);
  const rt = total(reference);
  const ct = total(current);
  if (!(rt > 0)) throw new ValidationError('reference', 'must hold at least one value');
  if (!(ct > 0)) throw new ValidationError('current', 'must hold at least one value');
  let psi = 0;
  for (let b = 0; b < reference.length; b++) {
    const r = Math.max((reference[b] as number) / rt, PSI_EPSILON);
    const c = Math.max((current[b] as number) / ct, PSI_EPSILON);
    psi += (c - r) * Math.log(c / r);
  }
  return psi;
}

/**
 * Jensen–Shannon distance, base 2 (0 for equal distributions, 1 for disjoint ones), of two
 * histograms on the same bins (normalised here; no smoothing needed). NaN when either is empty.
 */
export function jensenShannonDistance(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new ValidationError('q', `must have ${p.length} bins, not ${q.length}`);
  const pt = total(p);
  const qt = total(q);
  if (!(pt > 0 && qt > 0)) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < p.length; i++) {
    const a = (p[i] as number) / pt;
    const b = (q[i] as number) / qt;
    const m = (a + b) / 2;
    if (a > 0) sum += a * Math.log(a / m);
    if (b > 0) sum += b * Math.log(b / m);
  }
  return Math.sqrt(Math.max(0, sum / 2 / Math.LN2));
}

/**
 * Counts of sorted values in right-closed bins under inner `edges` (bin k is (e[k−1], e[k]]), the
 * rule of reference-profile.ts `binIndex`, in one sweep.
 */
export function binSortedCounts(sorted: ArrayLike<number>, edges: ArrayLike<number>): Float64Array {
  const counts = new Float64Array(edges.length + 1);
  let bin = 0;
  let start = 0;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i] as number;
    if (bin < edges.length && v > (edges[bin] as number)) {
      counts[bin] = i - start;
      start = i;
      bin++;
      while (bin < edges.length && v > (edges[bin] as number)) bin++;
    }
  }
  counts[bin] = (counts[bin] as number) + sorted.length - start;
  return counts;
}

/** Below this many values, {@link sortFloat64} uses the built-in sort. */
const RADIX_MIN = 512;
// Six digits of the 64-bit key: bits 0–10, 11–21, 22–31 of the low word, then of the high word.
const RADIX_WORD = [0, 0, 0, 1, 1, 1];
const RADIX_SHIFT = [0, 11, 22, 0, 11, 22];
const RADIX_MASK = [0x7ff, 0x7ff, 0x3ff, 0x7ff, 0x7ff, 0x3ff];

const bump = (counts: Uint32Array, at: number) => {
  counts[at] = (counts[at] as number) + 1;
};

/**
 * Sorts finite (or infinite; not NaN) doubles ascending in place, as `Float64Array.prototype.sort`
 * does (−0 before +0), by an LSD radix sort on their bits (sign-flipped so unsigned order is numeric
 * order): six passes of 11 bits, a pass skipped when one digit value holds every key. About 3× the
 * built-in sort on a million values. `scratch` (at least as long) avoids an allocation.
 */
export function sortFloat64(values: Float64Array, scratch?: Float64Array): Float64Array {
  const n = values.length;
  if (n < RADIX_MIN) return values.sort();
  const buffer = scratch !== undefined && scratch.length >= n ? scratch : new Float64Array(n);
  let src = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  let dst = new Uint32Array(buffer.buffer, buffer.byteOffset, n * 2);
  const counts = new Uint32Array(6 * 2048);
  for (let i = 0; i < n; i++) {
    let lo = src[2 * i] as number;
    let hi = src[2 * i + 1] as number;
    if (hi & 0x80000000) {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    } else hi = (hi ^ 0x80000000) >>> 0;
    src[2 * i] = lo;
    src[2 * i + 1] = hi;
    bump(counts, lo & 0x7ff);
    bump(counts, 2048 + ((lo >>> 11) & 0x7ff));
    bump(counts, 4096 + (lo >>> 22));
    bump(counts, 6144 + (hi & 0x7ff));
    bump(counts, 8192 + ((hi >>> 11) & 0x7ff));
    bump(counts, 10240 + (hi >>> 22));
  }
  const offsets = new Uint32Array(2048);
  for (let pass = 0; pass < 6; pass++) {
    const base = pass * 2048;
    let single = false;
    let sum = 0;
    for (let b = 0; b < 2048; b++) {
      const c = counts[base + b] as number;
      if (c === n) single = true;
      offsets[b] = sum;
      sum += c;
    }
    if (single) continue;
    const high = RADIX_WORD[pass] === 1;
    const shift = RADIX_SHIFT[pass] as number;
    const mask = RADIX_MASK[pass] as number;
    for (let i = 0; i < n; i++) {
      const lo = src[2 * i] as number;
      const hi = src[2 * i + 1] as number;
      const digit = ((high ? hi : lo) >>> shift) & mask;
      const at = offsets[digit] as number;
      offsets[digit] = at + 1;
      dst[2 * at] = lo;
      dst[2 * at + 1] = hi;
    }
    [src, dst] = [dst, src];
  }
  for (let i = 0; i < n; i++) {
    let lo = src[2 * i] as number;
    let hi = src[2 * i + 1] as number;
    if (hi & 0x80000000) hi = (hi ^ 0x80000000) >>> 0;
    else {
      hi = ~hi >>> 0;
      lo = ~lo >>> 0;
    }
    src[2 * i] = lo;
    src[2 * i + 1] = hi;
  }
  if (src.buffer !== values.buffer) values.set(new Float64Array(src.buffer, src.byteOffset, n));
  return values;
}

/** Values of sorted `b` from index `from` on that are < x (strict) or ≤ x: the first index past them. */
function searchFrom(b: ArrayLike<number>, from: number, x: number, inclusive: boolean): number {
  let lo = from;
  let hi = b.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = b[mid] as number;
    if (v < x || (inclusive && v === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * sup |F_small − F_large| when one sample is far smaller (a reference's quantiles against a
 * window): between consecutive values of the small sample its CDF is flat and the large one's is
 * monotone, so the supremum is at those values or just below them — two binary searches each.
 */
function ksBySearch(small: ArrayLike<number>, large: ArrayLike<number>): number {
  const m = small.length;
  const n = large.length;
  let d = 0;
  let below = 0;
  let i = 0;
  while (i < m) {
    const x = small[i] as number;
    let end = i + 1;
    while (end < m && (small[end] as number) === x) end++;
    below = searchFrom(large, below, x, false);
    const atOrBelow = searchFrom(large, below, x, true);
    d = Math.max(d, Math.abs(i / m - below / n), Math.abs(end / m - atOrBelow / n));
    below = atOrBelow;
    i = end;
  }
  return d;
}

/** sup |F_a − F_b| of two sorted samples' empirical CDFs (ties handled: both step at a shared value). */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return Number.NaN;
  if (n1 * 32 < n2) return ksBySearch(a, b);
  if (n2 * 32 < n1) return ksBySearch(b, a);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 && j < n2) {
    const v = Math.min(a[i] as number, b[j] as number);
    while (i < n1 && (a[i] as number) <= v) i++;
    while (j < n2 && (b[j] as number) <= v) j++;
    const diff = Math.abs(i / n1 - j / n2);
    if (diff > d) d = diff;
  }
  return d;
}

/**
 * Wasserstein-1 when one sample is far smaller, without walking the large one: the small sample's
 * CDF is a constant c between its values, so on each such interval [a, b) the integral of
 * |c − F_L| splits where F_L passes c (at the large sample's value of rank floor(c·n)), and each
 * piece is c·length minus ∫F_L, read off G(x) = ∫_{−∞}^x F_L = (cnt(x)·(x − x₀) − U[cnt(x)]) / n with
 * U the prefix sums of the large sample's values centred on its median x₀ (one pass; `prefix`,
 * at least n + 1 long, avoids an allocation). Rounding: about ε·n·spread on each G, far below the
 * distances that matter; the brute-force tests hold it to 1e-9 relative.
 */
function wassersteinBySearch(
  small: ArrayLike<number>,
  large: ArrayLike<number>,
  prefix?: Float64Array,
): number {
  const m = small.length;
  const n = large.length;
  const u = prefix !== undefined && prefix.length > n ? prefix : new Float64Array(n + 1);
  const x0 = large[n >>> 1] as number;
  u[0] = 0;
  for (let i = 0; i < n; i++) u[i + 1] = (u[i] as number) + ((large[i] as number) - x0);
  const G = (x: number): number => {
    const count = searchFrom(large, 0, x, true);
    return (count * (x - x0) - (u[count] as number)) / n;
  };
  let sum = G(small[0] as number); // below the small sample's first value its CDF is 0
  let i = 0;
  while (i < m) {
    const a = small[i] as number;
    let end = i + 1;
    while (end < m && (small[end] as number) === a) end++;
    if (end === m) {
      // Above the last value the small CDF is 1: ∫ (1 − F_L) up to the large sample's maximum.
      const z = Math.max(large[n - 1] as number, a);
      sum += z - a - (G(z) - G(a));
      break;
    }
    const b = small[end] as number;
    const c = end / m;
    const rank = Math.floor((end * n) / m);
    const z = Math.min(Math.max(large[rank] as number, a), b);
    const ga = G(a);
    const gz = G(z);
    const gb = G(b);
    sum += c * (z - a) - (gz - ga) + (gb - gz) - c * (b - z);
    i = end;
  }
  return sum;
}

/**
 * ∫ |F_a − F_b| dx of two sorted samples (Wasserstein-1 between their empirical distributions).
 * When one is more than 32× the other, by searches and prefix sums (`scratch`, at least the larger
 * length + 1, is used for them); otherwise by merging.
 */
export function wasserstein1(a: ArrayLike<number>, b: ArrayLike<number>, scratch?: Float64Array): number {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return Number.NaN;
  if (n1 * 32 < n2) return wassersteinBySearch(a, b, scratch);
  if (n2 * 32 < n1) return wassersteinBySearch(b, a, scratch);
  let i = 0;
  let j = 0;
  let sum = 0;
  let x = Math.min(a[0] as number, b[0] as number);
  while (i < n1 || j < n2) {
    while (i < n1 && (a[i] as number) <= x) i++;
    while (j < n2 && (b[j] as number) <= x) j++;
    if (i === n1 && j === n2) break;
    const next = Math.min(i < n1 ? (a[i] as number) : Infinity, j < n2 ? (b[j] as number) : Infinity);
    sum += Math.abs(i / n1 - j / n2) * (next - x);
    x = next;
  }
  return sum;
}

/** numpy's round: halves to the even neighbour (277·277/554 = 138.5 → 138). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** P(D_{n,n} ≥ h/n), scipy `_compute_prob_outside_square` (Horner form of the alternating sum). */
function probOutsideSquare(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    p = p1 * (1 - p);
  }
  return 2 * p;
}

/**
 * P(D ≥ h / lcm) for samples of m and n values: one minus the share of lattice paths from (0, 0) to
 * (m, n) staying strictly inside |n·x − m·y| / g < h, each point's path count divided by
 * binom(x + y, x) so nothing overflows: a(x, y) = (x·a(x−1, y) + y·a(x, y−1)) / (x + y).
 */
function probOutsideBand(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let prev = new Float64Array(n + 2);
  let cur = new Float64Array(n + 2);
  let prevMin = 0;
  let prevMax = Math.min(Math.ceil(h / mg), n + 1); // exclusive
  for (let y = prevMin; y < prevMax; y++) prev[y - prevMin] = 1;
  for (let x = 1; x <= m; x++) {
    const minj = Math.min(Math.max(Math.floor((ng * x - h) / mg) + 1, 0), n);
    const maxj = Math.min(Math.ceil((ng * x + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let below = 0;
    for (let y = minj; y < maxj; y++) {
      const left = y >= prevMin && y < prevMax ? (prev[y - prevMin] as number) : 0;
      below = (x * left + y * below) / (x + y);
      cur[y - minj] = below;
    }
    [prev, cur] = [cur, prev];
    prevMin = minj;
    prevMax = maxj;
  }
  return prevMax === n + 1 && prevMin <= n ? 1 - (prev[n - prevMin] as number) : 1;
}

// --- kstwo.sf: the one-sample two-sided Kolmogorov distribution (scipy.stats._ksstats) ---

const E128 = 2 ** 128;
const EM128 = 2 ** -128;
const STIRLING = [
  -0.029550653594771242, 0.00641025641025641, -0.0019175269175269176, 0.0008417508417508417,
  -0.0005952380952380953, 0.0007936507936507937, -0.002777777777777778, 0.08333333333333333,
];
const clip = (p: number) => Math.min(1, Math.max(0, p));

function logFactorialOverPower(n: number): number {
  const rn = 1 / n;
  let poly = 0;
  for (const c of STIRLING) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + Math.log(2 * Math.PI) / 2 + rn * poly;
}

/** One-sided Smirnov survival P(D⁺_n ≥ x): the Birnbaum–Tingey sum in logs (scipy.special.smirnov). */
export function smirnovSf(n: number, x: number): number {
  if (x <= 0) return 1;
  if (x >= 1) return 0;
  if (n > 1_000_000) return Math.exp(-((6 * n * x + 1) ** 2) / 18 / n);
  const last = Math.floor(n * (1 - x));
  let logBinom = 0;
  let sum = 0;
  for (let j = 0; j <= Math.min(last, n); j++) {
    if (j > 0) logBinom += Math.log((n - j + 1) / j);
    const a = (n - j) / n - x;
    const b = x + j / n;
    if (a <= 0) {
      if (n - j === 0) sum += Math.exp(logBinom + (j - 1) * Math.log(b));
      continue;
    }
    sum += Math.exp(logBinom + (n - j) * Math.log(a) + (j - 1) * Math.log(b));
  }
  return clip(x * sum);
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array<ArrayBuffer> {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++)
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < m; j++)
        out[i * m + j] = (out[i * m + j] as number) + aik * (b[k * m + j] as number);
    }
  return out;
}

/** P(D_n ≤ d), Durbin's matrix (Marsaglia–Tsang–Wang), scipy `_kolmogn_DMTW`. */
function kolmogorovCdfDurbin(n: number, d: number): number {
  if (d >= 1) return 1;
  const nd = n * d;
  if (nd <= 0.5) return 0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;
  let H = new Float64Array(m * m);
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1;
  for (let j = 1; j <= m; j++) {
    w[j - 1] = fac;
    fac /= j;
    v[j - 1] = (1 - h ** j) * fac;
  }
  const tt = Math.max(2 * h - 1, 0) ** m - 2 * h ** m;
  v[m - 1] = (1 + tt) * fac;
  for (let i = 1; i < m; i++) for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - i + 1] as number;
  for (let r = 0; r < m; r++) H[r * m] = v[r] as number;
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c] as number;
  let power = new Float64Array(m * m);
  for (let i = 0; i < m; i++) power[i * m + i] = 1;
  let nn = n;
  let exponent = 0;
  let hExponent = 0;
  while (nn > 0) {
    if (nn % 2) {
      power = matmul(power, H, m);
      exponent += hExponent;
    }
    H = matmul(H, H, m);
    hExponent *= 2;
    if (Math.abs(H[(k - 1) * m + k - 1] as number) > E128) {
      for (let i = 0; i < H.length; i++) H[i] = (H[i] as number) * EM128;
      hExponent += 128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = power[(k - 1) * m + k - 1] as number;
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= E128;
      exponent -= 128;
    }
  }
  return clip(p * 2 ** exponent);
}

function pomeranzBounds(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const half = Math.floor((i + 1) / 2);
    if ((i + 1) % 2 === 0) {
      if (half === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = half - 1 - ll - roundf - 1;
        j2 = half + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = half - 1 - ll - 1;
      j2 = half + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/** P(D_n ≤ x), Pomeranz's recursion, scipy `_kolmogn_Pomeranz` (used for n ≤ 140). */
function kolmogorovCdfPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = t - ll;
  const g = Math.min(f, 1 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = ((gpower[m - 1] as number) * (g / n)) / m;
    twogpower[m] = ((twogpower[m - 1] as number) * ((2 * g) / n)) / m;
    onem2gpower[m] = ((onem2gpower[m - 1] as number) * ((1 - 2 * g) / n)) / m;
  }
  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let exponent = 0;
  let [j1, j2] = pomeranzBounds(0, n, ll, ceilf, roundf);
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0);
    [j1, j2] = pomeranzBounds(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // conv = convolve(V0[k1 - V0s : k1 - V0s + ln2], pwrs[:ln2]); V1[:len] = conv[j1 - k1 : …]
      const start = j1 - k1;
      const len = j2 - j1 + 1;
      let max = 0;
      for (let o = 0; o < len; o++) {
        const idx = start + o;
        let s = 0;
        for (let q = Math.max(0, idx - ln2 + 1); q <= Math.min(idx, ln2 - 1); q++)
          s += (V0[k1 - V0s + q] ?? 0) * (pwrs[idx - q] as number);
        V1[o] = s;
        if (s > max) max = s;
      }
      if (max > 0 && max < EM128) {
        for (let o = 0; o < V1.length; o++) V1[o] = (V1[o] as number) * E128;
        exponent -= 128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  let ans = V1[n - V1s] as number;
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > E128) {
      ans *= EM128;
      exponent += 128;
    }
    ans *= m;
  }
  return clip(ans * 2 ** exponent);
}

/** P(D_n ≤ x), the Pelz–Good asymptotic series, scipy `_kolmogn_PelzGood`. */
function kolmogorovCdfPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const PI2 = Math.PI ** 2;
  const PI4 = PI2 * PI2;
  const PI6 = PI4 * PI2;
  const SQRT2PI = Math.sqrt(2 * Math.PI);
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z3 = z2 * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI4 * (1 - 2 * z2)) / 16;
  const k3d = (PI6 * (5 - 30 * z2)) / 64;
  const k3c = (PI4 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z ** 8;
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const m2 = m * m;
    const m4 = m2 * m2;
    const m6 = m4 * m2;
    const qp = q ** (8 * k);
    const coeffs = [1, k1a + k1b * m2, k2a + k2b * m2 + k2c * m4, k3a + k3b * m2 + k3c * m4 + k3d * m6];
    for (let i = 0; i < 4; i++) K[i] = (K[i] as number) * qp + (coeffs[i] as number);
  }
  const denominators = [z, 6 * z4, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = ((K[i] as number) * q * SQRT2PI) / (denominators[i] as number);
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const sqrt3z = Math.sqrt(3) * z;
  for (let k = maxk; k > 0; k--) {
    const k2 = k * k;
    const qp = q ** k2;
    k2extra += k2 * qp;
    const kpi = Math.PI * k;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qp;
  }
  K[2] = (K[2] as number) + (k2extra * PI2 * SQRT2PI) / (-36 * z3);
  K[3] = (K[3] as number) + (k3extra * PI2 * SQRT2PI) / (216 * z6);
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += (K[i] as number) / n ** (i / 2);
  return sum;
}

/** P(D_n ≥ x) of the one-sample two-sided KS statistic: scipy `kstwo.sf(x, n)` (`_kolmogn`, cdf=False). */
export function kolmogorovSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0 || Number.isNaN(x)) return Number.NaN;
  if (x >= 1) return 0;
  if (x <= 0) return 1;
  const t = n * x;
  if (t <= 1) {
    if (t <= 0.5) return 1;
    let prob: number;
    if (n <= 140) {
      prob = 1;
      for (let i = 1; i <= n; i++) prob *= i * (1 / n) * (2 * t - 1);
    } else prob = Math.exp(logFactorialOverPower(n) + n * Math.log(2 * t - 1));
    return clip(1 - prob);
  }
  if (t >= n - 1) return clip(2 * (1 - x) ** n);
  if (x >= 0.5) return clip(2 * smirnovSf(n, x));
  const nx2 = t * x;
  if (n <= 140) {
    if (nx2 <= 0.754693) return clip(1 - kolmogorovCdfDurbin(n, x));
    if (nx2 <= 4) return clip(1 - kolmogorovCdfPomeranz(n, x));
    return clip(2 * smirnovSf(n, x));
  }
  if (nx2 >= 370) return 0;
  if (nx2 >= 2.2) return clip(2 * smirnovSf(n, x));
  const cdf = n <= 100_000 && n * x ** 1.5 <= 1.4 ? kolmogorovCdfDurbin(n, x) : kolmogorovCdfPelzGood(n, x);
  return clip(1 - cdf);
}

export interface KsResult {
  /** sup |F₁ − F₂| (the exact method rounds it to h / lcm(n1, n2), as scipy). */
  readonly statistic: number;
  readonly pValue: number;
  readonly method: 'exact' | 'asymp';
}

/**
 * The p-value of a two-sample KS statistic `d` for samples of `n1` and `n2` values, scipy's
 * ks_2samp two-sided semantics: 'auto' is exact when max(n1, n2) ≤ {@link KS_EXACT_MAX_N}.
 */
export function ksPValue(
  d: number,
  n1: number,
  n2: number,
  method: 'auto' | 'exact' | 'asymp' = 'auto',
): KsResult {
  if (!(Number.isInteger(n1) && n1 > 0 && Number.isInteger(n2) && n2 > 0))
    throw new ValidationError('n', 'sample sizes must be whole numbers of at least 1');
  if (Number.isNaN(d)) return { statistic: Number.NaN, pValue: Number.NaN, method: 'asymp' };
  const mode = method === 'auto' ? (Math.max(n1, n2) <= KS_EXACT_MAX_N ? 'exact' : 'asymp') : method;
  if (mode === 'exact') {
    const g = gcd(n1, n2);
    const lcm = (n1 / g) * n2;
    const h = Math.round(d * lcm);
    const rounded = h / lcm;
    if (h === 0) return { statistic: rounded, pValue: 1, method: 'exact' };
    const p = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
    if (p >= 0 && p <= 1) return { statistic: rounded, pValue: p, method: 'exact' };
  }
  const en = roundHalfEven((n1 * n2) / (n1 + n2));
  return { statistic: d, pValue: kolmogorovSf(en, d), method: 'asymp' };
}

/**
 * Two-sample KS on sorted samples. `n1`, when given, is the size of the population `a` stands for
 * (a reference kept as its quantiles): the p-value is the one a sample of that size would have.
 */
export function ksTwoSample(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: { readonly n1?: number; readonly method?: 'auto' | 'exact' | 'asymp' } = {},
): KsResult {
  if (a.length === 0) throw new ValidationError('a', 'must hold at least one value');
  if (b.length === 0) throw new ValidationError('b', 'must hold at least one value');
  return ksPValue(ksStatistic(a, b), options.n1 ?? a.length, b.length, options.method);
}

/**
 * Pearson chi-square of observed counts against expected counts (scipy.stats.chisquare; expected
 * must be positive): Σ (o − e)² / e, dof = bins − 1, p = Q((bins − 1)/2, χ²/2). One bin: 0 and p 1.
 */
export function chiSquareTest(
  observed: ArrayLike<number>,
  expected: ArrayLike<number>,
): { statistic: number; pValue: number; dof: number } {
  if (observed.length !== expected.length)
    throw new ValidationError('expected', `must have ${observed.length} bins, not ${expected.length}`);
  let statistic = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i] as number;
    if (!(e > 0)) throw new ValidationError(`expected[${i}]`, 'must be positive');
    const diff = (observed[i] as number) - e;
    statistic += (diff * diff) / e;
  }
  const dof = observed.length - 1;
  if (dof < 1) return { statistic: 0, pValue: 1, dof: 0 };
  return { statistic, pValue: chiSquareSf(statistic, dof), dof };
}
