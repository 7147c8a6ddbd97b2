/**
 * `mlops experiments create|status|stop`: A/B experiments over the registry table
 * (lambdas/experiments/experiment-store.ts) and their analysis (lambdas/experiments/report.ts),
 * against the local or the deployed stack. Writes are recorded as the caller's principal.
 */
import { type Command, Option } from 'commander';
import {
  EXPERIMENT_METRICS,
  type Experiment,
  type ExperimentDecision,
  ExperimentStore,
  type Guardrail,
} from '../../../lambdas/experiments/experiment-store.js';
import { type ExperimentReport, experimentReport } from '../../../lambdas/experiments/report.js';
import { clients } from '../../../lambdas/shared/clients.js';
import { NotFoundError } from '../../../lambdas/shared/errors.js';
import { CliContext } from '../context.js';
import { CliFailure, CliInputError, type CliIo, CliNotFound, fields, table } from '../output.js';
import { deploymentStore, servedModel, startDeployment } from './deploy.js';

/** How often a waited-on deployed execution is looked at (as `deploy start`). */
const DEFAULT_POLL_MS = 2_000;

const DECISIONS: readonly ExperimentDecision[] = ['ship', 'dont-ship'];

function positiveInt(text: string, field: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new CliInputError(field, 'must be a positive whole number');
  return n;
}

function number(text: string, field: string, example: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n))
    throw new CliInputError(field, 'must be a number', `e.g. --${field} ${example}`);
  return n;
}

/** `metric:harmful[:tolerance]`, e.g. `value:decrease:0.5`. */
export function parseGuardrail(text: string): Guardrail {
  const [metric, harmful, tolerance, extra] = text.split(':');
  const tol = tolerance === undefined ? undefined : Number(tolerance);
  if (
    !(EXPERIMENT_METRICS as readonly string[]).includes(metric ?? '') ||
    (harmful !== 'increase' && harmful !== 'decrease') ||
    extra !== undefined ||
    (tol !== undefined && !(Number.isFinite(tol) && tol >= 0))
  )
    throw new CliInputError(
      'guardrail',
      `must be <metric>:<increase|decrease>[:<tolerance ≥ 0>] with metric one of ${EXPERIMENT_METRICS.join(', ')}`,
      'e.g. --guardrail value:decrease:0.5 (the harmful direction)',
    );
  return {
    metric: metric as Guardrail['metric'],
    harmful,
    ...(tol !== undefined ? { tolerance: tol } : {}),
  };
}

const pct = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : `${(x * 100).toFixed(digits)}%`;
const num = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : Number(x.toPrecision(digits)).toString();
const pValue = (p: number | undefined) =>
  p === undefined || !Number.isFinite(p) ? '-' : p < 0.0001 ? '<0.0001' : p.toFixed(4);
const interval = (i: readonly [number, number] | null | undefined, f: (x: number) => string) =>
  i === null || i === undefined || !Number.isFinite(i[0]) || !Number.isFinite(i[1])
    ? '-'
    : `[${f(i[0])}, ${f(i[1])}]`;

function experimentFields(e: Experiment): string {
  return fields({
    id: e.id,
    model: e.model,
    status: e.decision !== undefined ? `${e.status} (${e.decision})` : e.status,
    control: `version ${e.control} (${100 - e.allocation}%)`,
    treatment: `version ${e.treatment} (${e.allocation}%)`,
    'unit key': e.unitKey,
    layer: e.layer,
    'primary metric': `${e.primaryMetric} (MDE ${e.minimumDetectableEffect}, baseline ${e.baselineRate})`,
    guardrails:
      e.guardrails.length === 0
        ? undefined
        : e.guardrails.map(
            (g) => `${g.metric} must not ${g.harmful}${g.tolerance ? ` beyond ${g.tolerance}` : ''}`,
          ),
    'required sample': `${e.requiredSample.control} control + ${e.requiredSample.treatment} treatment (α ${e.alpha}, power ${e.power})`,
    'max duration': `${e.maxDurationDays} days`,
    'auto-promote': e.autoPromote === true ? 'yes: the scheduled check acts on the verdict' : undefined,
    created: `${e.createdAt} by ${e.createdBy}`,
    stopped: e.stoppedAt !== undefined ? `${e.stoppedAt} by ${e.stoppedBy}` : undefined,
  });
}

