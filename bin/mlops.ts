#!/usr/bin/env node
/**
 * `mlops`: the command-line tool (`npx mlops <command>`). It reads the same configuration as the
 * CDK app (mlops.config.ts, or `--config <file>`) and calls the same modules the Lambdas call,
 * against the local stack, the deployed stack (its outputs name the resources), or any endpoint
 * `AWS_ENDPOINT_URL` points at. Conventions (output, errors, exit codes): bin/cli/output.ts.
 * Commands: bin/cli/commands/, one module per group, each registering its commands.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { ExperimentConflictError } from '../lambdas/experiments/errors.js';
import { GateFailedError } from '../lambdas/registry/gates.js';
import { ConflictError, NotFoundError, NotIndexedError, ValidationError } from '../lambdas/shared/errors.js';
import { CLI_ENV } from '../lambdas/shared/layout.js';
import { ConfigValidationError } from '../lib/config.js';
import { registerDeployCommands } from './cli/commands/deploy.js';
import { registerDriftCommands } from './cli/commands/drift.js';
import { registerExperimentCommands } from './cli/commands/experiments.js';
import { registerFeatureCommands } from './cli/commands/features.js';
import { registerIngestCommands } from './cli/commands/ingest.js';
import { registerLocalCommands } from './cli/commands/local.js';
import { registerMaterializeCommands } from './cli/commands/materialize.js';
import { registerModelCommands } from './cli/commands/models.js';
import { registerOnlineCommands } from './cli/commands/online.js';
import { registerPredictCommand } from './cli/commands/predict.js';
import { registerRunCommands } from './cli/commands/runs.js';
import { registerServeCommands } from './cli/commands/serve.js';
import { registerTrainCommands } from './cli/commands/train.js';
import { registerTrainingSetCommands } from './cli/commands/training-set.js';
import { registerViewCommands } from './cli/commands/views.js';
import {
  CliFailure,
  CliInputError,
  type CliIo,
  CliNotFound,
  cliVersion,
  EXIT,
  type ExitCode,
  exitCodeOf,
  processIo,
  tablesNoted,
} from './cli/output.js';
import { NO_STACK_HINT, unreachable } from './cli/resources.js';

export type { CliIo } from './cli/output.js';

/** The program with every command registered (help, tests). */
export function buildProgram(io: CliIo): Command {
  const program = new Command('mlops')
    .description('serverless-mlops: feature store and model lifecycle from the command line')
    .version(cliVersion(), '-V, --version')
    .option('--config <file>', 'configuration module (default: the project mlops.config.ts)')
    .option('--stack <name>', 'deployed stack whose outputs name the resources (default: config stackName)')
    .addOption(
      new Option('--offline-bucket <name>', 'offline store bucket (skips the stack lookup)').env(
        CLI_ENV.offlineBucket,
      ),
    )
    .addOption(
      new Option('--online-table <name>', 'online store table (skips the stack lookup)').env(
        CLI_ENV.onlineTable,
      ),
    )
    .addOption(
      new Option('--registry-table <name>', 'model registry table (skips the stack lookup)').env(
        CLI_ENV.registryTable,
      ),
    )
    .addOption(
      new Option('--artifact-bucket <name>', 'model artifact bucket (skips the stack lookup)').env(
        CLI_ENV.artifactBucket,
      ),
    )
    .addOption(
      new Option('--tracking-table <name>', 'experiment-tracking table (skips the stack lookup)').env(
        CLI_ENV.trackingTable,
      ),
    )
    .addOption(
      new Option('--json', 'JSON on stdout (the default when stdout is not a terminal)').conflicts('table'),
    )
    .option('--table', 'tables on stdout even when it is not a terminal')
    .addHelpText(
      'after',
      '\nOutput: tables on a terminal, JSON otherwise (or with --json). Errors on stderr as "error: <field>: <rule>".\nExit codes: 0 success, 1 failure, 2 bad input, 3 partial (rows rejected) or not found (models, runs, train and deploy commands).',
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  registerViewCommands(program, io);
  registerIngestCommands(program, io);
  registerMaterializeCommands(program, io);
  registerOnlineCommands(program, io);
  registerTrainingSetCommands(program, io);
  registerFeatureCommands(program, io);
  registerRunCommands(program, io);
  registerLocalCommands(program, io);
  registerModelCommands(program, io);
  registerTrainCommands(program, io);
  registerServeCommands(program, io);
  registerPredictCommand(program, io);
  registerDeployCommands(program, io);
  registerExperimentCommands(program, io);
  registerDriftCommands(program, io);
  for (const command of program.commands)
    command.exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  return program;
}

/** Runs the CLI with `argv` (without node and the script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCodeOf(program);
  } catch (error) {
    return reportError(error, io);
  }
}

/** Prints an error as `error: <field>: <rule>` (+ `hint: …`) and returns its exit code. */
export function reportError(error: unknown, io: CliIo): ExitCode {
  const hint = (text: string | undefined) => {
    if (text) io.stderr(`hint: ${text}\n`);
  };
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.badInput; // commander printed it
  if (error instanceof ConfigValidationError) {
    for (const problem of error.problems) io.stderr(`error: ${problem.field}: ${problem.rule}\n`);
    hint(`fix the configuration (${error.problems.length} problem${error.problems.length === 1 ? '' : 's'})`);
    return EXIT.badInput;
  }
  if (error instanceof ValidationError) {
    io.stderr(`error: ${error.field}: ${error.rule}\n`);
    if (error instanceof CliInputError) hint(error.hint);
    return EXIT.badInput;
  }
  if (error instanceof NotFoundError) {
    io.stderr(`error: ${error instanceof CliNotFound ? error.field : 'not-found'}: ${error.message}\n`);
    if (error instanceof CliNotFound) hint(error.hint);
    return EXIT.notFound;
  }
  if (error instanceof GateFailedError) {
    io.stderr(`error: gates: ${error.message}\n`);
    hint('fix the version, or promote anyway with --override-gates "<why>" (recorded in the history)');
    return EXIT.failure;
  }
  if (error instanceof NotIndexedError) {
    io.stderr(`error: conflict: ${error.message}\n`);
    hint(`index it once (idempotent): mlops models reindex ${error.modelName}`);
    return EXIT.failure;
  }
  if (error instanceof ExperimentConflictError) {
    io.stderr(`error: ${error.message}\n`);
    hint("see the model's running experiments with: mlops experiments status <model>");
    return EXIT.failure;
  }
  if (error instanceof ConflictError) {
    io.stderr(`error: conflict: ${error.message}\n`);
    hint('someone changed it since it was read: look again (mlops models show / history) and retry');
    return EXIT.failure;
  }
  const name = (error as { name?: string })?.name;
  if (name === 'NoSuchBucket') {
    io.stderr('error: offline-bucket: must be an existing bucket (the offline store named does not exist)\n');
    hint(NO_STACK_HINT);
    return EXIT.failure;
  }
  if (name === 'ResourceNotFoundException') {
    // Any of the stack's tables: name the one this run used (DynamoDB's message often does not).
    const used = [...tablesNoted(io)];
    const message = (error as Error).message;
    const [field, which] =
      used.length === 1
        ? [used[0]?.[0], `${used[0]?.[1]} does not exist: `]
        : ['table', used.length > 1 ? `one of ${used.map(([, n]) => n).join(', ')} does not exist: ` : ''];
    io.stderr(`error: ${field}: must be an existing table (${which}${message})\n`);
    hint(NO_STACK_HINT);
    return EXIT.failure;
  }
  if (unreachable(error)) {
    io.stderr(
      `error: no AWS endpoint answers${process.env.AWS_ENDPOINT_URL ? ` at ${process.env.AWS_ENDPOINT_URL}` : ''} (${(error as Error).message})\n`,
    );
    hint(NO_STACK_HINT);
    return EXIT.failure;
  }
  io.stderr(`error: ${(error as Error)?.message ?? String(error)}\n`);
  if (error instanceof CliFailure) hint(error.hint);
  return EXIT.failure;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await runCli(process.argv.slice(2));
}
