/**
 * Training and retraining: one Standard state machine per trained model (`TrainingPipeline`), and
 * the step functions they share (`TrainingPipelines`, created once per stack). The step shapes and
 * the flow are in lambdas/training/pipeline/contract.ts:
 *
 *   PrepareTraining → (dropped | reused: Succeed) → TrainCandidates (Map; or SageMaker .sync →
 *   UnpackSagemakerModel) → EvaluateCandidates → (rejected: FinishRejected → Succeed) →
 *   PrepareRegistration → RegisterModelVersion → TransitionToStaging → FinishSucceeded → Succeed;
 *   any task's error after its retries → RecordFailure → TrainingFailed (Fail).
 *
 * Retries: a typed refusal (ValidationError, NotFoundError, ConflictError) is bad input and never
 * retried; anything else (a throttled call, a crashed or timed-out function) is retried with backoff
 * before the Catch routes it to RecordFailure, which ends the run FAILED with its cause, releases
 * the model's lease and emits TrainingFailed. A failed execution raises the state machine's
 * ExecutionsFailed alarm.
 *
 * Idempotency: PrepareTraining keys the run on the execution ARN (a retry reuses it), the lease on
 * the execution (a retry re-takes its own lease), and the result on (model, dataset hash, config
 * fingerprint), which a duplicate trigger reuses; the register task's client token is the
 * execution ARN, so a retried registration returns the version the first attempt created.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EXECUTION_FIELD } from '../lambdas/registry/principal.js';
import {
  ARTIFACT_KEYS,
  ENV,
  FEATURE_VIEWS_DEFINE,
  OFFLINE_KEYS,
  TRAINED_MODELS_DEFINE,
} from '../lambdas/shared/layout.js';
import type { TrainedModelConfig } from '../lambdas/training/model-config.js';
import { NON_RETRYABLE_ERRORS } from '../lambdas/training/pipeline/contract.js';
import { trainingTimeoutMs } from '../lambdas/training/pipeline/timeout.js';
import type { MlopsConfig } from './config.js';
import type { FeatureStore } from './feature-store.js';
import { MlopsFunction } from './mlops-function.js';
import type { ModelRegistry } from './model-registry.js';
import { failureQueue, type Monitoring } from './monitoring.js';
import {
  acknowledge,
  invokeQualifiedFunction,
  type NagFinding,
  type PrefixedGrants,
  prefixedBucketGrants,
  XRAY_WILDCARD,
} from './nag.js';
import { retryTask } from './task-retry.js';
import { sagemakerTaskFindings, sagemakerTrainingTask } from './training-sagemaker.js';

export interface TrainingPipelinesProps {
  /** The trained models (config models with task, label and features). */
  readonly models: readonly TrainedModelConfig[];
  /** The configured feature views (baked into the Prepare step). */
  readonly featureViews: MlopsConfig['featureViews'];
  readonly featureStore: FeatureStore;
  readonly registry: ModelRegistry;
  readonly eventBus: events.IEventBus;
  readonly monitoring: Monitoring;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** The step functions every model's pipeline calls, and one state machine per trained model. */
export class TrainingPipelines extends Construct {
  public readonly prepareFunction: MlopsFunction;
  public readonly trainFunction: MlopsFunction;
  public readonly evaluateFunction: MlopsFunction;
  public readonly finishFunction: MlopsFunction;
  /** Where a timed-out or aborted execution's record goes when FinishTraining cannot take it. */
  public readonly finishFailures: sqs.Queue;
  /** Only when a model trains on SageMaker. */
  public readonly unpackFunction?: MlopsFunction;
  /** By model name. */
  public readonly pipelines: ReadonlyMap<string, TrainingPipeline>;

