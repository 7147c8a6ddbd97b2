/**
 * A stack brought up locally: its buckets and tables provisioned on the emulator, its functions
 * runnable in-process, its state machines runnable from the template, and its DynamoDB stream
 * event sources delivered to their functions by local/stream-poller.ts (in the background with
 * `pollStreams`, or on demand with `streams.drain()`).
 */
import { type Assembly, type StackArtifact, stackOf } from './assembly.js';
import { LocalLambdas } from './lambda-runtime.js';
import { type ProvisionedStack, provision } from './provision.js';
import { StateMachineRunner } from './state-machine-runner.js';
import { LocalStreams } from './stream-poller.js';

export interface LocalStack {
  readonly assembly: Assembly;
  readonly stack: StackArtifact;
  readonly provisioned: ProvisionedStack;
  readonly lambdas: LocalLambdas;
  /** Lambda's stream event sources, locally: one poller per DynamoDB stream mapping of the template. */
  readonly streams: LocalStreams;
  /** Physical name of the one table or bucket (a secret: its ARN) whose logical id starts with `prefix`. */
  resourceName(prefix: string): string;
  /** Runner for the state machine whose logical id starts with `prefix`. */
  stateMachine(prefix: string): StateMachineRunner;
}

export async function startLocalStack(
  assembly: Assembly,
  options: {
    stackName?: string;
    prefix?: string;
    /** Poll every stream event source in the background (stop with `streams.stop()`). @default false */
    pollStreams?: boolean;
  } = {},
): Promise<LocalStack> {
  const stack = stackOf(assembly, options.stackName);
  const provisioned = await provision(stack, options.prefix === undefined ? {} : { prefix: options.prefix });
  const lambdas = new LocalLambdas(assembly, stack, provisioned);
  const streams = LocalStreams.fromStack(stack, provisioned, lambdas);
  if (options.pollStreams) streams.start();
  return {
    assembly,
    stack,
    provisioned,
    lambdas,
    streams,
    resourceName(prefix) {
      const names = { ...provisioned.tables, ...provisioned.buckets, ...provisioned.secrets };
      const matches = Object.keys(names).filter((id) => id.startsWith(prefix));
      const [id] = matches;
      if (id === undefined || matches.length > 1) {
        throw new Error(
          `expected one table, bucket or secret matching ${prefix}, found ${matches.join(', ') || 'none'}`,
        );
      }
      return names[id] as string;
    },
    stateMachine: (prefix) => StateMachineRunner.fromStack(stack, provisioned, lambdas, prefix),
  };
}
