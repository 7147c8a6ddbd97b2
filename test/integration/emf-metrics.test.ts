/**
 * The harness's stand-in for CloudWatch Logs EMF extraction (local/emf-metrics.ts) and for
 * CloudWatch percentiles (local/moto_server.py): EMF documents the real metrics module prints go
 * through the forwarder into the emulator, and GetMetricData answers Sum, SampleCount, Average and
 * pNN per version as a brute-force nearest-rank reference computed here.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetMetricDataCommand,
  GetMetricStatisticsCommand,
  type PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { clients, createCloudWatchClient } from '../../lambdas/shared/clients.js';
import { SERVING_METRICS } from '../../lambdas/shared/metric-names.js';
import { createMetrics, recordPrediction } from '../../lambdas/shared/metrics.js';
import { type EmfForwarder, forwardEmf } from '../../local/emf-metrics.js';

const SERVICE = 'inference';
let forwarder: EmfForwarder | undefined;

afterEach(async () => {
  await forwarder?.stop();
  forwarder = undefined;
  vi.restoreAllMocks();
});

/** Replaces stdout's writer with a sink (the forwarder wraps it); what reached the sink. */
function sinkStdout(): string[] {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    written.push(Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write);
  return written;
}

/** The nearest-rank percentile: value of 1-based rank ceil(p/100 · n) in sorted order; p0 the minimum. */
function nearestRank(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] as number;
}

/** A deterministic latency sample in ms (log-normal-ish, 0.1 ms steps, so values repeat). */
function latencies(n: number, seed: number, scale: number): number[] {
  let state = seed;
  const next = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  return Array.from(
    { length: n },
    () => Math.round(scale * Math.exp(1.2 * (next() + next() + next() - 1.5)) * 10) / 10,
  );
}

const STATS = [
  'Sum',
  'SampleCount',
  'Average',
  'Minimum',
  'Maximum',
  'p0',
  'p50',
  'p95',
  'p99',
  'p99.9',
  'p100',
];

/** Each statistic's single value over the last hour for the metric under `dimensions`. */
async function statistics(
  namespace: string,
  name: string,
  dimensions: Record<string, string>,
): Promise<Record<string, number[]>> {
  const now = Math.floor(Date.now() / 60_000) * 60_000;
  const answer = await clients.cloudwatch().send(
    new GetMetricDataCommand({
      StartTime: new Date(now - 30 * 60_000),
      EndTime: new Date(now + 10 * 60_000),
      MetricDataQueries: STATS.map((stat, i) => ({
        Id: `q${i}`,
        MetricStat: {
          Metric: {
            Namespace: namespace,
            MetricName: name,
            Dimensions: Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })),
          },
          Period: 3600,
          Stat: stat,
        },
      })),
    }),
  );
  return Object.fromEntries(
    STATS.map((stat, i) => [stat, answer.MetricDataResults?.find((r) => r.Id === `q${i}`)?.Values ?? []]),
  );
}

