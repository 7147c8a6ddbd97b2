/** CloudWatch (metrics and alarms) clients with the project's settings (see `./settings.ts`). */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a CloudWatch client with the project's settings. */
export function createCloudWatchClient(settings: ClientSettings = clientSettings()): CloudWatchClient {
  return new CloudWatchClient(baseConfig(settings));
}

/** The process-wide CloudWatch client. */
export const cloudWatchClient = (): CloudWatchClient => memo('cloudwatch', () => createCloudWatchClient());
