/**
 * Starting a Step Functions execution under a chosen name, once: the name is the idempotency key
 * (a retried start, a crash between start and bookkeeping), so an execution that already exists
 * under it is `existed`, not an error. And the `model → state machine ARN` maps functions receive in
 * their environment, checked. The training triggers and the experiment check share these.
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ConfigurationError } from './errors.js';

export async function startExecutionOnce(
  client: SFNClient,
  start: { readonly stateMachineArn: string; readonly name: string; readonly input: unknown },
): Promise<{ existed: boolean; executionArn?: string }> {
  try {
    const started = await client.send(
      new StartExecutionCommand({
        stateMachineArn: start.stateMachineArn,
        name: start.name,
        input: JSON.stringify(start.input),
      }),
    );
    return { existed: false, ...(started.executionArn ? { executionArn: started.executionArn } : {}) };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists || (error as Error).name === 'ExecutionAlreadyExists')
      return { existed: true };
    throw error;
  }
}

/** An environment variable holding a JSON object of model name → state machine ARN, checked. */
export function parseStateMachineArns(text: string, variable: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.values(parsed).some((arn) => typeof arn !== 'string')
  )
    throw new ConfigurationError(`${variable} must be a JSON object of model name to state machine ARN`);
  return parsed as Record<string, string>;
}
