/**
 * `mlops train start|status|list|logs <model>`: the training pipeline of a configured trained model
 * (lib/training-pipeline.ts; its steps in lambdas/training/pipeline/contract.ts), on the deployed
 * stack (Step Functions) or the local stack (run in this process: ../local-training.ts).
 *
 * Every execution is a tracked run (experiment = the model, run id = trainingRunId(executionArn)),
 * so `list` and `status` read the tracking table; `status` and `logs` add the execution's own
 * record (../training-executions.ts).
 *
 * `start` waits by default (`--no-wait` returns once the execution started; deployed stack only)
 * and exits 0 when the pipeline decided (succeeded, rejected by its gates, dropped because another
 * execution runs, reused an earlier result: the outcome says which), 1 when the execution failed,
 * was aborted or timed out.
 */
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type Command, Option } from 'commander';
import type { TrackedRun } from '../../../lambdas/registry/tracking.js';
import type { TrackingStore } from '../../../lambdas/registry/tracking-store.js';
import { clients } from '../../../lambdas/shared/clients.js';
import { NotFoundError } from '../../../lambdas/shared/errors.js';
import { isTrained } from '../../../lambdas/training/model-config.js';
import type { TrainingPipelineInput } from '../../../lambdas/training/pipeline/contract.js';
import { TRAINING_RUN_TAGS, trainingRunId } from '../../../lambdas/training/pipeline/run-id.js';
import { importConfigFile } from '../../../lib/project-config.js';
import { CliContext } from '../context.js';
import { localStateMachineRunner, withStdoutOnStderr } from '../local-runner.js';
import { runTrainingLocally } from '../local-training.js';
import {
  CliFailure,
  CliInputError,
  type CliIo,
  CliNotFound,
  EPOCH_SECONDS_HINT,
  EXIT,
  fields,
  isoTime,
  looksLikeEpochSeconds,
  type Progress,
  setExitCode,
  table,
} from '../output.js';
import { modelStateMachine } from '../resources.js';
import {
  currentState,
  deployedCurrentState,
  describeDeployedExecution,
  type ExecutionRecord,
  type ExecutionStep,
  getExecutionRecord,
  type OutcomeSummary,
  outcomeFailed,
  summarizeOutcome,
} from '../training-executions.js';

/** How often `start --wait` asks Step Functions how a deployed execution is doing. @default 2000 ms */
const DEFAULT_POLL_MS = 2_000;

/** A configured trained model's name, or bad input listing the trained ones. */
function trainedModel(ctx: CliContext, name: string): string {
  const trained = ctx.config.models.filter(isTrained).map((m) => m.name);
  if (trained.includes(name)) return name;
  throw new CliInputError(
    'model',
    `must be a trained model of the configuration (${name} is not)`,
    trained.length > 0
      ? `trained models: ${trained.join(', ')}`
      : 'the configuration trains no models: give a model task, label and features (mlops.config.ts)',
  );
}

/** The model's state machine ARN from the stack's TrainingPipelineArns output, and where it runs. */
const pipelineOf = (ctx: CliContext, model: string) =>
  modelStateMachine(ctx.options, ctx.config.stackName, 'trainingPipelines', model, 'training pipeline');

/** Where the pipeline runs, without needing its output: the local stack when one runs for this stack. */
async function runsLocally(ctx: CliContext): Promise<boolean> {
  const { useLocalStack } = await import('../../../local/local-state.js');
  return (await useLocalStack(ctx.options.stack ?? ctx.config.stackName)) !== undefined;
}

/** The model's training runs (top-level: a search's candidate runs are children), newest first. */
async function trainingRuns(store: TrackingStore, model: string, limit: number): Promise<TrackedRun[]> {
  try {
    await store.getExperiment(model);
  } catch (error) {
    if (error instanceof NotFoundError) return [];
    throw error;
  }
  const runs: TrackedRun[] = [];
  let nextToken: string | undefined;
  do {
    const page = await store.listRuns(model, { limit: 100, ...(nextToken ? { nextToken } : {}) });
    runs.push(...page.runs.filter((r) => r.parentRunId === undefined));
    nextToken = page.nextToken;
  } while (nextToken && runs.length < limit);
  return runs.slice(0, limit);
}

