import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  forgetInferenceApiUrl,
  inspectLocalStack,
  localDown,
  readLocalStack,
  recordInferenceApiUrl,
  useLocalStack,
} from '../../local/local-state.js';

function stateDir(state?: unknown): NodeJS.ProcessEnv {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mlops-state-'));
  if (state !== undefined)
    writeFileSync(path.join(dir, 'local.json'), typeof state === 'string' ? state : JSON.stringify(state));
  return { MLOPS_STATE_DIR: dir };
}

const state = (pid: number, endpoint: string) => ({
  version: 1,
  endpoint,
  pid,
  stackName: 'S',
  region: 'eu-west-1',
  startedAt: new Date().toISOString(),
  logFile: '/dev/null',
  outputs: { FeatureStoreOfflineBucketName: 'b' },
  resources: { offlineBucket: 'b' },
});

/** A process whose command line names moto_server.py (it only sleeps), and an HTTP server. */
async function fakeEmulator() {
  const child = spawn('sh', ['-c', 'sleep 30', 'moto_server.py'], { stdio: 'ignore' });
  const server = createServer((_, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    pid: child.pid as number,
    endpoint,
    close: () => {
      child.kill('SIGKILL');
      server.close();
    },
  };
}

describe('local stack state', () => {
  it('is absent without a state file', async () => {
    expect(await inspectLocalStack({ env: stateDir() })).toEqual({ status: 'absent' });
  });

  it('is stale when the file is not JSON, or its process is gone', async () => {
    expect(await inspectLocalStack({ env: stateDir('{') })).toMatchObject({ status: 'stale' });
    const gone = spawn('true');
    await new Promise((resolve) => gone.once('exit', resolve));
    const env = stateDir(state(gone.pid as number, 'http://127.0.0.1:1'));
    expect(await inspectLocalStack({ env })).toMatchObject({
      status: 'stale',
      reason: expect.stringMatching(/is gone/),
    });
    expect(await readLocalStack({ env })).toBeUndefined();
    // down clears a stale state
    expect(await localDown({ env })).toMatchObject({ stale: expect.stringMatching(/is gone/) });
    expect(await inspectLocalStack({ env })).toEqual({ status: 'absent' });
  });

  it('is stale when a live process of another program holds the pid', async () => {
    const fake = await fakeEmulator();
    try {
      // This process (node, not moto_server.py), with an endpoint that answers.
      const env = stateDir(state(process.pid, fake.endpoint));
      expect(await readLocalStack({ env })).toBeUndefined();
    } finally {
      fake.close();
    }
  });

  it('is running when its emulator lives and answers, and then points the environment at it', async () => {
    const fake = await fakeEmulator();
    try {
      const env = stateDir(state(fake.pid, fake.endpoint));
      expect(await readLocalStack({ env })).toMatchObject({ endpoint: fake.endpoint, stackName: 'S' });
      // Another stack's name, or an explicit other endpoint, is left alone.
      expect(await useLocalStack('Other', env)).toBeUndefined();
      expect(await useLocalStack('S', { ...env, AWS_ENDPOINT_URL: 'http://elsewhere:4566' })).toBeUndefined();
      expect(env.AWS_ENDPOINT_URL).toBeUndefined();
      expect((await useLocalStack('S', env))?.resources.offlineBucket).toBe('b');
      expect(env).toMatchObject({
        AWS_ENDPOINT_URL: fake.endpoint,
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'test',
      });
    } finally {
      fake.close();
    }
  });

  it('records the local inference API URL for mlops predict, and forgets only its own', async () => {
    expect(recordInferenceApiUrl('http://127.0.0.1:1234', stateDir())).toBe(false); // no stack
    const fake = await fakeEmulator();
    try {
      const env = stateDir(state(fake.pid, fake.endpoint));
      expect(recordInferenceApiUrl('http://127.0.0.1:41234', env)).toBe(true);
      expect((await useLocalStack('S', env))?.inferenceApiUrl).toBe('http://127.0.0.1:41234');
      forgetInferenceApiUrl('http://127.0.0.1:9', env); // another server's: kept
      expect((await readLocalStack({ env }))?.inferenceApiUrl).toBe('http://127.0.0.1:41234');
      forgetInferenceApiUrl('http://127.0.0.1:41234', env);
      const left = await readLocalStack({ env });
      expect(left).toMatchObject({ endpoint: fake.endpoint, stackName: 'S' });
      expect(left?.inferenceApiUrl).toBeUndefined();
    } finally {
      fake.close();
    }
  });
});
