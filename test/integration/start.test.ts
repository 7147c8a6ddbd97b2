/**
 * `npm start` end to end (bin/start.ts), as a user runs it: its own process with no AWS variable
 * (it starts its own moto server), on any free port with a small demo data set.
 *
 * - `--once` goes through every step — emulator, synthesis, provisioning, demo data, ingestion,
 *   materialization, the training state machine, promotion, serving — makes a raw-feature and an
 *   entity-key prediction through the HTTP API, prints them and exits 0.
 * - Serving (no `--once`, the app the integration setup synthesized): while it serves, the mlops
 *   CLI in another process finds its stack (the promoted version) and predicts through its API;
 *   Ctrl-C (SIGINT) then stops everything: exit 0, its emulator gone, its state file removed.
 * - Ctrl-C in the middle of the flow stops what was started so far, with exit 0.
 * - `--scenario canary --once`: the first deployment promotes at once through the canary
 *   workflow; then, with real traffic through the HTTP API, a faulty candidate (scores shifted) is
 *   rolled back on the prediction PSI and a good one promoted through 20 → 50 → 100, step by step.
 * - `--scenario drift --once` (issue 13's closed loop, headless): calm traffic → no drift; a
 *   shifted population ingested and served → drift → the local alarm evaluator moves the
 *   retraining alarms to ALARM → the drift rule starts training with the drift trigger → the new
 *   version passes the champion gate → canary with the shifted traffic → promoted and serving.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetMetricDataCommand, ListMetricsCommand } from '@aws-sdk/client-cloudwatch';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createCloudWatchClient } from '../../lambdas/shared/clients.js';
import { SERVING_METRICS } from '../../lambdas/shared/metric-names.js';
import { cleanEnv, mlopsIn, ROOT, running } from '../support/cli-process.js';

interface Exited {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface StartRun {
  readonly child: ChildProcess;
  readonly stateDir: string;
  /** Resolves with the first stdout line matching `pattern` (rejects if the process ends first). */
  line(pattern: RegExp): Promise<RegExpExecArray>;
  readonly exited: Promise<Exited>;
  /** Kills its whole process group (npm, tsx, node, their moto server) and its moto server. */
  stop(): Promise<void>;
}

/** Every run a test started; afterEach stops what is left, whatever the test did. */
const runs: StartRun[] = [];

/** PredictRequests (Sum, version 1) the emulator at `endpoint` holds for `model`, once it holds any. */
async function servedRequests(endpoint: string, model: string): Promise<number> {
  const cloudwatch = createCloudWatchClient({ region: 'us-east-1', endpoint, maxAttempts: 2, maxSockets: 2 });
  const name = SERVING_METRICS.requests.name;
  for (let attempt = 0; attempt < 40; attempt += 1) {
    const listed = await cloudwatch.send(new ListMetricsCommand({ MetricName: name }));
    const metric = listed.Metrics?.find(
      (m) =>
        m.Dimensions?.length === 3 &&
        m.Dimensions.some((d) => d.Name === 'model' && d.Value === model) &&
        m.Dimensions.some((d) => d.Name === 'version' && d.Value === '1'),
    );
    if (metric !== undefined) {
      const now = Date.now();
      const answer = await cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: new Date(now - 3_600_000),
          EndTime: new Date(now + 600_000),
          MetricDataQueries: [{ Id: 'q', MetricStat: { Metric: metric, Period: 3600 * 2, Stat: 'Sum' } }],
        }),
      );
      const sum = (answer.MetricDataResults?.[0]?.Values ?? []).reduce((a, b) => a + b, 0);
      if (sum >= 2) return sum;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return 0;
}

afterEach(async () => {
  await Promise.all(runs.splice(0).map((run) => run.stop()));
});

/**
 * Starts `bin/start.ts <args>` in its own process (asynchronously: never block the worker);
 * through `npm start -- <args>` with `viaNpm` (signals then reach npm, not the script: the Ctrl-C
 * tests run the script directly). Detached, in its own process group: after `timeoutMs` (keep it
 * below the test's own limit) and in afterEach, the group is killed, so nothing is left behind.
 */
