/**
 * `mlops features batches|quarantine|status <view>`: what the offline store holds for a view — its
 * batches with their counts, the rows they rejected with the reasons, and how fresh the view is
 * (latest ingestion, materialization watermark, batches not yet online). Keys come from the modules
 * that write them (ingest.ts, materialize.ts).
 */
import type { Command } from 'commander';
import type { FeatureView } from '../../../lambdas/feature-store/feature-view.js';
import {
  type IngestResult,
  ingestionLogKey,
  ingestionLogPrefix,
  ingestionManifestKey,
  parseIngestionLogKey,
  quarantineKey,
} from '../../../lambdas/feature-store/ingest.js';
import { watermarkKey } from '../../../lambdas/feature-store/materialize.js';
import type { ObjectStore } from '../../../lambdas/shared/object-store.js';
import { CliContext } from '../context.js';
import { timeOption } from '../inputs.js';
import { CliInputError, type CliIo, fields, isoTime, table } from '../output.js';
import { rejectionTable } from './ingest.js';

/** One line of a quarantine file (see ingest.ts): its position in the input, the row or text, reasons. */
export interface QuarantinedRow {
  readonly batchId: string;
  readonly position: number;
  readonly reasons: readonly string[];
  readonly row?: unknown;
  readonly text?: string;
}

const decoder = new TextDecoder();

export async function readQuarantine(
  store: ObjectStore,
  key: string,
  batchId: string,
): Promise<QuarantinedRow[]> {
  const body = await store.get(key);
  if (body === undefined) return [];
  return decoder
    .decode(body)
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => ({ batchId, ...(JSON.parse(line) as Omit<QuarantinedRow, 'batchId'>) }));
}

/** A view's batches from its ingestion log, oldest first: (time, batch id). */
async function loggedBatches(store: ObjectStore, view: FeatureView, sinceMs?: number) {
  const batches: { ingestedAtMs: number; batchId: string }[] = [];
  const startAfter = sinceMs === undefined ? undefined : ingestionLogKey(view.name, sinceMs, '');
  for await (const key of store.list(ingestionLogPrefix(view.name), startAfter ? { startAfter } : {})) {
    const entry = parseIngestionLogKey(key);
    if (entry) batches.push(entry);
  }
  return batches;
}

async function manifest(
  store: ObjectStore,
  view: FeatureView,
  batchId: string,
): Promise<IngestResult | undefined> {
  const body = await store.get(ingestionManifestKey(view.name, batchId));
  return body === undefined ? undefined : (JSON.parse(decoder.decode(body)) as IngestResult);
}

function positiveInt(text: string, field: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliInputError(field, 'must be a positive integer');
  return n;
}

