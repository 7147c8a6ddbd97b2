/**
 * `mlops drift report <model>` against the emulator: reports stored under the layout's keys in a
 * capture bucket, read back through the latest pointer as a table, as JSON, as an HTML file (the
 * stored one, or rendered from the JSON when it is missing), opened with xdg-open or its path
 * printed; no report yet (exit 3 with a hint), a bucket that does not exist, a pointer to nothing.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../bin/mlops.js';
import type { DriftReport, FeatureResult } from '../../lambdas/drift/contract.js';
import { renderDriftReportHtml } from '../../lambdas/drift/report-html.js';
import { clients } from '../../lambdas/shared/clients.js';
import {
  CLI_ENV,
  DRIFT_REPORT_HTML_CONTENT_TYPE,
  type DriftReportPointer,
  driftReportKeys,
  driftReportLatestKey,
} from '../../lambdas/shared/layout.js';
import { driftedReport, insufficientReport } from '../fixtures/drift-report.js';

const CONFIG = path.resolve(import.meta.dirname, '..', 'fixtures', 'models.config.ts');
const BUCKET = `cli-drift-${Date.now()}`;
const STORED_MARK = '<!-- stored by the check -->';
let dir: string;

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(['--config', CONFIG, ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    stdoutIsTty: args.includes('--table'),
  });
  return { code, stdout, stderr };
}

const put = (key: string, body: string, contentType = 'application/json') =>
  clients.s3().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ContentType: contentType }));

/** Stores a report as a check does: JSON, HTML (unless `html` is false), then the pointer, last. */
async function store(report: DriftReport, options: { html?: boolean } = {}): Promise<DriftReportPointer> {
  const keys = driftReportKeys(report.model, report.window.end);
  await put(keys.json, JSON.stringify(report));
  if (options.html !== false)
    await put(keys.html, `${renderDriftReportHtml(report)}${STORED_MARK}`, DRIFT_REPORT_HTML_CONTENT_TYPE);
  const pointer: DriftReportPointer = {
    json: keys.json,
    html: keys.html,
    window: report.window,
    generatedAt: report.generatedAt,
  };
  await put(driftReportLatestKey(report.model), JSON.stringify(pointer));
  return pointer;
}

/** Runs `body` with PATH set to `value` (the command looks xdg-open up on it). */
async function withPath<T>(value: string, body: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = value;
  try {
    return await body();
  } finally {
    process.env.PATH = saved;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'cli-drift-'));
  await clients.s3().send(new CreateBucketCommand({ Bucket: BUCKET }));
  // An older window of churn first: the pointer, written last, names the newer one.
  await store({
    ...insufficientReport,
    window: { start: '2026-12-02T10:00:00.000Z', end: '2026-12-02T11:00:00.000Z' },
  });
  await store(driftedReport);
  await store({ ...insufficientReport, model: 'fraud' }, { html: false });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('report keys', () => {
  it('puts a report under reports/<model>/<day>/<window end>/ in window order', () => {
    const keys = driftReportKeys('churn', '2026-12-03T12:00:00Z');
    expect(keys.json).toBe('reports/churn/2026-12-03/20261203T120000.000Z/report.json');
    expect(keys.html).toBe('reports/churn/2026-12-03/20261203T120000.000Z/report.html');
    expect(driftReportLatestKey('churn')).toBe('reports/churn/latest.json');
    const ends = ['2026-12-03T09:59:59.999Z', '2026-12-03T10:00:00.000Z', '2026-12-10T00:00:00.000Z'];
    const keysInOrder = ends.map((end) => driftReportKeys('churn', end).json);
    expect([...keysInOrder].sort()).toEqual(keysInOrder);
  });
});

