/** Lambda clients with the project's settings (see `./settings.ts`). */
import { LambdaClient } from '@aws-sdk/client-lambda';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a Lambda client with the project's settings. */
export function createLambdaClient(settings: ClientSettings = clientSettings()): LambdaClient {
  return new LambdaClient(baseConfig(settings));
}

/** The process-wide Lambda client. */
export const lambdaClient = (): LambdaClient => memo('lambda', () => createLambdaClient());
