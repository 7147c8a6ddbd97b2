/**
 * The scheduled experiment check (lambdas/experiment-check/handler.ts runs it; the schedule is the
 * configuration's `experiments.checkEveryMinutes`): for each served model's running experiments,
 * the report (report.ts) from the counters, and what its verdict asks for.
 *
 * Only an experiment defined with `autoPromote` is acted on; the others are reported (a log line)
 * and left alone, whatever their verdict. With autoPromote:
 *   - ship → the model's deployment workflow is started for the treatment version (requestedBy
 *     `experiment <id>`, the request's `experimentId`, the verdict's reason), then the experiment is
 *     stopped with decision `ship`;
 *   - don't ship → stopped with `dont-ship`, nothing deployed;
 *   - keep running or invalid (sample-ratio mismatch) past the maximum duration → stopped with
 *     `dont-ship`: the experiment had its time and showed no trustworthy improvement, and shipping
 *     an unproven treatment automatically is the riskier mistake (verdict.ts already says don't ship
 *     for "not significant past the maximum duration"; this covers too few units, and a broken split,
 *     at the end). Before the maximum duration they keep running (an SRM is for a person to look at).
 *
 * Idempotent across crashes and retries: the deployment is started under a name derived from the
 * experiment alone ({@link experimentDeploymentName}), so a second start answers
 * ExecutionAlreadyExists (taken as "already started"), and it is started BEFORE the stop, so a crash
 * between the two leaves the experiment running and the next check finishes the stop. The stop is
 * conditional on the experiment still running (ExperimentStore.stop); a stop that lost to another
 * decision is reported, not retried.
 */
import { createHash } from 'node:crypto';
import type { DeploymentRequest } from '../deployment/contract.js';
import { ConflictError } from '../shared/errors.js';
import type { Experiment, ExperimentDecision, ExperimentStore } from './experiment-store.js';
import { type ExperimentReport, experimentReport } from './report.js';
import type { Decision } from './verdict.js';

/** Starts a model's deployment workflow; `existed` when an execution of that name was started before. */
export interface DeploymentStarter {
  start(
    model: string,
    executionName: string,
    request: DeploymentRequest,
  ): Promise<{ readonly existed: boolean; readonly executionArn?: string }>;
}

export interface ExperimentCheckPorts {
  readonly experiments: Pick<ExperimentStore, 'running' | 'counters' | 'stop'>;
  /** Absent: nothing can be promoted (a ship verdict with autoPromote is then an error). */
  readonly deployments?: DeploymentStarter;
  /**
   * The id of the model's deployment now running, if one is (DeploymentStore.current; ids are
   * execution names). A ship verdict waits while another deployment holds the model's lock: its
   * execution would fail at Start and the experiment, stopped as shipped, would deploy nothing.
   */
  readonly runningDeployment?: (model: string) => Promise<string | undefined>;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** One line per experiment checked. */
  readonly log?: (message: string, detail: Record<string, unknown>) => void;
}

/** What the check did with one experiment. */
export type ExperimentCheckAction =
  /** autoPromote off: the verdict was only reported. */
  | 'reported'
  /** Keep running (or invalid before the maximum duration): nothing to do yet. */
  | 'kept-running'
  /** Stopped with decision dont-ship. */
  | 'stopped'
  /** The treatment's deployment started (or was started before) and the experiment stopped with ship. */
  | 'promoted'
  /** Someone stopped it with another decision meanwhile: left as it is. */
  | 'already-stopped'
  /** Ship, but another deployment of the model is running: kept running, the next check retries. */
  | 'waiting-for-deployment';

export interface ExperimentCheckResult {
  readonly experimentId: string;
  readonly model: string;
  readonly autoPromote: boolean;
  readonly verdict: Decision;
  readonly reason: string;
  readonly action: ExperimentCheckAction;
  /** The decision the experiment was stopped with. */
  readonly decision?: ExperimentDecision;
  /** Promoted: the deployment's execution name (its deployment id), and whether it existed before. */
  readonly deployment?: {
    readonly executionName: string;
    readonly existed: boolean;
    readonly executionArn?: string;
  };
}

/** Who a deployment started by an experiment names as its requester. */
export const experimentRequester = (experimentId: string): string => `experiment ${experimentId}`;

/**
 * The execution name (= deployment id) of the deployment an experiment starts: deterministic, so a
 * retried check cannot start a second one. Step Functions names take at most 80 characters of
 * A-Z a-z 0-9 - _; the id is shortened and cleaned, and a hash of the whole id keeps two ids that
 * clean to the same text apart.
 */
export function experimentDeploymentName(experimentId: string): string {
  const hash = createHash('sha256').update(experimentId).digest('hex').slice(0, 10);
  const clean = experimentId.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 60);
  return `exp-${clean}-${hash}`;
}

