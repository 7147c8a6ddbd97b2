/**
 * Who the CLI records as `createdBy` and history `by`: against AWS, the caller's IAM principal ARN
 * (STS GetCallerIdentity: an IAM user, or an assumed role's session); against the local stack or
 * any emulator (`AWS_ENDPOINT_URL` set, as `mlops local up` sets it), `local`. Resolved once per run.
 */
import type { StsClient } from '../../lambdas/shared/clients.js';

/** The principal the local stack records. */
export const LOCAL_PRINCIPAL = 'local';

export async function cliPrincipal(env: NodeJS.ProcessEnv, sts: () => StsClient): Promise<string> {
  if (env.AWS_ENDPOINT_URL?.trim()) return LOCAL_PRINCIPAL;
  return (await sts().getCallerIdentity()).arn;
}
