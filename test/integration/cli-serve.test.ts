/**
 * `mlops serve start`, `mlops predict` and `mlops serve deploy` as a user runs them, each its own
 * process with no AWS variable, against `mlops local up`: the API answers from the real inference
 * function (no model deployed yet: 503 ModelNotDeployed), a deploy of a version the registry does
 * not hold is refused by the new Lambda version's own health check, and Ctrl-C stops the server.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeploymentStore } from '../../lambdas/deployment/deployment-store.js';
import { clientSettings, createDocumentClient } from '../../lambdas/shared/clients.js';
import type { LocalStackState } from '../../local/local-state.js';
import { cleanEnv, leaveNoEmulator, mlopsIn, ROOT } from '../support/cli-process.js';

const CONFIG = path.join(ROOT, 'test', 'fixtures', 'models.config.ts');
const MODEL = 'gated';
const stateDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'mlops-cli-serve-')), 'state');
const mlops = mlopsIn(stateDir);
let server: ChildProcess | undefined;

afterAll(async () => {
  // Its whole process group (spawned detached): nothing of it outlives the test.
  if (server?.pid !== undefined && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await leaveNoEmulator(stateDir);
});

/** Starts `mlops serve start --port 0 --json`; resolves with its URL once it listens. */
function serveStart(): Promise<{ url: string; models: string[]; stderr: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'bin', 'mlops.ts'),
        '--config',
        CONFIG,
        'serve',
        'start',
        '--port',
        '0',
        '--json',
      ],
      { cwd: ROOT, env: cleanEnv(stateDir), detached: true },
    );
    server = child;
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      try {
        const started = JSON.parse(stdout) as { url: string; models: string[] };
        resolve({ ...started, stderr: () => stderr });
      } catch {
        // not all of it yet
      }
    });
    child.once('error', reject);
    child.once('close', (code) => reject(new Error(`serve start exited ${code}: ${stderr.slice(-2000)}`)));
  });
}

describe('mlops serve and predict, each command its own process', () => {
  it('serves the local stack, predicts through it, refuses a deploy that is not ready, and stops on Ctrl-C', async () => {
    const up = await mlops('--config', CONFIG, 'local', 'up', '--json');
    expect(up.code, up.stderr).toBe(0);

    const started = await serveStart();
    expect(started.models).toEqual([MODEL]);
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // Health is the API's mock integration: up even with no model to serve.
    const health = await fetch(`${started.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const notDeployed = () =>
      fetch(`${started.url}/v1/models/${MODEL}/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ features: { x: 1 } }),
      });
    const answer = await notDeployed();
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('ModelNotDeployed');

    const predicted = await mlops(
      '--config',
      CONFIG,
      'predict',
      MODEL,
      '--features',
      'x=1',
      '--url',
      started.url,
    );
    expect(predicted.code).toBe(1);
    expect(predicted.stderr).toMatch(/ModelNotDeployed/);
    // Without --url: the URL serve start recorded in the local state (the port --port 0 bound).
    const recorded = JSON.parse(readFileSync(path.join(stateDir, 'local.json'), 'utf8')) as {
      inferenceApiUrl?: string;
    };
    expect(recorded.inferenceApiUrl).toBe(started.url);
    const found = await mlops('--config', CONFIG, 'predict', MODEL, '--features', 'x=1');
    expect(found.code).toBe(1);
    expect(found.stderr).toMatch(/ModelNotDeployed/);
    const unknown = await mlops(
      '--config',
      CONFIG,
      'predict',
      'nope',
      '--features',
      'x=1',
      '--url',
      started.url,
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Forbidden Missing Authentication Token/);

    const refused = await mlops('--config', CONFIG, 'serve', 'deploy', MODEL, '1');
    expect(refused.code, refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(
      /error: version: gated version 1 was not deployed: Lambda version 2 of \S+ is not ready \(health check answered 503 ModelNotDeployed: .*\); alias live still points to version 1/,
    );
    const notServed = await mlops('--config', CONFIG, 'serve', 'deploy', 'nope', '1');
    expect(notServed.code).toBe(3);
    expect(notServed.stderr).toMatch(/served models: gated/);
    // No version named: the champion's number is pinned; with no champion, a clear refusal.
    const noChampion = await mlops('--config', CONFIG, 'serve', 'deploy', MODEL);
    expect(noChampion.code, noChampion.stderr).toBe(3);
    expect(noChampion.stderr).toMatch(/model gated has no champion alias to deploy/);
    expect(noChampion.stderr).toMatch(/mlops serve deploy gated <version>/);
    // The alias did not move: the server still answers from version 1.
    expect((await notDeployed()).status).toBe(503);

    // A canary in progress owns the alias: serve deploy refuses rather than undo it.
    const state = JSON.parse(readFileSync(path.join(stateDir, 'local.json'), 'utf8')) as LocalStackState;
    const deployments = new DeploymentStore({
      documents: createDocumentClient(clientSettings({ ...process.env, AWS_ENDPOINT_URL: state.endpoint })),
      tableName: state.resources.registryTable as string,
    });
    await deployments.begin({
      deploymentId: 'cli-serve-canary',
      model: MODEL,
      modelVersion: 1,
      hotfix: false,
      requireApproval: false,
    });
    const owned = await mlops('--config', CONFIG, 'serve', 'deploy', MODEL, '1');
    expect(owned.code, owned.stderr).toBe(1);
    expect(owned.stderr).toMatch(
      /gated is being deployed by the canary workflow \(deployment cli-serve-canary/,
    );
    expect(owned.stderr).toMatch(/hint: wait for it, or roll it back: mlops deploy rollback gated/);
    await deployments.fail(MODEL, 'cli-serve-canary', 'test over');

    const exited = new Promise<number | null>((resolve) => server?.once('close', resolve));
    server?.kill('SIGINT');
    expect(await exited).toBe(0);
    server = undefined;
    const after = JSON.parse(readFileSync(path.join(stateDir, 'local.json'), 'utf8')) as object;
    expect(after).not.toHaveProperty('inferenceApiUrl');
  }, 600_000);
});
