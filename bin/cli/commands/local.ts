/**
 * `mlops local up|down|status`: the whole stack on this machine (moto server, the synthesized
 * stack's buckets and tables), kept running in the background between commands. Once it is up,
 * every other command finds it through the state file local/local-state.ts writes, with nothing to
 * export; the environment is printed for other tools (aws CLI, scripts).
 */
import type { Command } from 'commander';
import { importConfigFile } from '../../../lib/project-config.js';
import {
  inspectLocalStack,
  LOCAL_UP_COMMAND,
  type LocalStackState,
  localDown,
  localStackEnv,
  localStateFile,
  localUp,
} from '../../../local/local-state.js';
import type { CliIo } from '../../mlops.js';
import { type GlobalOptions, jsonOutput } from '../context.js';

function describe(state: LocalStackState): string[] {
  const env = Object.entries(localStackEnv(state))
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  const width = Math.max(...Object.keys(state.resources).map((k) => k.length), 8);
  return [
    `  ${'endpoint'.padStart(width)}  ${state.endpoint} (moto pid ${state.pid}, log ${state.logFile})`,
    ...Object.entries(state.resources).map(([which, name]) => `  ${which.padStart(width)}  ${name}`),
    '',
    `The mlops CLI finds it by itself (${localStateFile()}). For other tools:`,
    `  export ${env}`,
  ];
}

const json = (io: CliIo, value: unknown) => io.stdout(`${JSON.stringify(value, null, 2)}\n`);

/** Adds the `local` command group to `program` (whose global `--config` names the configuration). */
export function registerLocalCommands(program: Command, io: CliIo): void {
  const local = program.command('local').description('run the stack on this machine (moto emulator)');

  local
    .command('up')
    .description('start the emulator in the background and provision the stack on it')
    .action(async () => {
      const options = { json: jsonOutput(program.opts<GlobalOptions>(), io) };
      const configFile = program.opts<GlobalOptions>().config;
      const config = configFile ? await importConfigFile(configFile) : undefined;
      const { state, started } = await localUp({
        ...(config ? { config } : {}),
        // Steps go to stderr in both forms: they take seconds, and stdout stays clean for --json.
        onStep: (step) => io.stderr(`${step}…\n`),
      });
      if (options.json) return json(io, { started, ...state });
      io.stdout(
        [
          started
            ? `local stack ${state.stackName} is up`
            : `local stack ${state.stackName} was already running`,
          ...describe(state),
          'Stop it (its data goes with it) with: npx mlops local down',
          '',
        ].join('\n'),
      );
    });

  local
    .command('down')
    .description('stop the local stack; its data is discarded')
    .action(async () => {
      const options = { json: jsonOutput(program.opts<GlobalOptions>(), io) };
      const result = await localDown();
      if (options.json)
        return json(io, {
          stopped: result.stopped !== undefined,
          ...(result.stopped ? { stack: result.stopped } : {}),
          ...(result.stale ? { stale: result.stale } : {}),
        });
      if (result.stopped)
        io.stdout(`stopped local stack ${result.stopped.stackName} (moto pid ${result.stopped.pid})\n`);
      else if (result.stale) io.stdout(`no local stack was running (${result.stale}); removed its state\n`);
      else io.stdout('no local stack is running\n');
    });

  local
    .command('status')
    .description('say whether the local stack runs, where, and its resources')
    .action(async () => {
      const options = { json: jsonOutput(program.opts<GlobalOptions>(), io) };
      const found = await inspectLocalStack();
      if (options.json)
        return json(io, {
          running: found.status === 'running',
          ...(found.status === 'stale' ? { stale: found.reason } : {}),
          ...(found.status === 'running' ? found.state : {}),
        });
      if (found.status === 'running')
        io.stdout(
          [`local stack ${found.state.stackName} is running`, ...describe(found.state), ''].join('\n'),
        );
      else
        io.stdout(
          `no local stack is running${found.status === 'stale' ? ` (${found.reason})` : ''}; start it with: ${LOCAL_UP_COMMAND}\n`,
        );
    });
}
