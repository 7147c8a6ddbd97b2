import type { Command } from 'commander';
import { CliContext } from '../context.js';
import { type CliIo, table } from '../output.js';

export function registerViewCommands(program: Command, io: CliIo): void {
  program
    .command('views')
    .description('list the configured feature views')
    .action(async () => {
      const ctx = await CliContext.load(program, io);
      const views = [...ctx.views.values()].map((view) => ({
        name: view.name,
        owner: view.owner,
        entities: view.entities.map((e) => `${e.name}:${e.type}`),
        eventTimeColumn: view.eventTimeColumn,
        ttlSeconds: view.ttlSeconds,
        online: view.online,
        features: view.features.map((f) => `${f.name}:${f.type}${f.nullable ? '?' : ''}`),
      }));
      ctx.out.result(views, (rows) =>
        table(
          ['view', 'entities', 'features', 'event time', 'TTL (s)', 'online', 'owner'],
          rows.map((v) => [
            v.name,
            v.entities,
            v.features,
            v.eventTimeColumn,
            v.ttlSeconds,
            v.online ? 'yes' : 'no',
            v.owner,
          ]),
        ),
      );
    });
}
