/**
 * Progressive delivery: one Standard state machine per served model that deploys a registry version
 * to the model's inference function as a canary on its `live` alias, analyses it between traffic
 * steps, and promotes or rolls back (the flow and the step shapes: lambdas/deployment/contract.ts;
 * the steps: lambdas/deployment/steps.ts, run by one shared function, lambdas/deployment-step).
 *
 *   Target (Pass: the model's function, alias, configuration and watched alarms, baked in)
 *   → Start → (AlreadyServing: Succeed)
 *   → MoreSteps? → Shift → Bake (Wait) → Analyze → pass: MoreSteps? | wait: Bake | rollback
 *   → NeedsApproval? → AwaitApproval → ApprovalPoll (Wait) → CheckApproval → approved | pending | rollback
 *   → Promote → Promoted (Succeed)
 *   Rollback → RolledBack (Fail: CanaryRolledBack, the reason as cause)
 *   any step failing after its retries → RecordFailure (alias back on the stable version, the
 *   deployment marked failed, its lock released) → DeploymentFailed (Fail).
 *
 * A failed or rolled-back execution raises the state machine's ExecutionsFailed alarm: a rollback
 * is a result someone should look at, not a silent one.
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  type DeploymentConfig,
  type DeploymentTarget,
  MAX_DEPLOYMENT_SECONDS,
} from '../lambdas/deployment/contract.js';
import { EXECUTION_FIELD } from '../lambdas/registry/principal.js';
import {
  CAPTURE_PREFIX,
  ENV,
  EVENT_DETAIL_TYPE,
  EVENT_SOURCE,
  MODELS_DEFINE,
  SERVING_ALIAS,
} from '../lambdas/shared/layout.js';
import { NON_RETRYABLE_ERRORS } from '../lambdas/training/pipeline/contract.js';
import type { MlopsConfig } from './config.js';
import type { InferenceApi } from './inference-api.js';
import { MlopsFunction } from './mlops-function.js';
import type { ModelRegistry } from './model-registry.js';
import { failureQueue, type Monitoring } from './monitoring.js';
import {
  acknowledge,
  functionArnRef,
  invokeQualifiedFunction,
  prefixedBucketGrants,
  XRAY_WILDCARD,
} from './nag.js';
import { retryTask } from './task-retry.js';

/** The ARNs of the state machine's executions start with this (what the registry records as `by`). */
export function executionArnPrefix(stateMachine: sfn.StateMachine): string {
  const stack = Stack.of(stateMachine);
  return `arn:${stack.partition}:states:${stack.region}:${stack.account}:execution:${stateMachine.stateMachineName}:`;
}

/** Errors a deployment step never retries: bad input, a lost race, a refusal (the typed ones). */
export const DEPLOYMENT_NON_RETRYABLE = [...NON_RETRYABLE_ERRORS, 'DeploymentInProgressError'] as const;