describe('the local CloudWatch Logs EMF extraction and CloudWatch percentiles (emulator)', () => {
  it('forwards served requests: Sum, SampleCount, Average and percentiles per version match a reference', async () => {
    const namespace = `EmfIt${randomUUID().slice(0, 8)}`;
    const model = `churn-${randomUUID().slice(0, 8)}`;
    const written = sinkStdout();
    forwarder = forwardEmf({ flushMs: 50 });
    const metrics = createMetrics({ namespace, serviceName: SERVICE });
    const byVersion: Record<string, number[]> = { '1': latencies(600, 7, 20), '2': latencies(400, 11, 35) };
    for (const [version, values] of Object.entries(byVersion))
      for (const latencyMs of values)
        recordPrediction(
          metrics,
          { model, version, variant: 'default' },
          { instances: 2, latencyMs, modelLatencyMs: 1 },
        );
    await forwarder.flush();

    // What it wrapped still got every document.
    expect(written.filter((chunk) => chunk.includes('"_aws"'))).toHaveLength(1000);
    const stats = forwarder.stats();
    expect(stats).toMatchObject({ documents: 1000, invalid: 0, failedCalls: 0, lost: 0 });
    expect(stats.published).toBe(stats.values);

    for (const [version, values] of Object.entries(byVersion)) {
      const dims = { service: SERVICE, model, version };
      const got = await statistics(namespace, SERVING_METRICS.latency.name, dims);
      const sum = values.reduce((a, b) => a + b, 0);
      expect(got.SampleCount, version).toEqual([values.length]);
      expect(got.Sum?.[0], version).toBeCloseTo(sum, 6);
      expect(got.Average?.[0], version).toBeCloseTo(sum / values.length, 6);
      expect(got.Minimum, version).toEqual([Math.min(...values)]);
      expect(got.Maximum, version).toEqual([Math.max(...values)]);
      for (const p of [0, 50, 95, 99, 99.9, 100])
        expect(got[`p${p}`], `${version} p${p}`).toEqual([nearestRank(values, p)]);
      const requests = await statistics(namespace, SERVING_METRICS.requests.name, dims);
      expect(requests.Sum, version).toEqual([values.length]);
    }
    // The per-model rollup holds both versions.
    const all = [...(byVersion['1'] ?? []), ...(byVersion['2'] ?? [])];
    const rollup = await statistics(namespace, SERVING_METRICS.latency.name, { service: SERVICE, model });
    expect(rollup.SampleCount).toEqual([1000]);
    expect(rollup.p99).toEqual([nearestRank(all, 99)]);
  });

  it('answers GetMetricStatistics ExtendedStatistics by nearest rank', async () => {
    const namespace = `EmfIt${randomUUID().slice(0, 8)}`;
    sinkStdout();
    forwarder = forwardEmf({ flushMs: 60_000 });
    const values = latencies(250, 3, 10);
    const now = Date.now();
    for (const value of values)
      process.stdout.write(
        `${JSON.stringify({ _aws: { Timestamp: now, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['fn']], Metrics: [{ Name: 'Latency', Unit: 'Milliseconds' }] }] }, fn: 'f', Latency: value })}\n`,
      );
    await forwarder.flush();
    const minute = Math.floor(now / 60_000) * 60_000;
    const answer = await clients.cloudwatch().send(
      new GetMetricStatisticsCommand({
        Namespace: namespace,
        MetricName: 'Latency',
        Dimensions: [{ Name: 'fn', Value: 'f' }],
        StartTime: new Date(minute - 60_000),
        EndTime: new Date(minute + 120_000),
        Period: 300,
        Statistics: ['SampleCount'],
        ExtendedStatistics: ['p50', 'p99'],
      }),
    );
    expect(answer.Datapoints).toHaveLength(1);
    expect(answer.Datapoints?.[0]?.SampleCount).toBe(250);
    expect(answer.Datapoints?.[0]?.ExtendedStatistics).toEqual({
      p50: nearestRank(values, 50),
      p99: nearestRank(values, 99),
    });
  });

  it('answers a query with dimensions from its own namespace only', async () => {
    const [mine, other] = [`EmfIt${randomUUID().slice(0, 8)}`, `EmfIt${randomUUID().slice(0, 8)}`];
    const fn = `f-${randomUUID().slice(0, 8)}`;
    sinkStdout();
    forwarder = forwardEmf({ flushMs: 60_000 });
    for (const [namespace, value] of [
      [mine, 1],
      [other, 100],
    ] as const)
      process.stdout.write(
        `${JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['fn']], Metrics: [{ Name: 'Hits' }] }] }, fn, Hits: value })}\n`,
      );
    await forwarder.flush();
    expect((await statistics(mine, 'Hits', { fn })).Sum).toEqual([1]);
    expect((await statistics(other, 'Hits', { fn })).Sum).toEqual([100]);
  });

  it('finds a value stored at its minute from a window starting mid-minute: StartTime rounded down as CloudWatch does', async () => {
    const namespace = `EmfIt${randomUUID().slice(0, 8)}`;
    sinkStdout();
    forwarder = forwardEmf({ flushMs: 60_000 });
    // A value at 37.5 s past a minute: CloudWatch (and the forwarder) keep it at the minute.
    const minute = Math.floor(Date.now() / 60_000) * 60_000 - 120_000;
    const at = minute + 37_500;
    process.stdout.write(
      `${JSON.stringify({ _aws: { Timestamp: at, CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['fn']], Metrics: [{ Name: 'Hits' }] }] }, fn: 'f', Hits: 3 })}\n`,
    );
    await forwarder.flush();
    // The window a canary analysis asks for: from the shift (mid-minute) to a few seconds later.
    const answer = await clients.cloudwatch().send(
      new GetMetricDataCommand({
        StartTime: new Date(at - 500),
        EndTime: new Date(at + 4_000),
        MetricDataQueries: [
          {
            Id: 'hits',
            MetricStat: {
              Metric: { Namespace: namespace, MetricName: 'Hits', Dimensions: [{ Name: 'fn', Value: 'f' }] },
              Period: 60,
              Stat: 'Sum',
            },
          },
        ],
      }),
    );
    expect(answer.MetricDataResults?.[0]?.Values).toEqual([3]);
    expect(answer.MetricDataResults?.[0]?.Timestamps).toEqual([new Date(minute)]);
  });

  it('counts a document split across write chunks (a multi-byte character at the split) once', async () => {
    const namespace = `EmfIt${randomUUID().slice(0, 8)}`;
    sinkStdout();
    forwarder = forwardEmf({ flushMs: 60_000 });
    const line = Buffer.from(
      `${JSON.stringify({ _aws: { Timestamp: Date.now(), CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['fn']], Metrics: [{ Name: 'Hits', Unit: 'Count' }] }] }, fn: 'fünf', Hits: [2, 3] })}\n`,
    );
    const split = line.indexOf(Buffer.from('ü')) + 1; // inside the two bytes of ü
    process.stdout.write(line.subarray(0, split));
    await forwarder.flush();
    expect(forwarder.stats()).toMatchObject({ lines: 0, documents: 0, values: 0 });
    process.stdout.write(line.subarray(split));
    process.stdout.write('a plain log line\n{"_aws": not json}\n');
    // A line longer than a log event (1 MB), in chunks: one invalid line, skipped to its newline.
    process.stdout.write(`{"_aws":{},"pad":"${'x'.repeat(400_000)}`);
    for (let i = 0; i < 3; i += 1) process.stdout.write('"_aws"'.repeat(70_000));
    process.stdout.write(`"}\n${line.toString('utf8')}`);
    await forwarder.flush();
    expect(forwarder.stats()).toMatchObject({ lines: 5, documents: 2, invalid: 2, values: 4, published: 4 });
    const got = await statistics(namespace, 'Hits', { fn: 'fünf' });
    expect(got.Sum).toEqual([10]);
    expect(got.SampleCount).toEqual([4]);
  });

  it('reports a failing PutMetricData in stats and on stderr, never to the writer', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const cloudwatch = createCloudWatchClient({
      region: 'us-east-1',
      endpoint: `http://127.0.0.1:${port}`,
      maxAttempts: 1,
      maxSockets: 1,
    });
    const errors: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => {
      errors.push(String(chunk));
      return true;
    }) as typeof process.stderr.write);
    const written = sinkStdout();
    forwarder = forwardEmf({ flushMs: 60_000, cloudwatch });
    const metrics = createMetrics({ namespace: 'EmfItFailing', serviceName: SERVICE });
    expect(() =>
      recordPrediction(
        metrics,
        { model: 'm', version: 1, variant: 'default' },
        { instances: 1, latencyMs: 5, modelLatencyMs: 1 },
      ),
    ).not.toThrow();
    await expect(forwarder.flush()).resolves.toBeUndefined();
    const stats = forwarder.stats();
    expect(written).toHaveLength(1);
    expect(stats.failedCalls).toBe(1);
    expect(stats.published).toBe(0);
    expect(stats.lost).toBe(stats.values);
    expect(stats.values).toBeGreaterThan(0);
    expect(stats.lastError).toMatch(/PutMetricData \(EmfItFailing/);
    expect(errors.join('')).toMatch(/^emf-metrics: PutMetricData \(EmfItFailing/m);
  });

  it('keeps each PutMetricData within its limits: ≤ 1000 datums, ≤ 150 values a datum', async () => {
    const namespace = `EmfIt${randomUUID().slice(0, 8)}`;
    sinkStdout();
    const cloudwatch = clients.cloudwatch();
    const sent: { datums: number; values: number[] }[] = [];
    const send = cloudwatch.send.bind(cloudwatch);
    vi.spyOn(cloudwatch, 'send').mockImplementation(((command: PutMetricDataCommand) => {
      const data = command.input.MetricData ?? [];
      sent.push({ datums: data.length, values: data.map((d) => d.Values?.length ?? 0) });
      return send(command);
    }) as typeof cloudwatch.send);
    forwarder = forwardEmf({ flushMs: 60_000, cloudwatch });
    const directive = (name: string, dims: string[][]) => [
      { Namespace: namespace, Dimensions: dims, Metrics: [{ Name: name, Unit: 'Count' }] },
    ];
    const now = Date.now();
    for (let i = 0; i < 1200; i += 1)
      process.stdout.write(
        `${JSON.stringify({ _aws: { Timestamp: now, CloudWatchMetrics: directive('Hits', [['shard']]) }, shard: `s${i}`, Hits: i })}\n`,
      );
    const many = Array.from({ length: 400 }, (_, i) => i / 4);
    for (let i = 0; i < many.length; i += 100)
      process.stdout.write(
        `${JSON.stringify({ _aws: { Timestamp: now, CloudWatchMetrics: directive('Spread', [[]]) }, Spread: many.slice(i, i + 100) })}\n`,
      );
    await forwarder.flush();
    expect(forwarder.stats()).toMatchObject({
      documents: 1204,
      values: 1600,
      published: 1600,
      failedCalls: 0,
    });
    expect(sent.reduce((n, call) => n + call.datums, 0)).toBe(1200 + 3);
    for (const call of sent) expect(call.datums).toBeLessThanOrEqual(1000);
    expect(
      sent
        .flatMap((call) => call.values)
        .sort((a, b) => b - a)
        .slice(0, 3),
    ).toEqual([150, 150, 100]);
    const spread = await statistics(namespace, 'Spread', {});
    expect(spread.SampleCount).toEqual([400]);
    expect(spread.p50).toEqual([nearestRank(many, 50)]);
    expect((await statistics(namespace, 'Hits', { shard: 's1199' })).Sum).toEqual([1199]);
  });

  it('stop() unhooks: stdout is the writer it wrapped again', async () => {
    sinkStdout();
    const sink = process.stdout.write;
    const own = forwardEmf();
    expect(process.stdout.write).not.toBe(sink);
    await own.stop();
    expect(process.stdout.write).toBe(sink);
  });
});
