/**
 * `mlops` as a user runs it: each command its own process, started with no AWS variable at all (no
 * AWS_ENDPOINT_URL, no credentials), so commands find the local stack only through the state file
 * `mlops local up` wrote in `stateDir`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '..', '..');

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  json(): Record<string, unknown>;
}

/** This process's environment without any AWS variable, with the test's state directory. */
export function cleanEnv(stateDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('AWS_')) env[name] = value;
  // No instance metadata to ask for credentials: a lookup without the local stack fails at once.
  return { ...env, AWS_EC2_METADATA_DISABLED: 'true', MLOPS_STATE_DIR: stateDir };
}

/** A runner of `mlops <args>` in its own process (asynchronously: a blocked worker misses vitest's calls). */
export function mlopsIn(stateDir: string): (...args: string[]) => Promise<Run> {
  return (...args) =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'bin', 'mlops.ts'), ...args],
        {
          cwd: ROOT,
          env: cleanEnv(stateDir),
          timeout: 240_000,
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.once('error', reject);
      child.once('close', (code) =>
        resolve({ code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> }),
      );
    });
}

/** Whether `pid` is a running process (a zombie, exited but not yet reaped, is not). */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Stops the local stack of `stateDir` whatever happened (afterAll): `local down`, else kills its emulator. */
export async function leaveNoEmulator(stateDir: string): Promise<void> {
  const file = path.join(stateDir, 'local.json');
  if (!existsSync(file)) return;
  await mlopsIn(stateDir)('local', 'down');
  if (existsSync(file)) {
    const { pid } = JSON.parse(readFileSync(file, 'utf8')) as { pid: number };
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** The test emulator's pid: the moto server the global setup started (a child of vitest's main process). */
export function testEmulatorPid(): number {
  for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (cmdline.includes('moto_server.py') && (ppid === process.ppid || ppid === process.pid))
        return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  throw new Error('the test emulator process was not found');
}
