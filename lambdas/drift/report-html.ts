/**
 * The drift report as one self-contained HTML document: inline CSS and inline SVG, no script and no
 * request to anywhere (its Content-Security-Policy forbids both, so a report opened from S3, a mail
 * or a laptop shows the same thing). A summary first (model, version, window, status, rows, feature
 * verdicts, dataset and prediction drift, model quality, findings, an index of the features), then
 * one section per feature: reference vs current shares on the reference's bins, the statistics, the
 * data quality and the verdict, with the reason when there is none.
 *
 * Every text from the report goes through {@link html}'s escaping (a feature named `<script>` is
 * shown as text). The output depends on the report only (no clock, no locale), so the same report
 * renders to the same bytes. No AWS SDK.
 */
import type {
  BinnedShares,
  DataQuality,
  DataQualityFinding,
  DriftReport,
  DriftVerdict,
  FeatureResult,
  ModelQuality,
  PredictionResult,
} from './contract.js';

/** Markup already escaped (what {@link html} returns and interpolates as is). */
class Markup {
  constructor(readonly text: string) {}
}

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML text or attribute value. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);

function part(value: unknown): string {
  if (value instanceof Markup) return value.text;
  if (Array.isArray(value)) return value.map(part).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

/** A template whose interpolations are escaped unless they are markup made by it. */
function html(strings: TemplateStringsArray, ...values: unknown[]): Markup {
  let out = strings[0] as string;
  for (let i = 0; i < values.length; i++) out += part(values[i]) + (strings[i + 1] as string);
  return new Markup(out);
}

// ---- numbers (locale-free, so the output is the same everywhere) ----

const isNumber = (v: unknown): v is number => typeof v === 'number';

/** A statistic: 4 significant digits, exponent for very small or large values. */
export function formatNumber(v: number | null | undefined): string {
  if (!isNumber(v)) return '–';
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '−∞';
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs < 1e-3 || abs >= 1e7) return v.toExponential(2);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}

/** A share as a percentage with one decimal. */
const percent = (v: number | null | undefined): string =>
  isNumber(v) && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';

/** A bin edge: up to 4 significant digits. */
const edge = (v: number): string =>
  Number.isFinite(v) && Math.abs(v) < 1e7 && (v === 0 || Math.abs(v) >= 1e-3)
    ? String(Number(v.toPrecision(4)))
    : formatNumber(v);

// ---- pieces ----

const VERDICT_TEXT: Readonly<Record<DriftVerdict, string>> = {
  drift: 'drift',
  'no-drift': 'no drift',
  'insufficient-data': 'insufficient data',
  'not-checked': 'not checked',
};

const badge = (verdict: DriftVerdict): Markup =>
  html`<span class="badge v-${verdict}" data-verdict="${verdict}">${VERDICT_TEXT[verdict] ?? verdict}</span>`;

/** Label/value pairs; `key` names each for tests and scripts (`data-field`). */
const facts = (rows: readonly (readonly [key: string, label: string, value: unknown])[]): Markup =>
  html`<dl class="facts">${rows.map(([key, label, value]) => html`<div data-field="${key}"><dt>${label}</dt><dd>${value}</dd></div>`)}</dl>`;

const CHART = { width: 640, plotHeight: 150, top: 10, left: 44, right: 10 } as const;

/** Text under bin i: a category's label, or for numeric bins the edges between them. */
function binLabels(
  bins: BinnedShares,
  count: number,
): { readonly at: 'bin' | 'edge'; readonly texts: string[] } {
  if (bins.labels !== undefined)
    return { at: 'bin', texts: Array.from({ length: count }, (_, i) => bins.labels?.[i] ?? '') };
  return { at: 'edge', texts: (bins.edges ?? []).map(edge) };
}

/** The title of bin i (its range or label) for its tooltip. */
function binTitle(bins: BinnedShares, i: number, count: number): string {
  if (bins.labels !== undefined) return bins.labels[i] ?? `bin ${i + 1}`;
  const edges = bins.edges ?? [];
  if (edges.length === 0) return 'all values';
  if (i === 0) return `≤ ${edge(edges[0] as number)}`;
  if (i >= count - 1 || i > edges.length - 1) return `> ${edge(edges.at(-1) as number)}`;
  return `(${edge(edges[i - 1] as number)}, ${edge(edges[i] as number)}]`;
}

