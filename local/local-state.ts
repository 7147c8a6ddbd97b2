/**
 * The local stack as `mlops local up|down|status` manage it: a moto server running detached, the
 * synthesized stack's buckets and tables provisioned on it, and a state file
 * (`<project>/.mlops/local.json`, or `$MLOPS_STATE_DIR/local.json`) that lets every later CLI
 * process find it with no environment exported. The data lives in the moto process: it is kept
 * between commands while that runs and is gone once `local down` stops it.
 *
 * Resource names are not restated here: they are the synthesized template's outputs (the same
 * outputs a deployed stack has, lib/stack-outputs.ts), resolved against what was provisioned.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MlopsConfigInput } from '../lib/config.js';
import { STACK_OUTPUTS } from '../lib/stack-outputs.js';
import type { StackArtifact } from './assembly.js';
import { startDetachedEmulator } from './emulator.js';
import type { ProvisionedStack } from './provision.js';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** What to run to bring the local stack up; part of the CLI's "no stack reachable" errors. */
export const LOCAL_UP_COMMAND = 'npx mlops local up';

export interface LocalStackState {
  /** Format of this file; bumped on an incompatible change. */
  readonly version: 1;
  /** Emulator endpoint (`AWS_ENDPOINT_URL` for the clients). */
  readonly endpoint: string;
  /** Process id of the detached moto server. */
  readonly pid: number;
  readonly stackName: string;
  readonly region: string;
  readonly startedAt: string;
  /** The moto server's output. */
  readonly logFile: string;
  /** Every output of the synthesized stack, resolved: output key → value. */
  readonly outputs: Readonly<Record<string, string>>;
  /** The outputs the CLI looks up, by their `STACK_OUTPUTS` key (offlineBucket, onlineTable, …). */
  readonly resources: Readonly<Partial<Record<keyof typeof STACK_OUTPUTS, string>>>;
  /**
   * The local inference API's URL (the port it really bound), while `npm start` or
   * `mlops serve start` serves it; `mlops predict` calls it.
   */
  readonly inferenceApiUrl?: string;
}

export interface LocalStateOptions {
  /** @default process.env (reads MLOPS_STATE_DIR) */
  readonly env?: NodeJS.ProcessEnv;
}

/** Directory of the state file and the emulator log: `$MLOPS_STATE_DIR`, else `<project>/.mlops`. */
export function localStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MLOPS_STATE_DIR?.trim() || path.join(PROJECT_ROOT, '.mlops');
}

export const localStateFile = (env: NodeJS.ProcessEnv = process.env) =>
  path.join(localStateDir(env), 'local.json');

export type LocalStackStatus =
  | { readonly status: 'running'; readonly state: LocalStackState }
  | { readonly status: 'stale'; readonly state?: LocalStackState; readonly reason: string }
  | { readonly status: 'absent' };

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // Where /proc exists, also check the pid was not reused by another program.
  const cmdline = `/proc/${pid}/cmdline`;
  return !existsSync(cmdline) || readFileSync(cmdline, 'utf8').includes('moto_server.py');
}

async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

/** Reads the state file and checks it: its process alive and its endpoint answering. */
export async function inspectLocalStack(options: LocalStateOptions = {}): Promise<LocalStackStatus> {
  const file = localStateFile(options.env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { status: 'absent' };
  }
  let state: LocalStackState;
  try {
    state = JSON.parse(text) as LocalStackState;
  } catch {
    return { status: 'stale', reason: `${file} is not valid JSON` };
  }
  if (state.version !== 1 || typeof state.pid !== 'number' || typeof state.endpoint !== 'string')
    return { status: 'stale', reason: `${file} is not a local stack state (version 1)` };
  if (!isAlive(state.pid))
    return { status: 'stale', state, reason: `its emulator (pid ${state.pid}) is gone` };
  if (!(await answers(state.endpoint)))
    return { status: 'stale', state, reason: `its emulator does not answer at ${state.endpoint}` };
  return { status: 'running', state };
}

/** The running local stack, or undefined when there is none (no state file, or a stale one). */
export async function readLocalStack(options: LocalStateOptions = {}): Promise<LocalStackState | undefined> {
  const found = await inspectLocalStack(options);
  return found.status === 'running' ? found.state : undefined;
}