export interface DeploymentWorkflowsProps {
  readonly inference: InferenceApi;
  /** The project's event bus (registry events: a promotion to Production starts a deployment). */
  readonly eventBus: events.IEventBus;
  readonly registry: ModelRegistry;
  readonly monitoring: Monitoring;
  readonly config: Pick<MlopsConfig, 'deployment' | 'models' | 'serving'>;
  /** Each trained model's training workflow (its Staging transitions deploy with `deployRetrained`). */
  readonly trainingStateMachines?: ReadonlyMap<string, sfn.StateMachine>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** The deployment workflows of every served model, and the step function they share. */
export class DeploymentWorkflows extends Construct {
  public readonly stepFunction: MlopsFunction;
  /** Model name → its workflow. */
  public readonly workflows: ReadonlyMap<string, DeploymentWorkflow>;
  /** Registry promotions the rules could not deliver to a workflow. */
  public readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: DeploymentWorkflowsProps) {
    super(scope, id);
    const { inference, registry } = props;
    const capture = props.config.serving.captureSampleRate > 0;
    this.failures = failureQueue(
      this,
      'Failures',
      'registry promotions that could not start a deployment, and ended executions that could not be cleaned up',
    );
    props.monitoring.alarmOnDeadLetters(this.failures);
    this.stepFunction = new MlopsFunction(this, 'Step', {
      name: 'deployment-step',
      description: 'Deployment workflow steps: pin and publish, shift traffic, analyse, promote, roll back',
      timeout: Duration.minutes(2),
      // Invoked asynchronously too: by the rule that cleans up after an aborted or timed-out execution.
      asyncFailure: { queue: this.failures },
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      // The promotion gates (the registry's transition checks them here as in the registry functions).
      define: { [MODELS_DEFINE]: JSON.stringify(props.config.models) },
      environment: {
        [ENV.registryTable]: registry.table.tableName,
        [ENV.artifactBucket]: registry.artifactBucket.bucketName,
        ...(capture ? { [ENV.captureBucket]: inference.captureBucket.bucketName } : {}),
      },
    });
    const fn = this.stepFunction;
    registry.grantGetVersion(fn);
    registry.grantTransition(fn);
    registry.grantSetAlias(fn);
    registry.grantReadHistory(fn);
    // The deployment items (DEPLOYMENT, DEPLOY#…) in the registry table: the same item actions.
    registry.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query');
    const functions = [...inference.models.values()].map((m) => m.function);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [
          'lambda:GetAlias',
          'lambda:UpdateAlias',
          'lambda:GetFunctionConfiguration',
          'lambda:UpdateFunctionConfiguration',
          'lambda:PublishVersion',
        ],
        resources: functions.flatMap((f) => [f.functionArn, `${f.functionArn}:*`]),
      }),
    );
    // GetMetricData and DescribeAlarms take no resource narrower than `*`.
    const reads = new iam.Policy(this, 'MetricReads', {
      statements: [
        new iam.PolicyStatement({
          actions: ['cloudwatch:GetMetricData', 'cloudwatch:DescribeAlarms'],
          resources: ['*'],
        }),
      ],
    });
    fn.role?.attachInlinePolicy(reads);
    acknowledge(reads, {
      id: 'IAM5[Resource::*]',
      reason: 'cloudwatch:GetMetricData and cloudwatch:DescribeAlarms support no resource-level permissions',
    });
    if (capture) inference.captureBucket.grantRead(fn, `${CAPTURE_PREFIX.capture}*`);
    acknowledge(
      fn.executionRole,
      ...functions.map((f) => ({
        id: `IAM5[Resource::${functionArnRef(f)}:*]`,
        reason: `Publishing versions of and weighting the live alias of ${f.node.path} only`,
      })),
      ...(capture
        ? prefixedBucketGrants(
            inference.captureBucket,
            { read: [`${CAPTURE_PREFIX.capture}*`] },
            'reading capture',
          )
        : []),
    );

    const workflows = new Map<string, DeploymentWorkflow>();
    for (const [name, served] of inference.models) {
      const target: DeploymentTarget = {
        model: name,
        functionName: served.function.functionName,
        alias: SERVING_ALIAS,
        config: props.config.deployment,
        alarms: [
          ...props.config.deployment.alarms,
          ...(inference.servingAlarms.get(name) ?? []).map((a) => a.alarmName),
        ],
      };
      workflows.set(
        name,
        new DeploymentWorkflow(this, `Model${name.replace(/[^A-Za-z0-9]/g, '')}`, {
          target,
          stepFunction: fn,
          eventBus: props.eventBus,
          deadLetterQueue: this.failures,
          monitoring: props.monitoring,
          logRetention: props.logRetention,
          removalPolicy: props.removalPolicy,
          ...(props.trainingStateMachines?.has(name)
            ? { training: props.trainingStateMachines.get(name) as sfn.StateMachine }
            : {}),
        }),
      );
    }
    this.workflows = workflows;
  }
}

