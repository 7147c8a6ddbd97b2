import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { toCsv } from '../../bin/cli/commands/training-set.js';
import { jsonOutput } from '../../bin/cli/context.js';
import {
  CliFailure,
  CliInputError,
  type CliIo,
  cliVersion,
  EXIT,
  looksLikeEpochSeconds,
  Output,
  table,
  toJson,
} from '../../bin/cli/output.js';
import { reportError } from '../../bin/mlops.js';
import { ValidationError } from '../../lambdas/shared/errors.js';
import { ConfigValidationError, loadConfig } from '../../lib/config.js';

function capture(tty = false) {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    stdoutIsTty: tty,
  };
  return { io, out };
}

describe('CLI output conventions', () => {
  it('prints JSON when asked or when stdout is not a terminal, tables otherwise', () => {
    expect(jsonOutput({}, { ...capture(true).io })).toBe(false);
    expect(jsonOutput({}, { ...capture(false).io })).toBe(true);
    expect(jsonOutput({ json: true }, { ...capture(true).io })).toBe(true);
    expect(jsonOutput({ table: true }, { ...capture(false).io })).toBe(false);
  });

  it('renders one result as a table for people and as JSON for scripts', () => {
    const value = [{ name: 'a', n: 1n }];
    const human = (rows: typeof value) =>
      table(
        ['name', 'n'],
        rows.map((r) => [r.name, r.n]),
      );
    const t = capture(true);
    new Output(t.io, false).result(value, human);
    expect(t.out.stdout).toMatch(/│ name │ n │\n.*\n│ a +│ 1 │/);
    expect(t.out.stdout.includes('\u001b[')).toBe(false); // no colour codes
    const j = capture(false);
    new Output(j.io, true).result(value, human);
    expect(JSON.parse(j.out.stdout)).toEqual([{ name: 'a', n: 1 }]);
  });

  it('keeps int64 values beyond 2^53 exact in JSON, as strings', () => {
    expect(JSON.parse(toJson({ big: 2n ** 60n, small: 5n }))).toEqual({
      big: '1152921504606846976',
      small: 5,
    });
  });

  it('draws no progress when stderr is not a terminal or output is JSON', () => {
    const { io, out } = capture(true);
    const progress = new Output(io, false).progress('x');
    progress.phase('reading', 3);
    progress.add();
    progress.stop();
    expect(out.stderr).toBe('');
  });

  it.each([
    [
      new CliInputError('view', 'must be a defined feature view (x is not)', 'valid views: a, b'),
      EXIT.badInput,
      'error: view: must be a defined feature view (x is not)\nhint: valid views: a, b\n',
    ],
    [
      new ValidationError('keys.3.customer_id', 'must be a string'),
      EXIT.badInput,
      'error: keys.3.customer_id: must be a string\n',
    ],
    [
      new CliFailure(
        'could not read the outputs of stack S (no AWS endpoint answers)',
        'start the local stack with: npx mlops local up',
      ),
      EXIT.failure,
      'error: could not read the outputs of stack S (no AWS endpoint answers)\nhint: start the local stack with: npx mlops local up\n',
    ],
    [
      Object.assign(new Error('The specified bucket does not exist'), { name: 'NoSuchBucket' }),
      EXIT.failure,
      /^error: offline-bucket: must be an existing bucket.*\nhint: start the local stack with: npx mlops local up/,
    ],
    [new Error('boom'), EXIT.failure, 'error: boom\n'],
  ])('reports %s on stderr with its exit code', (error, code, text) => {
    const { io, out } = capture();
    expect(reportError(error, io)).toBe(code);
    if (typeof text === 'string') expect(out.stderr).toBe(text);
    else expect(out.stderr).toMatch(text);
    expect(out.stdout).toBe('');
  });

  it('tells epoch seconds from epoch milliseconds', () => {
    expect(looksLikeEpochSeconds(1_764_633_600)).toBe(true);
    expect(looksLikeEpochSeconds('1764633600')).toBe(true);
    expect(looksLikeEpochSeconds(1_764_633_600_000)).toBe(false);
    expect(looksLikeEpochSeconds('2026-01-01T00:00:00Z')).toBe(false);
  });

  it('writes CSV that quotes only the cells that need it', () => {
    expect(toCsv([{ a: 'x,y', b: 'say "hi"', c: null, d: 2n }])).toBe('a,b,c,d\n"x,y","say ""hi""",,2\n');
  });
});

describe('configuration errors', () => {
  const view = (name: string, features: unknown[]) => ({
    name,
    owner: 'o',
    entities: [{ name: 'id', type: 'string' }],
    eventTimeColumn: 'event_time',
    ttlSeconds: 60,
    online: false,
    features,
  });

  it('lists every problem at once, naming views and features by name', () => {
    let error: unknown;
    try {
      loadConfig({
        stackNmae: 'x',
        featureViews: [
          view('customer', [
            { name: 'orders', type: 'int64' },
            { name: 'spend', type: 'float99' },
          ]),
          view('merchant', [{ name: 'category', type: 'string', categories: [] }]),
        ],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const problems = (error as ConfigValidationError).problems.map((p) => p.field);
    expect(problems).toEqual(
      expect.arrayContaining([
        'config.stackNmae',
        'config.featureViews.customer.features.spend.type',
        'config.featureViews.merchant.features.category.categories',
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('falls back to the index where a name is not readable', () => {
    expect(() => loadConfig({ featureViews: [view('Bad Name', [{ name: 'f', type: 'int64' }])] })).toThrow(
      /^config\.featureViews\.0\.name: /,
    );
  });
});

describe('entry points in their own processes', () => {
  const ROOT = path.resolve(import.meta.dirname, '..', '..');

  it('bin/app.ts prints every configuration problem without a stack trace and exits 1', () => {
    const context = { mlops: { logRetentionDays: 3, featureViews: [{ name: 'x', features: [] }] } };
    const result = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bin', 'app.ts')], {
      cwd: ROOT,
      encoding: 'utf8',
      // No tsx cache: its files in the shared temp directory race with other tsx processes.
      env: { ...process.env, CDK_CONTEXT_JSON: JSON.stringify(context), TSX_DISABLE_CACHE: '1' },
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(
      /^error: config\.logRetentionDays: .*\nerror: config\.featureViews\.x\.owner: /,
    );
    expect(result.stderr).not.toMatch(/^\s+at /m);
    // A hang guard, not a speed test: tsx compiles the app in a fresh process (slow on a busy machine).
  }, 60_000);

  it('bin/mlops.mjs (the `npx mlops` entry) prints the version with the exit code 0', () => {
    const result = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'mlops.mjs'), '--version'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, TSX_DISABLE_CACHE: '1' },
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${cliVersion()}\n`);
  }, 60_000);
});
