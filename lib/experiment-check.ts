/**
 * The scheduled A/B experiment check (lambdas/experiment-check/handler.ts; its logic in
 * lambdas/experiments/experiment-check.ts): every `experiments.checkEveryMinutes` it reads each
 * served model's running experiments, reports their verdicts, and for the experiments defined with
 * `autoPromote` acts on them — ship starts the model's deployment workflow for the treatment
 * version, ship / don't ship stop the experiment.
 *
 * Permissions: StartExecution on the served models' deployment state machines only (their grant
 * methods); the registry table read and updated only under the served models' partitions
 * (`MODEL#<model>`: the experiment index and the unit-key locks) and the experiments' (`ABTEST#*`).
 * A failed check (after Lambda's two asynchronous retries) lands in the failure queue, whose depth
 * alarms (and the stack gives every function an errors alarm).
 */
import { Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV, experimentPk, modelPk } from '../lambdas/shared/layout.js';
import type { ExperimentsConfig } from './config.js';
import { MlopsFunction } from './mlops-function.js';
import type { ModelRegistry } from './model-registry.js';
import { failureQueue, type Monitoring } from './monitoring.js';

export interface ExperimentCheckProps {
  /** Served model name → its deployment state machine. */
  readonly workflows: ReadonlyMap<string, sfn.IStateMachine>;
  readonly registry: ModelRegistry;
  readonly monitoring: Monitoring;
  readonly config: ExperimentsConfig;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

export class ExperimentCheck extends Construct {
  public readonly function: MlopsFunction;
  public readonly schedule: events.Rule;
  /** Checks that failed after their retries (and schedule events that could not be delivered). */
  public readonly failures: sqs.Queue;
  public readonly failuresAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ExperimentCheckProps) {
    super(scope, id);
    const models = [...props.workflows.keys()].sort();
    this.failures = failureQueue(this, 'Failures', 'experiment checks that failed after their retries');
    this.failuresAlarm = props.monitoring.alarmOnDeadLetters(this.failures);
    const fn = new MlopsFunction(this, 'Function', {
      name: 'experiment-check',
      description: "Reports running A/B experiments' verdicts; promotes or stops the auto-promoting ones",
      timeout: Duration.minutes(2),
      asyncFailure: { queue: this.failures },
      logRetention: props.logRetention,
      logRemovalPolicy: props.removalPolicy,
      environment: {
        [ENV.registryTable]: props.registry.table.tableName,
        [ENV.deploymentWorkflows]: Stack.of(this).toJsonString(
          Object.fromEntries(
            models.map((m) => [m, (props.workflows.get(m) as sfn.IStateMachine).stateMachineArn]),
          ),
        ),
      },
    });
    this.function = fn;
    for (const workflow of props.workflows.values()) workflow.grantStartExecution(fn);
    const leadingKeys = [...models.map((m) => modelPk(m)), experimentPk('*')];
    // Reads: the models' experiment indexes, each experiment's definition and counters.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query', 'dynamodb:GetItem'],
        resources: [props.registry.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeys } },
      }),
    );
    // The stop: one transaction updating the definition, the model's index item and its unit-key lock.
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [props.registry.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeys } },
      }),
    );

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Checks the running A/B experiments every ${props.config.checkEveryMinutes} minutes`,
      schedule: events.Schedule.rate(Duration.minutes(props.config.checkEveryMinutes)),
      targets: [
        new targets.LambdaFunction(fn, {
          deadLetterQueue: this.failures,
          retryAttempts: 2,
          // A check older than its interval is superseded by the next one.
          maxEventAge: Duration.minutes(Math.max(1, props.config.checkEveryMinutes)),
        }),
      ],
    });
  }
}
