/**
 * The HTML drift report in a real browser: fixture reports (drifted, insufficient data, categorical
 * with unseen values, a feature named with markup) rendered by lambdas/drift/report-html.ts to a
 * temporary file, opened in headless Chromium (Debian's, /usr/bin/chromium: scripts/ensure-chromium.sh
 * installs it before `npm test`) through playwright-core, and read back as a person would see it:
 * the summary's numbers, one section per feature, one pair of bars per bin, the verdict badges,
 * the reasons when there is no verdict, the markup name shown as text with nothing run, and not one
 * request beyond the file itself.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../../lambdas/drift/contract.js';
import { renderDriftReportHtml } from '../../lambdas/drift/report-html.js';
import { driftedReport, HOSTILE_NAME, insufficientReport } from '../fixtures/drift-report.js';

const CHROMIUM = '/usr/bin/chromium';
let dir: string;
let context: BrowserContext;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'drift-report-html-'));
  context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
});

afterAll(async () => {
  await context?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The page of `report`, with every request it made (the file's own included) and any dialog. */
async function open(
  report: DriftReport,
  name: string,
): Promise<{ page: Page; requests: string[]; routed: string[]; dialogs: string[]; url: string }> {
  const file = path.join(dir, `${name}.html`);
  writeFileSync(file, renderDriftReportHtml(report));
  const url = pathToFileURL(file).href;
  const page = await context.newPage();
  const requests: string[] = [];
  const dialogs: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  // Every request passes here: the file itself goes on, anything else is recorded and refused.
  const routed: string[] = [];
  await page.route('**/*', (route) => {
    const asked = route.request().url();
    if (asked === url) return route.continue();
    routed.push(asked);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load' });
  return { page, requests, routed, dialogs, url };
}

const field = (page: Page, scope: string, key: string) =>
  page.locator(`${scope} [data-field="${key}"] dd`).first();

describe('drift report HTML in Chromium', () => {
  it('shows the summary numbers of a drifted window', async () => {
    const { page } = await open(driftedReport, 'summary');
    expect(await field(page, '#summary', 'model').textContent()).toBe('churn');
    expect(await field(page, '#summary', 'version').textContent()).toBe('3');
    expect(await field(page, '#summary', 'rows').textContent()).toBe('4000');
    expect(await field(page, '#summary', 'features').textContent()).toBe('6');
    expect(await field(page, '#summary', 'checked').textContent()).toBe('4');
    expect(await field(page, '#summary', 'drifted').textContent()).toBe('2');
    expect(await field(page, '#summary', 'drift-share').textContent()).toContain('50.0%');
    expect(await field(page, '#summary', 'window').textContent()).toContain('2026-12-03T11:00:00.000Z');
    expect(await field(page, '#summary', 'status').textContent()).toBe('checked');
    expect(await page.locator('#summary [data-dataset-drift="true"]').textContent()).toBe('yes');
    const prediction = field(page, '#summary', 'prediction-drift');
    expect(await prediction.locator('.badge').getAttribute('data-verdict')).toBe('drift');
    expect(await prediction.textContent()).toContain('PSI 0.27');
    expect(await field(page, '#summary', 'quality').textContent()).toContain('auc 0.71 against 0.82');
    expect(await page.locator('#findings li').count()).toBe(driftedReport.findings.length);
    await page.close();
  });

  it('has one section per feature, with its verdict badge and one pair of bars per bin', async () => {
    const { page } = await open(driftedReport, 'features');
    const sections = page.locator('section.feature');
    expect(await sections.count()).toBe(driftedReport.features.length);
    for (const [i, feature] of driftedReport.features.entries()) {
      const section = page.locator(`#feature-${i}`);
      expect(await section.locator('h2 .name').textContent()).toBe(feature.name);
      const badge = section.locator('h2 .badge');
      expect(await badge.getAttribute('data-verdict')).toBe(feature.verdict);
      expect(await badge.isVisible()).toBe(true);
      const bins = feature.drift?.bins.reference.length ?? 0;
      expect(await section.locator('svg g.bin').count()).toBe(bins);
      expect(await section.locator('svg g.bin rect.bar.ref').count()).toBe(bins);
      expect(await section.locator('svg g.bin rect.bar.cur').count()).toBe(bins);
    }
    // income: the current sample piles into the top bin (35 % against 10 %).
    const top = page.locator('#feature-0 g.bin[data-bin="9"]');
    const height = async (selector: string) => Number(await top.locator(selector).getAttribute('height'));
    expect(await height('rect.cur')).toBeGreaterThan(3 * (await height('rect.ref')));
    // Numeric bins: the nine inner edges on the axis; the statistics beside them.
    const ticks = await page.locator('#feature-0 svg text.tick').allTextContents();
    expect(ticks).toEqual(expect.arrayContaining(['28000', '52000', '76000']));
    expect(await page.locator('#feature-0 [data-field="ks"] dd').textContent()).toBe('0.31');
    expect(await page.locator('#feature-0 [data-field="ks-p"] dd').textContent()).toBe('1.20e-160');
    expect(await page.locator('#feature-0 [data-field="wasserstein"] dd').textContent()).toBe('8124');
    await page.close();
  });

  it('shows a categorical feature with unseen values: labels on the axis, the unseen bin, the values', async () => {
    const { page } = await open(driftedReport, 'categorical');
    const region = page.locator('#feature-2');
    const labels = await region.locator('svg text.tick').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['north', 'south', 'east', 'other', 'unseen']));
    const unseen = region.locator('g.bin[data-bin="4"]');
    expect(Number(await unseen.locator('rect.ref').getAttribute('height'))).toBe(0);
    expect(Number(await unseen.locator('rect.cur').getAttribute('height'))).toBeGreaterThan(0);
    expect(await region.locator('[data-field="chi2"] dd').textContent()).toBe('5123');
    expect(await region.locator('[data-field="unseen"] dd').textContent()).toBe('480 (12.0%)');
    expect(await region.locator('[data-field="unseen-values"] code').allTextContents()).toEqual([
      'mars',
      'atlantis',
      '<b>bold</b>',
    ]);
    expect(await region.locator('b').count()).toBe(0);
    await page.close();
  });

  it('shows a feature named with markup as text and runs nothing', async () => {
    const { page, dialogs } = await open(driftedReport, 'hostile');
    expect(await page.locator('#feature-3 h2 .name').textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('#features tbody tr').nth(3).locator('a').textContent()).toBe(HOSTILE_NAME);
    expect(await page.locator('#feature-3 svg text.tick').allTextContents()).toContain('<i>a</i>');
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('i').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(dialogs).toEqual([]);
    expect(await page.title()).toContain('Drift report: churn version 3');
    await page.close();
  });

  it('shows why features have no verdict: too few values, or not checked', async () => {
    const { page } = await open(driftedReport, 'reasons');
    const tenure = page.locator('#feature-4');
    expect(await tenure.locator('h2 .badge').textContent()).toBe('insufficient data');
    const few = tenure.locator('.reason[data-reason="insufficient-data"]');
    expect(await few.isVisible()).toBe(true);
    expect(await few.textContent()).toContain('380 values in the window, fewer than the 500');
    const missing = page.locator('#feature-5');
    expect(await missing.locator('h2 .badge').textContent()).toBe('not checked');
    const why = missing.locator('.reason[data-reason="not-checked"]');
    expect(await why.isVisible()).toBe(true);
    expect(await why.textContent()).toContain('loyalty_tier is not in the reference profile of version 3');
    expect(await missing.locator('svg').count()).toBe(0);
    await page.close();
  });

  it('shows a window with too few rows for any verdict', async () => {
    const { page } = await open(insufficientReport, 'insufficient');
    expect(await field(page, '#summary', 'status').textContent()).toContain('insufficient data');
    expect(await field(page, '#summary', 'checked').textContent()).toBe('0');
    expect(await page.locator('#summary [data-dataset-drift="false"]').textContent()).toBe('no');
    expect(await page.locator('#prediction h2 .badge').getAttribute('data-verdict')).toBe(
      'insufficient-data',
    );
    expect(await page.locator('section.feature').count()).toBe(2);
    expect(await page.locator('section.feature .reason[data-reason="insufficient-data"]').count()).toBe(2);
    expect(await field(page, '#summary', 'quality').textContent()).toBe('no labelled feedback');
    await page.close();
  });

  it('makes no request beyond the file itself', async () => {
    const { page, requests, routed, url } = await open(driftedReport, 'network');
    await page.waitForLoadState('networkidle');
    expect(routed).toEqual([]);
    expect(requests).toEqual([url]);
    await page.close();
  });

  it('renders the same report to the same text', () => {
    expect(renderDriftReportHtml(structuredClone(driftedReport))).toBe(renderDriftReportHtml(driftedReport));
  });
});