function start(args: readonly string[], timeoutMs: number, viaNpm = false): StartRun {
  const stateDir = mkdtempSync(path.join(tmpdir(), 'mlops-start-'));
  const [command, commandArgs] = viaNpm
    ? ['npm', ['start', '--silent', '--', ...args]]
    : [process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'start.ts'), ...args]];
  const child = spawn(command, commandArgs, { cwd: ROOT, env: cleanEnv(stateDir), detached: true });
  let closed = false;
  const killGroup = () => {
    if (closed || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(killGroup, timeoutMs);
  let stdout = '';
  let stderr = '';
  let pending = '';
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] =
    [];
  const seen: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const text of lines) {
      seen.push(text);
      for (const w of [...waiters]) {
        const m = w.pattern.exec(text);
        if (m) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<Exited>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      closed = true;
      clearTimeout(timer);
      for (const w of waiters.splice(0))
        w.reject(
          new Error(`exited (${code ?? signal}) before a line matched ${w.pattern}:\n${stdout}\n${stderr}`),
        );
      resolve({ code, signal, stdout, stderr });
    });
  });
  const run: StartRun = {
    child,
    stateDir,
    exited,
    stop: async () => {
      killGroup();
      // Its moto server, should it be in another group (one it was given, not its own).
      for (const text of seen) {
        const moto = /moto server \(pid (\d+)\)/.exec(text);
        if (moto !== null && running(Number(moto[1]))) {
          try {
            process.kill(Number(moto[1]), 'SIGKILL');
          } catch {}
        }
      }
      clearTimeout(timer);
      await Promise.race([exited.catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
    },
    line: (pattern) => {
      for (const text of seen) {
        const m = pattern.exec(text);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }));
    },
  };
  runs.push(run);
  return run;
}

type Answer = {
  model: string;
  version: number;
  requestId: string;
  predictions: { score: number; label: unknown; featureAges?: Record<string, number | null> }[];
};

const printed = (stdout: string, what: string): Answer => {
  const line = stdout.split('\n').find((l) => l.startsWith(`prediction (${what}`));
  expect(line, `stdout:\n${stdout}`).toBeDefined();
  return JSON.parse((line as string).slice((line as string).indexOf('{'))) as Answer;
};

