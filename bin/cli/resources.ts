/**
 * Finding the stack's resources (offline bucket, online table, registry table, artifact bucket,
 * tracking table), in this order: the flag or its
 * environment variable; the local stack's state (`mlops local up`); the deployed stack's outputs.
 * When none answers, the error says how to get a stack.
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { clients } from '../../lambdas/shared/clients.js';
import { STACK_JSON_OUTPUTS, STACK_OUTPUTS } from '../../lib/stack-outputs.js';
import {
  LOCAL_UP_COMMAND,
  type LocalStackState,
  readLocalStack,
  useLocalStack,
} from '../../local/local-state.js';
import { CliFailure } from './output.js';

export interface ResourceOptions {
  /** The configuration file given with --config (named in hints). */
  readonly config?: string;
  readonly stack?: string;
  readonly offlineBucket?: string;
  readonly onlineTable?: string;
  readonly registryTable?: string;
  readonly artifactBucket?: string;
  readonly trackingTable?: string;
  readonly inferenceApiUrl?: string;
  readonly captureBucket?: string;
  readonly inferenceApiKeyId?: string;
  readonly driftCheckFunction?: string;
}

export type ResourceKind = keyof typeof STACK_OUTPUTS;

/** The flag that names each resource, for messages. */
export const RESOURCE_FLAGS: Readonly<Record<ResourceKind, string>> = {
  offlineBucket: '--offline-bucket',
  onlineTable: '--online-table',
  registryTable: '--registry-table',
  artifactBucket: '--artifact-bucket',
  trackingTable: '--tracking-table',
  inferenceApiUrl: '--api-url',
  captureBucket: '--capture-bucket',
  inferenceApiKeyId: '--api-key-id',
  driftCheckFunction: '--drift-function',
};

export const NO_STACK_HINT = `start the local stack with: ${LOCAL_UP_COMMAND} (or deploy with: npx cdk deploy, or name the resource with --offline-bucket / --online-table)`;

/**
 * The resource as the running local stack of `stackName` names it (`mlops local up`; its state file
 * is read by local/local-state.ts, which also points the clients at its emulator), if one runs.
 */
async function localStackResource(stackName: string, which: ResourceKind): Promise<string | undefined> {
  return (await useLocalStack(stackName))?.resources[which];
}

/** A resource's name: the flag or environment variable, the local stack, else the stack's output. */
export async function resourceName(
  options: ResourceOptions,
  stackName: string,
  which: ResourceKind,
): Promise<string> {
  const given = options[which];
  if (given) return given;
  const name = options.stack ?? stackName;
  const local = await localStackResource(name, which);
  if (local) return local;
  const running = await readLocalStack();
  if (running !== undefined && !process.env.AWS_ENDPOINT_URL)
    throw new CliFailure(
      `stack ${name} is not the running local stack (that is ${running.stackName})`,
      `use its configuration or --stack ${running.stackName}, or restart the local stack for this one: npx mlops local down, then npx mlops${options.config ? ` --config ${options.config}` : ''} local up`,
    );
  const outputs = await deployedOutputs(name);
  const value = outputs?.find((o) => o.OutputKey === STACK_OUTPUTS[which])?.OutputValue;
  if (!value)
    throw new CliFailure(
      `stack ${name} has no output ${STACK_OUTPUTS[which]}`,
      `redeploy the stack, or name the resource with ${RESOURCE_FLAGS[which]}`,
    );
  return value;
}

/** The deployed stack's outputs (DescribeStacks); a CliFailure with the no-stack hint when it cannot be read. */
async function deployedOutputs(
  name: string,
): Promise<{ OutputKey?: string; OutputValue?: string }[] | undefined> {
  try {
    const described = await clients.cloudformation().send(new DescribeStacksCommand({ StackName: name }));
    return described.Stacks?.[0]?.Outputs;
  } catch (error) {
    const endpoint = process.env.AWS_ENDPOINT_URL;
    const reason = unreachable(error)
      ? `no AWS endpoint answers${endpoint ? ` at ${endpoint}` : ''}`
      : (error as Error).message;
    throw new CliFailure(`could not read the outputs of stack ${name} (${reason})`, NO_STACK_HINT, {
      cause: error,
    });
  }
}

/** Where a JSON output was read: the running local stack (with its state), or the deployed stack. */
export type JsonOutputSource =
  | { readonly kind: 'local'; readonly state: LocalStackState }
  | { readonly kind: 'deployed'; readonly stackName: string };

/**
 * A JSON output (lib/stack-outputs.ts STACK_JSON_OUTPUTS): from the running local stack's state
 * (`mlops local up`), else the deployed stack's outputs. No flag names these. A stack without the
 * output (deployed before it existed) is a CliFailure that says to redeploy.
 */
export async function stackJsonOutput(
  options: Pick<ResourceOptions, 'stack'>,
  stackName: string,
  which: keyof typeof STACK_JSON_OUTPUTS,
): Promise<{ readonly value: unknown; readonly source: JsonOutputSource }> {
  const name = options.stack ?? stackName;
  const key = STACK_JSON_OUTPUTS[which];
  const local = await useLocalStack(name);
  const text = local
    ? local.outputs[key]
    : (await deployedOutputs(name))?.find((o) => o.OutputKey === key)?.OutputValue;
  const source: JsonOutputSource = local
    ? { kind: 'local', state: local }
    : { kind: 'deployed', stackName: name };
  if (text === undefined)
    throw new CliFailure(
      `stack ${name} has no output ${key}`,
      local
        ? 'restart the local stack: npx mlops local down, then npx mlops local up'
        : 'redeploy the stack: npx cdk deploy',
    );
  try {
    return { value: JSON.parse(text) as unknown, source };
  } catch (error) {
    throw new CliFailure(`stack ${name}'s output ${key} is not JSON`, 'redeploy the stack: npx cdk deploy', {
      cause: error,
    });
  }
}

/**
 * A per-model state machine's ARN from a JSON output mapping model → ARN (`trainingPipelines`,
 * `deploymentWorkflows`), and where it runs. A stack without one for the model (deployed before the
 * model was configured) is a CliFailure saying how to get it; `what` names it ("training pipeline").
 */
export async function modelStateMachine(
  options: Pick<ResourceOptions, 'stack'>,
  stackName: string,
  which: 'trainingPipelines' | 'deploymentWorkflows',
  model: string,
  what: string,
): Promise<{ readonly arn: string; readonly source: JsonOutputSource }> {
  const { value, source } = await stackJsonOutput(options, stackName, which);
  const arn = (value as Record<string, unknown> | null)?.[model];
  if (typeof arn !== 'string')
    throw new CliFailure(
      `the stack has no ${what} for ${model} (it was deployed before ${model} was configured)`,
      source.kind === 'local'
        ? 'restart the local stack: npx mlops local down, then npx mlops local up'
        : 'redeploy the stack: npx cdk deploy',
    );
  return { arn, source };
}

/** Whether an SDK error means nothing listens at the endpoint (or there are no credentials for AWS). */
export function unreachable(error: unknown): boolean {
  const e = error as { code?: string; name?: string; cause?: { code?: string } };
  return (
    ['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT'].includes(e?.code ?? e?.cause?.code ?? '') ||
    e?.name === 'CredentialsProviderError' ||
    e?.name === 'TimeoutError'
  );
}
