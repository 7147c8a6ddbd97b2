/**
 * The retry policy of the project's Step Functions tasks, in one place: the typed errors a task must
 * never retry (bad input, a lost race, a refusal) fail at once; anything else is retried `attempts`
 * times with exponential backoff from 2 s, capped at `maxDelay`.
 */
import { Duration } from 'aws-cdk-lib';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';

export function retryTask<T extends sfn.TaskStateBase>(
  task: T,
  options: {
    readonly nonRetryable: readonly string[];
    readonly attempts?: number;
    readonly maxDelay: Duration;
  },
): T {
  task.addRetry({ errors: [...options.nonRetryable], maxAttempts: 0 });
  task.addRetry({
    errors: [sfn.Errors.ALL],
    maxAttempts: options.attempts ?? 3,
    interval: Duration.seconds(2),
    backoffRate: 2,
    maxDelay: options.maxDelay,
  });
  return task;
}
