/**
 * Running a state machine of the local stack in the CLI's process. The local stack's moto emulator
 * stores state machines but does not run them, so `mlops train start` and `mlops deploy start` run
 * the execution here: the stack synthesized again with its functions bundled (what deploys; or a
 * cloud assembly already synthesized so, given by the caller), provisioned again onto the running
 * emulator (idempotent: the same names `mlops local up` provisioned), the state machine found by
 * the ARN the local stack's outputs name, and run by local/state-machine-runner.ts.
 */
import { rmSync } from 'node:fs';
import type { MlopsConfigInput } from '../../lib/config.js';
import type { LocalStack } from '../../local/local-stack.js';
import type { LocalStackState } from '../../local/local-state.js';
import type { StateMachineRunner } from '../../local/state-machine-runner.js';
import { CliFailure } from './output.js';

/**
 * The runner of the local stack's state machine at `stateMachineArn`: synthesizes the app with its
 * functions bundled (into a temporary directory, removed by `dispose`) — or loads `assemblyDir`, an
 * assembly of the same app already synthesized with bundling (kept) — provisions it onto the
 * running emulator and finds the state machine whose ARN is the one the local stack's outputs name.
 */
export async function localStateMachineRunner(
  state: LocalStackState,
  config: MlopsConfigInput | undefined,
  stateMachineArn: string,
  onStep: (step: string) => void,
  assemblyDir?: string,
): Promise<{ runner: StateMachineRunner; dispose: () => void }> {
  const [{ synthesize, loadAssembly }, { startLocalStack }] = await Promise.all([
    import('../../local/assembly.js'),
    import('../../local/local-stack.js'),
  ]);
  let assembly: ReturnType<typeof loadAssembly>;
  let dispose = () => {};
  if (assemblyDir === undefined) {
    onStep('synthesizing the stack with its functions bundled');
    assembly = synthesize(undefined, config === undefined ? {} : { context: { mlops: config } });
    const dir = assembly.dir;
    dispose = () => rmSync(dir, { recursive: true, force: true });
  } else assembly = loadAssembly(assemblyDir);
  try {
    onStep('provisioning it onto the local stack');
    const local = await startLocalStack(assembly, { stackName: state.stackName });
    const runner = stateMachineByArn(local, stateMachineArn);
    if (runner === undefined)
      throw new CliFailure(
        `the synthesized stack has no state machine ${stateMachineArn}`,
        'the configuration changed since the local stack started: npx mlops local down, then npx mlops local up',
      );
    return { runner, dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** The runner of the provisioned state machine whose ARN is `arn`, if the stack has one. */
export function stateMachineByArn(local: LocalStack, arn: string): StateMachineRunner | undefined {
  const match = Object.entries(local.provisioned.context.resources).find(
    ([, resource]) => resource.attributes.Arn === arn,
  );
  return match === undefined ? undefined : local.stateMachine(match[0]);
}

/**
 * Runs `work` with process.stdout sent to stderr: functions run in this process log to stdout,
 * which stays the command's result alone.
 */
export async function withStdoutOnStderr<T>(work: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  try {
    return await work();
  } finally {
    process.stdout.write = write;
  }
}
