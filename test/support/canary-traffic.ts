/**
 * What a served model version's traffic leaves behind, written straight to the emulator: the
 * serving metrics its EMF would have become (requests, 5xx, latencies) and its captured predictions
 * in the capture bucket — the data the canary analysis reads (lambdas/deployment/observations.ts).
 */
import { PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { clients } from '../../lambdas/shared/clients.js';
import { captureHourPrefix } from '../../lambdas/shared/layout.js';
import { DIMENSIONS, SERVICES, SERVING_METRICS } from '../../lambdas/shared/metric-names.js';

/** What a version served in a step: requests, 5xx, latencies (ms) and prediction scores. */
export interface Traffic {
  readonly requests: number;
  readonly serverErrors?: number;
  readonly latencyMs?: (i: number) => number;
  readonly score?: (i: number) => number;
  /** Put no metric data at all (the insufficient-data path). */
  readonly silent?: boolean;
}

export const healthy: Traffic = {
  requests: 200,
  latencyMs: (i) => 20 + (i % 10),
  score: (i) => (i % 100) / 100,
};

let puts = 0;

/** Puts `traffic` of `model` version `modelVersion` now: metrics in `namespace`, capture in `captureBucket`. */
export async function putTraffic(
  target: { readonly namespace: string; readonly model: string; readonly captureBucket: string },
  modelVersion: number,
  traffic: Traffic,
): Promise<void> {
  if (traffic.silent) return;
  puts++;
  const now = new Date();
  const dimensions = [
    { Name: DIMENSIONS.service, Value: SERVICES.inference },
    { Name: DIMENSIONS.model, Value: target.model },
    { Name: DIMENSIONS.version, Value: String(modelVersion) },
  ];
  const latencies = Array.from({ length: traffic.requests }, (_, i) => traffic.latencyMs?.(i) ?? 20);
  const datum = (name: string, value: number) => ({
    MetricName: name,
    Dimensions: dimensions,
    Timestamp: now,
    Value: value,
  });
  await clients.cloudwatch().send(
    new PutMetricDataCommand({
      Namespace: target.namespace,
      MetricData: [
        datum(SERVING_METRICS.requests.name, traffic.requests),
        datum(SERVING_METRICS.serverErrors.name, traffic.serverErrors ?? 0),
      ],
    }),
  );
  for (let i = 0; i < latencies.length; i += 500)
    await clients.cloudwatch().send(
      new PutMetricDataCommand({
        Namespace: target.namespace,
        MetricData: latencies
          .slice(i, i + 500)
          .map((v) => ({ ...datum(SERVING_METRICS.latency.name, v), Unit: 'Milliseconds' as const })),
      }),
    );
  const lines = Array.from({ length: traffic.requests }, (_, i) =>
    JSON.stringify({
      kind: 'prediction',
      requestId: `r-${modelVersion}-${puts}-${Date.now()}-${i}`,
      instance: 0,
      timeMs: now.getTime(),
      model: target.model,
      version: modelVersion,
      variant: 'default',
      features: {},
      prediction: { label: 1, score: traffic.score?.(i) ?? 0.5 },
    }),
  );
  await clients.s3().send(
    new PutObjectCommand({
      Bucket: target.captureBucket,
      Key: `${captureHourPrefix(target.model, now.getTime())}test-${modelVersion}-${puts}-${now.getTime()}.json`,
      Body: `${lines.join('\n')}\n`,
    }),
  );
}
