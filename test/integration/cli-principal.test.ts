import { describe, expect, inject, it } from 'vitest';
import { cliPrincipal, LOCAL_PRINCIPAL } from '../../bin/cli/principal.js';
import { clientSettings, createStsClient } from '../../lambdas/shared/clients.js';

/** An STS client at the emulator, built without touching the process environment. */
const emulatorSts = () =>
  createStsClient(clientSettings({ AWS_ENDPOINT_URL: inject('awsEndpoint'), AWS_REGION: 'us-east-1' }));

describe('who the CLI records as the caller', () => {
  it('asks STS GetCallerIdentity (signed with the default credential chain) for the caller ARN', async () => {
    const identity = await emulatorSts().getCallerIdentity();
    expect(identity.arn).toMatch(/^arn:aws:(iam|sts)::\d{12}:/);
    expect(identity.account).toMatch(/^\d{12}$/);
  });

  it('records the STS caller ARN when talking to AWS (no endpoint override)', async () => {
    const expected = (await emulatorSts().getCallerIdentity()).arn;
    expect(await cliPrincipal({}, emulatorSts)).toBe(expected);
  });

  it('records local against the local stack or an emulator, without calling STS', async () => {
    const unreachable = () =>
      createStsClient(clientSettings({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_REGION: 'us-east-1' }));
    expect(await cliPrincipal({ AWS_ENDPOINT_URL: inject('awsEndpoint') }, unreachable)).toBe(
      LOCAL_PRINCIPAL,
    );
  });
});
