import type { Command } from 'commander';
import { materializeView } from '../../../lambdas/feature-store/materialize.js';
import { OnlineStore } from '../../../lambdas/feature-store/online-store.js';
import { clients } from '../../../lambdas/shared/clients.js';
import { OFFLINE_PREFIX } from '../../../lambdas/shared/layout.js';
import { CliContext } from '../context.js';
import { timeOption } from '../inputs.js';
import { CliInputError, type CliIo, fields, isoTime } from '../output.js';
import { countingDocuments, countingStore } from '../progress-store.js';

export function registerMaterializeCommands(program: Command, io: CliIo): void {
  program
    .command('materialize')
    .description('write the latest values of an online view to the online store')
    .argument('<view>', 'feature view')
    .option(
      '--from <time>',
      'with --to: materialize batches committed after this time (RFC 3339 or epoch ms)',
    )
    .option('--to <time>', 'with --from: … and up to this time; the watermark is left alone')
    .action(async (viewName: string, options: { from?: string; to?: string }) => {
      const ctx = await CliContext.load(program, io);
      const view = ctx.view(viewName);
      if (!view.online) {
        const online = [...ctx.views.values()].filter((v) => v.online).map((v) => v.name);
        throw new CliInputError(
          'view',
          `must be an online view (${view.name} is offline only)`,
          online.length > 0 ? `online views: ${online.join(', ')}` : undefined,
        );
      }
      if ((options.from === undefined) !== (options.to === undefined))
        throw new CliInputError(options.from === undefined ? 'from' : 'to', 'must be given with the other');
      const window =
        options.from !== undefined && options.to !== undefined
          ? { fromMs: timeOption(options.from, 'from'), toMs: timeOption(options.to, 'to') }
          : undefined;
      const progress = ctx.out.progress(`materialize ${view.name}`);
      const store = countingStore(await ctx.offlineStore(), progress, {
        prefix: OFFLINE_PREFIX.features,
        what: 'get',
      });
      const table = await ctx.onlineTableName();
      // Counts records as their transactions commit; writeLatest announces how many there are.
      const online = new (class extends OnlineStore {
        override writeLatest(...args: Parameters<OnlineStore['writeLatest']>) {
          progress.phase('writing online', args[1].length);
          return super.writeLatest(...args);
        }
      })(countingDocuments(clients.documents(), progress), table);
      progress.phase('reading batches');
      let result: Awaited<ReturnType<typeof materializeView>>;
      try {
        result = await materializeView(view, { store, online, ...(window ? { window } : {}) });
      } finally {
        progress.stop();
      }
      ctx.out.result(result, (r) =>
        fields({ ...r, fromMs: undefined, toMs: undefined, from: isoTime(r.fromMs), to: isoTime(r.toMs) }),
      );
    });
}
