/**
 * The drift function: one check of one served model's capture window, on the DriftMonitor's
 * schedule (lib/drift-monitor.ts) or invoked by hand (`{ model, windowMinutes, time?, start?,
 * version? }`). The check itself is lambdas/drift/job.ts; this wires it to S3, the registry and the
 * metrics, and answers the report's summary (the report is in S3).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { createDriftCheck } from '../drift/check.js';
import { type DriftCheckEvent, type DriftJobResult, runDriftCheck } from '../drift/job.js';
import { writeDriftReport } from '../drift/report-store.js';
import { aliasReaderFromEnv, registryFromEnv } from '../registry/registry.js';
import { s3Client } from '../shared/clients/s3.js';
import { requireEnv } from '../shared/env.js';
import { CHAMPION_ALIAS, ENV } from '../shared/layout.js';
import { logger } from '../shared/logger.js';
import { metrics, recordDriftCheck } from '../shared/metrics.js';
import { S3ObjectStore } from '../shared/object-store.js';

const captureBucket = requireEnv(ENV.captureBucket);
const artifactBucket = requireEnv(ENV.artifactBucket);
const registry = registryFromEnv()();
const aliases = aliasReaderFromEnv();
const s3 = s3Client();
const artifacts = new S3ObjectStore(s3, artifactBucket);
const reports = new S3ObjectStore(s3, captureBucket);

/** What the invocation answers: where the report is, and its verdicts in brief. */
export interface DriftCheckAnswer {
  readonly model: string;
  readonly version: number;
  readonly window: { readonly start: string; readonly end: string };
  readonly status: DriftJobResult['report']['status'];
  readonly rows: number;
  readonly drifted: readonly string[];
  readonly datasetDrift: boolean;
  readonly predictionVerdict: string;
  readonly findings: number;
  readonly report: { readonly json: string; readonly html: string };
}

export async function checkDrift(event: DriftCheckEvent): Promise<DriftCheckAnswer> {
  const { report, keys } = await runDriftCheck(
    {
      s3,
      captureBucket,
      championOf: (model) => aliases.get(model, CHAMPION_ALIAS),
      getVersion: (model, version) => registry.getModelVersion(model, version),
      readArtifact: (key) => artifacts.get(key),
      createCheck: createDriftCheck,
      writeReport: (r) => writeDriftReport(reports, r),
      recordMetrics: (r) => recordDriftCheck(metrics, r),
      now: () => new Date(),
    },
    event,
  );
  const answer: DriftCheckAnswer = {
    model: report.model,
    version: report.version,
    window: report.window,
    status: report.status,
    rows: report.rows,
    drifted: report.features.filter((f) => f.verdict === 'drift').map((f) => f.name),
    datasetDrift: report.summary.datasetDrift,
    predictionVerdict: report.prediction.verdict,
    findings: report.findings.length,
    report: { json: keys.json, html: keys.html },
  };
  logger.info('drift check', { ...answer });
  return answer;
}

export const handler = middy(checkDrift).use(injectLambdaContext(logger));
