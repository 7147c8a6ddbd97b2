/** DynamoDB clients with the project's settings (see `./settings.ts`). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a DynamoDB client with the project's settings. */
export function createDynamoDbClient(settings: ClientSettings = clientSettings()): DynamoDBClient {
  return new DynamoDBClient(baseConfig(settings));
}

/** Builds a DynamoDB document client (native JS values, `undefined` attributes removed). */
export function createDocumentClient(settings: ClientSettings = clientSettings()): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(createDynamoDbClient(settings), {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

/** The process-wide DynamoDB client. */
export const dynamoDbClient = (): DynamoDBClient => memo('dynamodb', () => createDynamoDbClient());

/** The process-wide DynamoDB document client. */
export const documentClient = (): DynamoDBDocumentClient => memo('documents', () => createDocumentClient());