describe('mlops drift report', () => {
  it('prints the latest report as a summary and a table of the features', async () => {
    const { code, stdout, stderr } = await cli(
      'drift',
      'report',
      'churn',
      '--capture-bucket',
      BUCKET,
      '--table',
    );
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('2026-12-03T11:00:00.000Z → 2026-12-03T12:00:00.000Z');
    expect(stdout).toContain('6 (4 checked, 2 drifted: 50.0% of checked)');
    expect(stdout).toMatch(/dataset drift\s*│\s*yes/);
    expect(stdout).toMatch(/prediction drift\s*│\s*drift \(PSI 0\.27, 4000 predictions\)/);
    expect(stdout).toContain('auc 0.71 vs 0.82 at evaluation');
    expect(stdout).toMatch(/feature\s*│\s*kind\s*│\s*verdict\s*│\s*PSI\s*│\s*KS\s*│\s*JS\s*│\s*nulls/);
    expect(stdout).toMatch(
      /income\s*│\s*numeric\s*│\s*drift\s*│\s*0\.742\s*│\s*0\.31 \(p 1\.20e-160\)\s*│\s*0\.38\s*│\s*0\.3%/,
    );
    expect(stdout).toMatch(/region\s*│\s*categorical\s*│\s*drift\s*│\s*0\.91\s*│\s*χ² 5123/);
    expect(stdout).toMatch(/tenure_months\s*│\s*numeric\s*│\s*insufficient-data/);
    expect(stdout).toMatch(/loyalty_tier\s*│\s*categorical\s*│\s*not-checked\s*│\s*–/);
    expect(stdout).toContain(
      'feature-missing-from-profile loyalty_tier: loyalty_tier is not in the reference profile',
    );
    expect(stdout).toContain(`s3://${BUCKET}/${driftReportKeys('churn', driftedReport.window.end).json}`);
  });

  it('shows control characters in names as escapes, not as terminal sequences', async () => {
    await store({
      ...insufficientReport,
      model: 'tty',
      features: [{ ...(insufficientReport.features[0] as FeatureResult), name: 'evil\u001b]0;owned\u0007' }],
    });
    const { code, stdout } = await cli('drift', 'report', 'tty', '--capture-bucket', BUCKET, '--table');
    expect(code).toBe(0);
    expect(stdout).toContain('evil\\u001b]0;owned\\u0007');
    expect(stdout).not.toContain('\u001b');
  });

  it('prints the stored report as JSON for scripts', async () => {
    const { code, stdout } = await cli('drift', 'report', 'churn', '--capture-bucket', BUCKET, '--json');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual(driftedReport);
  });

  it('finds the bucket through MLOPS_CAPTURE_BUCKET', async () => {
    process.env[CLI_ENV.captureBucket] = BUCKET;
    try {
      const { code, stdout } = await cli('drift', 'report', 'fraud', '--json');
      expect(code).toBe(0);
      expect(JSON.parse(stdout).model).toBe('fraud');
    } finally {
      delete process.env[CLI_ENV.captureBucket];
    }
  });

  it('writes the stored HTML report with --html', async () => {
    const file = path.join(dir, 'out', 'churn.html');
    const { code, stderr } = await cli(
      'drift',
      'report',
      'churn',
      '--capture-bucket',
      BUCKET,
      '--html',
      file,
    );
    expect(code).toBe(0);
    expect(stderr).toContain(`wrote ${file}`);
    expect(readFileSync(file, 'utf8')).toBe(`${renderDriftReportHtml(driftedReport)}${STORED_MARK}`);
  });

  it('renders the HTML from the JSON when the stored HTML is missing', async () => {
    const file = path.join(dir, 'fraud.html');
    const { code, stderr } = await cli(
      'drift',
      'report',
      'fraud',
      '--capture-bucket',
      BUCKET,
      '--html',
      file,
    );
    expect(code).toBe(0);
    expect(stderr).toContain('report.html is missing: rendering the HTML from');
    expect(readFileSync(file, 'utf8')).toBe(renderDriftReportHtml({ ...insufficientReport, model: 'fraud' }));
  });

  it('opens the HTML report with xdg-open when there is one', async () => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    const opened = path.join(dir, 'opened.txt');
    writeFileSync(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > '${opened}'\n`);
    chmodSync(path.join(bin, 'xdg-open'), 0o755);
    const { code, stderr } = await withPath(`${bin}${path.delimiter}/bin${path.delimiter}/usr/bin`, () =>
      cli('drift', 'report', 'churn', '--capture-bucket', BUCKET, '--open', '--json'),
    );
    expect(code).toBe(0);
    const file = /^opened (\S+) with (\S+)$/m.exec(stderr)?.[1] ?? '';
    expect(stderr).toContain(`with ${path.join(bin, 'xdg-open')}`);
    expect(path.dirname(path.dirname(file))).toBe(os.tmpdir());
    expect(path.basename(file)).toBe('churn-20261203T120000.000Z.html');
    for (let i = 0; i < 100 && !existsSync(opened); i++) await sleep(50);
    expect(readFileSync(opened, 'utf8')).toBe(file);
    expect(readFileSync(file, 'utf8')).toContain(STORED_MARK);
  });

  it('prints the HTML file path when there is no xdg-open', async () => {
    const file = path.join(dir, 'no-opener.html');
    const empty = path.join(dir, 'empty-path');
    mkdirSync(empty, { recursive: true });
    const { code, stderr, stdout } = await withPath(empty, () =>
      cli('drift', 'report', 'churn', '--capture-bucket', BUCKET, '--open', '--html', file, '--table'),
    );
    expect(code).toBe(0);
    expect(stderr).toContain(`no xdg-open here: open ${file} in a browser`);
    expect(stdout).toContain(`html: ${file}`);
    expect(existsSync(file)).toBe(true);
  });

  it('exits 3 with a hint when the model has no report yet', async () => {
    const { code, stdout, stderr } = await cli('drift', 'report', 'nobody', '--capture-bucket', BUCKET);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    expect(stderr).toContain(
      `error: model: no drift report for nobody yet (none under s3://${BUCKET}/reports/nobody/latest.json)`,
    );
    expect(stderr).toMatch(/^hint: the drift monitor writes one after each check/m);
  });

  it('fails naming the capture bucket when it does not exist', async () => {
    const { code, stderr } = await cli('drift', 'report', 'churn', '--capture-bucket', `${BUCKET}-missing`);
    expect(code).toBe(1);
    expect(stderr).toContain(
      `error: capture-bucket: must be an existing bucket (${BUCKET}-missing does not exist)`,
    );
  });

  it('fails when the latest pointer names a report that is not there', async () => {
    await put(
      driftReportLatestKey('ghost'),
      JSON.stringify({ json: 'reports/ghost/x/report.json', html: 'reports/ghost/x/report.html' }),
    );
    const { code, stderr } = await cli('drift', 'report', 'ghost', '--capture-bucket', BUCKET);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'error: reports/ghost/latest.json names reports/ghost/x/report.json, which does not exist',
    );
  });
});