/** The readable verdict table of one experiment. */
export function reportText(e: Experiment, r: ExperimentReport): string {
  const [control, treatment] = r.arms;
  const head = fields({
    experiment: `${e.id} (${e.model}, ${e.status}${e.decision ? `: ${e.decision}` : ''})`,
    verdict: `${r.verdict.decision.toUpperCase()} — ${r.verdict.reason}`,
    'sample ratio': `${r.srm.mismatch ? 'MISMATCH' : 'ok'} (χ² ${num(r.srm.chiSquare)}, p ${pValue(r.srm.pValue)}, on ${r.srmUnits})`,
    progress: `${pct(r.progress.sampleFraction, 1)} of the required sample (${r.progress.requiredPerArm.control} + ${r.progress.requiredPerArm.treatment}), day ${r.progress.elapsedDays.toFixed(1)} of ${r.progress.maxDurationDays}`,
  });
  const arms = table(
    ['variant', 'version', 'assignments', 'outcomes', 'conversion', 'mean value'],
    [
      [
        'control',
        e.control,
        control.assignments,
        control.outcomes,
        pct(control.conversionRate),
        num(control.value?.mean),
      ],
      [
        'treatment',
        e.treatment,
        treatment.assignments,
        treatment.outcomes,
        pct(treatment.conversionRate),
        num(treatment.value?.mean),
      ],
    ],
  );
  const c = r.conversion;
  const rows: unknown[][] = [
    [
      'conversion (primary)',
      c === null ? '-' : `${pct(c.difference)} (lift ${pct(c.relativeLift, 1)})`,
      interval(r.sequential.peeks > 0 ? r.sequential.interval : null, (x) => pct(x)),
      pValue(r.sequential.pValue),
      c === null ? '-' : `${pValue(c.pValue)} ${interval(c.differenceInterval, (x) => pct(x))}`,
    ],
  ];
  if (r.value !== null)
    rows.push([
      'value (Welch)',
      num(r.value.difference),
      '-',
      '-',
      `${pValue(r.value.pValue)} ${interval(r.value.differenceInterval, (x) => num(x))}`,
    ]);
  for (const g of r.guardrails)
    rows.push([
      `guardrail ${g.metric} (harm: ${g.harmful})`,
      g.metric === 'conversion' ? pct(g.estimate) : num(g.estimate),
      interval(g.interval, g.metric === 'conversion' ? (x) => pct(x) : (x) => num(x)),
      pValue(g.pValue),
      '-',
    ]);
  const tests = table(
    ['metric', 'difference', 'always-valid CI', 'always-valid p', 'fixed-horizon p, CI'],
    rows,
  );
  return `${head}\n${arms}\n${tests}`;
}

