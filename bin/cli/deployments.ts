/**
 * Deployments (the canary workflow, lib/deployment-workflow.ts) as `mlops deploy` and `npm start`
 * run and show them: the execution's name (the deployment id), one progress line per step of a
 * local run (Start, Shift 10 % → Bake → Analyze: pass / wait / rollback with its reason …, with
 * timings), the outcome of an ended execution, and running it on the local stack in this process
 * with the real waits (so `mlops deploy approve|rollback` from another terminal take effect).
 */
import type {
  CanaryAnalysis,
  DeploymentConfig,
  DeploymentRequest,
  DeploymentState,
} from '../../lambdas/deployment/contract.js';
import type { Progress as StepProgress } from '../../lambdas/deployment/steps.js';
import type {
  ExecutionResult,
  RunnerEvent,
  RunOptions,
  StateMachineRunner,
} from '../../local/state-machine-runner.js';

/** How a deployment execution ended, for people and exit codes. */
export type DeploymentOutcome = 'promoted' | 'already-serving' | 'rolled-back' | 'failed';

/** An execution name that is also a valid deployment id: `<model>-v<version>-<epoch ms>`. */
export function deploymentExecutionName(model: string, version: number, at = Date.now()): string {
  const safe = model.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 50);
  return `${safe}-v${version}-${at}`;
}

/** The outcome of an ended execution (its status, error and cause; its output for a no-op). */
export function deploymentOutcome(execution: {
  readonly status: string;
  readonly error?: string;
  readonly cause?: string;
  readonly output?: unknown;
}): { readonly outcome: DeploymentOutcome; readonly reason?: string } {
  if (execution.status === 'SUCCEEDED') {
    const noop = (execution.output as { started?: { noop?: boolean } } | undefined)?.started?.noop === true;
    return noop
      ? { outcome: 'already-serving', reason: 'the live alias already serves this version alone' }
      : { outcome: 'promoted' };
  }
  if (execution.error === 'CanaryRolledBack')
    return { outcome: 'rolled-back', reason: execution.cause ?? 'rolled back' };
  return {
    outcome: 'failed',
    reason: `${execution.error ?? execution.status}${execution.cause ? `: ${execution.cause}` : ''}`,
  };
}

/** Whether an outcome is a failure of the command (exit 1): rolled back or failed. */
export const deploymentFailed = (outcome: DeploymentOutcome) =>
  outcome === 'rolled-back' || outcome === 'failed';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** A one-line summary of an analysis: its verdict and reason. */
export function verdictLine(analysis: Pick<CanaryAnalysis, 'verdict' | 'reason'>): string {
  return `${analysis.verdict}: ${analysis.reason}`;
}

/**
 * Progress of a local deployment execution, one line per step as `onEvent` reports it: Start (what
 * it will do), Shift (the weight), Bake (how long), Analyze (the verdict and its reason),
 * the approval wait, Promote / Rollback, each with the time since the start. `line` writes it.
 */
export function deploymentProgress(
  line: (text: string) => void,
  options: { readonly label: string; readonly config: Pick<DeploymentConfig, 'bakeSeconds'> },
): (event: RunnerEvent) => void {
  const started = Date.now();
  let approvalShown = false;
  const say = (text: string) => line(`${options.label}: ${text} (${seconds(Date.now() - started)})`);
  return (event) => {
    const output = event.output as
      | {
          started?: { noop?: boolean; deployment?: DeploymentState };
          progress?: StepProgress;
          analyzed?: { analysis: CanaryAnalysis };
          approval?: { decision: string; reason?: string };
        }
      | undefined;
    if (event.type === 'failed') {
      say(`${event.state} failed: ${event.error ?? 'Error'}`);
      return;
    }
    if (event.type === 'entered') {
      if (event.state === 'Bake') say(`Bake ${options.config.bakeSeconds} s`);
      else if (event.state === 'AwaitApproval' && !approvalShown) {
        approvalShown = true;
        say('waiting for an approval (mlops deploy approve, or mlops deploy rollback)');
      }
      return;
    }
    if (event.type !== 'exited') return;
    switch (event.state) {
      case 'Start': {
        const started = output?.started;
        if (started?.noop) say('Start: the live alias already serves this version alone — nothing to do');
        else if (started?.deployment) {
          const d = started.deployment;
          say(
            d.hotfix
              ? `Start: hotfix — bake and analysis skipped (canary Lambda version ${d.canaryVersion})`
              : d.stableModelVersion === null
                ? `Start: first deployment — nothing serves to compare against, so it promotes at once (Lambda version ${d.canaryVersion})`
                : `Start: canary model v${d.modelVersion} (Lambda version ${d.canaryVersion}) against stable v${d.stableModelVersion} (${d.stableVersion}); steps ${[...d.steps, 100].join(' → ')} %`,
          );
        }
        break;
      }
      case 'Shift':
        say(`Shift ${output?.progress?.weight ?? '?'} % to the canary`);
        break;
      case 'Analyze': {
        const analysis = output?.analyzed?.analysis;
        if (analysis) say(`Analyze: ${verdictLine(analysis)}`);
        break;
      }
      case 'CheckApproval':
        if (output?.approval && output.approval.decision !== 'pending')
          say(
            `approval: ${output.approval.decision}${output.approval.reason ? ` — ${output.approval.reason}` : ''}`,
          );
        break;
      case 'Promote':
        say('Promote: the live alias fully on the canary; registry Production and champion');
        break;
      case 'Rollback':
        say('Rollback: the live alias back on the stable version alone');
        break;
      case 'RecordFailure':
      case 'RecordStartFailure':
        say('the deployment failed: recorded, traffic back on the stable version');
        break;
    }
  };
}

export interface LocalDeploymentOptions {
  readonly request: DeploymentRequest;
  /** @default {@link deploymentExecutionName} */
  readonly executionName?: string;
  /** The workflow's configuration: its real bake and approval-poll waits are kept. */
  readonly config: Pick<DeploymentConfig, 'bakeSeconds' | 'approvalPollSeconds'>;
  readonly onEvent?: (event: RunnerEvent) => void;
  readonly beforeTask?: RunOptions['beforeTask'];
}

/**
 * Runs one deployment execution on the local stack with `runner` (the model's workflow), with the
 * configured Bake and ApprovalPoll waits (the runner skips Wait states otherwise).
 */
export async function runDeploymentLocally(
  runner: StateMachineRunner,
  model: string,
  options: LocalDeploymentOptions,
): Promise<{ readonly result: ExecutionResult; readonly executionArn: string }> {
  const executionName = options.executionName ?? deploymentExecutionName(model, options.request.modelVersion);
  const result = await runner.run(options.request, {
    executionName,
    waitOverridesMs: {
      Bake: options.config.bakeSeconds * 1000,
      ApprovalPoll: options.config.approvalPollSeconds * 1000,
    },
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    ...(options.beforeTask ? { beforeTask: options.beforeTask } : {}),
  });
  return { result, executionArn: runner.executionArn(executionName) };
}
