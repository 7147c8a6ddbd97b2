/**
 * The deployment (canary) workflow's contract: its configuration, the state machine's input, the
 * shapes each step takes and returns, the events it records and the errors it raises. The
 * construct (lib/deployment-workflow.ts), the step function (lambdas/deployment-step/handler.ts),
 * the store (./deployment-store.ts), the CLI and the local runner all read this module.
 *
 * The flow (one Standard state machine per served model):
 *
 *   Start (validate, take the model's deployment lock, pin the model version in the function's
 *   configuration, publish a Lambda version; CanaryStarted)
 *   → for each traffic step below 100 %: Shift (the `live` alias's additional-version weight)
 *     → Bake (Wait) → Analyze (canary vs stable from GetMetricData and capture; alarms; a rollback
 *     asked for) → pass: CanaryStepPassed, next step | wait: Bake again | rollback
 *   → [approval: Wait → CheckApproval, until approved, rejected or timed out]
 *   → Promote (alias fully on the canary; registry: Production and `champion`, the previous
 *     Production version archived; CanaryPromoted)
 *   Rollback (weight 0; the registry records the rejection and its reason; CanaryRolledBack) → Fail.
 *   A hotfix skips bake and analysis (recorded as such, with its reason).
 *
 * Change rule: the state machine's input and the events' detail are contracts (the CLI and rules
 * depend on them): add fields, don't rename.
 */
import * as z from 'zod';
import { ConflictError, MlopsError } from '../shared/errors.js';
import { EVENT_DETAIL_TYPE } from '../shared/layout.js';

/** Thresholds of the canary analysis: the canary against the stable version over the same window. */
export const canaryThresholdsSchema = z.strictObject({
  /** Rollback when the canary's p99 latency exceeds the stable one's by more than this percent. @default 20 */
  p99IncreasePercent: z.number({ error: 'must be a number' }).min(0, 'must be 0 or more').default(20),
  /**
   * A latency increase rolls back only when it is also at least this many ms: at a millisecond of
   * p99, 20 % is noise, not a regression. @default 5
   */
  latencyNoiseFloorMs: z.number({ error: 'must be a number' }).min(0, 'must be 0 or more').default(5),
  /** Rollback when the canary's server error rate exceeds the stable one's by more than these points. @default 0.5 */
  errorRateIncreasePoints: z.number({ error: 'must be a number' }).min(0, 'must be 0 or more').default(0.5),
  /**
   * Rollback when the PSI between the two versions' prediction distributions (from capture)
   * exceeds this. 0.25 is the usual "significant shift". @default 0.25
   */
  predictionPsi: z.number({ error: 'must be a number' }).positive('must be positive').default(0.25),
  /**
   * Rollback when the primary business metric (feedback outcomes' positive rate, from capture)
   * drops by more than this percent of the stable one's. Judged only with enough feedback.
   * @default 2
   */
  businessMetricDropPercent: z.number({ error: 'must be a number' }).min(0, 'must be 0 or more').default(2),
});