export function registerFeatureCommands(program: Command, io: CliIo): void {
  const features = program.command('features').description('what the offline store holds for a view');

  features
    .command('batches')
    .description('the batches ingested into a view, newest last, with their counts')
    .argument('<view>', 'feature view')
    .option('--limit <n>', 'newest batches to show', '20')
    .option('--since <time>', 'only batches ingested after this time (RFC 3339 or epoch ms)')
    .action(async (viewName: string, options: { limit: string; since?: string }) => {
      const ctx = await CliContext.load(program, io);
      const view = ctx.view(viewName);
      const limit = positiveInt(options.limit, 'limit');
      const since = options.since === undefined ? undefined : timeOption(options.since, 'since');
      const store = await ctx.offlineStore();
      const logged = (await loggedBatches(store, view, since)).slice(-limit);
      const batches = [];
      for (const entry of logged) {
        const m = await manifest(store, view, entry.batchId);
        batches.push({
          batchId: entry.batchId,
          ingestedAtMs: m?.ingestedAtMs ?? entry.ingestedAtMs,
          received: m?.received,
          accepted: m?.accepted,
          rejected: m?.rejected,
          files: m?.files ?? [],
          quarantineKey: m?.quarantineKey,
        });
      }
      ctx.out.result(batches, (rows) =>
        rows.length === 0
          ? `no batches ingested into ${view.name}`
          : table(
              ['batch', 'ingested at', 'received', 'accepted', 'rejected', 'files'],
              rows.map((b) => [
                b.batchId,
                isoTime(b.ingestedAtMs),
                b.received,
                b.accepted,
                b.rejected,
                b.files.length,
              ]),
            ),
      );
    });

  features
    .command('quarantine')
    .description('rows a view rejected, with the reasons (one batch, or the newest batches)')
    .argument('<view>', 'feature view')
    .option('--batch <id>', 'one batch (default: the newest batches with rejected rows)')
    .option('--limit <n>', 'rows to show', '50')
    .action(async (viewName: string, options: { batch?: string; limit: string }) => {
      const ctx = await CliContext.load(program, io);
      const view = ctx.view(viewName);
      const limit = positiveInt(options.limit, 'limit');
      const store = await ctx.offlineStore();
      const rows: QuarantinedRow[] = [];
      if (options.batch !== undefined) {
        if ((await manifest(store, view, options.batch)) === undefined)
          throw new CliInputError(
            'batch',
            `must be a batch ingested into ${view.name} (${options.batch} is not)`,
            `list them with: mlops features batches ${view.name}`,
          );
        rows.push(...(await readQuarantine(store, quarantineKey(view.name, options.batch), options.batch)));
      } else {
        const logged = await loggedBatches(store, view);
        for (const entry of logged.reverse()) {
          if (rows.length >= limit) break;
          rows.push(...(await readQuarantine(store, quarantineKey(view.name, entry.batchId), entry.batchId)));
        }
      }
      const shown = rows.slice(0, limit);
      ctx.out.result(shown, (r) =>
        r.length === 0 ? `no rejected rows in ${options.batch ?? view.name}` : rejectionTable(r, true),
      );
    });

  features
    .command('status')
    .description("a view's freshness: latest ingestion, materialization watermark, batches not yet online")
    .argument('<view>', 'feature view')
    .action(async (viewName: string) => {
      const ctx = await CliContext.load(program, io);
      const view = ctx.view(viewName);
      const store = await ctx.offlineStore();
      const now = Date.now();
      const logged = await loggedBatches(store, view);
      const latest = logged.at(-1);
      const mark = view.online ? await store.get(watermarkKey(view.name)) : undefined;
      const watermarkMs =
        mark === undefined
          ? undefined
          : (JSON.parse(decoder.decode(mark)) as { ingestedAtMs?: number }).ingestedAtMs;
      const status = {
        view: view.name,
        online: view.online,
        ttlSeconds: view.ttlSeconds,
        batches: logged.length,
        latestBatchId: latest?.batchId,
        latestIngestionMs: latest?.ingestedAtMs,
        /** Milliseconds since the latest ingestion. */
        offlineAgeMs: latest === undefined ? undefined : now - latest.ingestedAtMs,
        watermarkMs,
        /** Batches ingested after the watermark: not online yet. */
        pendingBatches: view.online
          ? logged.filter((b) => watermarkMs === undefined || b.ingestedAtMs > watermarkMs).length
          : undefined,
        /** Milliseconds since materialization last caught up. */
        onlineAgeMs: watermarkMs === undefined ? undefined : now - watermarkMs,
      };
      ctx.out.result(status, (s) =>
        fields({
          view: s.view,
          online: s.online ? 'yes' : 'no',
          'TTL (s)': s.ttlSeconds,
          batches: s.batches,
          'latest batch': s.latestBatchId ?? 'none',
          'latest ingestion':
            s.latestIngestionMs === undefined
              ? 'never'
              : `${isoTime(s.latestIngestionMs)} (${age(s.offlineAgeMs)} ago)`,
          ...(s.online
            ? {
                'materialized up to':
                  s.watermarkMs === undefined
                    ? 'never'
                    : `${isoTime(s.watermarkMs)} (${age(s.onlineAgeMs)} ago)`,
                'batches not yet online': s.pendingBatches,
              }
            : {}),
        }),
      );
    });
}

function age(ms: number | undefined): string {
  if (ms === undefined) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
