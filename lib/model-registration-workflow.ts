/**
 * A Step Functions workflow that registers a model version and reads it back from the registry,
 * failing unless the stored version matches what was registered. The training pipeline's final
 * Register step follows the same contract (input: RegisterModelVersionInput, output: ModelVersion).
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ModelRegistry } from './model-registry.js';
import { acknowledge, invokeQualifiedFunction, XRAY_WILDCARD } from './nag.js';

export interface ModelRegistrationWorkflowProps {
  /** Registry whose functions the workflow calls. */
  readonly registry: ModelRegistry;
  /** Days the execution logs are kept. */
  readonly logRetention: logs.RetentionDays;
  /** What happens to the log group when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

export class ModelRegistrationWorkflow extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: ModelRegistrationWorkflowProps) {
    super(scope, id);

    const rejected = new sfn.Fail(this, 'RegistrationRejected', {
      error: 'RegistrationRejected',
      causePath: '$.error.Cause',
    });

    const register = new tasks.LambdaInvoke(this, 'RegisterModelVersion', {
      lambdaFunction: props.registry.registerFunction,
      outputPath: '$.Payload',
      retryOnServiceExceptions: true,
    })
      .addRetry({ errors: ['ConflictError'], maxAttempts: 3, interval: Duration.seconds(1), backoffRate: 2 })
      .addCatch(rejected, { errors: ['ValidationError'], resultPath: '$.error' });

    const readBack = new tasks.LambdaInvoke(this, 'ReadBackModelVersion', {
      lambdaFunction: props.registry.getFunction,
      payload: sfn.TaskInput.fromObject({
        modelName: sfn.JsonPath.stringAt('$.modelName'),
        version: sfn.JsonPath.numberAt('$.version'),
      }),
      resultSelector: {
        version: sfn.JsonPath.numberAt('$.Payload.version'),
        sha256: sfn.JsonPath.stringAt('$.Payload.artifact.sha256'),
      },
      resultPath: '$.readBack',
      retryOnServiceExceptions: true,
    });

    const verify = new sfn.Choice(this, 'MatchesRegistration')
      .when(
        sfn.Condition.and(
          sfn.Condition.numberEqualsJsonPath('$.readBack.version', '$.version'),
          sfn.Condition.stringEqualsJsonPath('$.readBack.sha256', '$.artifact.sha256'),
        ),
        new sfn.Succeed(this, 'Registered'),
      )
      .otherwise(
        new sfn.Fail(this, 'ReadBackMismatch', {
          error: 'ReadBackMismatch',
          cause: 'stored version differs',
        }),
      );

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });

    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: 'Register a model version, then read it back and verify it',
      definitionBody: sfn.DefinitionBody.fromChainable(register.next(readBack).next(verify)),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.minutes(5),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    acknowledge(
      this.stateMachine,
      XRAY_WILDCARD,
      invokeQualifiedFunction(props.registry.registerFunction),
      invokeQualifiedFunction(props.registry.getFunction),
    );
  }
}
