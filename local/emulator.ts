/**
 * Starts and stops the AWS API emulator the integration tests and `npm run emulator` use.
 *
 * - `AWS_ENDPOINT_URL` already set (LocalStack on :4566, a moto you started): use it, after checking
 *   it answers; stopping is then a no-op.
 * - Otherwise moto server, through local/moto_server.py (requests serialized like DynamoDB's
 *   atomicity, port picked by the OS). The Python is the system `python3` when it has moto's
 *   server, else the project's `.venv/`; when neither has it, scripts/setup-emulator.sh installs it
 *   into `.venv/`. If that fails too, the error says what to run: a missing emulator never turns
 *   into skipped tests.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAUNCHER = path.join(PROJECT_ROOT, 'local', 'moto_server.py');
const SETUP_SCRIPT = path.join(PROJECT_ROOT, 'scripts', 'setup-emulator.sh');
const VENV_PYTHON = path.join(PROJECT_ROOT, '.venv', 'bin', 'python');

export interface Emulator {
  /** Base URL to put in AWS_ENDPOINT_URL. */
  readonly endpoint: string;
  readonly kind: 'moto' | 'external';
  stop(): Promise<void>;
}

export interface StartEmulatorOptions {
  /** Environment to read AWS_ENDPOINT_URL from. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Pythons to try, in order. @default ['python3', '<repo>/.venv/bin/python'] */
  readonly pythonCandidates?: readonly string[];
  /** Installs moto when no candidate has it. @default runs scripts/setup-emulator.sh */
  readonly install?: () => boolean;
  /** How long to wait for the emulator to answer. @default 30 s */
  readonly startTimeoutMs?: number;
}

/** No emulator could be found, installed or reached. The message says what to do. */
export class EmulatorUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EmulatorUnavailableError';
  }
}

/** Whether `python` can import moto's server and the web stack it needs. */
export function hasMotoServer(python: string): boolean {
  const probe = spawnSync(python, ['-c', 'import moto, moto.server, flask, flask_cors, werkzeug'], {
    stdio: 'ignore',
    timeout: 30_000,
  });
  return probe.status === 0;
}

function runSetupScript(): boolean {
  const result = spawnSync('bash', [SETUP_SCRIPT], {
    stdio: ['ignore', 'inherit', 'inherit'],
    timeout: 600_000,
  });
  return result.status === 0;
}

/** Finds a Python with moto's server, installing it into .venv/ if needed. */
export function findMotoPython(options: StartEmulatorOptions = {}): string {
  const candidates = options.pythonCandidates ?? ['python3', VENV_PYTHON];
  for (const python of candidates) if (hasMotoServer(python)) return python;
  const installed = (options.install ?? runSetupScript)();
  if (installed) for (const python of candidates) if (hasMotoServer(python)) return python;
  throw new EmulatorUnavailableError(
    [
      'No AWS API emulator is available, and installing one failed.',
      `Tried: ${candidates.join(', ')} (none can import moto's server).`,
      'Fix one of:',
      '  - bash scripts/setup-emulator.sh            (installs moto[server] into .venv/; needs Python 3 and a reachable PyPI)',
      "  - python3 -m pip install 'moto[server]==5.2.1'",
      '  - export AWS_ENDPOINT_URL=http://localhost:4566   (use a running LocalStack or moto instead)',
    ].join('\n'),
  );
}

/** Resolves once `endpoint` answers any HTTP request, or rejects after `timeoutMs`. */
export async function waitUntilAnswers(endpoint: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new EmulatorUnavailableError(
    `${endpoint} did not answer within ${timeoutMs} ms (${String(lastError)})`,
  );
}

function launch(python: string, timeoutMs: number): Promise<{ child: ChildProcess; port: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [LAUNCHER, '--host', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(
        new EmulatorUnavailableError(
          `moto server (${python}) ${why}\n${stderr.split('\n').slice(-15).join('\n')}`,
        ),
      );
    };
    const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-8_000);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /MOTO_READY (\d+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once('exit', (code, signal) => fail(`exited early (code ${code}, signal ${signal})`));
    child.once('error', (error) => fail(`could not be spawned: ${error.message}`));
  });
}

/** Starts (or attaches to) the emulator. Call `stop()` when done. */
export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const env = options.env ?? process.env;
  const timeoutMs = options.startTimeoutMs ?? 30_000;
  const external = env.AWS_ENDPOINT_URL?.trim();
  if (external) {
    await waitUntilAnswers(external, Math.min(timeoutMs, 10_000));
    return { endpoint: external, kind: 'external', stop: async () => {} };
  }

  const python = findMotoPython(options);
  const { child, port } = await launch(python, timeoutMs);
  child.removeAllListeners('exit');
  const endpoint = `http://127.0.0.1:${port}`;
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  try {
    await waitUntilAnswers(endpoint, timeoutMs);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  return {
    endpoint,
    kind: 'moto',
    stop: async () => {
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
