/**
 * `mlops serve start|deploy`: the inference API on this machine, and putting a model version
 * behind a model's `live` alias.
 *
 * - `serve start [--port 3000]`: against the running local stack (`mlops local up`): synthesizes
 *   the app with its function bundles, provisions what is missing on the emulator (idempotent:
 *   functions, versions and aliases that exist are kept) and serves API Gateway's routes through
 *   local/http-adapter.ts until Ctrl-C.
 * - `serve deploy <model> [version]`: lambdas/serving/deploy.ts `pinModelVersion` on the model's
 *   function (the stack output `InferenceFunctions`); without a version, the number the registry's
 *   `champion` alias names now is pinned (the function never follows the alias by itself). Its
 *   readiness check runs the new version in-process against the local stack, through Lambda's
 *   Invoke against a deployed one.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { DeploymentStore } from '../../../lambdas/deployment/deployment-store.js';
import type { ModelAliasReader } from '../../../lambdas/registry/alias-reader.js';
import {
  DeploymentRefusedError,
  type InvokeVersion,
  invokeWithLambda,
  pinModelVersion,
} from '../../../lambdas/serving/deploy.js';
import { clients } from '../../../lambdas/shared/clients.js';
import { NotFoundError } from '../../../lambdas/shared/errors.js';
import { CHAMPION_ALIAS } from '../../../lambdas/shared/layout.js';
import type { MlopsConfig } from '../../../lib/config.js';
import type { InferenceFunctionOutput } from '../../../lib/stack-outputs.js';
import type { Assembly } from '../../../local/assembly.js';
import {
  DEFAULT_SERVE_PORT,
  type HttpAdapter,
  servingFunctionsOf,
  startHttpAdapter,
} from '../../../local/http-adapter.js';
import type { LocalLambdas } from '../../../local/lambda-runtime.js';
import {
  forgetInferenceApiUrl,
  LOCAL_UP_COMMAND,
  localStateDir,
  recordInferenceApiUrl,
  useLocalStack,
} from '../../../local/local-state.js';
import type { CliIo } from '../../mlops.js';
import { CliContext } from '../context.js';
import { parseRegistryVersion } from '../inputs.js';
import { CliFailure, CliInputError, CliNotFound, EXIT, fields, setExitCode } from '../output.js';
import { stackJsonOutput } from '../resources.js';

/** The local stack's functions, runnable in-process from a bundled synthesis of the app. */
export interface LocalServing {
  readonly lambdas: LocalLambdas;
  /** Model → function name. */
  readonly functions: Readonly<Record<string, string>>;
  /** Removes the synthesized assembly (call once nothing runs from it any more). */
  dispose(): void;
}

/**
 * Synthesizes the app with its bundles (into the local state directory), provisions it on the
 * running local stack's emulator (idempotent) and loads its functions for in-process runs.
 */
export async function localServing(
  config: MlopsConfig,
  onStep: (step: string) => void,
): Promise<LocalServing> {
  const state = await useLocalStack(config.stackName);
  if (state === undefined)
    throw new CliFailure(
      `no local stack ${config.stackName} is running`,
      `start it with: ${LOCAL_UP_COMMAND}`,
    );
  const [{ synthesize, stackOf }, { provision }, { LocalLambdas }] = await Promise.all([
    import('../../../local/assembly.js'),
    import('../../../local/provision.js'),
    import('../../../local/lambda-runtime.js'),
  ]);
  onStep('synthesizing the stack with its function bundles');
  // Its own directory per process: a running `serve start` imports bundles from its assembly
  // while a `serve deploy` in another process synthesizes.
  mkdirSync(localStateDir(), { recursive: true });
  const outdir = mkdtempSync(path.join(localStateDir(), 'cdk.out-serve-'));
  const dispose = () => rmSync(outdir, { recursive: true, force: true });
  let assembly: Assembly;
  try {
    assembly = synthesize(undefined, { outdir, context: { mlops: config } });
  } catch (error) {
    dispose();
    throw error;
  }
  const stack = stackOf(assembly, config.stackName);
  onStep('provisioning the serving functions on the emulator');
  const provisioned = await provision(stack);
  return {
    lambdas: new LocalLambdas(assembly, stack, provisioned),
    functions: servingFunctionsOf(stack, provisioned),
    dispose,
  };
}

/** Waits for Ctrl-C (or SIGTERM), then closes the adapter. */
function untilInterrupted(adapter: HttpAdapter): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      adapter.close().then(resolve, resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new CliInputError(
      'port',
      'must be an integer from 0 to 65535',
      `e.g. --port ${DEFAULT_SERVE_PORT}`,
    );
  return port;
}

/** The function serving `model` (stack output InferenceFunctions), and whether the stack is local. */
async function functionOf(
  ctx: CliContext,
  model: string,
): Promise<{ readonly functionName: string; readonly local: boolean }> {
  const { value, source } = await stackJsonOutput(ctx.options, ctx.config.stackName, 'inferenceFunctions');
  const functions = (value ?? {}) as Readonly<Record<string, InferenceFunctionOutput>>;
  const found = functions[model];
  if (found === undefined) {
    const models = Object.keys(functions);
    throw new CliNotFound(
      'model',
      `no served model ${model}`,
      models.length > 0
        ? `served models: ${models.join(', ')}`
        : 'the configuration serves no model (serving in mlops.config.ts)',
    );
  }
  return { functionName: found.functionName, local: source.kind === 'local' };
}

