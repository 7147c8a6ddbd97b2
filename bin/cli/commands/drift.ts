/**
 * `mlops drift report <model> [--html <file>] [--open]`: the latest drift report of a model, from the
 * capture bucket (stack output InferenceCaptureBucketName, or `--capture-bucket`): the pointer
 * `reports/<model>/latest.json` (lambdas/shared/layout.ts driftReportLatestKey), then the report it
 * names. People get the summary and a table of the features (feature, kind, verdict, PSI, KS or
 * χ², JS, nulls); scripts (`--json`) the stored report as is. `--html` writes the HTML report
 * beside it (rendered from the JSON when the stored HTML is missing); `--open` opens it with
 * xdg-open, or prints its path where there is none. No report yet: exit 3 with a hint.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Command, Option } from 'commander';
import { DRIFT_REPORT_FORMAT_VERSION, type DriftReport } from '../../../lambdas/drift/contract.js';
import { formatNumber, renderDriftReportHtml } from '../../../lambdas/drift/report-html.js';
import { clients } from '../../../lambdas/shared/clients.js';
import {
  CLI_ENV,
  type DriftReportPointer,
  driftReportLatestKey,
  reportWindowKeyPart,
} from '../../../lambdas/shared/layout.js';
import { type ObjectStore, S3ObjectStore } from '../../../lambdas/shared/object-store.js';
import { CliContext } from '../context.js';
import { CliFailure, type CliIo, CliNotFound, fields, table } from '../output.js';
import { NO_STACK_HINT, resourceName } from '../resources.js';

/** The latest report of a model, where it was found, and its stored HTML (when there is one). */
export interface LatestDriftReport {
  readonly pointer: DriftReportPointer;
  readonly report: DriftReport;
  readonly html: string | undefined;
}