/** The `deployment` section of the configuration. */
export const deploymentSchema = z
  .strictObject({
    /**
     * Traffic steps of the canary in percent, increasing, the last 100 (the promotion).
     * @default [10, 50, 100]
     */
    steps: z
      .array(
        z.number({ error: 'must be a number' }).gt(0, 'must be above 0').max(100, 'must be at most 100'),
        {
          error: 'must be a list of percentages',
        },
      )
      .min(1, 'must name at least one step')
      .default([10, 50, 100]),
    /** Time each step bakes before it is analysed, in seconds. @default 300 */
    bakeSeconds: z.number({ error: 'must be a number' }).int('must be whole seconds').min(0).default(300),
    /** Requests each version must have answered in a step's window before it is judged. @default 100 */
    minRequests: z.number({ error: 'must be a number' }).int('must be a whole number').min(1).default(100),
    /** Further bakes a step may wait for data before it rolls back as "insufficient data". @default 3 */
    maxInsufficientChecks: z.number({ error: 'must be a number' }).int().min(0).default(3),
    thresholds: canaryThresholdsSchema.prefault({}),
    /** Alarm names that roll a deployment back at once when in ALARM (beside the model's serving alarms). @default [] */
    alarms: z.array(z.string({ error: 'must be an alarm name' })).default([]),
    /** Wait for `mlops deploy approve` before the promotion. @default false */
    requireApproval: z.boolean({ error: 'must be true or false' }).default(false),
    /**
     * Deploy what the model's training workflow registers: a version it moves to Staging (it passed
     * the model's gates and the champion gate) starts this workflow, so a retraining (on schedule,
     * drift or new data) ends served, through the canary. @default false
     */
    deployRetrained: z.boolean({ error: 'must be true or false' }).default(false),
    /** How long an approval may take before the deployment rolls back, in seconds. @default 86400 */
    approvalTimeoutSeconds: z.number().int().min(1).default(86_400),
    /** How often the workflow looks for the approval, in seconds. @default 60 */
    approvalPollSeconds: z.number().int().min(1).default(60),
  })
  .superRefine((value, ctx) => {
    for (let i = 1; i < value.steps.length; i++)
      if ((value.steps[i] as number) <= (value.steps[i - 1] as number))
        ctx.addIssue({ code: 'custom', path: ['steps', i], message: 'must be above the step before it' });
    if (value.steps.at(-1) !== 100)
      ctx.addIssue({
        code: 'custom',
        path: ['steps', value.steps.length - 1],
        message: 'the last step must be 100',
      });
    // The state machine's timeout is 7 days, and an execution keeps at most 25,000 history
    // events: the slowest rollout must fit both.
    const analyses = (value.steps.length - 1) * (value.maxInsufficientChecks + 1);
    const polls = Math.ceil(value.approvalTimeoutSeconds / value.approvalPollSeconds);
    if (polls > MAX_APPROVAL_POLLS)
      ctx.addIssue({
        code: 'custom',
        path: ['approvalPollSeconds'],
        message: `must be at least approvalTimeoutSeconds / ${MAX_APPROVAL_POLLS} (${Math.ceil(value.approvalTimeoutSeconds / MAX_APPROVAL_POLLS)}): each poll adds history events, of which an execution keeps 25,000`,
      });
    const worstSeconds = analyses * value.bakeSeconds + value.approvalTimeoutSeconds;
    if (worstSeconds > MAX_DEPLOYMENT_SECONDS)
      ctx.addIssue({
        code: 'custom',
        path: ['bakeSeconds'],
        message: `the slowest rollout (every step baking through all its insufficient-data waits, plus the approval timeout: ${worstSeconds} s) must fit the workflow's ${MAX_DEPLOYMENT_SECONDS} s`,
      });
  });

/** Most approval polls one deployment may make (each about 9 history events; an execution keeps 25,000). */
export const MAX_APPROVAL_POLLS = 2000;
/** The deployment state machine's timeout (lib/deployment-workflow.ts), in seconds: 7 days. */
export const MAX_DEPLOYMENT_SECONDS = 7 * 86_400;

export type DeploymentConfig = z.output<typeof deploymentSchema>;
export type DeploymentConfigInput = z.input<typeof deploymentSchema>;
export type CanaryThresholds = z.output<typeof canaryThresholdsSchema>;

/** What starts a deployment (the state machine's input; the CLI and the registry send it). */
export interface DeploymentRequest {
  /** The registry version to deploy (Staging or Production). */
  readonly modelVersion: number;
  /** Skip bake and analysis: straight to the promotion, recorded as a hotfix with `reason`. */
  readonly hotfix?: boolean;
  /** Why (required for a hotfix); kept in the registry history. */
  readonly reason?: string;
  /** Who asked (the CLI's principal, or the registry). */
  readonly requestedBy?: string;
  /** Wait for an approval before the promotion (default: the configuration's requireApproval). */
  readonly requireApproval?: boolean;
  /**
   * The A/B experiment whose ship decision started this deployment (the scheduled experiment check,
   * or `mlops experiments stop --decision ship --promote`); kept in the registry history.
   */
  readonly experimentId?: string;
}

/** What the construct bakes into each model's state machine (a Pass state merges it with the request). */
export interface DeploymentTarget {
  readonly model: string;
  /** The inference function (unqualified name). */
  readonly functionName: string;
  /** Its serving alias (`live`). */
  readonly alias: string;
  readonly config: DeploymentConfig;
  /** Alarm names watched during the rollout: the configuration's and the model's serving alarms. */
  readonly alarms: readonly string[];
}

