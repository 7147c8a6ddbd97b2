/**
 * `mlops deploy start|status|approve|rollback <model>`: the canary deployment workflow of a served
 * model (lib/deployment-workflow.ts; its flow, request and records in
 * lambdas/deployment/contract.ts), on the deployed stack (Step Functions) or the local stack (run in
 * this process, with the configured bake and approval-poll waits: ../deployments.ts).
 *
 * - `start <model> [version]` (default: the newest Staging version) deploys it as a canary and waits:
 *   exit 0 when promoted (or the version already serves), 1 when rolled back or failed, with the
 *   reason on stderr. `--hotfix --reason` skips the canary (recorded), `--approval` waits for
 *   `deploy approve` before the promotion, `--no-wait` returns once started (deployed stack only).
 * - `status <model>`: the newest deployment (the registry's record) and its history, each event
 *   with its weight, verdict and reason, and the analysis checks of the last analysed step.
 * - `approve <model>` / `rollback <model> --reason <text>`: recorded on the running deployment;
 *   the workflow acts at its next check.
 */
import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type Command, Option } from 'commander';
import type {
  CanaryAnalysis,
  DeploymentEvent,
  DeploymentRecord,
  DeploymentRequest,
} from '../../../lambdas/deployment/contract.js';
import { DeploymentStore } from '../../../lambdas/deployment/deployment-store.js';
import { clients } from '../../../lambdas/shared/clients.js';
import { ConflictError, NotFoundError } from '../../../lambdas/shared/errors.js';
import { servedModels } from '../../../lib/config.js';
import { importConfigFile } from '../../../lib/project-config.js';
import { CliContext } from '../context.js';
import {
  type DeploymentOutcome,
  deploymentExecutionName,
  deploymentFailed,
  deploymentOutcome,
  deploymentProgress,
  runDeploymentLocally,
  verdictLine,
} from '../deployments.js';
import { parseRegistryVersion } from '../inputs.js';
import { localStateMachineRunner, withStdoutOnStderr } from '../local-runner.js';
import {
  CliFailure,
  CliInputError,
  type CliIo,
  CliNotFound,
  EXIT,
  fields,
  setExitCode,
  table,
} from '../output.js';
import { modelStateMachine } from '../resources.js';

/** How often a waited-on deployed execution is looked at. @default 2000 ms */
const DEFAULT_POLL_MS = 2_000;

/** A served model of the configuration, or bad input listing the served ones. */
export function servedModel(ctx: CliContext, name: string): string {
  const served = servedModels(ctx.config);
  if (served.includes(name)) return name;
  throw new CliInputError(
    'model',
    `must be a served model of the configuration (${name} is not)`,
    served.length > 0
      ? `served models: ${served.join(', ')}`
      : 'the configuration serves no model (serving in mlops.config.ts)',
  );
}

export async function deploymentStore(ctx: CliContext): Promise<DeploymentStore> {
  return new DeploymentStore({
    documents: clients.documents(),
    tableName: await ctx.registryTableName(),
    principal: await ctx.principal(),
  });
}

/** The newest Staging version of `model` (what `start` deploys when no version is named). */
async function newestStaging(ctx: CliContext, model: string): Promise<number> {
  const registry = await ctx.registry();
  let nextToken: string | undefined;
  do {
    const page = await registry.listModelVersions(model, { limit: 100, ...(nextToken ? { nextToken } : {}) });
    const found = page.versions.find((v) => v.stage === 'Staging');
    if (found !== undefined) return found.version;
    nextToken = page.nextToken;
  } while (nextToken !== undefined);
  throw new CliNotFound(
    'version',
    `a Staging version of ${model} to deploy`,
    `name one (mlops deploy start ${model} <version>), or move one to Staging: mlops models promote ${model} <version> Staging`,
  );
}

/** What `start` prints when it ends. */
interface StartResult {
  readonly model: string;
  readonly modelVersion: number;
  readonly outcome: DeploymentOutcome | 'running';
  readonly reason?: string;
  readonly where: 'deployed' | 'local';
  readonly executionArn: string;
  readonly deployment?: DeploymentRecord;
}