/**
 * The registry version `serve deploy` pins: the one named, else the number the `champion` alias names
 * now (resolved once, here: the function never follows the alias). No champion: CliNotFound.
 */
export async function versionToDeploy(
  aliases: () => Promise<Pick<ModelAliasReader, 'get'>>,
  model: string,
  given?: number,
): Promise<{ readonly version: number; readonly chosenBy: 'argument' | typeof CHAMPION_ALIAS }> {
  if (given !== undefined) return { version: given, chosenBy: 'argument' };
  try {
    return {
      version: (await (await aliases()).get(model, CHAMPION_ALIAS)).version,
      chosenBy: CHAMPION_ALIAS,
    };
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new CliNotFound(
      'version',
      `model ${model} has no ${CHAMPION_ALIAS} alias to deploy`,
      `name a version (mlops serve deploy ${model} <version>) or set it: mlops models alias ${model} ${CHAMPION_ALIAS} <version>`,
    );
  }
}

/** Adds the `serve` command group to `program`. */
export function registerServeCommands(program: Command, io: CliIo): void {
  const serve = program
    .command('serve')
    .description('the inference API: serve it locally, deploy model versions');

  serve
    .command('start')
    .description('serve the inference API of the local stack (mlops local up) on this machine until Ctrl-C')
    .option('--port <port>', 'port to listen on', String(DEFAULT_SERVE_PORT))
    .action(async (options: { port: string }) => {
      const port = parsePort(options.port);
      const ctx = await CliContext.load(program, io);
      const step = (text: string) => io.stderr(`${text}…\n`);
      const { lambdas, functions, dispose } = await localServing(ctx.config, step);
      let adapter: HttpAdapter;
      try {
        adapter = await startHttpAdapter({
          lambdas,
          functions,
          port,
          onFunctionError: (error, model) => io.stderr(`${model}: ${error.name}: ${error.message}\n`),
        });
      } catch (error) {
        dispose();
        if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
          throw new CliFailure(`port ${port} is in use`, 'pick another with --port <port>');
        throw error;
      }
      const models = Object.keys(functions);
      // `mlops predict` in another terminal finds this server (its real port) in the local state.
      recordInferenceApiUrl(adapter.url);
      ctx.out.result({ url: adapter.url, models }, ({ url }) =>
        [
          `serving ${models.length > 0 ? models.join(', ') : 'no model (the configuration serves none)'} at ${url}`,
          ...models
            .slice(0, 1)
            .flatMap((model) => [
              'Try:',
              `  curl -s ${url}/v1/health`,
              `  npx mlops predict ${model} --features <name>=<value>,… --url ${url}`,
            ]),
          'Stop with Ctrl-C.',
        ].join('\n'),
      );
      await untilInterrupted(adapter);
      forgetInferenceApiUrl(adapter.url);
      dispose();
    });

  serve
    .command('deploy')
    .description("pin a model version to the model's function and put it behind the live alias")
    .argument('<model>', 'model name')
    .argument('[version]', `registry version number (default: the one the ${CHAMPION_ALIAS} alias names now)`)
    .action(async (model: string, versionText: string | undefined) => {
      const given = versionText === undefined ? undefined : parseRegistryVersion(versionText);
      const ctx = await CliContext.load(program, io);
      const { functionName, local } = await functionOf(ctx, model);
      const step = (text: string) => io.stderr(`${text}…\n`);
      // A canary in progress owns the alias: moving it here would undo its weights, and its
      // rollback would then restore a version this command replaced.
      const running = await new DeploymentStore({
        documents: clients.documents(),
        tableName: await ctx.registryTableName(),
      }).current(model);
      if (running?.status === 'running')
        throw new CliFailure(
          `${model} is being deployed by the canary workflow (deployment ${running.deploymentId}, ${running.weight} % on version ${running.modelVersion}); serve deploy would undo it`,
          `wait for it, or roll it back: mlops deploy rollback ${model} --reason <why>`,
        );
      const { version, chosenBy } = await versionToDeploy(() => ctx.aliasReader(), model, given);
      if (chosenBy === CHAMPION_ALIAS)
        step(`deploying ${model} version ${version}: the one the ${CHAMPION_ALIAS} alias names`);
      const why = chosenBy === CHAMPION_ALIAS ? ` (the ${CHAMPION_ALIAS} alias's version)` : '';
      let invokeReadiness: InvokeVersion = invokeWithLambda();
      let dispose = () => {};
      if (local) {
        const serving = await localServing(ctx.config, step);
        invokeReadiness = (fn, qualifier, event) => serving.lambdas.invokeVersion(fn, qualifier, event);
        dispose = serving.dispose;
      }
      try {
        const result = await pinModelVersion({ functionName, model, version, invokeReadiness, onStep: step });
        ctx.out.result({ ...result, chosenBy }, (r) =>
          [
            r.changed
              ? `${model} version ${version}${why} is live (Lambda version ${r.functionVersion}, was ${r.previousFunctionVersion})`
              : `${model} version ${version}${why} was already live (Lambda version ${r.functionVersion}); nothing changed`,
            fields({ ...r }),
          ].join('\n'),
        );
      } catch (error) {
        if (!(error instanceof DeploymentRefusedError)) throw error;
        io.stderr(`error: version: ${error.message}\n`);
        io.stderr(`hint: check the version's artifact and record: mlops models show ${model} ${version}\n`);
        setExitCode(program, EXIT.failure);
      } finally {
        dispose();
      }
    });
}
