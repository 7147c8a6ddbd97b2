/**
 * `mlops runs list|show|compare`: tracked runs (lambdas/registry/tracking-store.ts) from the
 * tracking table the stack outputs name (or --tracking-table).
 */
import type { Command } from 'commander';
import {
  RUN_STATUSES,
  type RunComparison,
  type RunStatus,
  type TrackedRun,
} from '../../../lambdas/registry/tracking.js';
import type { TrackingStore } from '../../../lambdas/registry/tracking-store.js';
import { NotFoundError, ValidationError } from '../../../lambdas/shared/errors.js';
import { CliContext } from '../context.js';
import { splitList } from '../inputs.js';
import { CliInputError, type CliIo, CliNotFound, fields, isoTime, table } from '../output.js';

const RUNS_HINT = 'list runs with: mlops runs list <experiment>';

/** A run, or not found (exit 3) naming `field` when there is none with that id. */
async function findRun(store: TrackingStore, runId: string, field = 'runId'): Promise<TrackedRun> {
  try {
    return await store.getRun(runId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new CliNotFound(field, `run ${runId}`, RUNS_HINT);
  }
}

const duration = (run: TrackedRun) =>
  run.endTime === undefined ? '' : `${((run.endTime - run.startTime) / 1000).toFixed(1)}s`;

/** A metric value for people: up to 6 significant digits. */
const num = (v: number | undefined) => (v === undefined ? '' : Number(v.toPrecision(6)));

export function registerRunCommands(program: Command, io: CliIo): void {
  const group = program.command('runs').description('tracked experiment runs: list, show, compare');

  group
    .command('list')
    .description("an experiment's runs, newest first (or searched on a metric)")
    .argument('<experiment>', 'experiment name')
    .option('--status <status>', `only runs in this status (${RUN_STATUSES.join(', ')})`)
    .option('--tag <key=value>', 'only runs with this tag')
    .option('--parent <runId>', 'only children of this run')
    .option('--filter <expression>', 'metric filter on latest values, e.g. "val_auc > 0.8"')
    .option('--order-by <metric>', 'order by a metric: "<metric> [ASC|DESC]"')
    .option('--limit <n>', 'runs per page (1-100)', '50')
    .option('--next-token <token>', 'the page after the one that printed this token')
    .action(
      async (
        experiment: string,
        options: {
          status?: string;
          tag?: string;
          parent?: string;
          filter?: string;
          orderBy?: string;
          limit: string;
          nextToken?: string;
        },
      ) => {
        const ctx = await CliContext.load(program, io);
        const limit = Number(options.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 100)
          throw new CliInputError('limit', 'must be a whole number from 1 to 100');
        if (options.status !== undefined && !RUN_STATUSES.includes(options.status.toUpperCase() as RunStatus))
          throw new CliInputError('status', `must be one of ${RUN_STATUSES.join(', ')}`);
        const searching = options.filter !== undefined || options.orderBy !== undefined;
        if (searching && (options.status || options.tag || options.parent))
          throw new CliInputError(
            'filter',
            'cannot be combined with --status, --tag or --parent',
            'search on a metric, or list by status, tag or parent',
          );
        let tag: { key: string; value: string } | undefined;
        if (options.tag !== undefined) {
          const at = options.tag.indexOf('=');
          if (at < 1) throw new CliInputError('tag', 'must be key=value');
          tag = { key: options.tag.slice(0, at), value: options.tag.slice(at + 1) };
        }
        const store = await ctx.trackingStore();
        await experimentOrNotFound(store, experiment);
        const page = searching
          ? await store.searchRuns(experiment, {
              ...(options.filter !== undefined ? { filter: options.filter } : {}),
              ...(options.orderBy !== undefined ? { orderBy: options.orderBy } : {}),
              limit,
              ...(options.nextToken ? { nextToken: options.nextToken } : {}),
            })
          : await store.listRuns(experiment, {
              ...(options.status ? { status: options.status.toUpperCase() as RunStatus } : {}),
              ...(tag ? { tag } : {}),
              ...(options.parent ? { parentRunId: options.parent } : {}),
              limit,
              ...(options.nextToken ? { nextToken: options.nextToken } : {}),
            });
        const metric = /^\s*(?:metrics\.)?([A-Za-z0-9_.:/-]+)/.exec(
          options.filter ?? options.orderBy ?? '',
        )?.[1];
        ctx.out.result(page, (p) => {
          if (p.runs.length === 0) return `no runs in ${experiment}`;
          const rows = table(
            ['run', 'name', 'status', 'started', 'duration', ...(metric ? [metric] : []), 'parent'],
            p.runs.map((r) => [
              r.runId,
              r.name,
              r.status,
              isoTime(r.startTime),
              duration(r),
              ...(metric ? [num(r.metrics[metric]?.latest)] : []),
              r.parentRunId ?? '',
            ]),
          );
          return rows;
        });
        // Like `mlops models versions`: the next page as a hint on stderr, stdout stays the result.
        if (page.nextToken !== undefined)
          io.stderr(`hint: more: mlops runs list ${experiment} --next-token ${page.nextToken}\n`);
      },
    );

  group
    .command('show')
    .description('one run: status, params, tags, metrics (latest, min, max), registered versions')
    .argument('<runId>', 'run id')
    .action(async (runId: string) => {
      const ctx = await CliContext.load(program, io);
      const run = await findRun(await ctx.trackingStore(), runId);
      ctx.out.result(run, (r) =>
        [
          fields({
            run: r.runId,
            name: r.name || undefined,
            experiment: r.experiment,
            status: r.status,
            reason: r.reason,
            started: isoTime(r.startTime),
            ended: r.endTime === undefined ? undefined : isoTime(r.endTime),
            duration: duration(r) || undefined,
            parent: r.parentRunId,
            artifacts: r.artifactPrefix,
            'registered versions': r.registeredVersions.length > 0 ? r.registeredVersions : undefined,
          }),
          ...(Object.keys(r.params).length > 0
            ? ['params:', table(['param', 'value'], Object.entries(r.params).sort())]
            : []),
          ...(Object.keys(r.tags).length > 0
            ? ['tags:', table(['tag', 'value'], Object.entries(r.tags).sort())]
            : []),
          ...(Object.keys(r.metrics).length > 0
            ? [
                'metrics:',
                table(
                  ['metric', 'latest', 'step', 'min', 'max', 'points'],
                  Object.entries(r.metrics)
                    .sort(([a], [b]) => (a < b ? -1 : 1))
                    .map(([k, m]) => [k, num(m.latest), m.step, num(m.min), num(m.max), m.count]),
                ),
              ]
            : []),
        ].join('\n'),
      );
    });

  group
    .command('compare')
    .description('runs side by side: params and latest metric values')
    .argument('<runIds...>', 'run ids (2 or more to compare; at most 100)')
    .option('--metric <names>', 'only these metrics (comma-separated; repeatable)', collect, [])
    .action(async (runIds: string[], options: { metric: string[] }) => {
      const ctx = await CliContext.load(program, io);
      const store = await ctx.trackingStore();
      const metrics = options.metric.flatMap(splitList);
      let comparison: RunComparison;
      try {
        comparison = await store.compareRuns(runIds, metrics.length > 0 ? metrics : undefined);
      } catch (error) {
        // The store answers an unknown id as bad input naming runIds.<i>; to the CLI it is not found.
        const index = error instanceof ValidationError ? /^runIds\.(\d+)$/.exec(error.field)?.[1] : undefined;
        if (index === undefined || !(error as ValidationError).rule.startsWith('must name an existing run'))
          throw error;
        throw new CliNotFound(`runIds.${index}`, `run ${runIds[Number(index)]}`, RUNS_HINT);
      }
      ctx.out.result(comparison, (c) =>
        table(
          ['', ...c.rows.map((r) => (r.name ? `${r.name} (${r.runId.slice(0, 8)})` : r.runId))],
          [
            ['status', ...c.rows.map((r) => r.status)],
            ...c.params.map((p) => [`param ${p}`, ...c.rows.map((r) => r.params[p] ?? '')]),
            ...c.metrics.map((m) => [`metric ${m}`, ...c.rows.map((r) => num(r.metrics[m]))]),
          ],
        ),
      );
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function experimentOrNotFound(store: TrackingStore, experiment: string): Promise<void> {
  try {
    await store.getExperiment(experiment);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    const known = (await store.listExperiments()).map((e) => e.name);
    throw new CliNotFound(
      'experiment',
      `experiment ${experiment}`,
      known.length === 0
        ? 'no experiments yet: one is created with its first run'
        : `experiments: ${known.slice(0, 20).join(', ')}${known.length > 20 ? `, … (${known.length})` : ''}`,
    );
  }
}