describe('npm start', () => {
  it('npm start -- --once runs the lifecycle, serves, predicts for raw features and an entity key, and exits 0', async () => {
    const run = await start(['--once', '--port', '0', '--customers', '400'], 270_000, true).exited;
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    for (let step = 1; step <= 9; step++) expect(run.stdout).toContain(`[${step}/9]`);
    expect(run.stdout).toMatch(/credit-default v1 \(ROC-AUC 0\.[789]\d*/);
    // Deployed through the canary workflow: the first deployment promotes at once.
    expect(run.stdout).toMatch(
      /credit-default v1: Start: first deployment — nothing serves to compare against, so it promotes at once/,
    );
    expect(run.stdout).toMatch(/done in [\d.]+ s: credit-default v1 live: Production, alias champion/);
    const raw = printed(run.stdout, 'raw features');
    expect(raw).toMatchObject({ model: 'credit-default', version: 1 });
    expect(raw.predictions).toHaveLength(1);
    expect(raw.predictions[0]?.score).toBeGreaterThan(0);
    expect(raw.predictions[0]?.score).toBeLessThan(1);
    const entity = printed(run.stdout, 'entity');
    expect(entity.predictions[0]?.featureAges).toBeDefined();
    // The raw features printed are the customer's latest, which the online store holds: same score.
    expect(entity.predictions[0]?.score).toBe(raw.predictions[0]?.score);
    // Feedback with the requestId the prediction answered is taken; a made-up one is refused.
    expect(run.stdout).toContain(`feedback (for ${raw.requestId}): 202 {"accepted":true,`);
    expect(run.stdout).toMatch(
      /feedback \(for a made-up requestId\): 404 \{"error":\{"code":"UnknownRequest",.*"field":"requestId"/,
    );
    expect(run.stdout).toMatch(/curl .*\/v1\/models\/credit-default\/predict/);
  }, 300_000);

  it('serves until Ctrl-C, the mlops CLI finding its stack meanwhile; Ctrl-C stops it all', async () => {
    // The app the integration setup synthesized is this project's own: no second synthesis here.
    // 400 customers as in the --once test: with 200 the first training was rejected once in CI
    // (no reason printed; likely the 0.7 ROC-AUC gate on a 50-row test split, as the demo's months
    // end at the current minute and so differ from run to run).
    const run = start(['--port', '0', '--customers', '400', '--assembly', inject('assemblyDir')], 210_000);
    const started = await run.line(/moto server \(pid (\d+)\) at (\S+)/);
    const pid = Number(started[1]);
    const url = (await run.line(/The inference API is at (\S+)\. Try:/))[1] as string;
    await run.line(/Ctrl-C stops everything/);
    const mlops = mlopsIn(run.stateDir);
    const versions = await mlops('models', 'versions', 'credit-default', '--json');
    expect(versions.code, versions.stderr).toBe(0);
    expect(versions.json()).toMatchObject({
      versions: [{ version: 1, stage: 'Production', aliases: ['champion'] }],
    });
    const predicted = await mlops(
      'predict',
      'credit-default',
      '--url',
      url,
      '--entity',
      'customer_id=c00042',
      '--json',
    );
    expect(predicted.code, predicted.stderr).toBe(0);
    expect(predicted.json()).toMatchObject({ model: 'credit-default', version: 1 });
    // Without --url: the URL npm start recorded in the local state (the port --port 0 bound).
    const found = await mlops('predict', 'credit-default', '--entity', 'customer_id=c00042', '--json');
    expect(found.code, found.stderr).toBe(0);
    expect(found.json()).toMatchObject({ model: 'credit-default', version: 1 });
    // The served requests' EMF metrics reached the emulator's CloudWatch (local/emf-metrics.ts).
    expect(await servedRequests(started[2] as string, 'credit-default')).toBeGreaterThanOrEqual(2);

    run.child.kill('SIGINT');
    const exited = await run.exited;
    expect(exited.code, `stdout:\n${exited.stdout}\nstderr:\n${exited.stderr}`).toBe(0);
    expect(exited.stdout).toMatch(/SIGINT: stopping/);
    expect(running(pid)).toBe(false);
    expect(existsSync(path.join(run.stateDir, 'local.json'))).toBe(false);
  }, 240_000);

  it('stops what it started on Ctrl-C in the middle of the flow: exit 0, its emulator gone', async () => {
    const run = start(['--port', '0', '--customers', '200', '--assembly', inject('assemblyDir')], 150_000);
    const pid = Number((await run.line(/moto server \(pid (\d+)\)/))[1]);
    await run.line(/^\[4\/9\]/);
    run.child.kill('SIGINT');
    const exited = await run.exited;
    expect(exited.code, `stdout:\n${exited.stdout}\nstderr:\n${exited.stderr}`).toBe(0);
    expect(exited.stdout).toMatch(/SIGINT: stopping/);
    expect(running(pid)).toBe(false);
  }, 180_000);

  it('--scenario canary --once: a faulty candidate rolled back on PSI, step by step, then a good one promoted', async () => {
    const run = await start(['--scenario', 'canary', '--once', '--port', '0', '--customers', '400'], 230_000)
      .exited;
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    for (let step = 1; step <= 10; step++) expect(run.stdout).toContain(`[${step}/10]`);
    const lines = (version: number) =>
      run.stdout
        .split('\n')
        .filter((l) => l.trimStart().startsWith(`credit-default v${version}: `))
        .map((l) =>
          l
            .trim()
            .replace(/^credit-default v\d+: /, '')
            .replace(/ \(\d+\.\d s\)$/, ''),
        );
    // v1 (trained) promoted at once; v2 (faulty) and v3 (good) registered by the scenario.
    expect(run.stdout).toMatch(
      /registered v2 \(faulty: .*\) and v3 \(good: the same artifact\), both Staging/,
    );
    const faulty = lines(2);
    expect(faulty.slice(0, 3)).toEqual([
      expect.stringMatching(
        /^Start: canary model v2 \(Lambda version \d+\) against stable v1 .*steps 20 → 50 → 100 %$/,
      ),
      'Shift 20 % to the canary',
      'Bake 3 s',
    ]);
    // The bound is 0.25 or the PSI chance alone reaches at the step's samples, the larger (a loaded
    // machine serves fewer requests in the bake: 0.291 at 80 canary samples, seen in a full run).
    expect(faulty.filter((l) => l.startsWith('Analyze: ')).at(-1)).toMatch(
      /^Analyze: rollback: PSI of the canary's predictions against the stable's \d+\.\d+ \(rollback above (0\.2[5-9]\d|0\.[3-9]\d\d): 0\.25, or chance at \d+ and \d+ samples\)$/,
    );
    expect(faulty).toContain('Rollback: the live alias back on the stable version alone');
    expect(faulty).not.toContain('Shift 50 % to the canary');
    expect(run.stdout).toMatch(/v2 rolled back: PSI of the canary's predictions/);
    const good = lines(3);
    expect(good.filter((l) => l.startsWith('Shift'))).toEqual([
      'Shift 20 % to the canary',
      'Shift 50 % to the canary',
    ]);
    expect(good.filter((l) => l.startsWith('Analyze: pass'))).toHaveLength(2);
    expect(good.at(-1)).toBe('Promote: the live alias fully on the canary; registry Production and champion');
    expect(run.stdout).toMatch(/v3 promoted: Production, alias champion, all traffic/);
    expect(run.stdout).toMatch(
      /done in [\d.]+ s: v2 rolled back, v3 promoted; \d+ predict requests \(0 failed\)/,
    );
    // Serving the promoted version afterwards.
    expect(printed(run.stdout, 'raw features').version).toBe(3);
    expect(printed(run.stdout, 'entity').version).toBe(3);
  }, 240_000);

  // The demo's default 2,000 customers: the calm phase serves customers' latest snapshots, which have
  // wandered a little from the training rows (utilization is a random walk); with 400 customers the
  // reference bins are thin enough for that to cross PSI 0.2 (seen once in CI).
  it('--scenario drift --once: the closed loop, drift detected → alarm → retraining → gate → canary → promotion', async () => {
    const run = await start(['--scenario', 'drift', '--once', '--port', '0'], 280_000).exited;
    expect(run.code, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(0);
    const out = run.stdout;
    const order = [
      /traffic like the training data: \d+ requests/,
      /\d+ predictions of v1: no feature drifted; predictions no-drift; report reports\/credit-default\//,
      /a downturn: \d+ new customers .* ingested and materialized/,
      /\d+ predictions of v1: drifted: [a-z_, ]*utilization[a-z_, ]*; predictions drift/,
      /ServerlessMlops\/credit-default\/retrain\/feature-psi: OK → ALARM/,
      /retrain\/[a-z-]+ → EventBridge rule → training workflow \(drift trigger\)/,
      /input: \{"kind":"drift","alarmName":"ServerlessMlops\/credit-default\/retrain\/[a-z-]+","reason":"Threshold Crossed/,
      /v2 registered \(ROC-AUC [\d.]+; gated against the champion v1; Staging\)/,
      /v2 in Staging \(arn:aws:states:[^)]*:execution:[^)]*TrainingPipeline[^)]*\) → ModelStageChanged → the OnRetrained rule → the deployment workflow/,
      /credit-default v2: Start: canary model v2 .* against stable v1/,
      /credit-default v2: Promote: the live alias fully on the canary; registry Production and champion/,
      /1 delivery: ServerlessMlops-DeploymentModelcreditdefaultOnRetrained/,
      /v2 promoted: Production, alias champion, all traffic/,
      /drift check of the new customers' traffic against v2's profile/,
      /done in [\d.]+ s: drift in [a-z_, ]+ → \d alarm\(s\) → retrained v2 → promoted/,
    ];
    let at = 0;
    for (const pattern of order) {
      const found = out.slice(at).search(pattern);
      expect(found, `${pattern} after position ${at} in:\n${out}`).toBeGreaterThanOrEqual(0);
      at += found;
    }
    // The other retraining alarms reach the pipeline too; it reuses the run that trained on this data.
    expect(out).toMatch(/reused: /);
    expect(printed(out, 'raw features').version).toBe(2);
  }, 300_000);
});
