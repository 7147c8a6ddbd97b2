/**
 * Every AWS SDK client the project builds, in one object, for the CLI, the local harness and tests.
 * Clients are built only under `lambdas/shared/clients/` (a test forbids building them elsewhere):
 * one module per service, so a Lambda imports just the services it calls
 * (`../shared/clients/s3.js`, `../shared/clients/dynamodb.js`) and its bundle loads no other
 * client at cold start. Lambda code never imports this module (a test holds that too): it would
 * load every client, CloudFormation included.
 */
import { cloudFormationClient } from './clients/cloudformation.js';
import { cloudWatchClient } from './clients/cloudwatch.js';
import { documentClient, dynamoDbClient } from './clients/dynamodb.js';
import { dynamoDbStreamsClient } from './clients/dynamodb-streams.js';
import { eventBridgeClient } from './clients/eventbridge.js';
import { firehoseClient } from './clients/firehose.js';
import { lambdaClient } from './clients/lambda.js';
import { s3Client } from './clients/s3.js';
import { secretsManagerClient } from './clients/secrets-manager.js';
import { sfnClient } from './clients/sfn.js';
import { sqsClient } from './clients/sqs.js';
import { stsClient } from './clients/sts.js';

export { createCloudFormationClient } from './clients/cloudformation.js';
export { createCloudWatchClient } from './clients/cloudwatch.js';
export { createDocumentClient, createDynamoDbClient } from './clients/dynamodb.js';
export { createDynamoDbStreamsClient } from './clients/dynamodb-streams.js';
export { createEventBridgeClient } from './clients/eventbridge.js';
export { createFirehoseClient } from './clients/firehose.js';
export { createLambdaClient } from './clients/lambda.js';
export { createS3Client } from './clients/s3.js';
export { createSecretsManagerClient } from './clients/secrets-manager.js';
export { type ClientSettings, clientSettings } from './clients/settings.js';
export { createSfnClient } from './clients/sfn.js';
export { createSqsClient } from './clients/sqs.js';
export { type CallerIdentity, createStsClient, type StsClient } from './clients/sts.js';

/** Process-wide clients, built on first use and reused (see `memo` in `./clients/settings.ts`). */
export const clients = {
  dynamodb: dynamoDbClient,
  documents: documentClient,
  s3: s3Client,
  cloudformation: cloudFormationClient,
  sts: stsClient,
  eventbridge: eventBridgeClient,
  dynamodbStreams: dynamoDbStreamsClient,
  sqs: sqsClient,
  sfn: sfnClient,
  firehose: firehoseClient,
  lambda: lambdaClient,
  cloudwatch: cloudWatchClient,
  secretsManager: secretsManagerClient,
};
