/** CloudFormation clients (the CLI reads stack outputs with them; no Lambda needs one). */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a CloudFormation client with the project's settings. */
export function createCloudFormationClient(
  settings: ClientSettings = clientSettings(),
): CloudFormationClient {
  return new CloudFormationClient(baseConfig(settings));
}

/** The process-wide CloudFormation client. */
export const cloudFormationClient = (): CloudFormationClient =>
  memo('cloudformation', () => createCloudFormationClient());
