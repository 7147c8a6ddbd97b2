/**
 * Sticky variant assignment: a unit (e.g. a userId) lands in the same variant on every call and every
 * Lambda instance, uniformly, and independently across experiments.
 *
 * WIRE CONTRACT, version 1 (change rule: never change; add a new version). Changing any step
 * reshuffles every unit of every running experiment:
 *   bytes  = u32le(len(utf8(experimentId))) ‖ utf8(experimentId) ‖ utf8(unitId)
 *            (UTF-8 as TextEncoder: lone surrogates become U+FFFD; the length prefix means no
 *            (experiment, unit) pair can be forged by moving characters across the boundary)
 *   h      = MurmurHash3_x86_32(bytes, seed = 0)
 *   bucket = floor(h · 10000 / 2³²)               (basis points, [0, 10000))
 *   variant: the first, in the allocation's declared order, whose cumulative weight in basis points
 *            exceeds the bucket.
 * test/unit/experiment-assignment.test.ts freezes golden vectors recorded by an independent Python
 * implementation (test/fixtures/experiments/make_fixtures.py).
 *
 * Pure JS, no node:crypto and no allocation per call: UTF-8 bytes are produced from the UTF-16 code
 * units and fed straight into the hash.
 */
import { ExperimentConfigError } from './errors.js';

export const ASSIGNMENT_VERSION = 1;
export const BUCKETS = 10_000;

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

// Streaming MurmurHash3 state (module scope: single-threaded, reset per hash).
let h1 = 0;
let pending = 0;
let pendingBytes = 0;
let length = 0;

function mixBlock(k: number): void {
  let k1 = Math.imul(k, C1);
  k1 = (k1 << 15) | (k1 >>> 17);
  k1 = Math.imul(k1, C2);
  h1 ^= k1;
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
}

function pushByte(b: number): void {
  pending |= b << (8 * pendingBytes);
  length++;
  if (++pendingBytes === 4) {
    mixBlock(pending);
    pending = 0;
    pendingBytes = 0;
  }
}

function pushString(s: string): void {
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      pushByte(c);
      continue;
    }
    if (c < 0x800) {
      pushByte(0xc0 | (c >> 6));
      pushByte(0x80 | (c & 0x3f));
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        pushByte(0xf0 | (c >> 18));
        pushByte(0x80 | ((c >> 12) & 0x3f));
        pushByte(0x80 | ((c >> 6) & 0x3f));
        pushByte(0x80 | (c & 0x3f));
        continue;
      }
      c = 0xfffd; // lone surrogate, as TextEncoder
    }
    pushByte(0xe0 | (c >> 12));
    pushByte(0x80 | ((c >> 6) & 0x3f));
    pushByte(0x80 | (c & 0x3f));
  }
}

/** UTF-8 byte length of a string (as TextEncoder encodes it). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** MurmurHash3 x86_32 (seed 0) of the version-1 assignment bytes of (experimentId, unitId), unsigned. */
export function assignmentHash(experimentId: string, unitId: string): number {
  h1 = 0;
  pending = 0;
  pendingBytes = 0;
  length = 0;
  const prefix = utf8Length(experimentId);
  pushByte(prefix & 0xff);
  pushByte((prefix >>> 8) & 0xff);
  pushByte((prefix >>> 16) & 0xff);
  pushByte(prefix >>> 24);
  pushString(experimentId);
  pushString(unitId);
  if (pendingBytes > 0) {
    let k1 = Math.imul(pending, C1);
    k1 = (k1 << 15) | (k1 >>> 17);
    h1 ^= Math.imul(k1, C2);
  }
  let h = h1 ^ length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The unit's bucket in [0, 10000) (basis points) for this experiment. */
export function assignmentBucket(experimentId: string, unitId: string): number {
  checkId(experimentId, 'experiment.id');
  checkId(unitId, 'unitId');
  return Math.floor((assignmentHash(experimentId, unitId) * BUCKETS) / 4_294_967_296);
}

function checkId(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0)
    throw new ExperimentConfigError(field, 'must be a non-empty string');
}

export interface VariantWeight {
  variant: string;
  /** Percent of units, in (0, 100), at most two decimals (one basis point). */
  weight: number;
}

/** An experiment for assignment: an explicit allocation, or the treatment's percent of a control/treatment split. */
export type AssignableExperiment =
  | { id: string; allocation: readonly VariantWeight[] }
  | { id: string; treatmentShare: number };

export interface CompiledAllocation {
  variants: readonly string[];
  /** Cumulative upper bounds in basis points; the last is 10000. */
  thresholds: Int32Array;
}

function basisPoints(weight: number, field: string): number {
  if (!(typeof weight === 'number' && weight > 0 && weight < 100))
    throw new ExperimentConfigError(field, 'must be a number in (0, 100)');
  const bp = Math.round(weight * 100);
  if (Math.abs(bp - weight * 100) > 1e-6)
    throw new ExperimentConfigError(field, 'must have at most two decimals (one basis point)');
  return bp;
}

/** Validates the allocation and turns it into cumulative basis-point thresholds. */
export function compileAllocation(experiment: AssignableExperiment): CompiledAllocation {
  checkId(experiment.id, 'experiment.id');
  const allocation: readonly VariantWeight[] =
    'allocation' in experiment
      ? experiment.allocation
      : [
          {
            variant: 'control',
            weight: 100 - basisPoints(experiment.treatmentShare, 'experiment.treatmentShare') / 100,
          },
          { variant: 'treatment', weight: experiment.treatmentShare },
        ];
  if (!Array.isArray(allocation) || allocation.length < 2)
    throw new ExperimentConfigError('experiment.allocation', 'must list at least two variants');
  const seen = new Set<string>();
  const thresholds = new Int32Array(allocation.length);
  let sum = 0;
  allocation.forEach((entry, i) => {
    checkId(entry.variant, `experiment.allocation[${i}].variant`);
    if (seen.has(entry.variant))
      throw new ExperimentConfigError(`experiment.allocation[${i}].variant`, 'must be unique');
    seen.add(entry.variant);
    sum += basisPoints(entry.weight, `experiment.allocation[${i}].weight`);
    thresholds[i] = sum;
  });
  if (sum !== BUCKETS) throw new ExperimentConfigError('experiment.allocation', 'weights must sum to 100');
  return { variants: allocation.map((e) => e.variant), thresholds };
}

/** The variant of `unitId` under a compiled allocation. */
export function variantOf(experimentId: string, compiled: CompiledAllocation, unitId: string): string {
  const bucket = assignmentBucket(experimentId, unitId);
  const { thresholds, variants } = compiled;
  for (let i = 0; i < thresholds.length; i++)
    if (bucket < (thresholds[i] as number)) return variants[i] as string;
  return variants[variants.length - 1] as string;
}

/** Validates the experiment's allocation and returns the unit's variant. */
export function assignVariant(experiment: AssignableExperiment, unitId: string): string {
  return variantOf(experiment.id, compileAllocation(experiment), unitId);
}