/** Reference vs current shares as grouped SVG bars on the reference's bins. */
function histogram(bins: BinnedShares, caption: string): Markup {
  const count = Math.max(bins.reference.length, bins.current.length);
  if (count === 0) return html`<p class="note">No bins.</p>`;
  const { width, plotHeight: plotH, top, left, right } = CHART;
  const plotW = width - left - right;
  const slot = plotW / count;
  const labels = binLabels(bins, count);
  // Rotated labels (and room below for them) when they would crowd each other.
  const tilt = labels.texts.some((t) => Math.min(18, t.length) * 6.5 > slot);
  const height = top + plotH + (tilt ? 70 : 22);
  let max = 1e-12;
  for (const share of [...bins.reference, ...bins.current])
    if (Number.isFinite(share) && share > max) max = share;
  max *= 1.05;
  const barW = Math.max(1, (slot * 0.8) / 2);
  const y = (share: number) => top + plotH - (Math.max(0, Number.isFinite(share) ? share : 0) / max) * plotH;
  const bars: Markup[] = [];
  for (let i = 0; i < count; i++) {
    const ref = Number(bins.reference[i] ?? 0);
    const cur = Number(bins.current[i] ?? 0);
    const x0 = left + i * slot + slot * 0.1;
    const title = `${binTitle(bins, i, count)}: reference ${percent(ref)}, current ${percent(cur)}`;
    bars.push(
      html`<g class="bin" data-bin="${i}"><title>${title}</title><rect class="bar ref" x="${x0.toFixed(1)}" y="${y(ref).toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - y(ref)).toFixed(1)}"/><rect class="bar cur" x="${(x0 + barW).toFixed(1)}" y="${y(cur).toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - y(cur)).toFixed(1)}"/></g>`,
    );
  }
  const axis = labels.texts.map((text, i) => {
    const x = labels.at === 'bin' ? left + (i + 0.5) * slot : left + (i + 1) * slot;
    const yText = top + plotH + 14;
    const shown = text.length > 18 ? `${text.slice(0, 17)}…` : text;
    return tilt
      ? html`<text class="tick" x="${x.toFixed(1)}" y="${yText}" transform="rotate(-35 ${x.toFixed(1)} ${yText})" text-anchor="end">${shown}</text>`
      : html`<text class="tick" x="${x.toFixed(1)}" y="${yText}" text-anchor="middle">${shown}</text>`;
  });
  const gridTop = percent(max / 1.05);
  return html`<figure class="chart"><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${caption}"><line class="axis" x1="${left}" y1="${top + plotH}" x2="${width - right}" y2="${top + plotH}"/><line class="axis" x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}"/><text class="tick" x="${left - 4}" y="${y(max / 1.05) + 4}" text-anchor="end">${gridTop}</text><text class="tick" x="${left - 4}" y="${top + plotH}" text-anchor="end">0</text>${bars}${axis}</svg><figcaption>${caption} <span class="key ref">reference</span> <span class="key cur">current</span></figcaption></figure>`;
}

function statistics(feature: FeatureResult): Markup {
  const d = feature.drift;
  if (d === undefined) return html``;
  const rows: [string, string, unknown][] = [['psi', 'PSI', formatNumber(d.psi)]];
  if (d.kind === 'numeric') {
    rows.push(
      ['ks', 'KS D', formatNumber(d.ks?.statistic)],
      ['ks-p', 'KS p-value', formatNumber(d.ks?.pValue)],
      ['js', 'Jensen–Shannon', formatNumber(d.jensenShannon)],
      ['wasserstein', 'Wasserstein-1', formatNumber(d.wasserstein)],
    );
  } else {
    rows.push(
      ['chi2', 'χ²', formatNumber(d.chiSquare.statistic)],
      ['chi2-dof', 'χ² dof', formatNumber(d.chiSquare.dof)],
      ['chi2-p', 'χ² p-value', formatNumber(d.chiSquare.pValue)],
      ['js', 'Jensen–Shannon', formatNumber(d.jensenShannon)],
    );
  }
  return html`<div class="block"><h3>Statistics</h3>${facts(rows)}</div>`;
}

function quality(q: DataQuality): Markup {
  const rows: [string, string, unknown][] = [
    ['rows', 'Rows', q.rows],
    ['nulls', 'Nulls', `${q.nullCount} (${percent(q.nullRate)}; reference ${percent(q.referenceNullRate)})`],
    ['invalid', 'Invalid values', q.invalidCount],
  ];
  if (q.outOfRangeCount !== undefined)
    rows.push(['out-of-range', 'Out of range', `${q.outOfRangeCount} (${percent(q.outOfRangeRate)})`]);
  if (q.unseenCount !== undefined)
    rows.push(['unseen', 'Unseen categories', `${q.unseenCount} (${percent(q.unseenRate)})`]);
  if (q.unseenValues !== undefined && q.unseenValues.length > 0)
    rows.push([
      'unseen-values',
      'Unseen values',
      html`${q.unseenValues.map((v) => html`<code>${v}</code> `)}`,
    ]);
  return html`<div class="block"><h3>Data quality</h3>${facts(rows)}</div>`;
}

