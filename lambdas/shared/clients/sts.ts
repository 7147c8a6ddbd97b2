/**
 * STS: who the caller is (GetCallerIdentity), which the CLI records as `createdBy` and history `by`
 * when it talks to AWS. No Lambda needs it.
 */
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DependencyError } from '../errors.js';
import { baseConfig, type ClientSettings, clientSettings, memo } from './settings.js';

/** Who the credentials belong to. */
export interface CallerIdentity {
  /** The IAM principal's ARN (user, assumed role session, root). */
  readonly arn: string;
  readonly account: string;
  readonly userId: string;
}

export interface StsClient {
  getCallerIdentity(): Promise<CallerIdentity>;
}

/** Builds the STS reader with the project's settings (endpoint, region, timeouts, retries). */
export function createStsClient(settings: ClientSettings = clientSettings()): StsClient {
  const client = new STSClient(baseConfig(settings));
  return {
    async getCallerIdentity() {
      const out = await client.send(new GetCallerIdentityCommand({}));
      if (!out.Arn) throw new DependencyError('STS', 'GetCallerIdentity answered without an Arn');
      return { arn: out.Arn, account: out.Account ?? '', userId: out.UserId ?? '' };
    },
  };
}

/** The process-wide STS reader. */
export const stsClient = (): StsClient => memo('sts', () => createStsClient());
