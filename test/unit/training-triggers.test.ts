import { describe, expect, it } from 'vitest';
import { ingestionLogKey } from '../../lambdas/feature-store/ingest.js';
import {
  ingestionManifestKey,
  retrainingAlarmName,
  retrainingAlarmPrefix,
} from '../../lambdas/shared/layout.js';
import {
  isTrained,
  type ModelConfigInput,
  modelConfigSchema,
  type TrainedModelConfig,
} from '../../lambdas/training/model-config.js';
import {
  batchOfLogKey,
  DRIFT_INPUT_PATHS,
  driftAlarmPattern,
  driftInput,
  modelViews,
  newDataPattern,
  newDataWatches,
  scheduleInput,
  watchedViews,
} from '../../lambdas/training/pipeline/triggers.js';
import { alarmStateChange, atPath } from '../fixtures/aws-events.js';

function trained(input: Partial<ModelConfigInput> & { name: string }): TrainedModelConfig {
  const model = modelConfigSchema.parse({
    task: 'binary',
    label: 'outcome:defaulted',
    features: ['customer:income', 'customer:segment'],
    gates: {},
    ...input,
  });
  if (!isTrained(model)) throw new Error('fixture model is not trained');
  return model;
}

describe('the retraining alarm naming convention', () => {
  it('names an alarm <stack>/<model>/retrain/<check>', () => {
    expect(retrainingAlarmName('ServerlessMlops', 'churn', 'feature-psi')).toBe(
      'ServerlessMlops/churn/retrain/feature-psi',
    );
    expect(retrainingAlarmPrefix('ServerlessMlops', 'churn')).toBe('ServerlessMlops/churn/retrain/');
  });

  it("does not let one model's prefix cover another model's alarms", () => {
    const churnV2Alarm = retrainingAlarmName('ServerlessMlops', 'churn-v2', 'feature-psi');
    expect(churnV2Alarm.startsWith(retrainingAlarmPrefix('ServerlessMlops', 'churn'))).toBe(false);
    const otherStack = retrainingAlarmName('Staging', 'churn', 'feature-psi');
    expect(otherStack.startsWith(retrainingAlarmPrefix('ServerlessMlops', 'churn'))).toBe(false);
  });
});

describe('the drift trigger', () => {
  it("matches the model's retraining alarms entering ALARM", () => {
    expect(driftAlarmPattern('ServerlessMlops', 'churn')).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: 'ServerlessMlops/churn/retrain/' }], state: { value: ['ALARM'] } },
    });
  });

  it('takes every input field from a value the documented alarm event carries', () => {
    const event = alarmStateChange(retrainingAlarmName('ServerlessMlops', 'churn', 'feature-psi'));
    const values = Object.fromEntries(
      Object.entries(DRIFT_INPUT_PATHS).map(([field, path]) => [field, atPath(event, path)]),
    ) as Record<keyof typeof DRIFT_INPUT_PATHS, string>;
    for (const value of Object.values(values)) expect(typeof value).toBe('string');
    const input = driftInput(values);
    expect(input.trigger).toMatchObject({
      kind: 'drift',
      alarmName: 'ServerlessMlops/churn/retrain/feature-psi',
      reason: expect.stringContaining('Threshold Crossed'),
    });
    const window = input.trigger?.window;
    expect(Date.parse(window?.start ?? '')).toBe(Date.parse('2019-10-01T13:56:40.987Z'));
    expect(Date.parse(window?.end ?? '')).toBe(Date.parse('2019-10-02T17:04:40.989Z'));
  });
});

describe('the schedule trigger', () => {
  it('names its expression as the reason', () => {
    expect(scheduleInput('rate(7 days)')).toEqual({ trigger: { kind: 'schedule', reason: 'rate(7 days)' } });
  });
});

describe('the new-data trigger', () => {
  it('watches every view a model reads: features, label and slices, each once', () => {
    const model = trained({
      name: 'churn',
      slices: ['region:name'],
      features: ['customer:income', 'customer:segment'],
    });
    expect(modelViews(model)).toEqual(['customer', 'outcome', 'region']);
  });

  it('lists only models with newDataRows, with their threshold', () => {
    const watches = newDataWatches([
      trained({ name: 'churn', retraining: { newDataRows: 1000 } }),
      trained({ name: 'scheduled', retraining: { schedule: 'rate(1 day)' } }),
      trained({ name: 'fraud', label: 'chargeback:flag', retraining: { newDataRows: 5 } }),
    ]);
    expect(watches).toEqual([
      { model: 'churn', views: ['customer', 'outcome'], rows: 1000 },
      { model: 'fraud', views: ['chargeback', 'customer'], rows: 5 },
    ]);
    expect(watchedViews(watches)).toEqual(['chargeback', 'customer', 'outcome']);
  });

  it("routes the views' ingestion-log entries of the offline bucket", () => {
    expect(newDataPattern('offline-bucket', ['customer', 'outcome'])).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: ['offline-bucket'] },
        object: { key: [{ prefix: 'ingestion-log/customer/' }, { prefix: 'ingestion-log/outcome/' }] },
      },
    });
  });

  it('reads the batch and its manifest from a log key ingestion writes', () => {
    const key = ingestionLogKey('customer', Date.UTC(2026, 10, 20), 'batch-7.a_b');
    expect(batchOfLogKey(key)).toEqual({
      view: 'customer',
      batchId: 'batch-7.a_b',
      manifestKey: ingestionManifestKey('customer', 'batch-7.a_b'),
    });
  });

  it('refuses keys that are not ingestion-log entries', () => {
    expect(batchOfLogKey('ingestion/customer/b1.json')).toBeUndefined();
    expect(batchOfLogKey('ingestion-log/customer/123_b1')).toBeUndefined();
    expect(batchOfLogKey('ingestion-log/customer/sub/000001763596800000_b1')).toBeUndefined();
  });
});
