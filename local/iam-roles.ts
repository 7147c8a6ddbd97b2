/**
 * Creates IAM roles on the emulator: moto's Lambda refuses CreateFunction unless the function's
 * role exists in its IAM. The project has no IAM SDK client (and takes no new dependency for the
 * harness), so this speaks IAM's Query API (`Action=CreateRole`), SigV4-signed like any SDK call.
 * Emulator only: a deployed stack's roles are CloudFormation's business.
 */
import { clientSettings } from '../lambdas/shared/clients.js';
import { signedFetch } from './sigv4.js';

/** Lambda's trust policy, for a role the template refers to but does not declare. */
export const LAMBDA_TRUST_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

/** Creates the role (kept when it exists). `path` is the role's IAM path (default `/`). */
export async function ensureRole(name: string, trustPolicy: unknown, path = '/'): Promise<void> {
  const { endpoint } = clientSettings();
  if (endpoint === undefined)
    throw new Error('ensureRole creates roles on the emulator only (AWS_ENDPOINT_URL)');
  const body = new URLSearchParams({
    Action: 'CreateRole',
    Version: '2010-05-08',
    RoleName: name,
    Path: path,
    AssumeRolePolicyDocument: JSON.stringify(trustPolicy),
  }).toString();
  const response = await signedFetch({
    url: endpoint,
    method: 'POST',
    service: 'iam',
    region: 'us-east-1',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
  const text = await response.text();
  if (response.ok || text.includes('EntityAlreadyExists')) return;
  throw new Error(`IAM CreateRole ${name} failed (${response.status}): ${text.slice(0, 500)}`);
}
