/**
 * `mlops models list|show|versions|promote|alias|history|card|reindex`: the model registry from the
 * command line, over the same stores the registry Lambdas use (lambdas/registry/). Writes are
 * recorded as the caller's IAM principal (STS) against AWS, `local` against the local stack.
 */
import { GetObjectCommand, NoSuchKey } from '@aws-sdk/client-s3';
import type { Command } from 'commander';
import type { AliasHistoryEntry } from '../../../lambdas/registry/alias-store.js';
import { describeGateResult, GateFailedError, type GateResult } from '../../../lambdas/registry/gates.js';
import { MODEL_STAGES, type ModelStage, type ModelVersion } from '../../../lambdas/registry/model-version.js';
import type { MetricOp } from '../../../lambdas/registry/registry-store.js';
import { METRIC_OPS } from '../../../lambdas/registry/search.js';
import type { StageHistoryEntry } from '../../../lambdas/registry/stages.js';
import { clients } from '../../../lambdas/shared/clients.js';
import { NotFoundError, ValidationError } from '../../../lambdas/shared/errors.js';
import { modelCardKey } from '../../../lambdas/shared/layout.js';
import { CliContext } from '../context.js';
import { CliInputError, type CliIo, CliNotFound, fields, table } from '../output.js';

const LIST_HINT = 'list the models with: mlops models list';
const versionsHint = (model: string) => `list its versions with: mlops models versions ${model}`;

/** A positional or option that must be a positive whole number. */
function positiveInt(text: string, field: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1)
    throw new CliInputError(field, 'must be a positive whole number');
  return n;
}

/** `k=v` → `{ key, value }`. */
export function parseTag(text: string): { key: string; value: string } {
  const at = text.indexOf('=');
  if (at <= 0) throw new CliInputError('tag', 'must be key=value', 'e.g. --tag team=risk');
  return { key: text.slice(0, at), value: text.slice(at + 1) };
}

/** `auc>0.8`, `logloss <= 0.3` → `{ name, op, value }`. */
export function parseMetricFilter(text: string): { name: string; op: MetricOp; value: number } {
  const match = /^\s*([^<>=\s]+)\s*(>=|<=|>|<|=)\s*(\S+)\s*$/.exec(text);
  const value = Number(match?.[3]);
  if (match === null || !Number.isFinite(value))
    throw new CliInputError(
      'metric',
      `must be <name><op><number> with op one of ${METRIC_OPS.join(' ')}`,
      "e.g. --metric 'auc>0.8' (quote it: > redirects in a shell)",
    );
  return { name: match[1] as string, op: match[2] as MetricOp, value };
}

/** `version`, `auc`, `auc:desc`, `auc:asc`. */
export function parseOrderBy(text: string): 'version' | { metric: string; direction: 'asc' | 'desc' } {
  if (text === 'version') return 'version';
  const [metric, direction = 'desc', extra] = text.split(':');
  if (!metric || extra !== undefined || (direction !== 'asc' && direction !== 'desc'))
    throw new CliInputError(
      'order-by',
      'must be version or <metric>[:asc|:desc]',
      'e.g. --order-by auc:desc',
    );
  return { metric, direction };
}

function stageOption(text: string, field = 'stage'): ModelStage {
  if (!(MODEL_STAGES as readonly string[]).includes(text))
    throw new CliInputError(field, `must be one of ${MODEL_STAGES.join(', ')}`);
  return text as ModelStage;
}

/** Re-throws a store's NotFoundError as the CLI's (exit 3) with a hint. */
async function found<T>(field: string, hint: string, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof NotFoundError && !(error instanceof CliNotFound))
      throw new CliNotFound(error.field ?? field, error.message.replace(/ not found$/, ''), hint);
    throw error;
  }
}

const short = (record: Readonly<Record<string, unknown>>) =>
  Object.entries(record)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

function versionRows(versions: readonly ModelVersion[]) {
  return table(
    ['version', 'stage', 'aliases', 'metrics', 'tags', 'created', 'by'],
    versions.map((v) => [
      v.version,
      v.stage,
      v.aliases.join(' '),
      short(v.metrics),
      short(v.tags),
      v.createdAt,
      v.createdBy,
    ]),
  );
}

function versionFields(v: ModelVersion): string {
  return fields({
    model: v.modelName,
    version: v.version,
    stage: v.stage,
    aliases: v.aliases.join(' ') || '-',
    artifact: `${v.artifact.key} (${v.artifact.sizeBytes} bytes)`,
    sha256: v.artifact.sha256,
    artifacts: Object.keys(v.artifacts).join(' '),
    metrics: short(v.metrics),
    params: short(v.params),
    tags: short(v.tags),
    signature: v.signature,
    output: v.output,
    lineage: v.lineage,
    description: v.description || undefined,
    created: `${v.createdAt} by ${v.createdBy}`,
  });
}

