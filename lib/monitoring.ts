/**
 * Where failures are noticed: an SNS topic for alarm notifications (KMS-encrypted, TLS-only), the
 * project's one way to make a failure queue (SQS, encrypted, TLS-only, kept 14 days), and the alarms
 * every function and queue gets. Constructs build their own alarms (feature freshness) from their
 * `metricXxx()` methods and hand them to {@link Monitoring.notify}.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledge } from './nag.js';

export interface MonitoringProps {
  /** What happens to the topic's key when the stack is deleted. */
  readonly removalPolicy: RemovalPolicy;
}

/** The alarm topic and the standard alarms. */
export class Monitoring extends Construct {
  /** Receives every alarm's ALARM and OK transitions; subscribe people or chat to it. */
  public readonly alarmTopic: sns.Topic;
  /** Alarms created through this construct, by purpose. */
  public readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const key = new kms.Key(this, 'TopicKey', {
      description: 'Encrypts the alarm notification topic',
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    // CloudWatch publishes alarm notifications to an encrypted topic only with a key it may use.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, `*` is this key
      }),
    );
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      displayName: 'serverless-mlops alarms',
      masterKey: key,
      enforceSSL: true,
    });
  }

  /** Sends the alarm's ALARM and OK transitions to the topic. */
  notify(alarm: cloudwatch.Alarm): cloudwatch.Alarm {
    alarm.addAlarmAction(new actions.SnsAction(this.alarmTopic));
    alarm.addOkAction(new actions.SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }

  /** Alarms when the function reports any error in 5 minutes (Errors, Sum ≥ 1). */
  alarmOnErrors(fn: lambda.IFunction & Construct): cloudwatch.Alarm {
    return this.notify(
      new cloudwatch.Alarm(fn, 'ErrorsAlarm', {
        alarmDescription: `${fn.node.path} failed (see its log group; asynchronous failures also land in its failure queue)`,
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** Alarms when an execution of the state machine fails or times out (Sum of both ≥ 1 in 5 minutes). */
  alarmOnFailedExecutions(stateMachine: sfn.StateMachine, description: string): cloudwatch.Alarm {
    const period = Duration.minutes(5);
    return this.notify(
      new cloudwatch.Alarm(stateMachine, 'FailedExecutionsAlarm', {
        alarmDescription: description,
        metric: new cloudwatch.MathExpression({
          // A period with only one of the two has no datapoint for the other: fill it, or the sum is empty.
          expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
          usingMetrics: {
            failed: stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM }),
            timedOut: stateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM }),
          },
          period,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /** Alarms while the queue holds any message (ApproximateNumberOfMessagesVisible, Maximum ≥ 1). */
  alarmOnDeadLetters(queue: sqs.IQueue & Construct): cloudwatch.Alarm {
    return this.notify(
      new cloudwatch.Alarm(queue, 'DepthAlarm', {
        alarmDescription: `${queue.node.path} holds failed events: inspect, fix, then redrive or delete them`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(1),
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}

/**
 * A queue that receives failed events (a function's on-failure destination, a rule target's
 * dead-letter queue): SQS-managed encryption, TLS only, messages kept 14 days (SQS's longest).
 */
export function failureQueue(scope: Construct, id: string, purpose: string): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(
    queue,
    {
      id: 'SQS3',
      reason: `This queue is itself where failures end (${purpose}); a depth alarm watches it.`,
    },
    {
      pack: 'Serverless',
      id: 'SQSRedrivePolicy',
      reason: `This queue is itself where failures end (${purpose}); nothing consumes it automatically, so there is nothing to redrive from it.`,
    },
  );
  return queue;
}