interface Selected {
  readonly runId: string;
  readonly run?: TrackedRun;
  readonly executionArn?: string;
}

/** The run a `status`/`logs` argument names (a run id or an execution ARN), else the latest. */
async function selectRun(store: TrackingStore, model: string, id: string | undefined): Promise<Selected> {
  const hint = `list them with: mlops train list ${model}`;
  if (id === undefined) {
    const [latest] = await trainingRuns(store, model, 1);
    if (latest === undefined)
      throw new CliNotFound(
        'model',
        `training runs of ${model}`,
        `start one with: mlops train start ${model}`,
      );
    return { runId: latest.runId, run: latest, ...executionOf(latest) };
  }
  const executionArn = id.startsWith('arn:') ? id : undefined;
  const runId = executionArn === undefined ? id : trainingRunId(executionArn);
  try {
    const run = await store.getRun(runId);
    if (run.experiment !== model)
      throw new CliNotFound('run', `run ${runId} is not a training run of ${model}`, hint);
    return { runId, run, ...(executionArn ? { executionArn } : executionOf(run)) };
  } catch (error) {
    if (!(error instanceof NotFoundError) || error instanceof CliNotFound) throw error;
    // An execution that ended before it wrote its run still has a record in Step Functions.
    if (executionArn !== undefined) return { runId, executionArn };
    throw new CliNotFound('run', `training run ${runId} of ${model}`, hint);
  }
}

const executionOf = (run: TrackedRun) => {
  const arn = run.tags[TRAINING_RUN_TAGS.execution];
  return arn ? { executionArn: arn } : {};
};

/** The execution record of a selected run: Step Functions' (deployed) or the stored one (local). */
async function recordOf(
  ctx: CliContext,
  model: string,
  selected: Selected,
  local: boolean,
): Promise<ExecutionRecord | undefined> {
  if (local) return getExecutionRecord(await ctx.artifactBucketName(), model, selected.runId);
  if (selected.executionArn === undefined) return undefined;
  return describeDeployedExecution(model, selected.runId, selected.executionArn);
}

/** What `start` and `status` print: the execution, its run and how it ended. */
interface TrainingStatus extends OutcomeSummary {
  readonly model: string;
  readonly runId: string;
  readonly executionArn?: string;
  readonly where: 'deployed' | 'local';
  readonly status: string;
  /** The state it is in (running) or ended in. */
  readonly state?: string;
  readonly trigger?: string;
  readonly startedAt?: string;
  readonly stoppedAt?: string;
  readonly durationMs?: number;
  readonly error?: string;
  readonly cause?: string;
  readonly runStatus?: string;
  readonly metrics?: Readonly<Record<string, number>>;
}

function statusOf(
  model: string,
  selected: Selected,
  record: ExecutionRecord | undefined,
  where: 'deployed' | 'local',
): TrainingStatus {
  const { run } = selected;
  const started = record?.startedAt ?? (run ? isoTime(run.startTime) : undefined);
  const stopped = record?.stoppedAt ?? (run?.endTime === undefined ? undefined : isoTime(run.endTime));
  const metrics = run ? Object.fromEntries(Object.entries(run.metrics).map(([k, m]) => [k, m.latest])) : {};
  const executionArn = record?.executionArn ?? selected.executionArn;
  const trigger = run?.tags[TRAINING_RUN_TAGS.trigger] ?? record?.input.trigger?.kind;
  const state = record === undefined ? undefined : currentState(record.steps);
  return {
    model,
    runId: selected.runId,
    ...(executionArn ? { executionArn } : {}),
    where,
    status: record?.status ?? (run?.status === 'RUNNING' ? 'RUNNING' : (run?.status ?? 'UNKNOWN')),
    ...(state ? { state } : {}),
    ...summarizeOutcome(record, run),
    ...(trigger ? { trigger } : {}),
    ...(started ? { startedAt: started } : {}),
    ...(stopped ? { stoppedAt: stopped } : {}),
    ...(started && stopped ? { durationMs: Date.parse(stopped) - Date.parse(started) } : {}),
    ...(record?.error ? { error: record.error } : {}),
    ...(record?.cause ? { cause: record.cause } : {}),
    ...(run ? { runStatus: run.status } : {}),
    ...(Object.keys(metrics).length > 0 ? { metrics } : {}),
  };
}