/** The deployment as the workflow carries it from step to step (`$.deployment`). */
export interface DeploymentState {
  readonly deploymentId: string;
  readonly model: string;
  readonly modelVersion: number;
  readonly functionName: string;
  readonly alias: string;
  /** The Lambda version serving before the deployment. */
  readonly stableVersion: string;
  /** The Lambda version pinned to modelVersion. */
  readonly canaryVersion: string;
  /** The model version the stable Lambda version serves (null: none was deployed). */
  readonly stableModelVersion: number | null;
  readonly hotfix: boolean;
  readonly requireApproval: boolean;
  /** Traffic steps below 100 % still to run, in order. */
  readonly steps: readonly number[];
  readonly startedAt: string;
  /**
   * The version was already Production when the deployment started (promoted in the registry,
   * which started this deployment): a rollback restores the registry to what serves.
   */
  readonly registryPromoted?: boolean;
}

/** The Analyze step's verdict. */
export type CanaryVerdict = 'pass' | 'wait' | 'rollback';

/** One check of the analysis, as recorded and shown. */
export interface CanaryCheck {
  readonly name:
    | 'requests'
    | 'errorRate'
    | 'p99Latency'
    | 'p95Latency'
    | 'predictionPsi'
    | 'businessMetric'
    | 'alarms'
    | 'manual';
  readonly passed: boolean;
  readonly canary?: number;
  readonly stable?: number;
  readonly limit?: number;
  readonly detail: string;
}

export interface CanaryAnalysis {
  readonly verdict: CanaryVerdict;
  /** Why: the failed checks' details (rollback), the missing data (wait), or "all checks passed". */
  readonly reason: string;
  readonly checks: readonly CanaryCheck[];
  /** The window analysed (ISO times). */
  readonly from: string;
  readonly to: string;
  /** Analyses of this step so far, this one included. */
  readonly attempt: number;
}

/** Events the workflow records in the registry history (and publishes as `detail-type`s). */
export const DEPLOYMENT_EVENTS = {
  started: EVENT_DETAIL_TYPE.canaryStarted,
  stepPassed: EVENT_DETAIL_TYPE.canaryStepPassed,
  promoted: EVENT_DETAIL_TYPE.canaryPromoted,
  rolledBack: EVENT_DETAIL_TYPE.canaryRolledBack,
} as const;
export type DeploymentEventType = (typeof DEPLOYMENT_EVENTS)[keyof typeof DEPLOYMENT_EVENTS];

/** One entry of a deployment's history (registry table, `DEPLOY#<id>#…`). */
export interface DeploymentEvent {
  readonly type: DeploymentEventType;
  readonly deploymentId: string;
  readonly model: string;
  readonly modelVersion: number;
  readonly at: string;
  readonly by: string;
  /** CanaryStepPassed: the traffic percent that passed. */
  readonly weight?: number;
  readonly hotfix?: boolean;
  readonly reason?: string;
  readonly analysis?: CanaryAnalysis;
  readonly canaryVersion: string;
  readonly stableVersion: string;
}

/** Status of a model's newest deployment (the registry's `DEPLOYMENT` item). */
export type DeploymentStatus = 'running' | 'promoted' | 'rolled-back' | 'failed';

/** The model's newest deployment, as `mlops deploy status` shows it. */
export interface DeploymentRecord {
  readonly deploymentId: string;
  readonly model: string;
  readonly modelVersion: number;
  readonly status: DeploymentStatus;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly requestedBy: string;
  readonly canaryVersion?: string;
  readonly stableVersion?: string;
  /** The traffic percent on the canary now. */
  readonly weight: number;
  readonly hotfix: boolean;
  readonly requireApproval: boolean;
  /** Set by `mlops deploy approve`. */
  readonly approvedBy?: string;
  /** Set by `mlops deploy rollback`: the workflow rolls back at its next check. */
  readonly rollbackRequested?: { readonly by: string; readonly reason: string; readonly at: string };
  /** Why it ended (rolled back or failed). */
  readonly reason?: string;
  /** The execution running it (Step Functions ARN, or the local runner's). */
  readonly execution?: string;
}

/** Another deployment of the model is running: one at a time per model. */
export class DeploymentInProgressError extends ConflictError {
  constructor(
    readonly model: string,
    readonly runningDeploymentId: string,
  ) {
    super(
      `model: ${model} is already being deployed (deployment ${runningDeploymentId}); wait for it, or roll it back with: mlops deploy rollback ${model}`,
    );
    this.name = 'DeploymentInProgressError';
  }
}

/** The workflow rolled the deployment back (the Fail state's error; the cause says why). */
export class CanaryRolledBackError extends MlopsError {
  constructor(reason: string) {
    super(reason, 409, 'CANARY_ROLLED_BACK');
    this.name = 'CanaryRolledBackError';
  }
}