  constructor(scope: Construct, id: string, props: TrainingPipelinesProps) {
    super(scope, id);
    const { featureStore, registry } = props;
    const offline = featureStore.offlineBucket;
    const artifacts = registry.artifactBucket;
    const environment = {
      [ENV.offlineBucket]: offline.bucketName,
      [ENV.artifactBucket]: artifacts.bucketName,
      [ENV.trackingTable]: registry.trackingTable.tableName,
      [ENV.registryTable]: registry.table.tableName,
      [ENV.serviceName]: 'training',
    };
    const shared = {
      environment,
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      define: {
        [TRAINED_MODELS_DEFINE]: JSON.stringify(props.models),
        [FEATURE_VIEWS_DEFINE]: JSON.stringify(props.featureViews),
      },
    };
    // Each step's data access, granted and acknowledged in one place (prefix-scoped S3, the
    // tracking table's items — never its indexes: no step lists runs).
    const grantData = (fn: MlopsFunction, data: { offline?: PrefixedGrants; artifacts?: PrefixedGrants }) => {
      const findings: NagFinding[] = [];
      for (const [bucket, grants, purpose] of [
        [offline, data.offline, 'Training reads the feature store and its training sets'],
        [artifacts, data.artifacts, 'Training writes run artifacts and registers models'],
      ] as const) {
        if (grants === undefined) continue;
        for (const keys of grants.read ?? []) bucket.grantRead(fn, keys);
        for (const keys of grants.put ?? []) bucket.grantPut(fn, keys);
        findings.push(...prefixedBucketGrants(bucket, grants, purpose));
      }
      // Runs, metric batches and training state (lease, results): items of the tracking table.
      iam.Grant.addToPrincipal({
        grantee: fn,
        actions: [
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:UpdateItem',
        ],
        resourceArns: [registry.trackingTable.tableArn],
      });
      if (findings.length > 0) acknowledge(fn.executionRole, ...findings);
    };

    this.prepareFunction = new MlopsFunction(this, 'PrepareTraining', {
      ...shared,
      name: 'prepare-training',
      description: 'Training step 1: lease, point-in-time training set, reuse check, run, candidates',
      memorySize: 10_240,
      timeout: Duration.minutes(15),
    });
    featureStore.grantBuildTrainingSets(this.prepareFunction);
    grantData(this.prepareFunction, {
      offline: {
        read: [OFFLINE_KEYS.features, OFFLINE_KEYS.ingestion, OFFLINE_KEYS.datasets],
        put: [OFFLINE_KEYS.datasets],
      },
    });

    this.trainFunction = new MlopsFunction(this, 'TrainCandidate', {
      ...shared,
      name: 'train-candidate',
      description: 'Training step 2: trains one candidate, exports and scores its ONNX model',
      memorySize: 10_240,
      timeout: Duration.minutes(15),
      onnxRuntime: true,
    });
    grantData(this.trainFunction, {
      offline: { read: [OFFLINE_KEYS.datasets] },
      artifacts: { read: [ARTIFACT_KEYS.runs], put: [ARTIFACT_KEYS.runs] },
    });

    this.evaluateFunction = new MlopsFunction(this, 'EvaluateCandidates', {
      ...shared,
      name: 'evaluate-candidates',
      description: 'Training step 3: best candidate, champion re-scored on the same rows, gates',
      memorySize: 10_240,
      timeout: Duration.minutes(15),
      onnxRuntime: true,
    });
    registry.grantGetVersion(this.evaluateFunction);
    grantData(this.evaluateFunction, {
      offline: { read: [OFFLINE_KEYS.datasets] },
      artifacts: {
        read: [ARTIFACT_KEYS.runs, ARTIFACT_KEYS.models],
        put: [ARTIFACT_KEYS.runs, ARTIFACT_KEYS.models],
      },
    });

    this.finishFailures = failureQueue(
      this,
      'FinishFailures',
      'timed-out or aborted executions not recorded',
    );
    props.monitoring.alarmOnDeadLetters(this.finishFailures);
    this.finishFunction = new MlopsFunction(this, 'FinishTraining', {
      ...shared,
      name: 'finish-training',
      description: 'Training last step: ends the run, keeps the result, frees the lease, emits the event',
      environment: { ...environment, [ENV.eventBus]: props.eventBus.eventBusName },
      timeout: Duration.minutes(1),
      // Also invoked by the rule that records timed-out and aborted executions (no Catch sees those).
      asyncFailure: { queue: this.finishFailures },
    });
    grantData(this.finishFunction, {});
    props.eventBus.grantPutEventsTo(this.finishFunction);

    if (props.models.some((m) => m.trainer.algorithm === 'sagemaker')) {
      this.unpackFunction = new MlopsFunction(this, 'UnpackSagemakerModel', {
        ...shared,
        name: 'unpack-sagemaker-model',
        description: "Training step 2 (SageMaker): unpacks the job's model.onnx and scores it",
        memorySize: 10_240,
        timeout: Duration.minutes(15),
        onnxRuntime: true,
      });
      grantData(this.unpackFunction, {
        offline: { read: [OFFLINE_KEYS.datasets] },
        artifacts: { read: [ARTIFACT_KEYS.runs], put: [ARTIFACT_KEYS.runs] },
      });
    }

    const pipelines = new Map<string, TrainingPipeline>();
    for (const model of props.models)
      pipelines.set(
        model.name,
        new TrainingPipeline(this, `Pipeline-${model.name}`, {
          model,
          functions: this,
          registry,
          featureStore,
          monitoring: props.monitoring,
          logRetention: props.logRetention,
          removalPolicy: props.removalPolicy,
        }),
      );
    this.pipelines = pipelines;
  }
}