const gateLine = (g: GateResult) => `${g.passed ? 'pass' : 'FAIL'}  ${describeGateResult(g)}`;

function stageHistoryTable(entries: readonly StageHistoryEntry[]): string {
  return table(
    ['version', '#', 'from', 'to', 'at', 'by', 'reason', 'gates'],
    entries.map((e) => [
      e.version,
      e.sequence,
      e.from,
      e.to,
      e.at,
      e.by,
      [
        e.reason,
        e.gateOverride ? `override: ${e.gateOverride.reason}` : '',
        e.causedBy ? `(promotion of ${e.causedBy.version})` : '',
      ]
        .filter(Boolean)
        .join('\n'),
      (e.gates ?? []).map(gateLine),
    ]),
  );
}

function aliasHistoryTable(entries: readonly AliasHistoryEntry[]): string {
  return table(
    ['alias', '#', 'from', 'to', 'at', 'by', 'reason'],
    entries.map((e) => [e.alias, e.sequence, e.from ?? '-', e.to ?? '(deleted)', e.at, e.by, e.reason]),
  );
}

export function registerModelCommands(program: Command, io: CliIo): void {
  const group = program
    .command('models')
    .description('the model registry: versions, stages, aliases, history, cards');
  const load = () => CliContext.load(program, io);
  const nextPage = (token: string | undefined, command: string) => {
    if (token !== undefined) io.stderr(`hint: more: ${command} --next-token ${token}\n`);
  };

  group
    .command('list')
    .description('the registered models, by name')
    .option('--limit <n>', 'page size, 1-100', '50')
    .option('--next-token <token>', 'the page after the one that printed it')
    .action(async (options: { limit: string; nextToken?: string }) => {
      const ctx = await load();
      const limit = positiveInt(options.limit, 'limit');
      const page = await (await ctx.registry()).listModels({
        limit,
        ...(options.nextToken !== undefined ? { nextToken: options.nextToken } : {}),
      });
      ctx.out.result(page, (p) =>
        p.models.length === 0
          ? 'no models registered'
          : table(
              ['model', 'latest', 'production', 'updated'],
              p.models.map((m) => [m.name, m.latestVersion, m.productionVersion ?? '-', m.updatedAt ?? '']),
            ),
      );
      nextPage(page.nextToken, 'mlops models list');
    });

  group
    .command('show')
    .description('one version: its record (artifacts, signature, metrics, lineage, stage, aliases)')
    .argument('<model>', 'model name')
    .argument('[version]', 'version number (or --alias)')
    .option('--alias <alias>', 'the version this alias points at')
    .action(async (model: string, versionText: string | undefined, options: { alias?: string }) => {
      const ctx = await load();
      if ((versionText === undefined) === (options.alias === undefined))
        throw new CliInputError(
          'version',
          'name a version or --alias (one of the two)',
          `e.g. mlops models show ${model} 3`,
        );
      const version =
        options.alias !== undefined
          ? await found(
              'alias',
              `see its aliases with: mlops models versions ${model}`,
              (await ctx.aliasReader()).get(model, options.alias),
            )
          : await found(
              'version',
              versionsHint(model),
              (await ctx.registry()).getModelVersion(model, positiveInt(versionText as string, 'version')),
            );
      ctx.out.result(version, versionFields);
    });

  group
    .command('versions')
    .description("a model's versions, filtered and ordered (index queries, never a scan)")
    .argument('<model>', 'model name')
    .option('--stage <stage>', `only versions in this stage (${MODEL_STAGES.join(', ')})`)
    .option('--alias <alias>', 'only the version this alias points at')
    .option('--tag <key=value>', 'only versions with this tag')
    .option('--metric <filter>', "only versions whose metric compares so, e.g. 'auc>0.8'")
    .option('--order-by <order>', 'version (newest first) or <metric>[:asc|:desc]', 'version')
    .option('--limit <n>', 'page size, 1-100', '50')
    .option('--next-token <token>', 'the page after the one that printed it')
    .action(
      async (
        model: string,
        options: {
          stage?: string;
          alias?: string;
          tag?: string;
          metric?: string;
          orderBy: string;
          limit: string;
          nextToken?: string;
        },
      ) => {
        const ctx = await load();
        const search = {
          ...(options.stage !== undefined ? { stage: stageOption(options.stage) } : {}),
          ...(options.alias !== undefined ? { alias: options.alias } : {}),
          ...(options.tag !== undefined ? { tag: parseTag(options.tag) } : {}),
          ...(options.metric !== undefined ? { metric: parseMetricFilter(options.metric) } : {}),
          orderBy: parseOrderBy(options.orderBy),
          limit: positiveInt(options.limit, 'limit'),
          ...(options.nextToken !== undefined ? { nextToken: options.nextToken } : {}),
        };
        const registry = await ctx.registry();
        const page = await found('model', LIST_HINT, registry.searchVersions(model, search));
        if (page.versions.length === 0 && options.nextToken === undefined)
          // No versions match: say whether the model itself exists.
          await found(
            'model',
            LIST_HINT,
            registry.listModelVersions(model, { limit: 1 }).then((p) => {
              if (p.versions.length === 0) throw new NotFoundError(`model ${model}`);
            }),
          );
        ctx.out.result(page, (p) =>
          p.versions.length === 0 ? 'no versions match' : versionRows(p.versions),
        );
        nextPage(page.nextToken, `mlops models versions ${model}`);
      },
    );

  group
    .command('promote')
    .description('move a version to a stage (gates checked), recording who, when and why')
    .argument('<model>', 'model name')
    .argument('<version>', 'version number')
    .requiredOption('--stage <stage>', 'Staging, Production or Archived (or None)')
    .requiredOption('--reason <text>', 'why (recorded in the history)')
    .option('--override-gates [reason]', 'enter the stage although gates fail (reason defaults to --reason)')
    .action(
      async (
        model: string,
        versionText: string,
        options: { stage: string; reason: string; overrideGates?: boolean | string },
      ) => {
        const ctx = await load();
        const version = positiveInt(versionText, 'version');
        const toStage = stageOption(options.stage);
        if (options.reason.trim() === '') throw new CliInputError('reason', 'must not be empty');
        const overrideReason =
          options.overrideGates === undefined
            ? undefined
            : options.overrideGates === true
              ? options.reason
              : options.overrideGates;
        const current = await found(
          'version',
          versionsHint(model),
          (await ctx.registry()).getModelVersion(model, version),
        );
        const stages = await ctx.stages();
        try {
          // The flag is --stage; the store names the field toStage.
          const result = await stages.transition({
            modelName: model,
            version,
            expectedStage: current.stage,
            toStage,
            reason: options.reason,
            ...(overrideReason !== undefined ? { gateOverride: { reason: overrideReason } } : {}),
          });
          ctx.out.result(result, (r) =>
            [
              ...r.history.map(
                (e) =>
                  `${e.modelName} v${e.version}: ${e.from} -> ${e.to}${e.causedBy ? ` (replaced by v${e.causedBy.version})` : ''}`,
              ),
              ...(r.history[0]?.gates ?? []).map(gateLine),
              ...(r.history[0]?.gateOverride
                ? [`gates overridden: ${r.history[0].gateOverride.reason}`]
                : []),
            ].join('\n'),
          );
        } catch (error) {
          if (error instanceof GateFailedError) for (const g of error.results) io.stderr(`${gateLine(g)}\n`);
          if (error instanceof ValidationError && error.field === 'toStage')
            throw new CliInputError(
              'stage',
              error.rule,
              `see the legal moves: mlops models history ${model} ${version}`,
            );
          throw error;
        }
      },
    );

  group
    .command('alias')
    .description('point an alias at a version, move it, or delete it (compare-and-set)')
    .argument('<model>', 'model name')
    .argument('<alias>', 'alias, e.g. champion')
    .argument('[version]', 'version to point at (or --delete)')
    .option('--delete', 'remove the alias')
    .option(
      '--expect <version>',
      'only if the alias points at this version now (none: only if unset); default: where it points when read',
    )
    .option('--reason <text>', 'why (recorded in the alias history)', '')
    .action(
      async (
        model: string,
        alias: string,
        versionText: string | undefined,
        options: { delete?: boolean; expect?: string; reason: string },
      ) => {
        const ctx = await load();
        if ((versionText === undefined) === (options.delete !== true))
          throw new CliInputError(
            'version',
            'name a version or --delete (one of the two)',
            `e.g. mlops models alias ${model} ${alias} 3`,
          );
        const target = versionText === undefined ? null : positiveInt(versionText, 'version');
        const aliases = await ctx.aliases();
        const expected =
          options.expect === undefined
            ? ((await aliases.current(model, alias))?.version ?? null)
            : options.expect === 'none'
              ? null
              : positiveInt(options.expect, 'expect');
        const entry = await found(
          'version',
          versionsHint(model),
          aliases.set({
            modelName: model,
            alias,
            version: target,
            expectedVersion: expected,
            reason: options.reason,
          }),
        );
        ctx.out.result(entry, (e) =>
          e.changed
            ? `${model} ${e.alias}: ${e.from ?? '(unset)'} -> ${e.to ?? '(deleted)'}`
            : `${model} ${e.alias}: already ${e.to} (unchanged)`,
        );
      },
    );

  group
    .command('history')
    .description(
      'who moved what, when and why: stage history (of a version, or every version) or an alias history',
    )
    .argument('<model>', 'model name')
    .argument('[version]', 'only this version')
    .option('--alias <alias>', "this alias's moves instead")
    .action(async (model: string, versionText: string | undefined, options: { alias?: string }) => {
      const ctx = await load();
      if (options.alias !== undefined) {
        if (versionText !== undefined) throw new CliInputError('alias', 'must not be given with a version');
        const entries = await (await ctx.aliases()).history(model, options.alias);
        if (entries.length === 0)
          throw new CliNotFound(
            'alias',
            `history of alias ${options.alias} of model ${model}`,
            `see its aliases with: mlops models versions ${model}`,
          );
        ctx.out.result(entries, aliasHistoryTable);
        return;
      }
      const registry = await ctx.registry();
      const stages = await ctx.stages();
      let versions: number[];
      if (versionText !== undefined) {
        const v = positiveInt(versionText, 'version');
        await found('version', versionsHint(model), registry.getModelVersion(model, v));
        versions = [v];
      } else {
        versions = [];
        let nextToken: string | undefined;
        do {
          const page = await registry.listModelVersions(model, {
            limit: 100,
            ...(nextToken ? { nextToken } : {}),
          });
          versions.push(...page.versions.map((v) => v.version));
          nextToken = page.nextToken;
        } while (nextToken !== undefined);
        if (versions.length === 0) throw new CliNotFound('model', `model ${model}`, LIST_HINT);
        versions.reverse();
      }
      const entries = (await Promise.all(versions.map((v) => stages.history(model, v)))).flat();
      // By time; a promotion and the archiving it caused share one time: the promotion first.
      entries.sort(
        (a, b) =>
          a.at.localeCompare(b.at) ||
          Number(a.causedBy !== undefined) - Number(b.causedBy !== undefined) ||
          a.version - b.version ||
          a.sequence - b.sequence,
      );
      ctx.out.result(entries, (e) => (e.length === 0 ? 'no stage changes yet' : stageHistoryTable(e)));
    });

  group
    .command('reindex')
    .description(
      'index models registered before search existed (their versions, stages and catalog entry); idempotent',
    )
    .argument('[model]', 'model name (or --all)')
    .option('--all', 'every model not indexed yet')
    .addHelpText(
      'after',
      '\nA model registered before search existed is missing from `mlops models list` and refuses\n' +
        '`mlops models versions --stage/--tag/--order-by <metric>` until it is reindexed. --all finds\n' +
        'such models with a paginated Scan of the registry table (head items only): the one scan in\n' +
        'the registry, for this explicit migration; every other command reads by key.',
    )
    .action(async (model: string | undefined, options: { all?: boolean }) => {
      const ctx = await load();
      if ((model === undefined) === (options.all !== true))
        throw new CliInputError(
          'model',
          'name a model or --all (one of the two)',
          'e.g. mlops models reindex churn, or mlops models reindex --all',
        );
      const registry = await ctx.registry();
      const names = model !== undefined ? [model] : await registry.unindexedModels();
      const reindexed = [];
      for (const name of names) reindexed.push(await found('model', LIST_HINT, registry.reindexModel(name)));
      ctx.out.result({ reindexed }, (r) =>
        r.reindexed.length === 0
          ? 'every model is indexed already'
          : table(
              ['model', 'versions', 'index items'],
              r.reindexed.map((m) => [m.modelName, m.versions, m.indexItems]),
            ),
      );
    });

  group
    .command('card')
    .description("a version's model card (Markdown, as stored beside its artifact)")
    .argument('<model>', 'model name')
    .argument('<version>', 'version number')
    .action(async (model: string, versionText: string) => {
      const ctx = await load();
      const version = positiveInt(versionText, 'version');
      await found('version', versionsHint(model), (await ctx.registry()).getModelVersion(model, version));
      const key = modelCardKey(model, version);
      let markdown: string;
      try {
        const object = await clients
          .s3()
          .send(new GetObjectCommand({ Bucket: await ctx.artifactBucketName(), Key: key }));
        markdown = (await object.Body?.transformToString('utf8')) ?? '';
      } catch (error) {
        if (error instanceof NoSuchKey || (error as Error).name === 'NoSuchKey')
          throw new CliNotFound(
            'card',
            `model card of version ${version} of model ${model} (no object at ${key})`,
            'cards are written at registration and on every change; a version registered before cards existed has none until its next change',
          );
        throw error;
      }
      if (ctx.out.json) ctx.out.result({ modelName: model, version, key, markdown }, () => markdown);
      else io.stdout(markdown.endsWith('\n') ? markdown : `${markdown}\n`);
    });
}