function humanStart(r: StartResult): string {
  return [
    `${r.model} v${r.modelVersion}: ${r.outcome}${r.reason ? ` — ${r.reason}` : ''}`,
    fields({
      deployment: r.deployment?.deploymentId,
      status: r.deployment?.status,
      weight: r.deployment === undefined ? undefined : `${r.deployment.weight} %`,
      canary: r.deployment?.canaryVersion,
      stable: r.deployment?.stableVersion,
      execution: r.executionArn,
      where: r.where,
    }),
  ].join('\n');
}

/** One row of the history: when, what, weight, verdict, reason. */
function historyRow(e: DeploymentEvent): unknown[] {
  return [
    e.at,
    e.type,
    e.weight === undefined ? '' : `${e.weight} %`,
    e.analysis?.verdict ?? '',
    e.reason ?? e.analysis?.reason ?? '',
  ];
}

const number = (n: number | undefined) => (n === undefined ? '' : Number(n.toPrecision(4)));

function humanStatus(s: {
  model: string;
  deployment: DeploymentRecord | null;
  history: readonly DeploymentEvent[];
  lastAnalysis: CanaryAnalysis | null;
}): string {
  const d = s.deployment;
  if (d === null) return `${s.model}: no deployments yet (start one with: mlops deploy start ${s.model})`;
  return [
    `${s.model}: deployment ${d.deploymentId} of v${d.modelVersion} is ${d.status}${d.reason && (d.status === 'rolled-back' || d.status === 'failed') ? ` — ${d.reason}` : ''}`,
    fields({
      status: d.status,
      weight: `${d.weight} %`,
      version: d.modelVersion,
      canary: d.canaryVersion,
      stable: d.stableVersion,
      hotfix: d.hotfix,
      approval: d.requireApproval ? (d.approvedBy ? `approved by ${d.approvedBy}` : 'required') : undefined,
      'rollback asked': d.rollbackRequested
        ? `by ${d.rollbackRequested.by}: ${d.rollbackRequested.reason}`
        : undefined,
      'requested by': d.requestedBy,
      started: d.startedAt,
      updated: d.updatedAt,
      execution: d.execution,
    }),
    table(['at', 'event', 'weight', 'verdict', 'reason'], s.history.map(historyRow)),
    ...(s.lastAnalysis
      ? [
          `last analysis (${s.lastAnalysis.from} – ${s.lastAnalysis.to}): ${verdictLine(s.lastAnalysis)}`,
          table(
            ['check', 'passed', 'canary', 'stable', 'limit', 'detail'],
            s.lastAnalysis.checks.map((c) => [
              c.name,
              c.passed ? 'yes' : 'NO',
              number(c.canary),
              number(c.stable),
              number(c.limit),
              c.detail,
            ]),
          ),
        ]
      : []),
  ].join('\n');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `approve` / `rollback` when nothing runs: a failure that says what the newest deployment did. */
function nothingRunning(error: unknown, model: string, action: string): never {
  if (error instanceof NotFoundError)
    throw new CliFailure(
      `nothing to ${action}: ${model} has no deployment`,
      `start one with: mlops deploy start ${model}`,
      { cause: error },
    );
  if (error instanceof ConflictError)
    throw new CliFailure(
      `nothing to ${action}: ${error.message.replace(/^[a-z]+: /, '')}`,
      `see it with: mlops deploy status ${model}`,
      { cause: error },
    );
  throw error;
}

interface StartOptions {
  hotfix?: boolean;
  reason?: string;
  approval?: boolean;
  wait: boolean;
  pollInterval: string;
  assembly?: string;
}

/** How `deploy start` (and `experiments stop --promote`) run a deployment. */
export interface DeploymentStartOptions {
  /** Wait for the execution to end (always on the local stack). */
  readonly wait: boolean;
  /** How often a waited-on deployed execution is looked at, in ms. */
  readonly pollMs: number;
  /** Local stack: a cloud assembly already synthesized with bundling. */
  readonly assembly?: string;
}

/**
 * Starts `model`'s deployment workflow (deployed: Step Functions; local: run in this process) for
 * `given` (default: the newest Staging version) with the request `requestFor` builds, follows it
 * with progress on stderr, prints the result and sets the exit code (1 when rolled back or failed).
 * The one code path of `mlops deploy start` and `mlops experiments stop --decision ship --promote`.
 */
export async function startDeployment(
  program: Command,
  io: CliIo,
  ctx: CliContext,
  model: string,
  given: number | undefined,
  requestFor: (version: number) => Promise<DeploymentRequest>,
  options: DeploymentStartOptions,
): Promise<void> {
  const { pollMs } = options;
  const { arn, source } = await modelStateMachine(
    ctx.options,
    ctx.config.stackName,
    'deploymentWorkflows',
    model,
    'deployment workflow',
  );
  if (source.kind === 'local' && !options.wait)
    throw new CliInputError(
      'no-wait',
      'is not possible on the local stack: its executions run in this process',
      'run it without --no-wait (or against the deployed stack)',
    );
  const version = given ?? (await newestStaging(ctx, model));
  if (given === undefined) io.stderr(`deploying ${model} v${version}: the newest Staging version\n`);
  const request = await requestFor(version);
  const executionName = deploymentExecutionName(model, version);
  const store = await deploymentStore(ctx);
  const label = `deploy ${model} v${version}`;

  let ended: { status: string; error?: string; cause?: string; output?: unknown };
  let executionArn: string;
  if (source.kind === 'local') {
    const configFile = ctx.options.config;
    const config = configFile ? await importConfigFile(configFile) : undefined;
    const { runner, dispose } = await localStateMachineRunner(
      source.state,
      config,
      arn,
      (step) => io.stderr(`${step}…\n`),
      options.assembly,
    );
    try {
      const run = await withStdoutOnStderr(() =>
        runDeploymentLocally(runner, model, {
          request,
          executionName,
          config: ctx.config.deployment,
          onEvent: deploymentProgress((text) => io.stderr(`${text}\n`), {
            label,
            config: ctx.config.deployment,
          }),
        }),
      );
      ended = run.result;
      executionArn = run.executionArn;
    } finally {
      dispose();
    }
  } else {
    const started = await clients.sfn().send(
      new StartExecutionCommand({
        stateMachineArn: arn,
        name: executionName,
        input: JSON.stringify(request),
      }),
    );
    executionArn = started.executionArn ?? '';
    if (!options.wait) {
      const running: StartResult = {
        model,
        modelVersion: version,
        outcome: 'running',
        where: 'deployed',
        executionArn,
      };
      ctx.out.result(running, (r) => `${humanStart(r)}\nfollow it with: mlops deploy status ${model}`);
      return;
    }
    // Progress from the deployment record: a line when its status or weight changes.
    let seen = '';
    const t0 = Date.now();
    for (;;) {
      const described = await clients.sfn().send(new DescribeExecutionCommand({ executionArn }));
      const record = await store.current(model);
      if (record?.deploymentId === executionName) {
        const now = `${record.status} ${record.weight}`;
        if (now !== seen) {
          seen = now;
          io.stderr(
            `${label}: ${record.status}, ${record.weight} % on the canary (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`,
          );
        }
      }
      if (described.status !== 'RUNNING') {
        ended = {
          status: described.status ?? 'UNKNOWN',
          ...(described.error ? { error: described.error } : {}),
          ...(described.cause ? { cause: described.cause } : {}),
          ...(described.output ? { output: JSON.parse(described.output) as unknown } : {}),
        };
        break;
      }
      await sleep(pollMs);
    }
  }
  const { outcome, reason } = deploymentOutcome(ended);
  const record = await store.current(model);
  const result: StartResult = {
    model,
    modelVersion: version,
    outcome,
    ...(reason ? { reason } : {}),
    where: source.kind,
    executionArn,
    ...(record?.deploymentId === executionName ? { deployment: record } : {}),
  };
  ctx.out.result(result, humanStart);
  if (deploymentFailed(outcome)) {
    io.stderr(`error: ${outcome}: ${reason}\n`);
    io.stderr(`hint: mlops deploy status ${model}\n`);
    setExitCode(program, EXIT.failure);
  }
}

/** Adds the `deploy` command group to `program`. */
export function registerDeployCommands(program: Command, io: CliIo): void {
  const group = program
    .command('deploy')
    .description("canary deployments of a served model's versions: start, status, approve, rollback");

  group
    .command('start')
    .description(
      'deploy a model version as a canary through the configured traffic steps (deployment.steps), analysed between steps, and wait for it to promote or roll back',
    )
    .argument('<model>', 'a served model of the configuration')
    .argument('[version]', 'registry version (default: the newest Staging version)')
    .option('--hotfix', 'skip the bake steps and analysis (recorded as a hotfix; needs --reason)')
    .option('--reason <text>', 'why (required with --hotfix; kept in the deployment history)')
    .option('--approval', 'wait for mlops deploy approve before the promotion')
    .option('--no-wait', 'return once the execution started (deployed stack only)')
    .addOption(
      new Option('--poll-interval <ms>', 'how often to look at a deployed execution while waiting')
        .default(String(DEFAULT_POLL_MS))
        .hideHelp(),
    )
    .addOption(
      new Option(
        '--assembly <dir>',
        "local stack: a cloud assembly of the project's app already synthesized with bundling (skips the synthesis)",
      ).hideHelp(),
    )
    .action(async (modelName: string, versionText: string | undefined, options: StartOptions) => {
      const ctx = await CliContext.load(program, io);
      const model = servedModel(ctx, modelName);
      const given = versionText === undefined ? undefined : parseRegistryVersion(versionText);
      if (options.hotfix && (options.reason ?? '').trim() === '')
        throw new CliInputError(
          'reason',
          'must say why when the deployment is a hotfix (--hotfix skips the canary)',
          `e.g. mlops deploy start ${model} <version> --hotfix --reason "revert a bad feature"`,
        );
      if (options.reason !== undefined && options.reason.trim() === '')
        throw new CliInputError('reason', 'must not be empty');
      const pollMs = Number(options.pollInterval);
      if (!(Number.isInteger(pollMs) && pollMs >= 10))
        throw new CliInputError('poll-interval', 'must be a whole number of milliseconds, at least 10');
      await startDeployment(
        program,
        io,
        ctx,
        model,
        given,
        async (version) => ({
          modelVersion: version,
          requestedBy: await ctx.principal(),
          ...(options.hotfix ? { hotfix: true } : {}),
          ...(options.reason !== undefined ? { reason: options.reason } : {}),
          ...(options.approval ? { requireApproval: true } : {}),
        }),
        {
          wait: options.wait,
          pollMs,
          ...(options.assembly !== undefined ? { assembly: options.assembly } : {}),
        },
      );
    });

  group
    .command('status')
    .description(
      "a model's newest deployment: status, weight, history (weight, verdict, reason), last analysis",
    )
    .argument('<model>', 'a served model of the configuration')
    .action(async (modelName: string) => {
      const ctx = await CliContext.load(program, io);
      const model = servedModel(ctx, modelName);
      const store = await deploymentStore(ctx);
      const deployment = (await store.current(model)) ?? null;
      const history = deployment === null ? [] : await store.history(model, deployment.deploymentId);
      const lastAnalysis = history.findLast((e) => e.analysis !== undefined)?.analysis ?? null;
      ctx.out.result({ model, deployment, history, lastAnalysis }, humanStatus);
    });

  group
    .command('approve')
    .description('approve the running deployment’s promotion (one started with --approval)')
    .argument('<model>', 'a served model of the configuration')
    .action(async (modelName: string) => {
      const ctx = await CliContext.load(program, io);
      const model = servedModel(ctx, modelName);
      const store = await deploymentStore(ctx);
      const by = await ctx.principal();
      const record = await store
        .approve(model, { by })
        .catch((e: unknown) => nothingRunning(e, model, 'approve'));
      ctx.out.result(
        record,
        (r) =>
          `${model}: deployment ${r.deploymentId} of v${r.modelVersion} approved by ${r.approvedBy}; it promotes at its next check`,
      );
    });

  group
    .command('rollback')
    .description('roll the running deployment back (at its next check); the reason is recorded')
    .argument('<model>', 'a served model of the configuration')
    .option('--reason <text>', 'why (required; kept in the deployment history)')
    .action(async (modelName: string, options: { reason?: string }) => {
      const ctx = await CliContext.load(program, io);
      const model = servedModel(ctx, modelName);
      if ((options.reason ?? '').trim() === '')
        throw new CliInputError(
          'reason',
          'is required: say why the deployment is rolled back (kept in its history)',
          `e.g. mlops deploy rollback ${model} --reason "latency regression seen on the dashboard"`,
        );
      const store = await deploymentStore(ctx);
      const by = await ctx.principal();
      const record = await store
        .requestRollback(model, { by, reason: options.reason as string })
        .catch((e: unknown) => nothingRunning(e, model, 'roll back'));
      ctx.out.result(
        record,
        (r) =>
          `${model}: rollback of deployment ${r.deploymentId} (v${r.modelVersion}) asked for by ${r.rollbackRequested?.by}; the workflow rolls back at its next check`,
      );
    });
}