export interface TrainingPipelineProps {
  readonly model: TrainedModelConfig;
  readonly functions: TrainingPipelines;
  readonly registry: ModelRegistry;
  readonly featureStore: FeatureStore;
  readonly monitoring: Monitoring;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** One model's training workflow (see the file header). */
export class TrainingPipeline extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly model: TrainedModelConfig;
  /** Alarms when an execution fails or times out. */
  public readonly failedAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: TrainingPipelineProps) {
    super(scope, id);
    const { model, functions, registry } = props;
    this.model = model;
    const execution = sfn.JsonPath.executionId;

    const retrying = <T extends sfn.TaskStateBase>(task: T, attempts = 3): T =>
      retryTask(task, { nonRetryable: NON_RETRYABLE_ERRORS, attempts, maxDelay: Duration.minutes(1) });
    const invoke = (
      id: string,
      fn: MlopsFunction,
      payload: Record<string, unknown>,
      resultPath: string,
    ): tasks.LambdaInvoke =>
      retrying(
        new tasks.LambdaInvoke(this, id, {
          lambdaFunction: fn,
          payload: sfn.TaskInput.fromObject(payload),
          // The function's ARN as the resource: the result is its payload, kept at resultPath.
          payloadResponseOnly: true,
          resultPath,
        }),
      );

    // Failure path: record the run as failed with its cause, then fail the execution.
    const failed = new sfn.Fail(this, 'TrainingFailed', {
      error: 'TrainingFailed',
      causePath: '$.error.Cause',
    });
    const recordFailure = invoke(
      'RecordFailure',
      functions.finishFunction,
      {
        model: model.name,
        outcome: 'failed',
        execution,
        'error.$': '$.error',
      },
      '$.finished',
    ).next(failed);
    const catching = <T extends sfn.TaskStateBase | sfn.Map>(state: T): T => {
      state.addCatch(recordFailure, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return state;
    };

    const prepare = catching(
      invoke(
        'PrepareTraining',
        functions.prepareFunction,
        {
          model: model.name,
          'input.$': '$',
          execution,
          startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
        },
        '$.prepared',
      ),
    );
    const prepared = '$.prepared';
    const step = (extra: Record<string, unknown> = {}) => ({
      model: model.name,
      'runId.$': `${prepared}.runId`,
      'experiment.$': `${prepared}.experiment`,
      'dataset.$': `${prepared}.dataset`,
      'fingerprint.$': `${prepared}.fingerprint`,
      ...extra,
    });
    const finish = (id: string, outcome: 'succeeded' | 'rejected', extra: Record<string, unknown>) =>
      catching(
        invoke(
          id,
          functions.finishFunction,
          {
            model: model.name,
            outcome,
            execution,
            'runId.$': `${prepared}.runId`,
            'trigger.$': `${prepared}.trigger`,
            'lease.$': `${prepared}.lease`,
            'dataset.$': `${prepared}.dataset`,
            'fingerprint.$': `${prepared}.fingerprint`,
            ...extra,
          },
          '$.finished',
        ),
      );

    // Train: a Map over the candidates (built-in trainers), or a SageMaker job.
    let train: sfn.IChainable & sfn.INextable;
    if (model.trainer.algorithm === 'sagemaker') {
      const unpackFunction = functions.unpackFunction;
      if (unpackFunction === undefined)
        throw new Error('unreachable: no unpack function for a SageMaker model');
      const job = catching(
        sagemakerTrainingTask(this, 'SagemakerTraining', {
          model,
          artifactBucket: registry.artifactBucket,
          offlineBucket: props.featureStore.offlineBucket,
        }),
      );
      const unpack = catching(
        invoke(
          'UnpackSagemakerModel',
          unpackFunction,
          step({ 'sagemaker.$': `${prepared}.sagemaker` }),
          '$.unpacked',
        ),
      );
      const asCandidates = new sfn.Pass(this, 'SagemakerCandidate', {
        parameters: { 'list.$': 'States.Array($.unpacked)' },
        resultPath: '$.candidates',
      });
      train = job.next(unpack).next(asCandidates);
    } else {
      const map = new sfn.Map(this, 'TrainCandidates', {
        itemsPath: `${prepared}.candidates`,
        maxConcurrency: model.search?.parallelism ?? 1,
        itemSelector: step({ 'candidate.$': '$$.Map.Item.Value' }),
        resultSelector: { 'list.$': '$' },
        resultPath: '$.candidates',
      });
      const trainOne = retrying(
        new tasks.LambdaInvoke(this, 'TrainCandidate', {
          lambdaFunction: functions.trainFunction,
          outputPath: '$.Payload',
        }),
      );
      map.itemProcessor(trainOne);
      train = catching(map);
    }

    const evaluate = catching(
      invoke(
        'EvaluateCandidates',
        functions.evaluateFunction,
        step({ 'candidates.$': '$.candidates.list', execution }),
        '$.evaluation',
      ),
    );
    const evaluation = '$.evaluation';

    const prepareRegistration = new sfn.Pass(this, 'PrepareRegistration', {
      comment: 'Client token = the execution: a retried registration returns the first version',
      parameters: {
        defaults: { clientToken: execution },
        'request.$': `${evaluation}.registration`,
        invocation: { [EXECUTION_FIELD]: execution },
      },
      resultPath: '$.registration',
    });
    const register = catching(
      retrying(
        new tasks.LambdaInvoke(this, 'RegisterModelVersion', {
          lambdaFunction: registry.registerFunction,
          payload: sfn.TaskInput.fromJsonPathAt(
            sfn.JsonPath.jsonMerge(
              sfn.JsonPath.jsonMerge(
                sfn.JsonPath.objectAt('$.registration.defaults'),
                sfn.JsonPath.objectAt('$.registration.request'),
              ),
              sfn.JsonPath.objectAt('$.registration.invocation'),
            ),
          ),
          resultSelector: { 'version.$': '$.Payload.version' },
          resultPath: '$.registered',
        }),
      ),
    );
    const transition = invoke(
      'TransitionToStaging',
      registry.transitionFunction,
      {
        modelName: model.name,
        'version.$': '$.registered.version',
        expectedStage: 'None',
        toStage: 'Staging',
        reason: sfn.JsonPath.format('trained and evaluated by {}', execution),
        [EXECUTION_FIELD]: execution,
      },
      '$.staged',
    );
    const succeeded = finish('FinishSucceeded', 'succeeded', { 'version.$': '$.registered.version' }).next(
      new sfn.Succeed(this, 'TrainingSucceeded'),
    );
    const rejected = finish('FinishRejected', 'rejected', { 'reasons.$': `${evaluation}.reasons` }).next(
      new sfn.Succeed(this, 'TrainingRejected', { comment: 'A failed gate is a result, not an error' }),
    );

    // A retried transition whose first attempt committed finds the version in Staging already
    // (ConflictError, not retried): read the version back, and carry on when it is there.
    const readStage = catching(
      invoke(
        'ReadBackStage',
        registry.getFunction,
        { modelName: model.name, 'version.$': '$.registered.version' },
        '$.current',
      ),
    );
    transition.addCatch(
      readStage.next(
        new sfn.Choice(this, 'AlreadyStaging')
          .when(sfn.Condition.stringEquals('$.current.stage', 'Staging'), succeeded)
          .otherwise(recordFailure),
      ),
      { errors: ['ConflictError'], resultPath: '$.error' },
    );
    const toStaging = catching(transition);

    const gate = new sfn.Choice(this, 'PassedGates')
      .when(
        sfn.Condition.booleanEquals(`${evaluation}.passed`, true),
        prepareRegistration.next(register).next(toStaging).next(succeeded),
      )
      .otherwise(rejected);

    const outcome = new sfn.Choice(this, 'PrepareOutcome')
      .when(
        sfn.Condition.stringEquals(`${prepared}.outcome`, 'dropped'),
        new sfn.Succeed(this, 'TriggerDropped', { comment: 'Another execution holds the lease' }),
      )
      .when(
        sfn.Condition.stringEquals(`${prepared}.outcome`, 'reused'),
        new sfn.Succeed(this, 'ReusedEarlierResult', {
          comment: 'Same data and configuration as an earlier execution',
        }),
      )
      .otherwise(train.next(evaluate).next(gate));

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `Train, evaluate, gate and register model ${model.name}`,
      definitionBody: sfn.DefinitionBody.fromChainable(prepare.next(outcome)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.millis(trainingTimeoutMs(model)),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    const sagemaker = model.trainer.algorithm === 'sagemaker';
    const invoked = [
      functions.prepareFunction,
      ...(sagemaker ? [] : [functions.trainFunction]),
      functions.evaluateFunction,
      functions.finishFunction,
      registry.registerFunction,
      registry.transitionFunction,
      registry.getFunction,
      ...(sagemaker && functions.unpackFunction ? [functions.unpackFunction] : []),
    ];
    acknowledge(
      this.stateMachine,
      XRAY_WILDCARD,
      ...invoked.map((fn) => invokeQualifiedFunction(fn)),
      // The .sync task's own findings (its XRAY-like Resource::* is the same id, acknowledged above).
      ...(sagemaker ? sagemakerTaskFindings(this).filter((f) => f.id !== XRAY_WILDCARD.id) : []),
    );

    // A timeout or an abort ends the execution with no Catch: record it like any failure (run
    // FAILED with the cause, lease released, TrainingFailed emitted) from Step Functions' own event.
    new events.Rule(this, 'RecordTimedOutOrAborted', {
      description: `Records ${model.name}'s timed-out or aborted training executions as failed runs`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['TIMED_OUT', 'ABORTED'], stateMachineArn: [this.stateMachine.stateMachineArn] },
      },
      targets: [
        new targets.LambdaFunction(functions.finishFunction, {
          event: events.RuleTargetInput.fromObject({
            model: model.name,
            outcome: 'failed',
            execution: events.EventField.fromPath('$.detail.executionArn'),
            error: {
              Error: events.EventField.fromPath('$.detail.status'),
              Cause: 'the execution ended without reaching a state that records it (timed out or aborted)',
            },
          }),
          deadLetterQueue: functions.finishFailures,
          retryAttempts: 8,
        }),
      ],
    });

    this.failedAlarm = props.monitoring.alarmOnFailedExecutions(
      this.stateMachine,
      `Training of ${model.name} failed or timed out: npx mlops train status ${model.name}`,
    );
  }
}