/** The deployment request that ships an experiment's treatment. */
export function promotionRequest(
  experiment: Pick<Experiment, 'id' | 'treatment'>,
  why: string,
): DeploymentRequest {
  return {
    modelVersion: experiment.treatment,
    requestedBy: experimentRequester(experiment.id),
    reason: `ship — ${why}`.slice(0, 1000),
    experimentId: experiment.id,
  };
}

/**
 * What an auto-promoting experiment's report asks for: promote (stop with ship after starting the
 * deployment), stop with dont-ship, or nothing yet (see the file header).
 */
export function plannedAction(report: ExperimentReport): 'promote' | 'stop' | 'none' {
  const { decision } = report.verdict;
  if (decision === 'ship') return 'promote';
  if (decision === "don't ship") return 'stop';
  const ended = report.progress.elapsedDays >= report.progress.maxDurationDays;
  return ended ? 'stop' : 'none';
}

/** Checks one running experiment (see the file header). */
export async function checkExperiment(
  ports: ExperimentCheckPorts,
  experiment: Experiment,
): Promise<ExperimentCheckResult> {
  const now = (ports.now ?? (() => new Date()))();
  const report = experimentReport(experiment, await ports.experiments.counters(experiment.id), now);
  const autoPromote = experiment.autoPromote === true;
  const base = {
    experimentId: experiment.id,
    model: experiment.model,
    autoPromote,
    verdict: report.verdict.decision,
    reason: report.verdict.reason,
  };
  const done = (result: ExperimentCheckResult): ExperimentCheckResult => {
    ports.log?.(`experiment ${experiment.id}: ${result.verdict} — ${result.action}`, { ...result });
    return result;
  };
  if (!autoPromote) return done({ ...base, action: 'reported' });
  const planned = plannedAction(report);
  if (planned === 'none') return done({ ...base, action: 'kept-running' });
  const by = experimentRequester(experiment.id);
  if (planned === 'stop') {
    const reason =
      report.verdict.decision === "don't ship"
        ? report.verdict.reason
        : `${report.verdict.reason}; the maximum duration (${experiment.maxDurationDays} days) has passed`;
    return done({ ...(await stop(ports, experiment, 'dont-ship', by)), ...base, reason });
  }
  if (ports.deployments === undefined)
    throw new Error(`experiment ${experiment.id} says ship, but no deployment workflow is configured`);
  const executionName = experimentDeploymentName(experiment.id);
  const running = await ports.runningDeployment?.(experiment.model);
  if (running !== undefined && running !== executionName)
    return done({
      ...base,
      action: 'waiting-for-deployment',
      reason: `${report.verdict.reason}; deployment ${running} of ${experiment.model} is running: the next check promotes`,
    });
  const started = await ports.deployments.start(
    experiment.model,
    executionName,
    promotionRequest(experiment, report.verdict.reason),
  );
  const stopped = await stop(ports, experiment, 'ship', by);
  return done({
    ...base,
    action: stopped.action === 'stopped' ? 'promoted' : stopped.action,
    decision: stopped.decision,
    deployment: {
      executionName,
      existed: started.existed,
      ...(started.executionArn !== undefined ? { executionArn: started.executionArn } : {}),
    },
  });
}

async function stop(
  ports: ExperimentCheckPorts,
  experiment: Experiment,
  decision: ExperimentDecision,
  by: string,
): Promise<{ action: 'stopped' | 'already-stopped'; decision: ExperimentDecision }> {
  try {
    const stopped = await ports.experiments.stop(experiment.id, { decision, by });
    return { action: 'stopped', decision: stopped.decision ?? decision };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const current = (error as ConflictError & { current?: unknown }).current;
    return {
      action: 'already-stopped',
      decision: current === 'ship' || current === 'dont-ship' ? current : decision,
    };
  }
}

/**
 * Checks every running experiment of `models`, one at a time. An experiment that fails (a
 * deployment that could not start) does not stop the others: its error is collected and the whole
 * check throws at the end (the invocation fails, lands in the on-failure queue, and alarms), after
 * the others were handled.
 */
export async function checkExperiments(
  ports: ExperimentCheckPorts,
  models: readonly string[],
): Promise<ExperimentCheckResult[]> {
  const results: ExperimentCheckResult[] = [];
  const failures: { experimentId: string; error: unknown }[] = [];
  for (const model of models)
    for (const experiment of await ports.experiments.running(model)) {
      try {
        results.push(await checkExperiment(ports, experiment));
      } catch (error) {
        failures.push({ experimentId: experiment.id, error });
      }
    }
  if (failures.length > 0)
    throw new AggregateError(
      failures.map((f) => f.error),
      `experiment check failed for ${failures.map((f) => `${f.experimentId} (${(f.error as Error).message})`).join(', ')}`,
    );
  return results;
}