/** Why a feature has no verdict. */
function reason(
  feature: FeatureResult,
  report: DriftReport,
  findings: readonly DataQualityFinding[],
): Markup {
  if (feature.verdict === 'insufficient-data') {
    const values = feature.quality.rows - feature.quality.nullCount;
    return html`<p class="reason" data-reason="insufficient-data">No verdict: ${values} values in the window, fewer than the ${report.thresholds.minSamples} a verdict needs. No drift metric was emitted${feature.drift ? '; the statistics below are for information only' : ''}.</p>`;
  }
  if (feature.verdict === 'not-checked') {
    const why = findings.map((f) => f.message);
    return html`<p class="reason" data-reason="not-checked">Not checked: ${why.length > 0 ? why.join(' ') : 'the feature is missing from the reference profile or from every record.'}</p>`;
  }
  return html``;
}

function featureSection(
  feature: FeatureResult,
  index: number,
  report: DriftReport,
  findings: readonly DataQualityFinding[],
): Markup {
  const d = feature.drift;
  return html`<section class="feature" id="feature-${index}" data-feature-index="${index}" data-verdict="${feature.verdict}"><h2><span class="name">${feature.name}</span> <span class="kind">${feature.kind}</span> ${badge(feature.verdict)}</h2>${reason(feature, report, findings)}${d ? histogram(d.bins, `Shares per bin of ${feature.name}`) : ''}<div class="blocks">${statistics(feature)}${quality(feature.quality)}</div>${findingList(findings.filter((f) => feature.verdict !== 'not-checked' || f.subject !== feature.name))}</section>`;
}

function findingList(findings: readonly DataQualityFinding[]): Markup {
  if (findings.length === 0) return html``;
  return html`<ul class="findings">${findings.map((f) => html`<li data-code="${f.code}"><span class="code">${f.code}</span>${f.subject === undefined ? '' : html` <span class="subject">${f.subject}</span>`}: ${f.message}</li>`)}</ul>`;
}

function predictionSection(p: PredictionResult): Markup {
  return html`<section class="prediction" id="prediction"><h2>Predictions ${badge(p.verdict)}</h2>${facts([
    ['count', 'Predictions', p.count],
    ['psi', 'PSI', formatNumber(p.psi)],
    ['js', 'Jensen–Shannon', formatNumber(p.jensenShannon)],
  ])}${p.bins ? histogram(p.bins, 'Shares per bin of the prediction score') : ''}</section>`;
}

function modelQuality(q: ModelQuality | undefined): string | Markup {
  if (q === undefined) return 'no labelled feedback';
  return html`${q.metric} ${formatNumber(q.value)} against ${formatNumber(q.baseline)} at evaluation (${q.relativeDrop === null ? 'no baseline' : `${percent(q.relativeDrop)} ${q.metric === 'rmse' ? 'higher' : 'lower'}`}; ${q.labelled} labelled)`;
}

const STATUS_TEXT: Readonly<Record<DriftReport['status'], string>> = {
  checked: 'checked',
  'insufficient-data': 'insufficient data: too few rows for any verdict',
  'no-data': 'no data: no prediction captured in the window',
};

