/**
 * Starts and stops the AWS API emulator that the integration tests and `npm run emulator` use.
 *
 * - `AWS_ENDPOINT_URL` already set (LocalStack on :4566, a moto you started yourself): it is used
 *   after a short check that it answers; stopping it is then a no-op.
 * - Otherwise moto server, run through local/moto_server.py (requests serialized so conditional
 *   writes and transactions are atomic as in DynamoDB; port picked by the OS at bind time). The
 *   Python is the first candidate that has moto's server and its extras: the system `python3`, then
 *   the project's `.venv/`. When none has it, scripts/setup-emulator.sh installs the pinned moto
 *   into `.venv/` and the candidates are probed again.
 * - Anything else is an {@link EmulatorUnavailableError} whose message says what to run: a missing
 *   emulator fails loudly, it never turns into skipped tests.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAUNCHER = path.join(PROJECT_ROOT, 'local', 'moto_server.py');
const SETUP_SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'setup-emulator.sh');
const VENV_PYTHON = path.join(PROJECT_ROOT, '.venv', 'bin', 'python');

/** The moto version scripts/setup-emulator.sh installs (keep the two in step). */
export const PINNED_MOTO_VERSION = '5.2.1';

/** A running (or attached) AWS API emulator. */
export interface Emulator {
  /** Base URL for `AWS_ENDPOINT_URL`, e.g. `http://127.0.0.1:41234`. */
  readonly endpoint: string;
  /** `moto`: started here and owned by this process; `external`: found in `AWS_ENDPOINT_URL`. */
  readonly kind: 'moto' | 'external';
  /** Process id of the moto server started here; undefined for `external`. */
  readonly pid?: number;
  /** Stops a moto server this process started (SIGTERM, then SIGKILL); a no-op for `external`. */
  stop(): Promise<void>;
}

export interface StartEmulatorOptions {
  /**
   * Environment to read `AWS_ENDPOINT_URL` from.
   * @default process.env
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Python interpreters to try, in order; the first that has moto's server and its extras runs it.
   * @default ['python3', '<project>/.venv/bin/python']
   */
  readonly pythonCandidates?: readonly string[];
  /**
   * Installs moto when no candidate has it; rejects (with the reason) when it cannot. Candidates
   * are probed again afterwards.
   * @default runs `bash scripts/setup-emulator.sh`, its output going to this process's stderr
   */
  readonly install?: () => Promise<void>;
  /**
   * How long moto may take to print its port and answer HTTP.
   * @default 30_000 ms
   */
  readonly startTimeoutMs?: number;
  /**
   * How long `stop()` waits after SIGTERM before it sends SIGKILL.
   * @default 5_000 ms
   */
  readonly stopGraceMs?: number;
  /**
   * Run moto's own TransactWriteItems, which copies every table a transaction names once per
   * operation (local/moto_server.py replaces it with an undo log). Only to compare the two.
   * @default false
   */
  readonly motoTransactions?: boolean;
}

/** No emulator could be found, installed, started or reached. The message says what to do. */
export class EmulatorUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'EmulatorUnavailableError';
  }
}

/** What to do when there is no emulator; part of every {@link EmulatorUnavailableError} message. */
export const EMULATOR_REMEDY = [
  'To fix, do one of:',
  '  - bash scripts/setup-emulator.sh   (creates .venv/ with moto[server], needs python3 with venv and a reachable package index)',
  `  - python3 -m pip install 'moto[server]==${PINNED_MOTO_VERSION}'   (into the python3 on your PATH)`,
  '  - export AWS_ENDPOINT_URL=http://localhost:4566   (use an emulator that is already running, e.g. LocalStack)',
].join('\n');

interface RunResult {
  readonly status: number | null;
  readonly output: string;
}

/** Runs a command to completion, collecting stdout and stderr; a missing executable is status null. */
function run(command: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('error', (error) => resolve({ status: null, output: error.message }));
    child.once('close', (status) => resolve({ status, output }));
  });
}

