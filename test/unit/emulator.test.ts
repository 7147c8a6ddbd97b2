import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmulatorUnavailableError, startEmulator } from '../../local/emulator.js';

// Stand-ins for a Python interpreter: each answers the moto probe (`python -c ...`) with exit 0,
// and behaves as scripted when asked to run the launcher. No AWS, no moto needed.
let dir: string;

function fakePython(name: string, launcherBody: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/usr/bin/env bash\nif [ "$1" = "-c" ]; then exit 0; fi\n${launcherBody}\n`);
  chmodSync(file, 0o755);
  return file;
}

async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'emulator-test-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('startEmulator without AWS_ENDPOINT_URL', () => {
  it('fails with the commands to run when no Python has moto and the install fails', async () => {
    const missing = path.join(dir, 'no-such-python');
    let installs = 0;
    const install = async () => {
      installs++;
      throw new Error('pip could not reach the package index');
    };

    const error = await rejectionOf(startEmulator({ env: {}, pythonCandidates: [missing], install }));

    expect(installs).toBe(1);
    expect(error).toBeInstanceOf(EmulatorUnavailableError);
    expect(error.message).toContain(missing);
    expect(error.message).toContain('pip could not reach the package index');
    expect(error.message).toContain('bash scripts/setup-emulator.sh');
    expect(error.message).toContain("python3 -m pip install 'moto[server]==5.2.1'");
    expect(error.message).toContain('export AWS_ENDPOINT_URL=');
  });

  it('fails with the remedy when the install succeeds but still no Python has moto', async () => {
    const error = await rejectionOf(
      startEmulator({ env: {}, pythonCandidates: [path.join(dir, 'none')], install: async () => {} }),
    );

    expect(error).toBeInstanceOf(EmulatorUnavailableError);
    expect(error.message).toMatch(/install step finished, but still no candidate/);
    expect(error.message).toContain('bash scripts/setup-emulator.sh');
  });

  it('installs only when no candidate has moto, then runs the Python the install provided', async () => {
    const installed = path.join(dir, 'venv-python');
    let installs = 0;
    const install = async () => {
      installs++;
      fakePython('venv-python', 'echo "launched by the installed python" >&2; exit 4');
    };

    const error = await rejectionOf(
      startEmulator({ env: {}, pythonCandidates: [path.join(dir, 'system-python'), installed], install }),
    );

    expect(installs).toBe(1);
    expect(error.message).toContain('launched by the installed python');
  });

  it('does not install when a candidate already has moto', async () => {
    const python = fakePython('python3', 'exit 4');
    let installs = 0;

    await rejectionOf(
      startEmulator({
        env: {},
        pythonCandidates: [python],
        install: async () => {
          installs++;
        },
      }),
    );

    expect(installs).toBe(0);
  });

  it('reports the last lines moto wrote to stderr when it exits before it is ready', async () => {
    const python = fakePython(
      'python3',
      'echo "Traceback (most recent call last):" >&2; echo "ModuleNotFoundError: No module named \'werkzeug\'" >&2; exit 1',
    );

    const error = await rejectionOf(startEmulator({ env: {}, pythonCandidates: [python] }));

    expect(error).toBeInstanceOf(EmulatorUnavailableError);
    expect(error.message).toMatch(/exited before it was ready \(code 1/);
    expect(error.message).toContain("ModuleNotFoundError: No module named 'werkzeug'");
  });

  it('gives up after the start timeout and kills the launcher', async () => {
    const pidFile = path.join(dir, 'pid');
    const python = fakePython('python3', `echo $$ > ${pidFile}; exec sleep 60`);

    const error = await rejectionOf(
      startEmulator({ env: {}, pythonCandidates: [python], startTimeoutMs: 1_500 }),
    );

    expect(error.message).toContain('did not start within 1500 ms');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    await expect.poll(() => isRunning(pid), { timeout: 2_000 }).toBe(false);
  });
});

describe('startEmulator with AWS_ENDPOINT_URL', () => {
  it('uses the endpoint when it answers, and stop() leaves that emulator running', async () => {
    const server = createServer((_request, response) => response.end('ok'));
    const endpoint = `http://127.0.0.1:${await listen(server)}`;
    try {
      const emulator = await startEmulator({
        env: { AWS_ENDPOINT_URL: endpoint },
        install: async () => {
          throw new Error('must not install for an external emulator');
        },
      });
      await emulator.stop();

      expect(emulator).toMatchObject({ endpoint, kind: 'external' });
      expect(await (await fetch(endpoint)).text()).toBe('ok');
    } finally {
      server.close();
    }
  });

  it('fails loudly, naming the endpoint, when nothing answers there', async () => {
    const server = createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const endpoint = `http://127.0.0.1:${port}`;

    const error = await rejectionOf(
      startEmulator({ env: { AWS_ENDPOINT_URL: endpoint }, startTimeoutMs: 500 }),
    );

    expect(error).toBeInstanceOf(EmulatorUnavailableError);
    expect(error.message).toContain(`AWS_ENDPOINT_URL is set to ${endpoint}, but nothing answers there`);
  });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
