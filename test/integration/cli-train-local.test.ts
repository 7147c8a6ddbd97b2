/**
 * `mlops train` on the local stack as a user meets it: `mlops local up` with a configuration that
 * trains models, rows ingested through the CLI, then `mlops train start churn` runs the real
 * pipeline (the synthesized state machine, every step's bundle) inside the CLI process, and `train
 * list|status|logs` and `models versions` read what it did — each command its own process with no
 * AWS variable, finding the stack through the state file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { leaveNoEmulator, mlopsIn, ROOT } from '../support/cli-process.js';
import { prng } from '../support/random.js';

const CONFIG = path.join(ROOT, 'test', 'fixtures', 'training.config.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'mlops-train-local-'));
const stateDir = path.join(dir, 'state');
const mlops = mlopsIn(stateDir);
const T0 = Date.parse('2026-09-01T00:00:00Z');

afterAll(() => leaveNoEmulator(stateDir));

/** 300 customers whose churn follows 3·x1 − 2·x2: features an hour before each label. */
function writeRows(): { features: string; labels: string } {
  const random = prng(5);
  const features: string[] = [];
  const labels: string[] = [];
  for (let i = 0; i < 300; i++) {
    const x1 = random() * 2 - 1;
    const x2 = random() * 2 - 1;
    const at = T0 + i * 60_000;
    const churned = random() < 1 / (1 + Math.exp(-(3 * x1 - 2 * x2)));
    features.push(
      JSON.stringify({ customer_id: `c${i}`, event_time: at - 3_600_000, x1, x2, segment: 'abc'[i % 3] }),
    );
    labels.push(JSON.stringify({ customer_id: `c${i}`, event_time: at, churned }));
  }
  const files = { features: path.join(dir, 'customer.jsonl'), labels: path.join(dir, 'labels.jsonl') };
  writeFileSync(files.features, features.join('\n'));
  writeFileSync(files.labels, labels.join('\n'));
  return files;
}

describe('mlops train on the local stack, each command its own process', () => {
  it('trains a model through its pipeline and registers it in Staging; a second start reuses the result', async () => {
    const up = await mlops('--config', CONFIG, 'local', 'up', '--json');
    expect(up.code, up.stderr).toBe(0);
    const files = writeRows();
    for (const [view, file] of [
      ['customer', files.features],
      ['churn_label', files.labels],
    ] as const) {
      const ingested = await mlops('--config', CONFIG, 'ingest', view, file, '--json');
      expect(ingested.code, ingested.stderr).toBe(0);
    }

    const asOf = new Date(T0 + 6 * 3_600_000).toISOString();
    const started = await mlops('--config', CONFIG, 'train', 'start', 'churn', '--as-of', asOf, '--json');
    expect(started.code, started.stderr).toBe(0);
    expect(started.json()).toMatchObject({
      where: 'local',
      status: 'SUCCEEDED',
      outcome: 'succeeded',
      version: 1,
    });
    // Progress went to stderr, one line per step when it is not a terminal.
    expect(started.stderr).toMatch(/train churn: EvaluateCandidates/);

    const again = await mlops('--config', CONFIG, 'train', 'start', 'churn', '--as-of', asOf, '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(again.json()).toMatchObject({ outcome: 'reused', state: 'ReusedEarlierResult' });

    const list = await mlops('--config', CONFIG, 'train', 'list', 'churn', '--json');
    expect(list.code, list.stderr).toBe(0);
    // Newest first: the reuse, then the training.
    expect(list.stdout.replace(/\s/g, '')).toMatch(/"outcome":"reused".*"outcome":"succeeded"/);

    const logs = await mlops('--config', CONFIG, 'train', 'logs', 'churn', '--json');
    expect(logs.code, logs.stderr).toBe(0);

    const versions = await mlops('--config', CONFIG, 'models', 'versions', 'churn', '--json');
    expect(versions.code, versions.stderr).toBe(0);
    expect(versions.stdout).toMatch(/"stage": ?"Staging"/);

    const down = await mlops('local', 'down', '--json');
    expect(down.code).toBe(0);
  }, 600_000);
});
