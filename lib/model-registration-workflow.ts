/**
 * A Step Functions workflow that registers a model version and reads it back from the registry,
 * failing unless the stored version matches what was registered. The training pipeline's final
 * Register step follows the same contract (input: RegisterModelVersionInput, output: ModelVersion).
 *
 * Registration is idempotent per execution: the register task is called with the execution's ARN
 * (`$$.Execution.Id`) as client token, which a task retry or a redrive sees unchanged, so a retried
 * task returns the version the first attempt created. A `clientToken` in the input wins over it.
 * A reused token with another payload (ConflictError) is rejected, not retried; a lost version race
 * (ContentionError) is retried.
 *
 * `createdBy` is the execution: the register task's payload carries `execution: $$.Execution.Id`,
 * merged last so no input field can replace it (lambdas/registry/principal.ts).
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { EXECUTION_FIELD } from '../lambdas/registry/principal.js';
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

    const deriveToken = new sfn.Pass(this, 'DeriveClientToken', {
      comment: 'Client token from the execution id: the same for every retry and redrive of this execution',
      parameters: {
        // The execution ARN itself, not States.Hash of it: aws-local-stepfunctions 3.0.0 hashes
        // strings longer than one SHA-256 block wrongly (every ARN to one digest).
        defaults: { clientToken: sfn.JsonPath.executionId },
        request: sfn.JsonPath.entirePayload,
        invocation: { [EXECUTION_FIELD]: sfn.JsonPath.executionId },
      },
    });

    const register = new tasks.LambdaInvoke(this, 'RegisterModelVersion', {
      lambdaFunction: props.registry.registerFunction,
      // The request's own fields win over the defaults (States.JsonMerge keeps the second's keys);
      // the invocation's (the execution ARN, recorded as createdBy) win over the request's.
      payload: sfn.TaskInput.fromJsonPathAt(
        sfn.JsonPath.jsonMerge(
          sfn.JsonPath.jsonMerge(sfn.JsonPath.objectAt('$.defaults'), sfn.JsonPath.objectAt('$.request')),
          sfn.JsonPath.objectAt('$.invocation'),
        ),
      ),
      outputPath: '$.Payload',
      retryOnServiceExceptions: true,
    })
      .addRetry({
        errors: ['ContentionError'],
        maxAttempts: 3,
        interval: Duration.seconds(1),
        backoffRate: 2,
      })
      .addCatch(rejected, { errors: ['ValidationError', 'ConflictError'], resultPath: '$.error' });

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
      definitionBody: sfn.DefinitionBody.fromChainable(
        deriveToken.next(register).next(readBack).next(verify),
      ),
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
