/** Secrets Manager clients with the project's settings (see `./settings.ts`). */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Builds a SecretsManager client with the project's settings. */
export function createSecretsManagerClient(
  settings: ClientSettings = clientSettings(),
): SecretsManagerClient {
  return new SecretsManagerClient(baseConfig(settings));
}

/** The process-wide SecretsManager client. */
export const secretsManagerClient = (): SecretsManagerClient =>
  memo('secretsManager', () => createSecretsManagerClient());