interface DeploymentWorkflowProps {
  readonly target: DeploymentTarget;
  readonly eventBus: events.IEventBus;
  readonly deadLetterQueue: sqs.IQueue;
  /** The model's training workflow: with `deployRetrained`, what it moves to Staging is deployed. */
  readonly training?: sfn.StateMachine;
  readonly stepFunction: MlopsFunction;
  readonly monitoring: Monitoring;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** One model's deployment workflow (see the file header). */
export class DeploymentWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;
  public readonly config: DeploymentConfig;
  /** Alarms when an execution fails, is rolled back, or times out. */
  public readonly failedAlarm: cloudwatch.Alarm;
  /** Starts the workflow when a version is promoted to Production in the registry. */
  public readonly registryRule: events.Rule;
  /** Cleans up after an execution that ended abnormally. */
  public readonly cleanupRule: events.Rule;
  /** Deploys what the training workflow moves to Staging (`deployment.deployRetrained`). */
  public readonly retrainedRule?: events.Rule;

  constructor(scope: Construct, id: string, props: DeploymentWorkflowProps) {
    super(scope, id);
    const { target, stepFunction } = props;
    this.config = target.config;
    const execution = sfn.JsonPath.executionId;
    const step = (id: string, payload: Record<string, unknown>, resultPath: string) => {
      const task = new tasks.LambdaInvoke(this, id, {
        lambdaFunction: stepFunction,
        payload: sfn.TaskInput.fromObject({ ...payload, [EXECUTION_FIELD]: execution }),
        payloadResponseOnly: true,
        resultPath,
      });
      return retryTask(task, { nonRetryable: DEPLOYMENT_NON_RETRYABLE, maxDelay: Duration.seconds(30) });
    };

    const failed = new sfn.Fail(this, 'DeploymentFailed', {
      error: 'DeploymentFailed',
      causePath: '$.failure.reason',
    });
    const failure = (id: string, withDeployment: boolean) =>
      step(
        id,
        {
          action: 'fail',
          model: target.model,
          deploymentId: sfn.JsonPath.executionName,
          ...(withDeployment ? { 'deployment.$': '$.deployment' } : {}),
          'error.$': '$.error',
        },
        '$.failure',
      ).next(failed);
    const recordStartFailure = failure('RecordStartFailure', false);
    const recordFailure = failure('RecordFailure', true);
    const catching = <T extends sfn.TaskStateBase>(task: T, handler: sfn.IChainable = recordFailure): T => {
      task.addCatch(handler, { errors: [sfn.Errors.ALL], resultPath: '$.error' });
      return task;
    };

    const targetPass = new sfn.Pass(this, 'Target', {
      comment: "The model's function, alias, configuration and watched alarms",
      parameters: { 'request.$': '$', target },
    });
    const start = catching(
      step('Start', { action: 'start', 'target.$': '$.target', 'request.$': '$.request' }, '$.started'),
      recordStartFailure,
    );
    const carry = new sfn.Pass(this, 'Started', {
      parameters: {
        'target.$': '$.target',
        'deployment.$': '$.started.deployment',
        'progress.$': '$.started.progress',
        'alarmsAtStart.$': '$.started.alarmsAtStart',
      },
    });

    const rolledBack = new sfn.Fail(this, 'RolledBack', {
      error: 'CanaryRolledBack',
      causePath: '$.rollback.reason',
    });
    const rollback = catching(
      step(
        'Rollback',
        { action: 'rollback', 'deployment.$': '$.deployment', 'reason.$': '$.rollback.reason' },
        '$.rolledBack',
      ),
    ).next(rolledBack);
    const promote = catching(
      step('Promote', { action: 'promote', 'deployment.$': '$.deployment' }, '$.promoted'),
    ).next(new sfn.Succeed(this, 'Promoted'));

    const shift = catching(
      step(
        'Shift',
        { action: 'shift', 'deployment.$': '$.deployment', 'progress.$': '$.progress' },
        '$.progress',
      ),
    );
    const bake = new sfn.Wait(this, 'Bake', {
      time: sfn.WaitTime.secondsPath('$.target.config.bakeSeconds'),
    });
    const analyze = catching(
      step(
        'Analyze',
        {
          action: 'analyze',
          'deployment.$': '$.deployment',
          'progress.$': '$.progress',
          'target.$': '$.target',
          'alarmsAtStart.$': '$.alarmsAtStart',
        },
        '$.analyzed',
      ),
    );
    const rollbackAfterAnalysis = new sfn.Pass(this, 'RollbackAfterAnalysis', {
      parameters: { 'reason.$': '$.analyzed.analysis.reason' },
      resultPath: '$.rollback',
    }).next(rollback);
    const rollbackAfterApproval = new sfn.Pass(this, 'RollbackAfterApproval', {
      parameters: { 'reason.$': '$.approval.reason' },
      resultPath: '$.rollback',
    }).next(rollback);

    const approvalPoll = new sfn.Wait(this, 'ApprovalPoll', {
      time: sfn.WaitTime.secondsPath('$.target.config.approvalPollSeconds'),
    });
    const checkApproval = catching(
      step(
        'CheckApproval',
        {
          action: 'checkApproval',
          'deployment.$': '$.deployment',
          'target.$': '$.target',
          'waitingSince.$': '$.approval.waitingSince',
          'alarmsAtStart.$': '$.alarmsAtStart',
        },
        '$.approval',
      ),
    );
    // The first check records when the wait began (the step's clock; the approval timeout runs from it).
    const awaitApproval = new sfn.Pass(this, 'AwaitApproval', {
      result: sfn.Result.fromObject({ decision: 'pending', waitingSince: null }),
      resultPath: '$.approval',
    });
    const approvalDecision = new sfn.Choice(this, 'Approved?')
      .when(sfn.Condition.stringEquals('$.approval.decision', 'approved'), promote)
      .when(sfn.Condition.stringEquals('$.approval.decision', 'rollback'), rollbackAfterApproval)
      .otherwise(approvalPoll);
    awaitApproval.next(approvalPoll);
    approvalPoll.next(checkApproval);
    checkApproval.next(approvalDecision);

    const needsApproval = new sfn.Choice(this, 'NeedsApproval?')
      .when(sfn.Condition.booleanEquals('$.deployment.requireApproval', true), awaitApproval)
      .otherwise(promote);
    const nextStep = new sfn.Pass(this, 'StepPassed', {
      inputPath: '$.analyzed.progress',
      resultPath: '$.progress',
    });
    const keepWaiting = new sfn.Pass(this, 'WaitForData', {
      inputPath: '$.analyzed.progress',
      resultPath: '$.progress',
    });
    const moreSteps = new sfn.Choice(this, 'MoreSteps?')
      .when(sfn.Condition.booleanEquals('$.progress.more', true), shift)
      .otherwise(needsApproval);
    shift.next(bake);
    bake.next(analyze);
    analyze.next(
      new sfn.Choice(this, 'Verdict')
        .when(sfn.Condition.stringEquals('$.analyzed.analysis.verdict', 'pass'), nextStep)
        .when(sfn.Condition.stringEquals('$.analyzed.analysis.verdict', 'wait'), keepWaiting)
        .otherwise(rollbackAfterAnalysis),
    );
    nextStep.next(moreSteps);
    keepWaiting.next(bake);

    const definition = targetPass.next(start).next(
      new sfn.Choice(this, 'AlreadyServing?')
        .when(
          sfn.Condition.booleanEquals('$.started.noop', true),
          new sfn.Succeed(this, 'AlreadyServing', {
            comment: 'The alias already serves this version alone',
          }),
        )
        .otherwise(carry.next(moreSteps)),
    );

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `Deploys model ${target.model} as a canary on its live alias, with analysis and rollback`,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.seconds(MAX_DEPLOYMENT_SECONDS),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    acknowledge(this.stateMachine, XRAY_WILDCARD, invokeQualifiedFunction(stepFunction));
    this.failedAlarm = props.monitoring.alarmOnFailedExecutions(
      this.stateMachine,
      `A deployment of ${target.model} failed, was rolled back or timed out (see its execution)`,
    );

    // An execution that ends without reaching its own failure path (aborted, timed out, or its
    // RecordFailure failing) would leave the lock held and the canary weighted: clean up after it
    // (idempotent: a deployment already ended is left alone).
    this.cleanupRule = new events.Rule(this, 'OnExecutionEnded', {
      description: `Releases ${target.model}'s deployment and restores its alias when an execution ends abnormally`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: {
          status: ['ABORTED', 'TIMED_OUT', 'FAILED'],
          stateMachineArn: [this.stateMachine.stateMachineArn],
        },
      },
      targets: [
        new targets.LambdaFunction(stepFunction, {
          event: events.RuleTargetInput.fromObject({
            action: 'fail',
            model: target.model,
            deploymentId: events.EventField.fromPath('$.detail.name'),
            target: { functionName: target.functionName, alias: target.alias },
            error: {
              Error: events.EventField.fromPath('$.detail.status'),
              Cause:
                'the execution ended without reaching its own failure path (aborted, timed out, or its cleanup failed)',
            },
            [EXECUTION_FIELD]: events.EventField.fromPath('$.detail.executionArn'),
          }),
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // A promotion to Production made in the registry (CLI, API, another workflow) deploys that
    // version; the workflow's own promotions (by its executions) do not start another one.
    this.registryRule = new events.Rule(this, 'OnRegistryPromotion', {
      description: `Deploys ${target.model} when a version is promoted to Production in the registry`,
      eventBus: props.eventBus,
      eventPattern: {
        source: [EVENT_SOURCE],
        detailType: [EVENT_DETAIL_TYPE.modelStageChanged],
        detail: {
          modelName: [target.model],
          to: ['Production'],
          by: [{ 'anything-but': { prefix: executionArnPrefix(this.stateMachine) } }],
        },
      },
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          input: events.RuleTargetInput.fromObject({
            modelVersion: events.EventField.fromPath('$.detail.version'),
            requestedBy: events.EventField.fromPath('$.detail.by'),
            reason: 'promoted to Production in the registry',
          }),
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(24),
        }),
      ],
    });

    // A retraining that passed its gates and the champion gate (the training workflow moved the
    // version to Staging) is deployed through the canary, when configured.
    if (target.config.deployRetrained && props.training !== undefined)
      this.retrainedRule = new events.Rule(this, 'OnRetrained', {
        description: `Deploys what ${target.model}'s training workflow registers and moves to Staging`,
        eventBus: props.eventBus,
        eventPattern: {
          source: [EVENT_SOURCE],
          detailType: [EVENT_DETAIL_TYPE.modelStageChanged],
          detail: {
            modelName: [target.model],
            to: ['Staging'],
            by: [{ prefix: executionArnPrefix(props.training) }],
          },
        },
        targets: [
          new targets.SfnStateMachine(this.stateMachine, {
            input: events.RuleTargetInput.fromObject({
              modelVersion: events.EventField.fromPath('$.detail.version'),
              requestedBy: events.EventField.fromPath('$.detail.by'),
              reason: RETRAINED_REASON,
            }),
            deadLetterQueue: props.deadLetterQueue,
            retryAttempts: 8,
            maxEventAge: Duration.hours(24),
          }),
        ],
      });
  }
}

/** The reason a deployment the OnRetrained rule starts records. */
export const RETRAINED_REASON =
  'retrained: the training workflow registered it and moved it to Staging (its gates and the champion gate passed)';