/** The environment that points AWS tools at the local stack (dummy credentials: moto takes any). */
export function localStackEnv(state: LocalStackState): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: state.endpoint,
    AWS_REGION: state.region,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  };
}

/**
 * The running local stack for `stackName`, with `env` pointed at it (endpoint always; region and
 * credentials unless set), or undefined when none runs, it is another stack, or `AWS_ENDPOINT_URL`
 * already names another endpoint (an explicit choice wins).
 */
export async function useLocalStack(
  stackName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LocalStackState | undefined> {
  const state = await readLocalStack({ env });
  if (state === undefined || state.stackName !== stackName) return undefined;
  const endpoint = env.AWS_ENDPOINT_URL?.trim();
  if (endpoint && endpoint !== state.endpoint) return undefined;
  const wanted = localStackEnv(state);
  env.AWS_ENDPOINT_URL = state.endpoint;
  if (!env.AWS_REGION && !env.AWS_DEFAULT_REGION) env.AWS_REGION = wanted.AWS_REGION;
  if (!env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE) {
    env.AWS_ACCESS_KEY_ID = wanted.AWS_ACCESS_KEY_ID;
    env.AWS_SECRET_ACCESS_KEY = wanted.AWS_SECRET_ACCESS_KEY;
  }
  return state;
}

export interface LocalUpOptions extends LocalStateOptions {
  /**
   * Configuration overrides for the synthesis (what `--config <file>` exports); the project's
   * mlops.config.ts when absent.
   */
  readonly config?: MlopsConfigInput;
  /** Says what is being done (synthesizing, starting the emulator, provisioning). */
  readonly onStep?: (step: string) => void;
}

export interface LocalUpResult {
  readonly state: LocalStackState;
  /** false when a local stack of the same name was already running (nothing was started). */
  readonly started: boolean;
}

/** Stack outputs in the template, e.g. `{ Value: { Ref: 'FeatureStoreOffline…' } }`. */
type TemplateOutputs = Record<string, { readonly Value: unknown }>;

/**
 * Brings the local stack up: synthesizes the app (without bundling: only buckets and tables are
 * provisioned), starts a detached moto server, provisions the template's data plane on it and writes
 * the state file. An already running local stack of the same name is left as it is; one of another
 * name is an error (stop it first). On failure the emulator started here is stopped again.
 */
export async function localUp(options: LocalUpOptions = {}): Promise<LocalUpResult> {
  const env = options.env ?? process.env;
  const step = options.onStep ?? (() => {});
  const dir = localStateDir(env);
  mkdirSync(dir, { recursive: true });

  step('synthesizing the stack');
  // Loaded here: the CDK and the provisioner are heavy, and every CLI command imports this module.
  const [{ synthesize }, { provision }] = await Promise.all([
    import('./assembly.js'),
    import('./provision.js'),
  ]);
  const assembly = synthesize(undefined, {
    outdir: path.join(dir, 'cdk.out'),
    context: { 'aws:cdk:bundling-stacks': [], ...(options.config ? { mlops: options.config } : {}) },
  });
  const [stack, ...others] = assembly.stacks;
  if (stack === undefined || others.length > 0)
    throw new Error(`expected one stack, the app synthesized ${assembly.stacks.length}`);

  const found = await inspectLocalStack({ env });
  if (found.status === 'running') {
    if (found.state.stackName === stack.stackName) return { state: found.state, started: false };
    throw new Error(
      `the local stack ${found.state.stackName} is running; stop it first with: npx mlops local down`,
    );
  }
  if (found.status === 'stale') rmSync(localStateFile(env), { force: true });

  step('starting the emulator');
  const logFile = path.join(dir, 'emulator.log');
  const emulator = await startDetachedEmulator(logFile);
  try {
    const previous = env.AWS_ENDPOINT_URL;
    env.AWS_ENDPOINT_URL = emulator.endpoint;
    env.AWS_REGION ??= 'us-east-1';
    env.AWS_ACCESS_KEY_ID ??= 'test';
    env.AWS_SECRET_ACCESS_KEY ??= 'test';
    step('provisioning buckets and tables');
    let provisioned: ProvisionedStack;
    try {
      provisioned = await provision(stack);
    } finally {
      if (previous === undefined) delete env.AWS_ENDPOINT_URL;
      else env.AWS_ENDPOINT_URL = previous;
    }
    const state = localStackState(stack, provisioned, {
      endpoint: emulator.endpoint,
      pid: emulator.pid,
      logFile,
      region: env.AWS_REGION ?? 'us-east-1',
    });
    writeLocalState(state, env);
    return { state, started: true };
  } catch (error) {
    await stopProcess(emulator.pid);
    throw error;
  }
}

/**
 * The state of `stack` provisioned on a running moto server: every template output resolved
 * against what was provisioned, and the ones the CLI looks up by their `STACK_OUTPUTS` key.
 */
export function localStackState(
  stack: StackArtifact,
  provisioned: ProvisionedStack,
  emulator: {
    readonly endpoint: string;
    readonly pid: number;
    readonly logFile: string;
    readonly region: string;
  },
): LocalStackState {
  const templateOutputs = (stack.template as { Outputs?: TemplateOutputs }).Outputs ?? {};
  const outputs = Object.fromEntries(
    Object.entries(templateOutputs).map(([key, output]) => [
      key,
      String(provisioned.resolve(output.Value, `Outputs.${key}`)),
    ]),
  );
  const resources = Object.fromEntries(
    Object.entries(STACK_OUTPUTS).flatMap(([which, key]) =>
      outputs[key] === undefined ? [] : [[which, outputs[key]]],
    ),
  );
  return {
    version: 1,
    endpoint: emulator.endpoint,
    pid: emulator.pid,
    stackName: stack.stackName,
    region: emulator.region,
    startedAt: new Date().toISOString(),
    logFile: emulator.logFile,
    outputs,
    resources,
  };
}

/** Writes the state file (atomically), so every later CLI process finds the stack. */
export function writeLocalState(state: LocalStackState, env: NodeJS.ProcessEnv = process.env): void {
  mkdirSync(localStateDir(env), { recursive: true });
  const file = localStateFile(env);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

/**
 * Records `url` as the local inference API in the state file (see
 * {@link LocalStackState.inferenceApiUrl}); false when there is no state file to record it in.
 */
export function recordInferenceApiUrl(url: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const state = readStateFile(env);
  if (state === undefined) return false;
  writeLocalState({ ...state, inferenceApiUrl: url }, env);
  return true;
}

/** Removes the recorded inference API URL when it is still `url` (the server at it is stopping). */
export function forgetInferenceApiUrl(url: string, env: NodeJS.ProcessEnv = process.env): void {
  const state = readStateFile(env);
  if (state?.inferenceApiUrl !== url) return;
  const { inferenceApiUrl: _, ...rest } = state;
  writeLocalState(rest, env);
}

/** The state file as written, unchecked; undefined when absent or not a version-1 state. */
function readStateFile(env: NodeJS.ProcessEnv): LocalStackState | undefined {
  try {
    const state = JSON.parse(readFileSync(localStateFile(env), 'utf8')) as LocalStackState;
    return state.version === 1 ? state : undefined;
  } catch {
    return undefined;
  }
}

async function stopProcess(pid: number, graceMs = 5_000): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  if (isAlive(pid)) signal('SIGKILL');
}

export interface LocalDownResult {
  /** The stack that was stopped; undefined when none was running. */
  readonly stopped?: LocalStackState;
  /** Set when a state file was left by a stack that was no longer running (it is removed). */
  readonly stale?: string;
}

/** Stops the local stack's emulator (its data goes with it) and removes the state file. */
export async function localDown(options: LocalStateOptions = {}): Promise<LocalDownResult> {
  const env = options.env ?? process.env;
  const found = await inspectLocalStack({ env });
  if (found.status === 'absent') return {};
  // A stale state whose process is alive but silent is stopped all the same.
  if (found.state !== undefined && isAlive(found.state.pid)) await stopProcess(found.state.pid);
  rmSync(localStateFile(env), { force: true });
  return found.status === 'running' ? { stopped: found.state } : { stale: found.reason };
}
