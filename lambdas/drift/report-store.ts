/**
 * Storing a drift report where `mlops drift report` finds it (keys: layout.ts `driftReportKeys`,
 * `driftReportLatestKey`): the JSON, then the HTML beside it, then the model's latest-report
 * pointer — last, so it never names a report that is not there — and only when the report's window
 * ends no earlier than the pointer's (a re-run of an older window leaves the latest alone).
 */
import {
  DRIFT_REPORT_HTML_CONTENT_TYPE,
  type DriftReportPointer,
  driftReportKeys,
  driftReportLatestKey,
} from '../shared/layout.js';
import type { ObjectStore } from '../shared/object-store.js';
import type { DriftReport } from './contract.js';
import { renderDriftReportHtml } from './report-html.js';

const decoder = new TextDecoder();

export async function writeDriftReport(
  store: ObjectStore,
  report: DriftReport,
): Promise<{ readonly json: string; readonly html: string; readonly latest: boolean }> {
  const keys = driftReportKeys(report.model, report.window.end);
  await store.put(keys.json, `${JSON.stringify(report, null, 2)}\n`, { contentType: 'application/json' });
  await store.put(keys.html, renderDriftReportHtml(report), { contentType: DRIFT_REPORT_HTML_CONTENT_TYPE });
  const latestKey = driftReportLatestKey(report.model);
  const current = await store.get(latestKey);
  if (current !== undefined) {
    try {
      const pointer = JSON.parse(decoder.decode(current)) as Partial<DriftReportPointer>;
      const end = Date.parse(pointer.window?.end ?? '');
      if (Number.isFinite(end) && end > Date.parse(report.window.end))
        return { json: keys.json, html: keys.html, latest: false };
    } catch {
      // An unreadable pointer is replaced.
    }
  }
  const pointer: DriftReportPointer = {
    json: keys.json,
    html: keys.html,
    window: report.window,
    generatedAt: report.generatedAt,
  };
  await store.put(latestKey, `${JSON.stringify(pointer)}\n`, { contentType: 'application/json' });
  return { json: keys.json, html: keys.html, latest: true };
}
