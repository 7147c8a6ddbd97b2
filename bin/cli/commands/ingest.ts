import { createHash } from 'node:crypto';
import { type Command, Option } from 'commander';
import { ingestBatch, quarantineKey } from '../../../lambdas/feature-store/ingest.js';
import { INGEST_FORMATS, type IngestFormat } from '../../../lambdas/feature-store/row-sources.js';
import { CliContext } from '../context.js';
import { formatOf, readInput } from '../inputs.js';
import {
  type CliIo,
  EPOCH_SECONDS_HINT,
  EXIT,
  fields,
  looksLikeEpochSeconds,
  setExitCode,
  table,
} from '../output.js';
import { countingStore } from '../progress-store.js';
import { type QuarantinedRow, readQuarantine } from './features.js';

/** Rejected rows a person sees after an ingestion (all of them with --json). */
export const REJECTIONS_SHOWN = 10;

export function registerIngestCommands(program: Command, io: CliIo): void {
  program
    .command('ingest')
    .description(
      'validate a file of rows and write it to the offline store as one batch (exit 3 if rows were rejected)',
    )
    .argument('<view>', 'feature view')
    .argument('<file>', 'rows as JSON lines, CSV or Parquet; - reads standard input')
    .option('--batch-id <id>', 'batch id (default: from the file content, so a rerun writes nothing new)')
    .addOption(
      new Option('--format <format>', 'input format (default: the extension, else sniffed)').choices(
        INGEST_FORMATS,
      ),
    )
    .action(async (viewName: string, file: string, options: { batchId?: string; format?: IngestFormat }) => {
      const ctx = await CliContext.load(program, io);
      const view = ctx.view(viewName);
      const body = await readInput(file, 'file', io);
      const format = formatOf(file, body, options.format);
      const batchId =
        options.batchId ??
        `cli-${createHash('sha256').update(view.name).update(format).update(body).digest('hex').slice(0, 32)}`;
      const store = await ctx.offlineStore();
      const progress = ctx.out.progress(`ingest ${view.name}`);
      progress.phase('writing files');
      let result: Awaited<ReturnType<typeof ingestBatch>>;
      try {
        result = await ingestBatch({ view: view.name, batchId, format }, body, {
          store: countingStore(store, progress, { prefix: '', what: 'put' }),
          views: ctx.views,
        });
      } finally {
        progress.stop();
      }
      const rejections =
        result.rejected > 0
          ? await readQuarantine(store, quarantineKey(view.name, result.batchId), result.batchId)
          : [];
      ctx.out.result({ ...result, rejections }, (r) => {
        const { rejections: _all, ...summary } = r;
        const lines = [fields(summary)];
        if (rejections.length > 0)
          lines.push(
            `rejected rows (${Math.min(REJECTIONS_SHOWN, rejections.length)} of ${rejections.length}; all with --json or: mlops features quarantine ${view.name} --batch ${result.batchId}):`,
            rejectionTable(rejections.slice(0, REJECTIONS_SHOWN)),
          );
        return lines.join('\n');
      });
      if (result.rejected > 0) {
        io.stderr(`warning: ${result.rejected} of ${result.received} rows rejected (exit code 3)\n`);
        if (rejections.some((r) => looksLikeEpochSeconds(rowValue(r, view.eventTimeColumn))))
          io.stderr(`hint: ${view.eventTimeColumn}: ${EPOCH_SECONDS_HINT}\n`);
        setExitCode(program, EXIT.partial);
      }
    });
}

const rowValue = (r: QuarantinedRow, column: string) =>
  typeof r.row === 'object' && r.row !== null ? (r.row as Record<string, unknown>)[column] : undefined;

export function rejectionTable(rows: readonly QuarantinedRow[], withBatch = false): string {
  return table(
    [...(withBatch ? ['batch'] : []), 'line', 'reasons', 'row'],
    rows.map((r) => [
      ...(withBatch ? [r.batchId] : []),
      r.position,
      r.reasons,
      truncate(r.text ?? JSON.stringify(r.row) ?? ''),
    ]),
  );
}

const truncate = (text: string, max = 80) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
