import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import { readModelContract } from '../../lambdas/training/model-contract.js';
import { prng } from '../support/random.js';

let dir: string;
let trainCsv: string;
let testCsv: string;

/** Runs the CLI in-process (no --config, no stack) and captures what it prints. */
async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
  });
  return { code, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

/** A CSV whose label is x1 > 0.3 (with an empty cell in x2 on every 10th row). */
function csv(n: number, seed: number, label = (x1: number) => String(x1 > 0.3)): string {
  const random = prng(seed);
  const lines = ['x1,x2,segment,churned'];
  for (let i = 0; i < n; i++) {
    const x1 = 4 * random() - 2;
    const x2 = i % 10 === 0 ? '' : String(10 * random());
    lines.push(`${x1},${x2},${['a', 'b', 'c'][i % 3]},${label(x1)}`);
  }
  return `${lines.join('\n')}\n`;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'mlops-train-local-'));
  trainCsv = path.join(dir, 'train.csv');
  testCsv = path.join(dir, 'test.csv');
  writeFileSync(trainCsv, csv(400, 1));
  writeFileSync(testCsv, csv(100, 2));
});

describe('mlops train local', () => {
  it('trains on a CSV without a stack, writes model.onnx and prints the held-out evaluation as JSON', async () => {
    const out = path.join(dir, 'gbdt.onnx');
    const args = ['train', 'local', '--data', trainCsv, '--label', 'churned', '--algorithm', 'gbdt'];
    const result = await cli(...args, '--param', 'numRounds=20', '--out', out);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const printed = result.json();
    expect(printed).toMatchObject({
      model: out,
      task: 'binary',
      algorithm: 'gbdt',
      features: ['x1:float64', 'x2:float64', 'segment:string'],
      rows: { test: expect.any(Number) },
      metrics: { rocAuc: expect.any(Number), accuracy: expect.any(Number) },
      latencyMs: { p50: expect.any(Number), p95: expect.any(Number) },
    });
    expect((printed.metrics as { rocAuc: number }).rocAuc).toBeGreaterThan(0.95);
    const bytes = readFileSync(out);
    expect(printed.bytes).toBe(bytes.byteLength);
    expect(readModelContract(bytes).signature.inputs.map((i) => i.name)).toEqual(['x1', 'x2', 'segment']);
    // Same data and seed: the same bytes.
    const again = await cli(...args, '--param', 'numRounds=20', '--out', path.join(dir, 'again.onnx'));
    expect(again.json().sha256).toBe(printed.sha256);
  });

  it('evaluates a logistic regression on an explicit --test file and prints a table when asked', async () => {
    const out = path.join(dir, 'lr.onnx');
    const result = await cli(
      '--table',
      'train',
      'local',
      '--data',
      trainCsv,
      '--test',
      testCsv,
      '--label',
      'churned',
      '--algorithm',
      'lr',
      '--out',
      out,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/rows\s*│ train 400, validation 0, test 100/);
    expect(result.stdout).toMatch(/rocAuc\s*│ 0\.9/);
    expect(existsSync(out)).toBe(true);
  });

  it('reads Parquet with its column types (a multiclass string label)', async () => {
    const random = prng(6);
    const x1 = Array.from({ length: 300 }, () => 4 * random() - 2);
    const file = path.join(dir, 'train.parquet');
    writeFileSync(
      file,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [
            { name: 'x1', data: x1, type: 'DOUBLE' },
            { name: 'flag', data: x1.map((_, i) => i % 2 === 0), type: 'BOOLEAN' },
            {
              name: 'level',
              data: x1.map((v) => (v < -0.5 ? 'low' : v < 0.5 ? 'mid' : 'high')),
              type: 'STRING',
            },
          ],
        }),
      ),
    );
    const result = await cli(
      'train',
      'local',
      '--data',
      file,
      '--label',
      'level',
      '--algorithm',
      'gbdt',
      '--out',
      path.join(dir, 'pq.onnx'),
    );
    expect(result.stderr).toBe('');
    expect(result.json()).toMatchObject({
      task: 'multiclass',
      features: ['x1:float64', 'flag:bool'],
      classes: ['high', 'low', 'mid'],
      metrics: { macroF1: expect.any(Number) },
    });
  });

  it('holds back validation rows for early stopping only', async () => {
    const result = await cli(
      'train',
      'local',
      '--data',
      trainCsv,
      '--label',
      'churned',
      '--algorithm',
      'gbdt',
      '--param',
      'earlyStoppingRounds=5',
      '--out',
      path.join(dir, 'early.onnx'),
    );
    expect(result.code).toBe(0);
    const rows = result.json().rows as { train: number; validation: number; test: number };
    expect(rows.validation).toBeGreaterThan(0);
    expect(rows.train + rows.validation + rows.test).toBe(400);
  });

  it('infers a regression task from a numeric label', async () => {
    const file = path.join(dir, 'reg.csv');
    writeFileSync(
      file,
      csv(300, 3, (x1) => String(3 * x1 + 1)),
    );
    const result = await cli(
      'train',
      'local',
      '--data',
      file,
      '--label',
      'churned',
      '--algorithm',
      'lr',
      '--out',
      path.join(dir, 'reg.onnx'),
    );
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ task: 'regression', metrics: { rmse: expect.any(Number) } });
    expect((result.json().metrics as { r2: number }).r2).toBeGreaterThan(0.999);
  });

  describe('bad input: exit 2, error naming the field, no model written', () => {
    const refused = async (name: string, args: string[], stderr: RegExp) => {
      const out = path.join(dir, `${name}.onnx`);
      const result = await cli('train', 'local', ...args, '--out', out);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(stderr);
      expect(existsSync(out)).toBe(false);
    };

    it('a label that is not a column', () =>
      refused(
        'nolabel',
        ['--data', trainCsv, '--label', 'nope', '--algorithm', 'gbdt'],
        /^error: label: must be a column of --data \(nope is not\)\nhint: columns: x1, x2, segment, churned\n$/,
      ));

    it('a single-class label', async () => {
      const file = path.join(dir, 'one.csv');
      writeFileSync(
        file,
        csv(100, 4, () => 'true'),
      );
      await refused(
        'one',
        ['--data', file, '--label', 'churned', '--algorithm', 'gbdt', '--task', 'binary'],
        /^error: churned: must hold at least two classes/,
      );
    });

    it('a missing label', async () => {
      const file = path.join(dir, 'holes.csv');
      writeFileSync(
        file,
        csv(100, 5, (x1) => (x1 > 1.5 ? '' : String(x1 > 0))),
      );
      await refused(
        'holes',
        ['--data', file, '--label', 'churned', '--algorithm', 'lr'],
        /^error: churned: must not be missing or NaN/,
      );
    });

    it('an unknown or run-owned trainer parameter', () =>
      refused(
        'param',
        ['--data', trainCsv, '--label', 'churned', '--algorithm', 'gbdt', '--param', 'seed=3'],
        /^error: trainer\.params\.seed: is not a known field/,
      ));

    it('a test file whose cells do not match the training columns', async () => {
      const file = path.join(dir, 'badtest.csv');
      writeFileSync(file, 'x1,x2,segment,churned\nhigh,1,a,true\n');
      await refused(
        'badtest',
        ['--data', trainCsv, '--test', file, '--label', 'churned', '--algorithm', 'lr'],
        /^error: test\.0\.x1: must be a number/,
      );
    });

    it('an empty file', async () => {
      const file = path.join(dir, 'empty.csv');
      writeFileSync(file, '');
      await refused(
        'empty',
        ['--data', file, '--label', 'churned', '--algorithm', 'lr'],
        /^error: body: must not be empty/,
      );
    });
  });
});