export function registerExperimentCommands(program: Command, io: CliIo): void {
  const group = program.command('experiments').description('A/B experiments: define, read the verdict, stop');
  const load = async () => {
    const ctx = await CliContext.load(program, io);
    const store = new ExperimentStore({
      documents: clients.documents(),
      tableName: await ctx.registryTableName(),
      principal: await ctx.principal(),
    });
    return { ctx, store };
  };
  const found = async <T>(field: string, hint: string, work: Promise<T>): Promise<T> => {
    try {
      return await work;
    } catch (error) {
      if (error instanceof NotFoundError && !(error instanceof CliNotFound))
        throw new CliNotFound(error.field ?? field, error.message.replace(/ not found$/, ''), hint);
      throw error;
    }
  };

  group
    .command('create')
    .description(
      'start an experiment: control and treatment versions (Staging or Production), split by a unit key',
    )
    .argument('<model>', 'model name')
    .requiredOption('--control <version>', 'the control version')
    .requiredOption('--treatment <version>', 'the treatment version')
    .requiredOption('--allocation <percent>', 'percent of units in treatment, in (0, 100)')
    .requiredOption('--unit-key <field>', 'the field that identifies a unit, e.g. userId')
    .option('--layer <name>', 'a layer, so experiments on the same unit key in distinct layers may overlap')
    .option('--id <id>', 'the experiment id (default: <model>-<time>-<random>)')
    .option('--mde <effect>', 'minimum detectable effect on conversion (absolute)', '0.02')
    .option('--baseline <rate>', "control's expected conversion rate (default 0.5: the largest sample)")
    .option('--alpha <alpha>', 'significance level', '0.05')
    .option('--power <power>', 'power', '0.8')
    .option('--max-days <days>', 'maximum duration in days', '14')
    .option(
      '--auto-promote',
      'let the scheduled experiment check act on the verdict: ship deploys the treatment through the deployment workflow, don’t ship stops the experiment',
    )
    .option(
      '--guardrail <metric:harm[:tolerance]>',
      'a guardrail (repeatable), e.g. value:decrease',
      (v, acc: string[]) => [...acc, v],
      [],
    )
    .action(
      async (
        model: string,
        o: {
          control: string;
          treatment: string;
          allocation: string;
          unitKey: string;
          layer?: string;
          id?: string;
          mde: string;
          baseline?: string;
          alpha: string;
          power: string;
          maxDays: string;
          guardrail: string[];
          autoPromote?: boolean;
        },
      ) => {
        const input = {
          model,
          control: positiveInt(o.control, 'control'),
          treatment: positiveInt(o.treatment, 'treatment'),
          allocation: number(o.allocation, 'allocation', '50'),
          unitKey: o.unitKey,
          ...(o.layer !== undefined ? { layer: o.layer } : {}),
          ...(o.id !== undefined ? { id: o.id } : {}),
          minimumDetectableEffect: number(o.mde, 'mde', '0.02'),
          ...(o.baseline !== undefined ? { baselineRate: number(o.baseline, 'baseline', '0.1') } : {}),
          alpha: number(o.alpha, 'alpha', '0.05'),
          power: number(o.power, 'power', '0.8'),
          maxDurationDays: number(o.maxDays, 'max-days', '14'),
          guardrails: o.guardrail.map(parseGuardrail),
          autoPromote: o.autoPromote === true,
        };
        const { ctx, store } = await load();
        const experiment = await found(
          'version',
          `list its versions with: mlops models versions ${model}`,
          store.create(input),
        );
        ctx.out.result(experiment, experimentFields);
        io.stderr(`hint: read its verdict with: mlops experiments status ${experiment.id}\n`);
      },
    );

  group
    .command('status')
    .description("an experiment's verdict table (by id), or every running experiment of a model")
    .argument('<id-or-model>', 'experiment id or model name')
    .action(async (target: string) => {
      const { ctx, store } = await load();
      let experiments: Experiment[];
      try {
        experiments = [await store.get(target)];
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error;
        const known = await store.list(target).catch(() => []);
        if (known.length === 0)
          throw new CliNotFound(
            'experiment',
            `experiment or model with experiments ${target}`,
            'start one with: mlops experiments create <model> --control N --treatment M --allocation 50 --unit-key userId',
          );
        experiments = await store.running(target);
      }
      const now = new Date();
      const reports = await Promise.all(
        experiments.map(async (experiment) => ({
          experiment,
          report: experimentReport(experiment, await store.counters(experiment.id), now),
        })),
      );
      ctx.out.result({ experiments: reports }, (v) =>
        v.experiments.length === 0
          ? `no running experiments of ${target}`
          : v.experiments.map((x) => reportText(x.experiment, x.report)).join('\n\n'),
      );
    });

  group
    .command('stop')
    .description(
      'stop an experiment with its decision (frees its unit key or layer); --promote deploys a shipped treatment',
    )
    .argument('<id>', 'experiment id')
    .requiredOption('--decision <decision>', `${DECISIONS.join(' or ')}`)
    .option(
      '--promote',
      'with --decision ship: deploy the treatment version through the deployment workflow (as mlops deploy start)',
    )
    .option('--no-wait', 'with --promote: return once the deployment started (deployed stack only)')
    .addOption(
      new Option('--poll-interval <ms>', 'how often to look at a deployed execution while waiting')
        .default(String(DEFAULT_POLL_MS))
        .hideHelp(),
    )
    .addOption(
      new Option(
        '--assembly <dir>',
        'local stack: a cloud assembly already synthesized with bundling',
      ).hideHelp(),
    )
    .action(
      async (
        id: string,
        o: { decision: string; promote?: boolean; wait: boolean; pollInterval: string; assembly?: string },
      ) => {
        if (!(DECISIONS as readonly string[]).includes(o.decision))
          throw new CliInputError('decision', `must be ${DECISIONS.join(' or ')}`);
        if (o.promote === true && o.decision !== 'ship')
          throw new CliInputError('promote', 'needs --decision ship (only a shipped treatment is deployed)');
        const pollMs = Number(o.pollInterval);
        if (!(Number.isInteger(pollMs) && pollMs >= 10))
          throw new CliInputError('poll-interval', 'must be a whole number of milliseconds, at least 10');
        const { ctx, store } = await load();
        if (o.promote === true) {
          // Checked before the stop: a promotion that cannot start leaves the experiment running.
          const experiment = await found(
            'experimentId',
            'see the running ones with: mlops experiments status <model>',
            store.get(id),
          );
          servedModel(ctx, experiment.model);
          // Another deployment holds the model's lock: the promotion would fail at its Start with
          // the experiment already stopped as shipped.
          const running = await (await deploymentStore(ctx)).current(experiment.model);
          if (running?.status === 'running')
            throw new CliFailure(
              `deployment ${running.deploymentId} of ${experiment.model} is running; the experiment is left running`,
              `wait for it (mlops deploy status ${experiment.model}), then run this again`,
            );
        }
        const stopped = await found(
          'experimentId',
          'see the running ones with: mlops experiments status <model>',
          store.stop(id, { decision: o.decision as ExperimentDecision }),
        );
        if (o.promote !== true) {
          ctx.out.result(stopped, experimentFields);
          return;
        }
        // The experiment on stderr; the deployment is the command's result (as mlops deploy start's).
        io.stderr(`${experimentFields(stopped)}\n`);
        io.stderr(`promoting ${stopped.model} v${stopped.treatment}, the treatment of ${stopped.id}\n`);
        await startDeployment(
          program,
          io,
          ctx,
          stopped.model,
          stopped.treatment,
          async (version) => ({
            modelVersion: version,
            requestedBy: await ctx.principal(),
            reason: `experiment ${stopped.id} stopped with decision ship by ${stopped.stoppedBy ?? 'its owner'}`,
            experimentId: stopped.id,
          }),
          { wait: o.wait, pollMs, ...(o.assembly !== undefined ? { assembly: o.assembly } : {}) },
        );
      },
    );
}
