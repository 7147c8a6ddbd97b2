#!/usr/bin/env node
/**
 * `mlops`: the command-line tool (`npm run mlops -- <command>`, or `npx tsx bin/mlops.ts`). It
 * reads the same configuration as the CDK app (mlops.config.ts, or `--config <file>`) and calls
 * the same modules the Lambdas call, against the deployed stack (its outputs name the resources)
 * or against any endpoint `AWS_ENDPOINT_URL` points at (moto, LocalStack).
 *
 * Output is JSON on stdout. Bad input exits with code 2 and `error: <field>: <rule>` on stderr;
 * any other failure exits with 1.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { Command, CommanderError, Option } from 'commander';
import { defineFeatureView, findFeatureView } from '../lambdas/feature-store/feature-view.js';
import { getHistoricalFeatures, parseEntityRows } from '../lambdas/feature-store/historical.js';
import { ingestBatch } from '../lambdas/feature-store/ingest.js';
import { materializeView } from '../lambdas/feature-store/materialize.js';
import { type EntityKey, OnlineStore } from '../lambdas/feature-store/online-store.js';
import { INGEST_FORMATS, type IngestFormat } from '../lambdas/feature-store/row-sources.js';
import { parseEventTime } from '../lambdas/feature-store/row-validation.js';
import { clients } from '../lambdas/shared/clients.js';
import { ValidationError } from '../lambdas/shared/errors.js';
import { S3ObjectStore } from '../lambdas/shared/object-store.js';
import type { MlopsConfig } from '../lib/config.js';
import { importConfigFile, resolveConfig } from '../lib/project-config.js';
import { STACK_OUTPUTS } from '../lib/stack-outputs.js';
import { LOCAL_UP_COMMAND, useLocalStack } from '../local/local-state.js';
import { registerLocalCommands } from './cli/commands/local.js';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

interface GlobalOptions {
  readonly config?: string;
  readonly stack?: string;
  readonly offlineBucket?: string;
  readonly onlineTable?: string;
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = new Command('mlops')
    .description('serverless-mlops: feature store and model lifecycle from the command line')
    .option('--config <file>', 'configuration module (default: the project mlops.config.ts)')
    .option('--stack <name>', 'deployed stack whose outputs name the resources (default: config stackName)')
    .addOption(
      new Option('--offline-bucket <name>', 'offline store bucket (skips the stack lookup)').env(
        'MLOPS_OFFLINE_BUCKET',
      ),
    )
    .addOption(
      new Option('--online-table <name>', 'online store table (skips the stack lookup)').env(
        'MLOPS_ONLINE_TABLE',
      ),
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const print = (value: unknown) => io.stdout(`${JSON.stringify(value, jsonSafe, 2)}\n`);
  const context = async () => {
    const options = program.opts<GlobalOptions>();
    const config = options.config
      ? resolveConfig({}, await importConfigFile(options.config))
      : resolveConfig();
    const views = new Map(config.featureViews.map((input) => [input.name, defineFeatureView(input)]));
    // A local stack (`mlops local up`) of this name points the clients at its emulator.
    await useLocalStack(options.stack ?? config.stackName);
    return { options, config, views };
  };

  program
    .command('views')
    .description('list the configured feature views')
    .action(async () => {
      const { views } = await context();
      print(
        [...views.values()].map((view) => ({
          name: view.name,
          owner: view.owner,
          entities: view.entities.map((e) => `${e.name}:${e.type}`),
          eventTimeColumn: view.eventTimeColumn,
          ttlSeconds: view.ttlSeconds,
          online: view.online,
          features: view.features.map((f) => `${f.name}:${f.type}${f.nullable ? '?' : ''}`),
        })),
      );
    });

  program
    .command('ingest')
    .description('validate a file of rows and write it to the offline store as one batch')
    .argument('<view>', 'feature view')
    .argument('<file>', 'rows as JSON lines, CSV or Parquet')
    .option('--batch-id <id>', 'batch id (default: from the file content, so a rerun writes nothing new)')
    .addOption(
      new Option('--format <format>', 'input format (default: from the extension)').choices(INGEST_FORMATS),
    )
    .action(async (view: string, file: string, options: { batchId?: string; format?: IngestFormat }) => {
      const { options: global, config, views } = await context();
      const format = options.format ?? formatOf(file);
      const body = await readInput(file, 'file');
      const batchId =
        options.batchId ?? `cli-${createHash('sha256').update(view).update(body).digest('hex').slice(0, 32)}`;
      const store = new S3ObjectStore(clients.s3(), await resource(global, config, 'offlineBucket'));
      print(await ingestBatch({ view, batchId, format }, body, { store, views }));
    });

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
      const { options: global, config, views } = await context();
      const view = findFeatureView(views, viewName, 'view');
      if ((options.from === undefined) !== (options.to === undefined))
        throw new ValidationError(options.from === undefined ? 'from' : 'to', 'must be given with the other');
      const window =
        options.from !== undefined && options.to !== undefined
          ? { fromMs: timeOption(options.from, 'from'), toMs: timeOption(options.to, 'to') }
          : undefined;
      const store = new S3ObjectStore(clients.s3(), await resource(global, config, 'offlineBucket'));
      const online = new OnlineStore(clients.documents(), await resource(global, config, 'onlineTable'));
      print(await materializeView(view, { store, online, ...(window ? { window } : {}) }));
    });

  program
    .command('online')
    .description('read fresh feature values of entities from the online store')
    .argument('<view>', 'feature view')
    .requiredOption('--features <names>', 'comma-separated feature names')
    .requiredOption(
      '--keys <json>',
      'entity keys as a JSON array of objects, e.g. \'[{"customer_id":"c1"}]\'',
    )
    .action(async (viewName: string, options: { features: string; keys: string }) => {
      const { options: global, config, views } = await context();
      const view = findFeatureView(views, viewName, 'view');
      const keys = parseJsonOption(options.keys, 'keys');
      if (!Array.isArray(keys))
        throw new ValidationError('keys', 'must be a JSON array of entity key objects');
      const online = new OnlineStore(clients.documents(), await resource(global, config, 'onlineTable'));
      print(await online.getOnlineFeatures(view, splitList(options.features), keys as EntityKey[]));
    });

  program
    .command('training-set')
    .description('build a point-in-time-correct training set under datasets/ and print its manifest')
    .requiredOption('--entity-rows <file>', 'entity keys and timestamps, JSON lines or Parquet')
    .requiredOption('--features <refs>', 'comma-separated view:feature references')
    .option('--name <name>', 'dataset name (e.g. the model it trains)')
    .option('--timestamp-column <column>', 'timestamp column of the entity rows (default event_time)')
    .action(
      async (options: { entityRows: string; features: string; name?: string; timestampColumn?: string }) => {
        const { options: global, config, views } = await context();
        const format = formatOf(options.entityRows);
        if (format === 'csv')
          throw new ValidationError(
            'entity-rows',
            'must be JSON lines or Parquet (CSV cells carry no types)',
          );
        const entityRows = await parseEntityRows(format, await readInput(options.entityRows, 'entity-rows'));
        const store = new S3ObjectStore(clients.s3(), await resource(global, config, 'offlineBucket'));
        print(
          await getHistoricalFeatures(
            {
              entityRows,
              featureRefs: splitList(options.features),
              ...(options.name ? { name: options.name } : {}),
              ...(options.timestampColumn ? { timestampColumn: options.timestampColumn } : {}),
            },
            { store, views },
          ),
        );
      },
    );

  registerLocalCommands(program, io);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ValidationError) {
      io.stderr(`error: ${error.field}: ${error.rule}\n`);
      return 2;
    }
    io.stderr(`error: ${(error as Error).message}\n`);
    return 1;
  }
}

/** A resource name: the flag or environment variable, else the deployed stack's output. */
async function resource(
  options: GlobalOptions,
  config: MlopsConfig,
  which: keyof typeof STACK_OUTPUTS,
): Promise<string> {
  const given = which === 'offlineBucket' ? options.offlineBucket : options.onlineTable;
  if (given) return given;
  const stackName = options.stack ?? config.stackName;
  const local = (await useLocalStack(stackName))?.resources[which];
  if (local) return local;
  let outputs: { OutputKey?: string; OutputValue?: string }[] | undefined;
  try {
    const described = await clients
      .cloudformation()
      .send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = described.Stacks?.[0]?.Outputs;
  } catch (error) {
    throw new Error(
      `could not read the outputs of stack ${stackName} (${(error as Error).message}); deploy it, start the local stack with: ${LOCAL_UP_COMMAND}, pass --stack, or name the resource with --${which === 'offlineBucket' ? 'offline-bucket' : 'online-table'}`,
    );
  }
  const value = outputs?.find((o) => o.OutputKey === STACK_OUTPUTS[which])?.OutputValue;
  if (!value) throw new Error(`stack ${stackName} has no output ${STACK_OUTPUTS[which]}`);
  return value;
}

async function readInput(file: string, field: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (error) {
    throw new ValidationError(
      field,
      `must be a readable file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}: ${file})`,
    );
  }
}

function formatOf(file: string): IngestFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.parquet') return 'parquet';
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  throw new ValidationError(
    'format',
    `cannot tell the format of ${file}: pass --format (${INGEST_FORMATS.join(', ')})`,
  );
}

function timeOption(text: string, field: string): number {
  const ms = parseEventTime(text);
  if (Number.isNaN(ms))
    throw new ValidationError(field, 'must be an RFC 3339 time with a zone or epoch milliseconds');
  return ms;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parseJsonOption(text: string, field: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ValidationError(field, 'must be valid JSON');
  }
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runCli(process.argv.slice(2));
}
