/** Step Functions clients with the project's settings (see `./settings.ts`). */
import { SFNClient } from '@aws-sdk/client-sfn';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a Step Functions client with the project's settings. */
export function createSfnClient(settings: ClientSettings = clientSettings()): SFNClient {
  return new SFNClient(baseConfig(settings));
}

/** The process-wide Step Functions client. */
export const sfnClient = (): SFNClient => memo('sfn', () => createSfnClient());