const seconds = (ms: number | undefined) => (ms === undefined ? '' : `${(ms / 1000).toFixed(1)}s`);

function humanStatus(s: TrainingStatus): string {
  const headline =
    s.outcome === undefined
      ? `${s.model}: ${s.status.toLowerCase()}${s.state ? ` (in ${s.state})` : ''}`
      : `${s.model}: ${s.outcome}${s.outcome === 'rejected' ? ' (the candidate did not pass its gates: not an error)' : ''}`;
  return [
    headline,
    fields({
      outcome: s.outcome,
      run: s.runId,
      version: s.version,
      reasons: s.reasons,
      status: s.status,
      state: s.state,
      trigger: s.trigger,
      started: s.startedAt,
      duration: s.durationMs === undefined ? undefined : seconds(s.durationMs),
      error: s.error,
      cause: s.cause,
      execution: s.executionArn,
      where: s.where,
    }),
    ...(s.metrics
      ? [
          table(
            ['metric', 'value'],
            Object.entries(s.metrics)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, v]) => [k, Number(v.toPrecision(6))]),
          ),
        ]
      : []),
  ].join('\n');
}

/** Progress of a waited-on execution: the bar on a terminal, else a line per state on stderr. */
function stateReporter(progress: Progress, io: CliIo, model: string) {
  const started = Date.now();
  let state: string | undefined;
  const note = () => progress.note(`${state ?? 'starting'} ${seconds(Date.now() - started)}`);
  progress.phase('starting', 0);
  const ticker = io.progressStream === undefined ? undefined : setInterval(note, 1000);
  ticker?.unref();
  return {
    state(name: string | undefined) {
      if (name === undefined || name === state) return;
      state = name;
      progress.add();
      if (io.progressStream === undefined)
        io.stderr(`train ${model}: ${name} (${seconds(Date.now() - started)})\n`);
      note();
    },
    stop() {
      if (ticker) clearInterval(ticker);
      progress.stop();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function stepLine(step: ExecutionStep): string {
  const detail = step.type === 'failed' ? ` ${step.error ?? ''}${step.cause ? `: ${step.cause}` : ''}` : '';
  return `${step.at}  ${step.type.padEnd(7)}  ${step.state}${detail}`;
}

interface StartOptions {
  reason?: string;
  asOf?: string;
  wait: boolean;
  name?: string;
  pollInterval: string;
}

export function registerTrainPipelineCommands(group: Command, program: Command, io: CliIo): void {
  group
    .command('start')
    .description("start a model's training pipeline and wait for its outcome (local or deployed stack)")
    .argument('<model>', 'a trained model of the configuration')
    .option('--reason <text>', 'why (recorded on the run as the trigger reason)')
    .option('--as-of <time>', 'ISO time the training window ends at (default: now)')
    .option('--no-wait', 'return once the execution started (deployed stack only)')
    .option(
      '--name <name>',
      'execution name (default: a random UUID); the same name and input start nothing new',
    )
    .addOption(
      new Option('--poll-interval <ms>', 'how often to ask Step Functions while waiting')
        .default(String(DEFAULT_POLL_MS))
        .hideHelp(),
    )
    .action(async (modelName: string, options: StartOptions) => {
      const ctx = await CliContext.load(program, io);
      const model = trainedModel(ctx, modelName);
      let asOf: string | undefined;
      if (options.asOf !== undefined) {
        if (looksLikeEpochSeconds(options.asOf))
          throw new CliInputError('as-of', 'must be an ISO time', EPOCH_SECONDS_HINT);
        const ms = Date.parse(options.asOf);
        if (!Number.isFinite(ms))
          throw new CliInputError('as-of', 'must be an ISO time (e.g. 2026-01-31T00:00:00Z)');
        asOf = new Date(ms).toISOString();
      }
      const pollMs = Number(options.pollInterval);
      if (!(Number.isInteger(pollMs) && pollMs >= 10))
        throw new CliInputError('poll-interval', 'must be a whole number of milliseconds, at least 10');
      if (options.name !== undefined && !/^[A-Za-z0-9_-]{1,80}$/.test(options.name))
        throw new CliInputError('name', 'must be 1-80 of A-Z a-z 0-9 _ -');
      const principal = await ctx.principal();
      const input: TrainingPipelineInput = {
        trigger: {
          kind: 'manual',
          reason: options.reason ? `${options.reason} (by ${principal})` : `started by ${principal}`,
        },
        ...(asOf ? { asOf } : {}),
      };
      const { arn, source } = await pipelineOf(ctx, model);
      const store = await ctx.trackingStore();

      if (source.kind === 'local') {
        if (!options.wait)
          throw new CliInputError(
            'no-wait',
            'is not possible on the local stack: its executions run in this process',
            'run it without --no-wait (or against the deployed stack)',
          );
        const bucket = await ctx.artifactBucketName();
        const configFile = ctx.options.config;
        const config = configFile ? await importConfigFile(configFile) : undefined;
        const { runner, dispose } = await localStateMachineRunner(source.state, config, arn, (step) =>
          io.stderr(`${step}…\n`),
        );
        const reporter = stateReporter(ctx.out.progress(`train ${model}`), io, model);
        let record: ExecutionRecord;
        try {
          record = await withStdoutOnStderr(() =>
            runTrainingLocally(runner, {
              model,
              input,
              bucket,
              ...(options.name ? { executionName: options.name } : {}),
              onStep: (step) => {
                if (step.type === 'entered') reporter.state(step.state);
              },
            }),
          );
        } finally {
          reporter.stop();
          dispose();
        }
        return finish(ctx, store, model, record, 'local');
      }

      const started = await clients.sfn().send(
        new StartExecutionCommand({
          stateMachineArn: arn,
          input: JSON.stringify(input),
          ...(options.name ? { name: options.name } : {}),
        }),
      );
      const executionArn = started.executionArn ?? '';
      const runId = trainingRunId(executionArn);
      if (!options.wait) {
        ctx.out.result(
          {
            model,
            runId,
            executionArn,
            where: 'deployed',
            status: 'RUNNING',
            startedAt: started.startDate?.toISOString(),
          },
          (r) =>
            [
              `${model}: started (not waiting)`,
              fields({ run: r.runId, execution: r.executionArn, started: r.startedAt }),
              `follow it with: mlops train status ${model} ${runId}`,
            ].join('\n'),
        );
        return;
      }
      const reporter = stateReporter(ctx.out.progress(`train ${model}`), io, model);
      let record: ExecutionRecord | undefined;
      try {
        for (;;) {
          record = await describeDeployedExecution(model, runId, executionArn, { steps: false });
          if (record === undefined) throw new CliFailure(`execution ${executionArn} vanished`);
          if (record.status !== 'RUNNING') break;
          reporter.state(await deployedCurrentState(executionArn));
          await sleep(pollMs);
        }
      } finally {
        reporter.stop();
      }
      record = (await describeDeployedExecution(model, runId, executionArn)) ?? record;
      return finish(ctx, store, model, record, 'deployed');
    });

  async function finish(
    ctx: CliContext,
    store: TrackingStore,
    model: string,
    record: ExecutionRecord,
    where: 'deployed' | 'local',
  ) {
    const run = await store.getRun(record.runId).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const status = statusOf(model, { runId: record.runId, ...(run ? { run } : {}) }, record, where);
    ctx.out.result(status, humanStatus);
    // Unknown outcome (no tag, output or terminal state to read it from): the status decides.
    if (outcomeFailed(status.outcome) || (status.outcome === undefined && record.status !== 'SUCCEEDED'))
      setExitCode(program, EXIT.failure);
  }

  group
    .command('list')
    .description("a model's training runs, newest first: outcome, trigger, version")
    .argument('<model>', 'a trained model of the configuration')
    .option('--limit <n>', 'runs to show (1-1000)', '20')
    .action(async (modelName: string, options: { limit: string }) => {
      const ctx = await CliContext.load(program, io);
      const model = trainedModel(ctx, modelName);
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
        throw new CliInputError('limit', 'must be a whole number from 1 to 1000');
      const runs = await trainingRuns(await ctx.trackingStore(), model, limit);
      const rows = runs.map((run) => {
        const { outcome, version } = summarizeOutcome(undefined, run);
        return {
          runId: run.runId,
          status: run.status,
          ...(outcome ? { outcome } : {}),
          ...(run.tags[TRAINING_RUN_TAGS.trigger] ? { trigger: run.tags[TRAINING_RUN_TAGS.trigger] } : {}),
          startedAt: isoTime(run.startTime),
          ...(run.endTime === undefined ? {} : { durationMs: run.endTime - run.startTime }),
          ...(version === undefined ? {} : { version }),
          ...(run.tags[TRAINING_RUN_TAGS.execution]
            ? { executionArn: run.tags[TRAINING_RUN_TAGS.execution] }
            : {}),
        };
      });
      ctx.out.result({ model, runs: rows }, (r) =>
        r.runs.length === 0
          ? `no training runs of ${model} yet (start one with: mlops train start ${model})`
          : table(
              ['run', 'status', 'outcome', 'trigger', 'started', 'duration', 'version'],
              r.runs.map((x) => [
                x.runId,
                x.status,
                x.outcome ?? '',
                x.trigger ?? '',
                x.startedAt,
                seconds(x.durationMs),
                x.version ?? '',
              ]),
            ),
      );
    });

  /** The named (or latest) run of a trained model, and its execution record: what status and logs read. */
  const selectExecution = async (modelName: string, id: string | undefined) => {
    const ctx = await CliContext.load(program, io);
    const model = trainedModel(ctx, modelName);
    const local = await runsLocally(ctx);
    const selected = await selectRun(await ctx.trackingStore(), model, id);
    return { ctx, model, local, selected, record: await recordOf(ctx, model, selected, local) };
  };

  group
    .command('status')
    .description('the latest (or the named) training run: status, state, outcome, reasons, metrics')
    .argument('<model>', 'a trained model of the configuration')
    .argument('[run]', 'run id or execution ARN (default: the latest run)')
    .action(async (modelName: string, id: string | undefined) => {
      const { ctx, model, local, selected, record } = await selectExecution(modelName, id);
      if (record === undefined && selected.run === undefined)
        throw new CliNotFound(
          'run',
          `execution ${selected.executionArn}`,
          `list them with: mlops train list ${model}`,
        );
      ctx.out.result(statusOf(model, selected, record, local ? 'local' : 'deployed'), humanStatus);
    });

  group
    .command('logs')
    .description("a training execution's step history: states entered, exited, failed, retried")
    .argument('<model>', 'a trained model of the configuration')
    .argument('[run]', 'run id or execution ARN (default: the latest run)')
    .action(async (modelName: string, id: string | undefined) => {
      const { ctx, model, local, selected, record } = await selectExecution(modelName, id);
      if (record === undefined)
        throw new CliNotFound(
          'run',
          `the execution of run ${selected.runId}${selected.executionArn ? ` (${selected.executionArn})` : ''}`,
          local
            ? 'only executions started with mlops train start on this local stack have a local history'
            : `list runs with: mlops train list ${model}`,
        );
      ctx.out.result(
        {
          model,
          runId: record.runId,
          executionArn: record.executionArn,
          status: record.status,
          events: record.steps,
          ...(record.error ? { error: record.error } : {}),
          ...(record.cause ? { cause: record.cause } : {}),
        },
        (r) =>
          [
            `${model} run ${r.runId}: ${r.status}`,
            ...r.events.map(stepLine),
            ...(r.error ? [`execution failed: ${r.error}${r.cause ? `: ${r.cause}` : ''}`] : []),
          ].join('\n'),
      );
    });
}