const decoder = new TextDecoder();

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(bytes)) as unknown;
  } catch (error) {
    throw new CliFailure(`${what} is not JSON`, 'the drift check writes it again at its next run', {
      cause: error,
    });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * Reads the latest report of `model` from the capture bucket's store: undefined when none was
 * written yet; a CliFailure when what is stored is not a report this CLI reads.
 */
export async function readLatestDriftReport(
  store: ObjectStore,
  model: string,
): Promise<LatestDriftReport | undefined> {
  const pointerKey = driftReportLatestKey(model);
  const pointerBytes = await store.get(pointerKey);
  if (pointerBytes === undefined) return undefined;
  const pointer = parseJson(pointerBytes, pointerKey);
  if (!isObject(pointer) || typeof pointer.json !== 'string' || typeof pointer.html !== 'string')
    throw new CliFailure(
      `${pointerKey} names no report (it must hold { json, html, window, generatedAt })`,
      'the drift check writes it again at its next run',
    );
  const reportBytes = await store.get(pointer.json);
  if (reportBytes === undefined)
    throw new CliFailure(
      `${pointerKey} names ${pointer.json}, which does not exist`,
      'was it deleted? the drift check writes a new one at its next run',
    );
  const report = parseJson(reportBytes, pointer.json);
  if (!isObject(report) || report.formatVersion !== DRIFT_REPORT_FORMAT_VERSION)
    throw new CliFailure(
      `${pointer.json} is not a drift report of format ${DRIFT_REPORT_FORMAT_VERSION} (formatVersion ${JSON.stringify(isObject(report) ? report.formatVersion : undefined)})`,
      'use the mlops of the stack that wrote it',
    );
  const html = await store.get(pointer.html);
  return {
    pointer: pointer as unknown as DriftReportPointer,
    report: report as unknown as DriftReport,
    html: html === undefined ? undefined : decoder.decode(html),
  };
}

const pct = (v: number | null | undefined) =>
  typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : '–';

/** Text from the report for a terminal: control characters (escape sequences) shown as `\uXXXX`. */
const plain = (text: string): string =>
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The report for people: its summary, one row per feature, the findings. */
export function driftReportText(report: DriftReport): string {
  const s = report.summary;
  const q = report.quality;
  const summary = fields({
    model: plain(report.model),
    version: report.version,
    window: `${report.window.start} → ${report.window.end}`,
    status: report.status,
    rows: report.rows,
    features: `${s.features} (${s.checked} checked, ${s.drifted} drifted: ${pct(s.driftShare)} of checked)`,
    'dataset drift': `${s.datasetDrift ? 'yes' : 'no'} (share threshold ${pct(report.thresholds.driftShare)})`,
    'prediction drift': `${report.prediction.verdict} (PSI ${formatNumber(report.prediction.psi)}, ${report.prediction.count} predictions)`,
    'model quality':
      q === undefined
        ? undefined
        : `${q.metric} ${formatNumber(q.value)} vs ${formatNumber(q.baseline)} at evaluation (drop ${pct(q.relativeDrop)}, ${q.labelled} labelled)`,
    generated: report.generatedAt,
  });
  const rows = report.features.map((f) => {
    const d = f.drift;
    const test =
      d === undefined
        ? '–'
        : d.kind === 'numeric'
          ? `${formatNumber(d.ks?.statistic)} (p ${formatNumber(d.ks?.pValue)})`
          : `χ² ${formatNumber(d.chiSquare.statistic)} (p ${formatNumber(d.chiSquare.pValue)})`;
    return [
      plain(f.name),
      f.kind,
      f.verdict,
      formatNumber(d?.psi),
      test,
      formatNumber(d?.jensenShannon),
      pct(f.quality.nullRate),
    ];
  });
  const findings = report.findings.map(
    (f) => `  ${f.code}${f.subject === undefined ? '' : ` ${plain(f.subject)}`}: ${plain(f.message)}`,
  );
  return [
    summary,
    rows.length > 0 ? table(['feature', 'kind', 'verdict', 'PSI', 'KS', 'JS', 'nulls'], rows) : 'no features',
    findings.length > 0 ? `findings:\n${findings.join('\n')}` : 'findings: none',
  ].join('\n');
}

/** The path of an executable on PATH, if any. */
function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Adds the `drift` command group to `program`. */
export function registerDriftCommands(program: Command, io: CliIo): void {
  const drift = program.command('drift').description("drift monitoring: the drift checks' reports");

  drift
    .command('report')
    .description('the latest drift report of a model: summary and features (or --json), the HTML report')
    .argument('<model>', 'model name')
    .option('--html <file>', 'write the HTML report to <file>')
    .option('--open', 'open the HTML report with xdg-open (in a temporary file unless --html names one)')
    .addOption(
      new Option('--capture-bucket <name>', 'capture bucket (skips the stack lookup)').env(
        CLI_ENV.captureBucket,
      ),
    )
    .action(async (model: string, options: { html?: string; open?: boolean; captureBucket?: string }) => {
      const ctx = await CliContext.load(program, io);
      const bucket = await resourceName(
        { ...ctx.options, ...(options.captureBucket ? { captureBucket: options.captureBucket } : {}) },
        ctx.config.stackName,
        'captureBucket',
      );
      let latest: LatestDriftReport | undefined;
      try {
        latest = await readLatestDriftReport(new S3ObjectStore(clients.s3(), bucket), model);
      } catch (error) {
        if ((error as Error).name !== 'NoSuchBucket') throw error;
        throw new CliFailure(
          `capture-bucket: must be an existing bucket (${bucket} does not exist)`,
          `name it with --capture-bucket (the stack output InferenceCaptureBucketName; a stack has one only when it serves a model), or ${NO_STACK_HINT}`,
          { cause: error },
        );
      }
      if (latest === undefined)
        throw new CliNotFound(
          'model',
          `no drift report for ${model} yet (none under s3://${bucket}/${driftReportLatestKey(model)})`,
          `the drift monitor writes one after each check of a served model (hourly by default); check the model name: mlops models list`,
        );
      const { report, pointer } = latest;
      let htmlFile: string | undefined;
      if (options.html !== undefined || options.open) {
        // Without --html: a fresh private directory (a fixed name in /tmp could be someone's symlink).
        htmlFile = path.resolve(
          options.html ??
            path.join(
              mkdtempSync(path.join(os.tmpdir(), 'mlops-drift-')),
              `${model.replace(/[^\w.-]/g, '_')}-${reportWindowKeyPart(report.window.end)}.html`,
            ),
        );
        let text = latest.html;
        if (text === undefined) {
          io.stderr(`${pointer.html} is missing: rendering the HTML from ${pointer.json}\n`);
          text = renderDriftReportHtml(report);
        }
        mkdirSync(path.dirname(htmlFile), { recursive: true });
        writeFileSync(htmlFile, text);
        io.stderr(`wrote ${htmlFile}\n`);
      }
      ctx.out.result(report, (r) =>
        [driftReportText(r), htmlFile ? `html: ${htmlFile}` : `report: s3://${bucket}/${pointer.json}`].join(
          '\n',
        ),
      );
      if (options.open && htmlFile !== undefined) {
        const opener = onPath('xdg-open');
        if (opener === undefined) {
          io.stderr(`no xdg-open here: open ${htmlFile} in a browser\n`);
          return;
        }
        const child = spawn(opener, [htmlFile], { detached: true, stdio: 'ignore' });
        child.on('error', (error) =>
          io.stderr(`xdg-open failed (${error.message}): open ${htmlFile} in a browser\n`),
        );
        child.unref();
        io.stderr(`opened ${htmlFile} with ${opener}\n`);
      }
    });
}
