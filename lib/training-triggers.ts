/**
 * What retrains a model: EventBridge rules that start its training pipeline (the patterns and
 * inputs are plain data in lambdas/training/pipeline/triggers.ts, shared with the drift monitor and
 * the tests).
 *
 * - schedule: an EventBridge rule with the configured expression (UTC). A rule rather than
 *   EventBridge Scheduler: the configuration's expression is a rule expression already, the
 *   feature store's materialization schedules are rules too, and none of Scheduler's extras (time
 *   zones, one-off schedules, flexible windows) is asked for.
 * - drift: a rule on the default bus (where CloudWatch publishes alarm state changes) for the
 *   model's `<stack>/<model>/retrain/…` alarms entering ALARM; an input transformer makes the event
 *   a `drift` trigger.
 * - new data: one rule and one function for all models ({@link RetrainingTriggers}): ingestion-log
 *   entries of the views some model watches go to the function, which counts accepted rows per
 *   model and starts a pipeline once its count reaches `retraining.newDataRows`.
 *
 * Undeliverable rule events and failed asynchronous invocations land in one failure queue, whose
 * depth alarm goes to the alarm topic.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV, ingestionManifestKey, TRAINED_MODELS_DEFINE } from '../lambdas/shared/layout.js';
import type { TrainedModelConfig } from '../lambdas/training/model-config.js';
import {
  DRIFT_INPUT_PATHS,
  driftAlarmPattern,
  driftInput,
  type EventPatternJson,
  newDataPattern,
  newDataWatches,
  scheduleInput,
  watchedViews,
} from '../lambdas/training/pipeline/triggers.js';
import { MlopsFunction } from './mlops-function.js';
import { failureQueue, type Monitoring } from './monitoring.js';
import { acknowledge, prefixedBucketGrants } from './nag.js';

/** An EventBridge pattern as CDK takes it. */
function cdkPattern(pattern: EventPatternJson): events.EventPattern {
  return {
    source: [...pattern.source],
    detailType: [...pattern['detail-type']],
    detail: pattern.detail as Record<string, unknown>,
  };
}

/** How rule targets deliver: retries, then the failure queue. */
const delivery = (queue: sqs.IQueue) => ({
  deadLetterQueue: queue,
  retryAttempts: 8,
  maxEventAge: Duration.hours(24),
});

export interface ModelRetrainingProps {
  readonly model: TrainedModelConfig;
  readonly stateMachine: sfn.IStateMachine;
  /** The stack name the drift alarms are named under (layout.ts `retrainingAlarmName`). */
  readonly stackName: string;
  /** Receives events a rule could not deliver to the state machine. */
  readonly deadLetterQueue: sqs.IQueue;
}

/** The rules one model's schedule and drift triggers made (absent when not configured). */
export interface ModelRetrainingRules {
  readonly schedule?: events.Rule;
  readonly drift?: events.Rule;
}

/**
 * The schedule and drift rules of one model (its new-data trigger is {@link RetrainingTriggers}'s
 * shared function). Rules are created under `scope` with ids `${id}Schedule` and `${id}Drift`.
 */
export function addRetrainingTriggers(
  scope: Construct,
  id: string,
  props: ModelRetrainingProps,
): ModelRetrainingRules {
  const { model, stateMachine } = props;
  const expression = model.retraining.schedule;
  const schedule =
    expression === undefined
      ? undefined
      : new events.Rule(scope, `${id}Schedule`, {
          description: `Retrains ${model.name} on its schedule ${expression}`,
          schedule: events.Schedule.expression(expression),
          targets: [
            new targets.SfnStateMachine(stateMachine, {
              input: events.RuleTargetInput.fromObject(scheduleInput(expression)),
              ...delivery(props.deadLetterQueue),
            }),
          ],
        });
  const drift =
    model.retraining.onDrift === false
      ? undefined
      : new events.Rule(scope, `${id}Drift`, {
          description: `Retrains ${model.name} when one of its retraining alarms enters ALARM`,
          eventPattern: cdkPattern(driftAlarmPattern(props.stackName, model.name)),
          targets: [
            new targets.SfnStateMachine(stateMachine, {
              input: events.RuleTargetInput.fromObject(
                driftInput({
                  alarmName: events.EventField.fromPath(DRIFT_INPUT_PATHS.alarmName),
                  reason: events.EventField.fromPath(DRIFT_INPUT_PATHS.reason),
                  start: events.EventField.fromPath(DRIFT_INPUT_PATHS.start),
                  end: events.EventField.fromPath(DRIFT_INPUT_PATHS.end),
                }),
              ),
              ...delivery(props.deadLetterQueue),
            }),
          ],
        });
  return { ...(schedule ? { schedule } : {}), ...(drift ? { drift } : {}) };
}