// Imports moto's server and checks that every distribution its "server" extra needs is installed
// (moto imports some of them lazily, per service, so importing moto.server alone is not enough).
const PROBE = `
import importlib.metadata as m, re, sys
import moto, moto.server
missing = []
for req in m.requires("moto") or []:
    if 'extra == "server"' in req:
        name = re.match(r"[A-Za-z0-9._-]+", req).group(0)
        try:
            m.distribution(name)
        except m.PackageNotFoundError:
            missing.append(name)
if missing:
    sys.exit("moto[server] extras missing: " + ", ".join(missing))
print(moto.__version__)
`;

/** Whether `python` can run moto's server: it imports `moto.server` and has the server extras. */
export async function hasMotoServer(python: string): Promise<boolean> {
  const result = await run(python, ['-c', PROBE], 60_000);
  return result.status === 0;
}

async function runSetupScript(): Promise<void> {
  const status = await new Promise<number | null>((resolve) => {
    const child = spawn('bash', [SETUP_SCRIPT], { stdio: ['ignore', process.stderr, process.stderr] });
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
  if (status !== 0)
    throw new Error(`bash ${path.relative(PROJECT_ROOT, SETUP_SCRIPT)} exited with ${status}`);
}

/**
 * Finds a Python that can run moto's server, running the install step once if none can.
 * @throws EmulatorUnavailableError naming the candidates tried, why the install failed and the remedy
 */
export async function findMotoPython(options: StartEmulatorOptions = {}): Promise<string> {
  const candidates = options.pythonCandidates ?? ['python3', VENV_PYTHON];
  const probeAll = async () => {
    for (const python of candidates) if (await hasMotoServer(python)) return python;
    return undefined;
  };
  const found = await probeAll();
  if (found) return found;

  let installFailure: string;
  try {
    await (options.install ?? runSetupScript)();
    const installed = await probeAll();
    if (installed) return installed;
    installFailure = 'the install step finished, but still no candidate can run moto server';
  } catch (error) {
    installFailure = `the install step failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  throw new EmulatorUnavailableError(
    [
      'No AWS API emulator for the integration tests: AWS_ENDPOINT_URL is not set and no Python has moto[server].',
      `Tried: ${candidates.join(', ')}; then ${installFailure}.`,
      EMULATOR_REMEDY,
    ].join('\n'),
  );
}

/**
 * Resolves once `endpoint` answers any HTTP request (any status counts), polling every 100 ms.
 * @throws EmulatorUnavailableError after `timeoutMs`, with the last connection error
 */
export async function waitUntilAnswers(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  do {
    try {
      const response = await fetch(endpoint, {
        signal: AbortSignal.timeout(Math.max(1, Math.min(2_000, deadline - Date.now()))),
      });
      await response.body?.cancel();
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } while (Date.now() < deadline);
  const cause = lastError instanceof Error ? (lastError.cause ?? lastError) : lastError;
  throw new EmulatorUnavailableError(`${endpoint} did not answer within ${timeoutMs} ms (${String(cause)})`, {
    cause: lastError,
  });
}

function lastLines(text: string, count = 20): string {
  return text.trimEnd().split('\n').slice(-count).join('\n');
}

/** Spawns the launcher and resolves with the port it bound, or rejects with its last stderr lines. */
function launch(
  python: string,
  timeoutMs: number,
  extraArgs: readonly string[],
): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    // stdin stays an open pipe: the launcher exits when it closes, i.e. when this process is gone.
    const child = spawn(
      python,
      [LAUNCHER, '--host', '127.0.0.1', '--port', '0', '--exit-with-stdin', ...extraArgs],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new EmulatorUnavailableError(
          `moto server (${python} ${path.relative(PROJECT_ROOT, LAUNCHER)}) ${why}. Its last output:\n` +
            `${lastLines(stderr) || '(nothing on stderr)'}\n${EMULATOR_REMEDY}`,
        ),
      );
    };
    const onExit = (code: number | null, signal: string | null) =>
      fail(`exited before it was ready (code ${code}, signal ${signal})`);
    const onError = (error: Error) => fail(`could not be spawned: ${error.message}`);
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-16_000);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /MOTO_READY (\d+)/.exec(stdout);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      resolve({ child, port: Number(match[1]) });
    });
    child.once('exit', onExit);
    child.once('error', onError);
  });
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function startMoto(options: StartEmulatorOptions): Promise<Emulator> {
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const python = await findMotoPython(options);
  const { child, port } = await launch(
    python,
    timeoutMs,
    options.motoTransactions ? ['--moto-transactions'] : [],
  );
  const endpoint = `http://127.0.0.1:${port}`;
  // Backstop for a normal exit of this process; the stdin pipe covers the abnormal ones.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const stop = async () => {
    process.off('exit', killOnExit);
    await stopChild(child, options.stopGraceMs ?? 5_000);
  };
  try {
    await waitUntilAnswers(endpoint, timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, kind: 'moto', ...(child.pid === undefined ? {} : { pid: child.pid }), stop };
}

/**
 * Starts moto server, or attaches to the emulator in `AWS_ENDPOINT_URL` when that is set.
 * Call `stop()` when done.
 * @throws EmulatorUnavailableError when no emulator can be found, installed, started or reached
 */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const external = (options.env ?? process.env).AWS_ENDPOINT_URL?.trim();
  if (!external) return startMoto(options);
  try {
    await waitUntilAnswers(external, Math.min(options.startTimeoutMs ?? 5_000, 5_000));
  } catch (error) {
    throw new EmulatorUnavailableError(
      `AWS_ENDPOINT_URL is set to ${external}, but nothing answers there. Start that emulator, or unset ` +
        'AWS_ENDPOINT_URL to let the harness start moto server.',
      { cause: error },
    );
  }
  return { endpoint: external, kind: 'external', stop: async () => {} };
}

/** A moto server that outlives the process that started it (`mlops local up`). */
export interface DetachedEmulator {
  readonly endpoint: string;
  readonly pid: number;
}

/**
 * Starts moto server in its own process group, detached from this process (it keeps running after
 * this process exits, until it is sent SIGTERM), its output appended to `logFile`.
 * @throws EmulatorUnavailableError when no Python has moto, or it does not start, with its last output
 */
export async function startDetachedEmulator(
  logFile: string,
  options: Pick<StartEmulatorOptions, 'pythonCandidates' | 'install' | 'startTimeoutMs'> = {},
): Promise<DetachedEmulator> {
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const python = await findMotoPython(options);
  const log = openSync(logFile, 'w');
  const child = spawn(python, [LAUNCHER, '--host', '127.0.0.1', '--port', '0'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited before it was ready (code ${code}, signal ${signal})`;
  });
  child.once('error', (error) => {
    exited = `could not be spawned: ${error.message}`;
  });
  child.unref();
  const fail = (why: string) => {
    if (exited === undefined && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    const output = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    return new EmulatorUnavailableError(
      `moto server (${python} ${path.relative(PROJECT_ROOT, LAUNCHER)}) ${why}. Its last output:\n` +
        `${lastLines(output) || '(nothing)'}\n${EMULATOR_REMEDY}`,
    );
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = /MOTO_READY (\d+)/.exec(readFileSync(logFile, 'utf8'));
    if (match?.[1] !== undefined && child.pid !== undefined) {
      const endpoint = `http://127.0.0.1:${match[1]}`;
      try {
        await waitUntilAnswers(endpoint, Math.max(1_000, deadline - Date.now()));
      } catch {
        throw fail(`did not answer at ${endpoint}`);
      }
      return { endpoint, pid: child.pid };
    }
    if (exited !== undefined) throw fail(exited);
    if (Date.now() > deadline) throw fail(`did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
