/** SQS clients with the project's settings (see `./settings.ts`). */
import { SQSClient } from '@aws-sdk/client-sqs';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds an SQS client with the project's settings. */
export function createSqsClient(settings: ClientSettings = clientSettings()): SQSClient {
  return new SQSClient(baseConfig(settings));
}

/** The process-wide SQS client. */
export const sqsClient = (): SQSClient => memo('sqs', () => createSqsClient());
