/**
 * What starts a model's training pipeline, as plain data: the EventBridge patterns of the drift and
 * new-data rules, the input each trigger hands the state machine, and which models watch which
 * views. lib/training-triggers.ts builds the rules from these; the drift monitor names its alarms
 * with layout.ts `retrainingAlarmName` so the drift pattern below matches them; the new-data
 * function and the tests read the same functions. No AWS SDK and no CDK.
 *
 * - schedule: `retraining.schedule`, an EventBridge schedule expression; input
 *   `{ trigger: { kind: 'schedule', reason: <expression> } }`.
 * - drift: a CloudWatch alarm named `<stack>/<model>/retrain/<check>` entering ALARM, on the
 *   default bus (CloudWatch publishes alarm state changes there only).
 * - new data: an ingested batch's ingestion-log entry (`ingestion-log/<view>/…`, written after the
 *   batch's files are published, so a training it starts reads those rows) for a view the model
 *   reads; the new-data function counts the batch's accepted rows (./new-data.ts).
 */
import {
  ingestionLogPrefix,
  ingestionManifestKey,
  OFFLINE_PREFIX,
  retrainingAlarmPrefix,
} from '../../shared/layout.js';
import type { TrainedModelConfig } from '../model-config.js';
import type { TrainingPipelineInput } from './contract.js';

/** An EventBridge event pattern as the API takes it (PutRule, TestEventPattern). */
export interface EventPatternJson {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
  readonly detail: Readonly<Record<string, unknown>>;
}

/** The `source` and `detail-type` of CloudWatch's alarm state-change events (default bus). */
export const ALARM_STATE_CHANGE = {
  source: 'aws.cloudwatch',
  detailType: 'CloudWatch Alarm State Change',
} as const;

/** The `source` and `detail-type` of S3's object-created events (buckets with EventBridge on). */
export const OBJECT_CREATED = { source: 'aws.s3', detailType: 'Object Created' } as const;

/**
 * Matches `model`'s retraining alarms (`<stack>/<model>/retrain/…`) entering ALARM. OK and
 * INSUFFICIENT_DATA transitions, other models' alarms and other stacks' alarms do not match (model
 * names hold no `/`, so `churn`'s prefix is not a prefix of `churn-v2`'s).
 */
export function driftAlarmPattern(stackName: string, model: string): EventPatternJson {
  return {
    source: [ALARM_STATE_CHANGE.source],
    'detail-type': [ALARM_STATE_CHANGE.detailType],
    detail: {
      alarmName: [{ prefix: retrainingAlarmPrefix(stackName, model) }],
      state: { value: ['ALARM'] },
    },
  };
}

/**
 * Where the drift trigger's fields come from in the alarm event (the rule's input transformer).
 * The window is the time the alarm spent in its previous state: from `previousState.timestamp`
 * (when it last changed state) to `state.timestamp` (when it entered ALARM). CloudWatch writes both
 * as `2019-10-02T17:04:40.989+0000` (ISO 8601, offset without colon; `Date.parse` reads it). The
 * datapoints it evaluated are only in `state.reasonData`, a JSON string a transformer cannot open.
 */
export const DRIFT_INPUT_PATHS = {
  alarmName: '$.detail.alarmName',
  reason: '$.detail.state.reason',
  start: '$.detail.previousState.timestamp',
  end: '$.detail.state.timestamp',
} as const;

/** The execution input a drift event becomes, given the values at {@link DRIFT_INPUT_PATHS}. */
export function driftInput(
  values: { readonly [K in keyof typeof DRIFT_INPUT_PATHS]: string },
): TrainingPipelineInput {
  return {
    trigger: {
      kind: 'drift',
      alarmName: values.alarmName,
      reason: values.reason,
      window: { start: values.start, end: values.end },
    },
  };
}

/** The execution input of a scheduled run. */
export function scheduleInput(expression: string): TrainingPipelineInput {
  return { trigger: { kind: 'schedule', reason: expression } };
}

/** The feature views a model reads (features, label, slices), sorted, each once. */
export function modelViews(model: Pick<TrainedModelConfig, 'features' | 'label' | 'slices'>): string[] {
  const refs = [...model.features, model.label, ...model.slices];
  return [...new Set(refs.map((ref) => ref.slice(0, ref.indexOf(':'))))].sort();
}

/** A model retrained after `rows` new rows of its views. */
export interface NewDataWatch {
  readonly model: string;
  readonly views: readonly string[];
  readonly rows: number;
}

/** The models with a new-data trigger (`retraining.newDataRows`), with the views they read. */
export function newDataWatches(models: readonly TrainedModelConfig[]): NewDataWatch[] {
  return models.flatMap((model) =>
    model.retraining.newDataRows === undefined
      ? []
      : [{ model: model.name, views: modelViews(model), rows: model.retraining.newDataRows }],
  );
}

/** Every view some new-data trigger watches, sorted. */
export const watchedViews = (watches: readonly NewDataWatch[]): string[] =>
  [...new Set(watches.flatMap((w) => w.views))].sort();

/** Matches the ingestion-log entries of `views` created in `bucketName`. */
export function newDataPattern(bucketName: string, views: readonly string[]): EventPatternJson {
  return {
    source: [OBJECT_CREATED.source],
    'detail-type': [OBJECT_CREATED.detailType],
    detail: {
      bucket: { name: [bucketName] },
      object: { key: views.map((view) => ({ prefix: ingestionLogPrefix(view) })) },
    },
  };
}

/** An ingestion-log key (`ingestion-log/<view>/<15 digits>_<batch>`, feature-store/ingest.ts `ingestionLogKey`). */
const LOG_KEY = new RegExp(`^${OFFLINE_PREFIX.ingestionLog}([^/]+)/\\d{15}_([A-Za-z0-9._-]{1,128})$`);

/** The batch an ingestion-log entry stands for, and its manifest; undefined for any other key. */
export function batchOfLogKey(
  key: string,
): { readonly view: string; readonly batchId: string; readonly manifestKey: string } | undefined {
  const match = LOG_KEY.exec(key);
  if (match === null) return undefined;
  const [, view, batchId] = match as unknown as [string, string, string];
  return { view, batchId, manifestKey: ingestionManifestKey(view, batchId) };
}
