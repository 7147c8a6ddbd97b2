import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/registry/model-version.js';
import {
  type EncodingSpec,
  encodedColumnNames,
  encodedWidth,
  encodeRow,
  encodeRows,
  fitEncodingSpec,
  parseEncodingSpec,
  type RawRow,
} from '../../lambdas/training/encoding.js';
import { exportLinearModel } from '../../lambdas/training/linear/linear-export.js';
import { trainLinearModel } from '../../lambdas/training/linear/linear-model.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { validationErrorOf } from '../support/errors.js';

const FEATURES = [
  { name: 'age', type: 'int64' },
  { name: 'spend', type: 'float64' },
  { name: 'vip', type: 'bool' },
  { name: 'plan', type: 'string', categories: ['basic', 'pro'] },
  { name: 'city', type: 'string' },
] as const;

const TRAINING: RawRow[] = [
  { age: 30, spend: 10, vip: true, plan: 'basic', city: 'oslo' },
  { age: 40, spend: null, vip: false, plan: 'pro', city: 'lima' },
  { age: 50n, spend: 30, vip: false, plan: 'gold', city: 'oslo' },
  { age: 20, spend: Number.NaN, vip: true, plan: null, city: 'pune' },
];

/** Every kind of value the serving path may see: known, unknown, missing (null, undefined, NaN). */
const PROBES: RawRow[] = [
  { age: 33, spend: 12.5, vip: true, plan: 'pro', city: 'lima' },
  { age: 33, spend: null, vip: false, plan: 'enterprise', city: 'atlantis' },
  { age: 33, spend: Number.NaN, vip: false, plan: undefined, city: null },
  { age: 33, vip: true, city: 'oslo' },
];

describe('encoding spec', () => {
  it('records population mean and deviation over present values, and learned categories most frequent first', () => {
    const spec = fitEncodingSpec(FEATURES, TRAINING);
    expect(spec.features[0]).toEqual({
      kind: 'numeric',
      name: 'age',
      mean: 35,
      std: Math.sqrt(125),
      missing: 'mean',
    });
    expect(spec.features[1]).toMatchObject({ mean: 20, std: 10 });
    expect(spec.features[3]).toMatchObject({ categories: ['basic', 'pro'] });
    expect(spec.features[4]).toMatchObject({ categories: ['oslo', 'lima', 'pune'] });
    expect(encodedColumnNames(spec)).toEqual([
      'age',
      'spend',
      'vip',
      'plan=basic',
      'plan=pro',
      'city=oslo',
      'city=lima',
      'city=pune',
    ]);
  });

  it('encodes missing numbers as the mean, unknown and missing categories as all zeros', () => {
    const spec = fitEncodingSpec(FEATURES, TRAINING);
    expect(Array.from(encodeRow(spec, PROBES[1] as RawRow))).toEqual([33, 20, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(encodeRow(spec, PROBES[0] as RawRow))).toEqual([33, 12.5, 1, 0, 1, 0, 1, 0]);
  });

  it("sets the <other> column for unknown and missing categories under unknown: 'other'", () => {
    const spec = fitEncodingSpec(FEATURES, TRAINING, { unknown: 'other' });
    expect(encodedWidth(spec)).toBe(10);
    expect(Array.from(encodeRow(spec, PROBES[2] as RawRow))).toEqual([33, 20, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it("keeps missing numbers as NaN under missing: 'nan' (for trees)", () => {
    const spec = fitEncodingSpec(FEATURES, TRAINING, { missing: 'nan' });
    expect(encodeRow(spec, PROBES[2] as RawRow)[1]).toBeNaN();
  });

  it('keeps at most maxCategories learned categories, ties broken by value', () => {
    const spec = fitEncodingSpec(
      [{ name: 'c', type: 'string' }],
      [{ c: 'b' }, { c: 'a' }, { c: 'c' }, { c: 'c' }],
      {
        maxCategories: 2,
      },
    );
    expect(spec.features[0]).toMatchObject({ categories: ['c', 'a'] });
  });

  it('gives identical vectors through encodeRow, encodeRows, a JSON round trip and the ONNX metadata', () => {
    const rows = TRAINING.map((r, i) => ({ ...r, y: i % 2 }));
    const model = trainLinearModel({
      task: 'binary',
      rows,
      label: 'y',
      features: FEATURES,
      params: { l2: 0.1 },
    });
    const specs: EncodingSpec[] = [
      model.encoding,
      parseEncodingSpec(canonicalJson(model.encoding)),
      readModelContract(exportLinearModel(model)).encoding,
    ];
    const width = encodedWidth(model.encoding);
    const batch = encodeRows(model.encoding, PROBES);
    PROBES.forEach((probe, i) => {
      const expected = Array.from(batch.data.subarray(i * width, (i + 1) * width));
      for (const spec of specs) expect(Array.from(encodeRow(spec, probe))).toEqual(expected);
    });
  });

  it('refuses a value of the wrong type, naming the row and feature', () => {
    const spec = fitEncodingSpec(FEATURES, TRAINING);
    expect(validationErrorOf(() => encodeRows(spec, [PROBES[0] as RawRow, { age: '33' }])).field).toBe(
      'rows[1].age',
    );
    expect(validationErrorOf(() => encodeRow(spec, { plan: 3 })).field).toBe('row.plan');
    expect(validationErrorOf(() => encodeRow(spec, { age: Number.POSITIVE_INFINITY })).field).toBe('row.age');
  });

  it('refuses a malformed spec, naming the field', () => {
    const spec = fitEncodingSpec(FEATURES, TRAINING);
    const bad = { ...spec, features: [{ ...spec.features[0], std: 0 }] };
    expect(validationErrorOf(() => parseEncodingSpec(bad)).field).toBe('encoding.features.0.std');
    expect(validationErrorOf(() => parseEncodingSpec('{')).field).toBe('encoding');
  });

  it('refuses fitting on no rows or no features', () => {
    expect(validationErrorOf(() => fitEncodingSpec(FEATURES, [])).field).toBe('rows');
    expect(validationErrorOf(() => fitEncodingSpec([], TRAINING)).field).toBe('features');
  });
});
