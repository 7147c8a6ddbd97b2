/** DynamoDB Streams clients with the project's settings (see `./settings.ts`); the local stream poller reads with it. */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a DynamoDB Streams client with the project's settings. */
export function createDynamoDbStreamsClient(
  settings: ClientSettings = clientSettings(),
): DynamoDBStreamsClient {
  return new DynamoDBStreamsClient(baseConfig(settings));
}

/** The process-wide DynamoDB Streams client. */
export const dynamoDbStreamsClient = (): DynamoDBStreamsClient =>
  memo('dynamodbstreams', () => createDynamoDbStreamsClient());
