/**
 * `npm start` end to end (bin/start.ts), as a user runs it: its own process with no AWS variable
 * (it starts its own moto server), `--once` on any free port with a small demo data set. It must
 * go through every step — emulator, synthesis, provisioning, demo data, ingestion,
 * materialization, the training state machine, promotion, serving — make a raw-feature and an
 * entity-key prediction through the HTTP API, print them and exit 0. And Ctrl-C (SIGINT) while it
 * runs stops what it started: its emulator is gone when it exits.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { cleanEnv, ROOT, running } from '../support/cli-process.js';

interface Started {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `bin/start.ts <args>` (asynchronously); `onLine` sees each stdout line and may signal the child. */
function start(args: readonly string[], onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void) {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'mlops-start-'));
  return new Promise<Started>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'start.ts'), ...args], {
      cwd: ROOT,
      env: cleanEnv(stateDir),
      timeout: 300_000,
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine?.(line, (s) => child.kill(s));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

const printed = (stdout: string, what: string) => {
  const line = stdout.split('\n').find((l) => l.startsWith(`prediction (${what}`));
  expect(line, `stdout:\n${stdout}`).toBeDefined();
  return JSON.parse((line as string).slice((line as string).indexOf('{'))) as {
    model: string;
    version: number;
    predictions: { score: number; label: unknown; featureAges?: Record<string, number | null> }[];
  };
};

describe('npm start', () => {
  it('--once runs the lifecycle, serves, predicts for raw features and an entity key, and exits 0', async () => {
    const run = await start(['--once', '--port', '0', '--customers', '400']);
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    for (let step = 1; step <= 9; step++) expect(run.stdout).toContain(`[${step}/9]`);
    expect(run.stdout).toMatch(/credit-default v1 \(ROC-AUC 0\.[789]\d*/);
    const raw = printed(run.stdout, 'raw features');
    expect(raw).toMatchObject({ model: 'credit-default', version: 1 });
    expect(raw.predictions).toHaveLength(1);
    expect(raw.predictions[0]?.score).toBeGreaterThan(0);
    expect(raw.predictions[0]?.score).toBeLessThan(1);
    const entity = printed(run.stdout, 'entity');
    expect(entity.predictions[0]?.featureAges).toBeDefined();
    // The raw features printed are the customer's latest, which the online store holds: same score.
    expect(entity.predictions[0]?.score).toBe(raw.predictions[0]?.score);
    expect(run.stdout).toMatch(/curl .*\/v1\/models\/credit-default\/predict/);
  }, 300_000);

  it('stops what it started on Ctrl-C: exit 0, and its emulator is gone', async () => {
    let pid: number | undefined;
    let signalled = false;
    // The app the integration setup synthesized is this project's own: no second synthesis here.
    const run = await start(
      ['--port', '0', '--customers', '50', '--assembly', inject('assemblyDir')],
      (line, kill) => {
        const found = /moto server \(pid (\d+)\)/.exec(line);
        if (found) pid = Number(found[1]);
        if (!signalled && line.startsWith('[4/9]')) {
          signalled = true;
          kill('SIGINT');
        }
      },
    );
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/SIGINT: stopping/);
    expect(pid).toBeDefined();
    expect(running(pid as number)).toBe(false);
  }, 180_000);
});
