import { describe, expect, it } from 'vitest';
import { P95_LATENCY_METRIC } from '../../lambdas/registry/gates.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import {
  candidateRunId,
  flattenMetrics,
  primaryMetric,
  runParams,
  validationScoreOf,
} from '../../lambdas/training/pipeline/candidate.js';
import type { CandidateResult } from '../../lambdas/training/pipeline/contract.js';
import { championGate, selectBest } from '../../lambdas/training/pipeline/evaluate.js';
import type { Evaluation, Metrics } from '../../lambdas/training/train-model.js';

const binary: Metrics = {
  task: 'binary',
  count: 50,
  positives: 20,
  threshold: 0.5,
  accuracy: 0.9,
  precision: 0.8,
  recall: null,
  f1: null,
  rocAuc: 0.95,
  logLoss: 0.3,
  brier: 0.1,
  positiveRate: 0.4,
  undefinedReasons: { recall: 'no positives', f1: 'no positives' },
};
const evaluation: Evaluation = {
  metrics: binary,
  latency: { count: 20, p50: 0.05, p95: 0.12, max: 0.2, mean: 0.06 },
  modelBytes: 1234,
  rows: { train: 300, validation: 50, test: 50 },
};

describe('primaryMetric', () => {
  it('binary: rocAuc, higher is better; multiclass: macroF1, higher; regression: rmse, lower', () => {
    expect(primaryMetric('binary')).toEqual({ name: 'rocAuc', direction: 'max' });
    expect(primaryMetric('multiclass')).toEqual({ name: 'macroF1', direction: 'max' });
    expect(primaryMetric('regression')).toEqual({ name: 'rmse', direction: 'min' });
  });
});

describe('flattenMetrics', () => {
  it('keeps finite scores, latency (p95 under the gate key), size and rows; drops nulls and counts', () => {
    expect(flattenMetrics(evaluation)).toEqual({
      accuracy: 0.9,
      precision: 0.8,
      rocAuc: 0.95,
      logLoss: 0.3,
      brier: 0.1,
      positiveRate: 0.4,
      p50LatencyMs: 0.05,
      [P95_LATENCY_METRIC]: 0.12,
      modelBytes: 1234,
      trainRows: 300,
      validationRows: 50,
      testRows: 50,
    });
  });

  it('leaves out multiclass per-class arrays', () => {
    const flat = flattenMetrics({
      ...evaluation,
      metrics: {
        task: 'multiclass',
        count: 3,
        classes: 3,
        accuracy: 1,
        macroF1: 1,
        f1ByClass: [1, 1, null],
        macroRocAuc: null,
        logLoss: 0.01,
        undefinedReasons: {},
      },
    });
    expect(Object.keys(flat).sort()).toEqual(
      [
        'accuracy',
        'logLoss',
        'macroF1',
        'modelBytes',
        'p50LatencyMs',
        P95_LATENCY_METRIC,
        'testRows',
        'trainRows',
        'validationRows',
      ].sort(),
    );
  });
});

describe('validationScoreOf', () => {
  it('takes the validation value; without validation rows the held-out one; neither is an error', () => {
    const metric = primaryMetric('binary');
    expect(validationScoreOf(evaluation, { ...binary, rocAuc: 0.7 }, metric)).toEqual({
      value: 0.7,
      from: 'validation',
    });
    expect(validationScoreOf(evaluation, undefined, metric)).toEqual({ value: 0.95, from: 'test' });
    expect(validationScoreOf(evaluation, { ...binary, rocAuc: null }, metric)).toEqual({
      value: 0.95,
      from: 'test',
    });
    expect(() =>
      validationScoreOf({ ...evaluation, metrics: { ...binary, rocAuc: null } }, undefined, metric),
    ).toThrow(ValidationError);
  });
});

const candidate = (index: number, validationScore: number): CandidateResult => ({
  index,
  runId: `run-c${index}`,
  params: {},
  model: { key: `m${index}`, sha256: 'a'.repeat(64), sizeBytes: 1 },
  evaluationReport: { key: `e${index}`, sha256: 'b'.repeat(64), sizeBytes: 1 },
  referenceProfile: { key: `r${index}`, sha256: 'c'.repeat(64), sizeBytes: 1 },
  validationScore,
  metrics: {},
});

describe('selectBest', () => {
  it('picks the highest score for max metrics, the lowest for min ones', () => {
    const all = [candidate(0, 0.7), candidate(1, 0.9), candidate(2, 0.8)];
    expect(selectBest(all, primaryMetric('binary')).index).toBe(1);
    expect(selectBest(all, primaryMetric('regression')).index).toBe(0);
  });

  it('breaks ties by the lowest index, whatever the order', () => {
    const all = [candidate(3, 0.9), candidate(1, 0.9), candidate(2, 0.5)];
    expect(selectBest(all, primaryMetric('binary')).index).toBe(1);
  });

  it('refuses no candidates', () => {
    expect(() => selectBest([], primaryMetric('binary'))).toThrow(ValidationError);
  });
});

describe('championGate', () => {
  it('max: the candidate must exceed the champion by at least delta', () => {
    const auc = primaryMetric('binary');
    expect(championGate(auc, 0.85, 0.8, 0.05)).toMatchObject({ passed: true, comparison: '>=' });
    expect(championGate(auc, 0.84, 0.8, 0.05).passed).toBe(false);
    expect(championGate(auc, 0.8, 0.8, 0).passed).toBe(true);
    expect(championGate(auc, 0.79, 0.8, 0).passed).toBe(false);
  });

  it('min: the candidate must be lower than the champion by at least delta', () => {
    const rmse = primaryMetric('regression');
    expect(championGate(rmse, 1.5, 2, 0.5)).toMatchObject({ passed: true, comparison: '<=', threshold: 1.5 });
    expect(championGate(rmse, 1.6, 2, 0.5).passed).toBe(false);
    expect(championGate(rmse, 2.1, 2, 0).passed).toBe(false);
  });

  it('a candidate without the metric fails', () => {
    expect(championGate(primaryMetric('binary'), undefined, 0.5, 0)).toMatchObject({
      passed: false,
      value: null,
    });
  });
});

describe('candidate runs and params', () => {
  it('derives child run ids deterministically within the 64-character limit', () => {
    expect(candidateRunId('exec-1', 3)).toBe('exec-1-c3');
    const long = candidateRunId('x'.repeat(64), 12);
    expect(long).toBe(candidateRunId('x'.repeat(64), 12));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).not.toBe(candidateRunId('y'.repeat(64), 12));
  });

  it('passes scalars through and writes anything else as JSON', () => {
    expect(runParams({ a: 1, b: 'x', c: true, d: [1, 2], e: undefined, f: Number.NaN })).toEqual({
      a: 1,
      b: 'x',
      c: true,
      d: '[1,2]',
      f: 'null',
    });
  });
});