function indexTable(report: DriftReport): Markup {
  if (report.features.length === 0) return html`<p class="note">No features.</p>`;
  const rows = report.features.map((f, i) => {
    const d = f.drift;
    const test =
      d === undefined
        ? '–'
        : d.kind === 'numeric'
          ? `KS ${formatNumber(d.ks?.statistic)}`
          : `χ² ${formatNumber(d.chiSquare.statistic)}`;
    return html`<tr data-feature-index="${i}"><td><a href="#feature-${i}">${f.name}</a></td><td>${f.kind}</td><td>${badge(f.verdict)}</td><td class="num">${formatNumber(d?.psi)}</td><td class="num">${test}</td><td class="num">${formatNumber(d?.jensenShannon)}</td><td class="num">${percent(f.quality.nullRate)}</td></tr>`;
  });
  return html`<table class="index"><thead><tr><th>Feature</th><th>Kind</th><th>Verdict</th><th>PSI</th><th>KS / χ²</th><th>JS</th><th>Nulls</th></tr></thead><tbody>${rows}</tbody></table>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1000px;padding:16px 24px;color:#1d2430;background:#fff}
h1{font-size:22px;margin:8px 0}h2{font-size:17px;margin:0 0 8px}h3{font-size:13px;margin:4px 0;text-transform:uppercase;letter-spacing:.04em;color:#5a6578}
section{border:1px solid #d9dee7;border-radius:6px;padding:12px 16px;margin:14px 0}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:4px 16px;margin:4px 0}
.facts div{display:flex;flex-direction:column}.facts dt{color:#5a6578;font-size:12px}.facts dd{margin:0;font-variant-numeric:tabular-nums}
.badge{display:inline-block;border-radius:10px;padding:1px 9px;font-size:12px;font-weight:600;vertical-align:middle}
.v-drift{background:#fde2e1;color:#a4161a}.v-no-drift{background:#dff3e4;color:#1e6b34}
.v-insufficient-data{background:#fff1cc;color:#7a5300}.v-not-checked{background:#e6e8ec;color:#444c59}
.kind{font-size:12px;color:#5a6578;font-weight:400}.name{word-break:break-all}
.reason{background:#fff8e6;border-left:3px solid #e0a800;padding:6px 10px;margin:6px 0}
.blocks{display:grid;grid-template-columns:1fr 1fr;gap:12px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eceff4}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.chart{margin:8px 0}.chart svg{max-width:100%;height:auto}
.bar.ref{fill:#8aa4c8}.bar.cur{fill:#e07b39}.axis{stroke:#5a6578}.tick{font-size:10px;fill:#5a6578}
.key::before{content:"";display:inline-block;width:10px;height:10px;margin:0 4px 0 8px;vertical-align:-1px}
.key.ref::before{background:#8aa4c8}.key.cur::before{background:#e07b39}
figcaption{font-size:12px;color:#5a6578}.findings .code{font-family:monospace}.note{color:#5a6578}
`;

/** The report as a self-contained HTML document (deterministic: the same report, the same text). */
export function renderDriftReportHtml(report: DriftReport): string {
  const bySubject = new Map<string, DataQualityFinding[]>();
  for (const finding of report.findings) {
    if (finding.subject === undefined) continue;
    const list = bySubject.get(finding.subject) ?? [];
    list.push(finding);
    bySubject.set(finding.subject, list);
  }
  const s = report.summary;
  const title = `Drift report: ${report.model} version ${report.version}, ${report.window.start} to ${report.window.end}`;
  const summary = facts([
    ['model', 'Model', report.model],
    ['version', 'Version', report.version],
    ['window', 'Window', `${report.window.start} → ${report.window.end}`],
    ['status', 'Status', STATUS_TEXT[report.status] ?? report.status],
    ['rows', 'Rows', report.rows],
    ['features', 'Features', s.features],
    ['checked', 'Checked', s.checked],
    ['drifted', 'Drifted', s.drifted],
    [
      'drift-share',
      'Drift share',
      `${percent(s.driftShare)} (threshold ${percent(report.thresholds.driftShare)})`,
    ],
    [
      'dataset-drift',
      'Dataset drift',
      html`<span class="badge ${s.datasetDrift ? 'v-drift' : 'v-no-drift'}" data-dataset-drift="${String(s.datasetDrift)}">${s.datasetDrift ? 'yes' : 'no'}</span>`,
    ],
    [
      'prediction-drift',
      'Prediction drift',
      html`${badge(report.prediction.verdict)} PSI ${formatNumber(report.prediction.psi)}`,
    ],
    ['quality', 'Model quality', modelQuality(report.quality)],
    ['generated', 'Generated', report.generatedAt],
    ['duration', 'Check took', report.durationMs === undefined ? '–' : `${report.durationMs} ms`],
  ]);
  const t = report.thresholds;
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><title>${title}</title><style>${new Markup(STYLE)}</style></head>
<body><header><h1>Drift report: ${report.model} <span class="kind">version ${report.version}</span></h1></header>
<section class="summary" id="summary"><h2>Summary</h2>${summary}<p class="note">Thresholds: feature PSI &gt; ${formatNumber(t.featurePsi)}, drift share &gt; ${percent(t.driftShare)}, prediction PSI &gt; ${formatNumber(t.predictionPsi)}, at least ${t.minSamples} values per feature. Verdicts follow effect sizes; p-values are shown, not acted on.</p></section>
<section class="findings-all" id="findings"><h2>Findings <span class="kind">${report.findings.length}</span></h2>${report.findings.length === 0 ? html`<p class="note">No data-quality findings.</p>` : findingList(report.findings)}</section>
${predictionSection(report.prediction)}
<section class="index-all" id="features"><h2>Features</h2>${indexTable(report)}</section>
${report.features.map((f, i) => featureSection(f, i, report, bySubject.get(f.name) ?? []))}
</body></html>
`;
  return doc.text;
}
