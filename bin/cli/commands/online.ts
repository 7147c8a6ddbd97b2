import type { Command } from 'commander';
import {
  type EntityKey,
  MAX_ONLINE_KEYS,
  type OnlineFeatureRow,
} from '../../../lambdas/feature-store/online-store.js';
import { ValidationError } from '../../../lambdas/shared/errors.js';
import { CliContext } from '../context.js';
import { formatOf, parseJsonOption, readEntityRows, readInput, splitList } from '../inputs.js';
import { CliInputError, type CliIo, table } from '../output.js';

export function registerOnlineCommands(program: Command, io: CliIo): void {
  program
    .command('online')
    .description('read fresh feature values of entities from the online store')
    .argument('<view>', 'feature view')
    .requiredOption('--features <names>', 'comma-separated feature names')
    .option('--keys <json>', 'entity keys as a JSON array of objects, e.g. \'[{"customer_id":"c1"}]\'')
    .option(
      '--keys-file <file>',
      'entity keys as JSON lines, CSV with a header, or Parquet; - reads standard input',
    )
    .action(async (viewName: string, options: { features: string; keys?: string; keysFile?: string }) => {
      const ctx = await CliContext.load(program, io);
      const view = ctx.view(viewName);
      const names = splitList(options.features);
      const known = view.features.map((f) => f.name);
      names.forEach((name, i) => {
        if (!known.includes(name))
          throw new CliInputError(
            `features.${i}`,
            `must be a feature of view ${view.name} (${name} is not)`,
            `features of ${view.name}: ${known.join(', ')}`,
          );
      });
      if ((options.keys === undefined) === (options.keysFile === undefined))
        throw new CliInputError(
          'keys',
          'give either --keys or --keys-file',
          'for many keys use --keys-file <file> (or - for standard input)',
        );
      let keys: unknown[];
      if (options.keys !== undefined) {
        const parsed = parseJsonOption(options.keys, 'keys');
        if (!Array.isArray(parsed))
          throw new CliInputError('keys', 'must be a JSON array of entity key objects');
        keys = parsed;
      } else {
        const file = options.keysFile as string;
        const body = await readInput(file, 'keys-file', io);
        keys = await readEntityRows(body, formatOf(file, body), 'keys-file', [view]);
        // Only the key columns: a file of labelled rows serves as well.
        keys = keys.map((row) =>
          Object.fromEntries(view.entities.map((e) => [e.name, (row as Record<string, unknown>)[e.name]])),
        );
      }
      const online = await ctx.onlineStore();
      const rows: OnlineFeatureRow[] = [];
      // The store reads at most MAX_ONLINE_KEYS per call; a long list is read in runs of that many.
      for (let i = 0; i < keys.length; i += MAX_ONLINE_KEYS) {
        try {
          rows.push(
            ...(await online.getOnlineFeatures(
              view,
              names,
              keys.slice(i, i + MAX_ONLINE_KEYS) as EntityKey[],
            )),
          );
        } catch (error) {
          const at = error instanceof ValidationError ? /^entityKeys\.(\d+)(.*)$/.exec(error.field) : null;
          if (error instanceof ValidationError && at)
            throw new CliInputError(`keys.${i + Number(at[1])}${at[2]}`, error.rule);
          throw error;
        }
      }
      ctx.out.result(rows, (r) =>
        table(
          [...view.entities.map((e) => e.name), ...names.map((n) => `${n} (age)`)],
          r.map((row) => [
            ...view.entities.map((e) => row.entityKey[e.name]),
            ...names.map((n) => {
              const v = row.features[n];
              return v === undefined || v.value === null ? '' : `${String(v.value)} (${ageOf(v.ageMs)})`;
            }),
          ]),
        ),
      );
    });
}

const ageOf = (ms: number | null | undefined) =>
  ms === null || ms === undefined
    ? '?'
    : ms < 120_000
      ? `${Math.round(ms / 1000)} s`
      : ms < 7_200_000
        ? `${Math.round(ms / 60_000)} min`
        : `${Math.round(ms / 3_600_000)} h`;
