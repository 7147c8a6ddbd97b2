/** Counting events truly: an EventBridge rule on the emulator's bus with an SQS queue as its target. */
import { PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { clients } from '../../lambdas/shared/clients.js';

/** A queue `name` receiving every event of `busName` that matches `pattern`; returns its URL. */
export async function queueForEvents(name: string, busName: string, pattern: object): Promise<string> {
  const sqs = clients.sqs();
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  await clients
    .eventbridge()
    .send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify(pattern) }));
  await clients.eventbridge().send(
    new PutTargetsCommand({
      Rule: name,
      EventBusName: busName,
      Targets: [{ Id: 'queue', Arn: Attributes?.QueueArn as string }],
    }),
  );
  return QueueUrl as string;
}
