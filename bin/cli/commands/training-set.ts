/**
 * `mlops training-set build|list|show|download`: point-in-time-correct training sets under the
 * offline store's datasets prefix (historical.ts), built, listed, previewed and downloaded.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { parquetReadObjects } from 'hyparquet';
import { type DatasetManifest, getHistoricalFeatures } from '../../../lambdas/feature-store/historical.js';
import { TIME_PARSERS } from '../../../lambdas/feature-store/parquet-codec.js';
import { datasetPrefix, OFFLINE_PREFIX } from '../../../lambdas/shared/layout.js';
import type { ObjectStore } from '../../../lambdas/shared/object-store.js';
import { CliContext } from '../context.js';
import { checkTimestamps, formatOf, readEntityRows, readInput, splitList } from '../inputs.js';
import { CliInputError, type CliIo, fields, table, toJson } from '../output.js';
import { countingStore } from '../progress-store.js';

const MANIFEST = 'manifest.json';
const decoder = new TextDecoder();

/** The manifest a dataset reference names: `<name>/<hash>` (a hash prefix will do), or `<name>` with one build. */
async function findDataset(store: ObjectStore, ref: string): Promise<DatasetManifest> {
  const [name, hashPrefix = '', extra] = ref.replace(/^datasets\//, '').split('/');
  if (!name || extra !== undefined)
    throw new CliInputError('dataset', 'must be <name>/<hash> (see: mlops training-set list)');
  const hashes = (await datasetHashes(store, name)).filter((h) => h.startsWith(hashPrefix));
  if (hashes.length !== 1)
    throw new CliInputError(
      'dataset',
      hashes.length === 0
        ? `must name a training set (${ref} is none)`
        : `is ambiguous (${hashes.length} builds of ${name})`,
      hashes.length === 0
        ? 'list them with: mlops training-set list'
        : `one of: ${hashes.map((h) => `${name}/${h.slice(0, 12)}`).join(', ')}`,
    );
  const body = await store.get(`${datasetPrefix(name, hashes[0] as string)}${MANIFEST}`);
  if (body === undefined)
    throw new CliInputError('dataset', `${ref} has no manifest (a build still running?)`);
  return JSON.parse(decoder.decode(body)) as DatasetManifest;
}

async function datasetHashes(store: ObjectStore, name: string): Promise<string[]> {
  const hashes: string[] = [];
  for await (const key of store.list(`${OFFLINE_PREFIX.datasets}${name}/`)) {
    const hash = key.slice(`${OFFLINE_PREFIX.datasets}${name}/`.length).split('/')[0];
    if (hash && key.endsWith(`/${MANIFEST}`)) hashes.push(hash);
  }
  return hashes;
}

async function readRows(store: ObjectStore, manifest: DatasetManifest, limit?: number) {
  const bytes = await store.get(manifest.dataKey);
  if (bytes === undefined) throw new Error(`${manifest.dataKey} is missing`);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const rows = (await parquetReadObjects({
    file,
    parsers: TIME_PARSERS,
    ...(limit ? { rowEnd: limit } : {}),
  })) as Record<string, unknown>[];
  return { bytes, rows };
}

/** RFC 4180 CSV of rows (their first row's columns), quoting only where a cell needs it. */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  const columns = Object.keys(rows[0] ?? {});
  const quote = (v: unknown) => {
    const s = v === null || v === undefined ? '' : typeof v === 'bigint' ? v.toString() : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  return `${[columns.map(quote).join(','), ...rows.map((r) => columns.map((c) => quote(r[c])).join(','))].join('\n')}\n`;
}

export function registerTrainingSetCommands(program: Command, io: CliIo): void {
  const group = program.command('training-set').description('point-in-time-correct training sets');

  group
    .command('build', { isDefault: true })
    .description('build a training set under the datasets prefix and print its manifest')
    .requiredOption(
      '--entity-rows <file>',
      'entity keys and timestamps (labels too): JSON lines, CSV or Parquet; - reads standard input',
    )
    .requiredOption('--features <refs>', 'comma-separated view:feature references')
    .option('--name <name>', 'dataset name (e.g. the model it trains)')
    .option('--timestamp-column <column>', 'timestamp column of the entity rows (default event_time)')
    .action(
      async (options: { entityRows: string; features: string; name?: string; timestampColumn?: string }) => {
        const ctx = await CliContext.load(program, io);
        const featureRefs = splitList(options.features);
        featureRefs.forEach((ref, i) => {
          const viewName = ref.split(':')[0] ?? '';
          ctx.view(viewName, `features.${i}`);
        });
        const views = [...new Set(featureRefs.map((ref) => ctx.view(ref.split(':')[0] ?? '')))];
        const body = await readInput(options.entityRows, 'entity-rows', io);
        const entityRows = await readEntityRows(
          body,
          formatOf(options.entityRows, body),
          'entity-rows',
          views,
        );
        const timestampColumn = options.timestampColumn ?? 'event_time';
        checkTimestamps(entityRows, timestampColumn, 'entity-rows');
        const progress = ctx.out.progress('training set');
        progress.phase('reading feature files');
        let manifest: DatasetManifest;
        try {
          manifest = await getHistoricalFeatures(
            { entityRows, featureRefs, timestampColumn, ...(options.name ? { name: options.name } : {}) },
            {
              store: countingStore(await ctx.offlineStore(), progress, {
                prefix: OFFLINE_PREFIX.features,
                what: 'get',
              }),
              views: ctx.views,
            },
          );
        } finally {
          progress.stop();
        }
        ctx.out.result(manifest, summary);
      },
    );

  group
    .command('list')
    .description('the training sets built, by name')
    .argument('[name]', 'only this dataset name')
    .action(async (name?: string) => {
      const ctx = await CliContext.load(program, io);
      const store = await ctx.offlineStore();
      const sets: { dataset: string; rowCount: number; featureRefs: readonly string[] }[] = [];
      for await (const key of store.list(
        name ? `${OFFLINE_PREFIX.datasets}${name}/` : OFFLINE_PREFIX.datasets,
      )) {
        if (!key.endsWith(`/${MANIFEST}`)) continue;
        const body = await store.get(key);
        if (body === undefined) continue;
        const m = JSON.parse(decoder.decode(body)) as DatasetManifest;
        sets.push({
          dataset: key.slice(OFFLINE_PREFIX.datasets.length, -MANIFEST.length - 1),
          rowCount: m.rowCount,
          featureRefs: m.featureRefs,
        });
      }
      ctx.out.result(sets, (s) =>
        s.length === 0
          ? 'no training sets'
          : table(
              ['dataset', 'rows', 'features'],
              s.map((d) => [d.dataset, d.rowCount, d.featureRefs]),
            ),
      );
    });

  group
    .command('show')
    .description("a training set's manifest and its first rows")
    .argument('<dataset>', '<name>/<hash> (a hash prefix will do; see training-set list)')
    .option('--rows <n>', 'rows to preview', '10')
    .action(async (ref: string, options: { rows: string }) => {
      const ctx = await CliContext.load(program, io);
      const limit = Number(options.rows);
      if (!Number.isInteger(limit) || limit < 0) throw new CliInputError('rows', 'must be a whole number');
      const store = await ctx.offlineStore();
      const manifest = await findDataset(store, ref);
      const { rows } = limit === 0 ? { rows: [] } : await readRows(store, manifest, limit);
      ctx.out.result({ manifest, rows }, (r) => {
        const head = Object.keys(r.rows[0] ?? {});
        return [
          summary(r.manifest),
          `first ${r.rows.length} of ${r.manifest.rowCount} rows:`,
          table(
            head,
            r.rows.map((row) => head.map((c) => cellOf(row[c]))),
          ),
        ].join('\n');
      });
    });

  group
    .command('download')
    .description('write a training set to a file, as Parquet (as stored) or CSV')
    .argument('<dataset>', '<name>/<hash> (a hash prefix will do; see training-set list)')
    .option('--output <file>', 'file to write; - writes to standard output (default <name>-<hash>.<format>)')
    .option('--format <format>', 'parquet or csv', 'parquet')
    .action(async (ref: string, options: { output?: string; format: string }) => {
      const ctx = await CliContext.load(program, io);
      if (options.format !== 'parquet' && options.format !== 'csv')
        throw new CliInputError('format', 'must be parquet or csv');
      const store = await ctx.offlineStore();
      const manifest = await findDataset(store, ref);
      const { bytes, rows } =
        options.format === 'csv'
          ? await readRows(store, manifest)
          : { bytes: await store.get(manifest.dataKey), rows: [] };
      if (bytes === undefined) throw new Error(`${manifest.dataKey} is missing`);
      const content = options.format === 'csv' ? toCsv(rows) : bytes;
      const [, name] = manifest.dataKey.split('/');
      const file = options.output ?? `${name}-${manifest.hash.slice(0, 12)}.${options.format}`;
      if (file === '-') {
        if (typeof content !== 'string')
          throw new CliInputError(
            'output',
            'Parquet cannot go to standard output here: name a file, or use --format csv',
          );
        io.stdout(content);
        return;
      }
      await writeFile(file, content);
      const written = {
        file,
        format: options.format,
        rows: manifest.rowCount,
        bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.byteLength,
      };
      ctx.out.result(written, fields);
    });
}

function summary(m: DatasetManifest): string {
  return fields({
    dataset: m.manifestKey.slice(OFFLINE_PREFIX.datasets.length, -MANIFEST.length - 1),
    rows: m.rowCount,
    features: m.featureRefs,
    data: m.dataKey,
    inputs: m.inputs?.length,
  });
}

const cellOf = (v: unknown) => (typeof v === 'object' && v !== null ? toJson(v) : v);