/** A trained model and its training pipeline. */
export interface RetrainedModel {
  readonly config: TrainedModelConfig;
  readonly stateMachine: sfn.IStateMachine;
}

export interface RetrainingTriggersProps {
  /** Every trained model with its pipeline; models without triggers get no rules. */
  readonly models: readonly RetrainedModel[];
  /**
   * The stack name the drift alarms are named under.
   * @default Stack.of(this).stackName
   */
  readonly stackName?: string;
  /** The feature store's offline bucket (EventBridge notifications on). */
  readonly offlineBucket: s3.IBucket;
  /** The experiment-tracking table, which holds the new-data counters. */
  readonly trackingTable: dynamodb.ITable;
  /** The failure queue's depth alarm goes through it. */
  readonly monitoring: Monitoring;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN (of the function's log group) */
  readonly removalPolicy?: RemovalPolicy;
}

/** Every model's retraining triggers, and the one new-data function they share. */
export class RetrainingTriggers extends Construct {
  /** Rules by model name. */
  public readonly rules: ReadonlyMap<string, ModelRetrainingRules>;
  /** Counts ingested rows and starts pipelines; absent when no model has `newDataRows`. */
  public readonly newDataFunction?: MlopsFunction;
  /** Routes the watched views' ingestion-log entries to {@link newDataFunction}. */
  public readonly newDataRule?: events.Rule;
  /** Undeliverable trigger events and failed new-data invocations. */
  public readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: RetrainingTriggersProps) {
    super(scope, id);
    const stackName = props.stackName ?? Stack.of(this).stackName;
    this.failures = failureQueue(this, 'Failures', 'retraining trigger events that could not be delivered');
    props.monitoring.alarmOnDeadLetters(this.failures);

    const rules = new Map<string, ModelRetrainingRules>();
    for (const { config, stateMachine } of props.models)
      rules.set(
        config.name,
        addRetrainingTriggers(this, `Model-${config.name}`, {
          model: config,
          stateMachine,
          stackName,
          deadLetterQueue: this.failures,
        }),
      );
    this.rules = rules;

    const configs = props.models.map((m) => m.config);
    const watches = newDataWatches(configs);
    if (watches.length === 0) return;
    const watching = props.models.filter((m) => watches.some((w) => w.model === m.config.name));
    const views = watchedViews(watches);

    const fn = new MlopsFunction(this, 'NewData', {
      name: 'training-trigger',
      description: 'Counts ingested rows per model and starts a training pipeline at its new-data threshold',
      environment: {
        [ENV.offlineBucket]: props.offlineBucket.bucketName,
        [ENV.trackingTable]: props.trackingTable.tableName,
        [ENV.trainingPipelines]: Stack.of(this).toJsonString(
          Object.fromEntries(watching.map((m) => [m.config.name, m.stateMachine.stateMachineArn])),
        ),
      },
      define: { [TRAINED_MODELS_DEFINE]: JSON.stringify(watching.map((m) => m.config)) },
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.removalPolicy ? { logRemovalPolicy: props.removalPolicy } : {}),
      asyncFailure: { queue: this.failures },
    });
    // The counter (GetItem, conditional UpdateItem) and its batch markers (conditional Put in a transaction).
    // The counter's items only (never the table's indexes).
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
      resourceArns: [props.trackingTable.tableArn],
    });
    for (const m of watching) m.stateMachine.grantStartExecution(fn);
    const manifests = views.map((view) => ingestionManifestKey(view, '*'));
    for (const keys of manifests) props.offlineBucket.grantRead(fn, keys);
    acknowledge(
      fn.executionRole,
      ...prefixedBucketGrants(
        props.offlineBucket,
        { read: manifests },
        'The new-data trigger reads the manifests of ingested batches of the views models watch',
      ),
    );
    this.newDataFunction = fn;

    this.newDataRule = new events.Rule(this, 'Ingested', {
      description: 'Counts each batch ingested into a view a model retrains on',
      eventPattern: cdkPattern(newDataPattern(props.offlineBucket.bucketName, views)),
      targets: [new targets.LambdaFunction(fn, delivery(this.failures))],
    });
  }
}
